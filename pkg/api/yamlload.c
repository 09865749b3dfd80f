/* YAML to jansson with the libyaml event parser (see yamlload.h). */
#include "yamlload.h"
#include "../util/buf.h"
#include "../util/mem.h"
#include "../util/vec.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define MAX_DEPTH 128
/* What one node costs in the expanded size (a jansson value and its bookkeeping,
 * roughly in bytes); a scalar adds its length, a mapping entry its key's. */
#define NODE_COST 64

struct anchor {
	char *name;
	json_t *node;  /* one reference held */
	size_t weight; /* expanded size of node (see NODE_COST) */
};

struct loader {
	yaml_parser_t parser;
	struct lp_yaml_docs *out;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	size_t aliases;
	size_t weight;       /* expanded size of the nodes built so far */
	size_t alias_weight; /* the part of it that aliases copied */
	lp_err err;
};

static void set_error(struct loader *l, lp_err err, size_t line, size_t col, const char *what)
{
	struct lp_buf b;

	if (l->out->error)
		return;
	l->err = err;
	lp_buf_init(&b, 0);
	if (lp_buf_addf(&b, "line %zu column %zu: %s", line, col, what) == LP_OK)
		l->out->error = lp_buf_take(&b);
	if (!l->out->error)
		l->err = LP_ERR_NOMEM;
}

static void anchors_clear(struct loader *l)
{
	for (size_t i = 0; i < l->n_anchors; i++) {
		lp_free(l->anchors[i].name);
		json_decref(l->anchors[i].node);
	}
	lp_free(l->anchors);
	l->anchors = NULL;
	l->n_anchors = 0;
	l->cap_anchors = 0;
}

static lp_err anchor_add(struct loader *l, const char *name, json_t *node, size_t weight)
{
	struct anchor *na;

	/* a later anchor of the same name wins: search from the end */
	if (lp_vec_reserve((void **)&l->anchors, &l->cap_anchors, l->n_anchors + 1,
	                   sizeof(*l->anchors)) != LP_OK)
		return LP_ERR_NOMEM;
	na = &l->anchors[l->n_anchors];
	na->name = lp_strdup(name);
	if (!na->name)
		return LP_ERR_NOMEM;
	na->node = json_incref(node);
	na->weight = weight;
	l->n_anchors++;
	return LP_OK;
}

static const struct anchor *anchor_find(struct loader *l, const char *name)
{
	for (size_t i = l->n_anchors; i > 0; i--)
		if (strcmp(l->anchors[i - 1].name, name) == 0)
			return &l->anchors[i - 1];
	return NULL;
}

static int parse_int(const char *s, json_int_t *out)
{
	char *end = NULL;
	long long v;
	int base = 10;
	const char *p = s;

	if (*p == '+' || *p == '-')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] == 'o') {
		base = 8;
		p += 2;
	}
	if (!*p)
		return 0;
	for (const char *q = p; *q; q++) {
		int ok = base == 16 ? ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') ||
		                       (*q >= 'A' && *q <= 'F'))
		                    : (*q >= '0' && *q <= (base == 8 ? '7' : '9'));
		if (!ok)
			return 0;
	}
	errno = 0;
	v = strtoll(p, &end, base);
	if (errno || *end)
		return 0;
	*out = (json_int_t)(s[0] == '-' ? -v : v);
	return 1;
}

static int parse_real(const char *s, double *out)
{
	char *end = NULL;
	int digits = 0;

	for (const char *q = s; *q; q++) {
		if (*q >= '0' && *q <= '9')
			digits = 1;
		else if (!strchr("+-.eE", *q))
			return 0;
	}
	if (!digits || !strchr(s, '.'))
		return 0;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == 0;
}

/* YAML 1.1 booleans, as kubectl reads manifests (sigs.k8s.io/yaml) */
static const char *const yaml_true[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                        "on",   "On",   "ON",   "y",   "Y",   NULL};
static const char *const yaml_false[] = {"false", "False", "FALSE", "no", "No", "NO",
                                         "off",   "Off",   "OFF",   "n",  "N",  NULL};

static int one_of(const char *v, const char *const *set)
{
	for (size_t i = 0; set[i]; i++)
		if (strcmp(v, set[i]) == 0)
			return 1;
	return 0;
}

/* A scalar event to a JSON value (new reference) or NULL on no memory. */
static json_t *scalar(struct loader *l, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	json_int_t i;
	double d;
	json_t *j;

	l->weight += NODE_COST + len;
	/* quoted, block and !!str scalars are strings; plain ones are resolved */
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    (tag && strcmp(tag, YAML_STR_TAG) == 0)) {
		j = json_stringn_nocheck(v, len);
		goto done;
	}
	if (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	    strcmp(v, "NULL") == 0)
		j = json_null();
	else if (one_of(v, yaml_true))
		j = json_true();
	else if (one_of(v, yaml_false))
		j = json_false();
	else if (strlen(v) == len && parse_int(v, &i))
		j = json_integer(i);
	else if (strlen(v) == len && parse_real(v, &d))
		j = json_real(d);
	else
		j = json_stringn_nocheck(v, len);
done:
	if (!j)
		l->err = LP_ERR_NOMEM;
	return j;
}

/* Reads one node whose first event is ev (consumed by the caller); returns a
 * new reference or NULL with l->err / l->out->error set. */
static json_t *node(struct loader *l, yaml_event_t *ev, int depth);

static int next(struct loader *l, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&l->parser, ev)) {
		set_error(l, LP_ERR_PARSE, l->parser.problem_mark.line + 1,
		          l->parser.problem_mark.column + 1,
		          l->parser.problem ? l->parser.problem : "malformed YAML");
		return 0;
	}
	return 1;
}

static json_t *sequence(struct loader *l, int depth)
{
	json_t *a = json_array();
	yaml_event_t ev;

	if (!a) {
		l->err = LP_ERR_NOMEM;
		return NULL;
	}
	for (;;) {
		json_t *item;
		if (!next(l, &ev))
			goto fail;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return a;
		}
		item = node(l, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!item || json_array_append_new(a, item) != 0) {
			if (l->err == LP_OK)
				l->err = LP_ERR_NOMEM;
			goto fail;
		}
	}
fail:
	json_decref(a);
	return NULL;
}

static json_t *mapping(struct loader *l, int depth)
{
	json_t *m = json_object();
	yaml_event_t ev;

	if (!m) {
		l->err = LP_ERR_NOMEM;
		return NULL;
	}
	for (;;) {
		json_t *val;
		char *key;
		size_t line, col;
		if (!next(l, &ev))
			goto fail;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return m;
		}
		line = ev.start_mark.line + 1;
		col = ev.start_mark.column + 1;
		if (ev.type != YAML_SCALAR_EVENT) {
			yaml_event_delete(&ev);
			set_error(l, LP_ERR_PARSE, line, col, "mapping keys must be strings");
			goto fail;
		}
		if (strlen((const char *)ev.data.scalar.value) != ev.data.scalar.length) {
			yaml_event_delete(&ev);
			set_error(l, LP_ERR_PARSE, line, col,
			          "mapping key contains a NUL character");
			goto fail;
		}
		l->weight += NODE_COST + ev.data.scalar.length;
		key = lp_strdup((const char *)ev.data.scalar.value);
		yaml_event_delete(&ev);
		if (!key) {
			l->err = LP_ERR_NOMEM;
			goto fail;
		}
		if (json_object_get(m, key)) {
			char msg[160];
			snprintf(msg, sizeof(msg), "duplicate key \"%.100s\"", key);
			lp_free(key);
			set_error(l, LP_ERR_PARSE, line, col, msg);
			goto fail;
		}
		if (!next(l, &ev)) {
			lp_free(key);
			goto fail;
		}
		val = node(l, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!val || json_object_set_new_nocheck(m, key, val) != 0) {
			lp_free(key);
			if (l->err == LP_OK)
				l->err = LP_ERR_NOMEM;
			goto fail;
		}
		lp_free(key);
	}
fail:
	json_decref(m);
	return NULL;
}

static json_t *node(struct loader *l, yaml_event_t *ev, int depth)
{
	json_t *j = NULL;
	const char *anchor = NULL;
	const struct anchor *a;
	size_t before = l->weight;

	if (depth > MAX_DEPTH) {
		set_error(l, LP_ERR_PARSE, ev->start_mark.line + 1, ev->start_mark.column + 1,
		          "nested too deeply");
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = (const char *)ev->data.scalar.anchor;
		j = scalar(l, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)ev->data.sequence_start.anchor;
		l->weight += NODE_COST;
		j = sequence(l, depth);
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)ev->data.mapping_start.anchor;
		l->weight += NODE_COST;
		j = mapping(l, depth);
		break;
	case YAML_ALIAS_EVENT:
		if (++l->aliases > LP_YAML_MAX_ALIASES) {
			set_error(l, LP_ERR_PARSE, ev->start_mark.line + 1,
			          ev->start_mark.column + 1, "too many aliases");
			return NULL;
		}
		a = anchor_find(l, (const char *)ev->data.alias.anchor);
		if (!a) {
			set_error(l, LP_ERR_PARSE, ev->start_mark.line + 1,
			          ev->start_mark.column + 1, "unknown alias");
			return NULL;
		}
		/* what the copy costs is capped, not only the number of aliases: nested
		 * anchors grow geometrically (a few hundred bytes can expand to GBs) */
		l->weight += a->weight;
		l->alias_weight += a->weight;
		if (a->weight > LP_YAML_MAX_ALIAS_EXPANSION ||
		    l->alias_weight > LP_YAML_MAX_ALIAS_EXPANSION) {
			set_error(l, LP_ERR_PARSE, ev->start_mark.line + 1,
			          ev->start_mark.column + 1,
			          "excessive aliasing (the aliases would expand the "
			          "document beyond 16 MiB)");
			return NULL;
		}
		/* a deep copy keeps documents independent of each other */
		j = json_deep_copy(a->node);
		if (!j)
			l->err = LP_ERR_NOMEM;
		return j;
	default:
		set_error(l, LP_ERR_PARSE, ev->start_mark.line + 1, ev->start_mark.column + 1,
		          "unexpected YAML event");
		return NULL;
	}
	if (j && anchor && anchor_add(l, anchor, j, l->weight - before) != LP_OK) {
		l->err = LP_ERR_NOMEM;
		json_decref(j);
		return NULL;
	}
	return j;
}

static lp_err add_doc(struct lp_yaml_docs *out, json_t *root, size_t line)
{
	/* capacity doubles from 8: full when n is 0 or a power of two from 8 on */
	size_t cap = out->n == 0 ? 8 : (out->n >= 8 && !(out->n & (out->n - 1)) ? 2 * out->n : 0);
	struct lp_yaml_doc *nv = cap ? lp_realloc(out->v, cap * sizeof(*nv)) : out->v;

	if (!nv) {
		json_decref(root);
		return LP_ERR_NOMEM;
	}
	out->v = nv;
	nv[out->n].root = root;
	nv[out->n].index = out->n + 1;
	nv[out->n].line = line;
	out->n++;
	return LP_OK;
}

lp_err lp_yaml_load_string(struct lp_yaml_docs *out, const char *data, size_t len)
{
	struct loader l;
	yaml_event_t ev;
	int done = 0;

	if (!out || (!data && len))
		return LP_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	memset(&l, 0, sizeof(l));
	l.out = out;
	if (!yaml_parser_initialize(&l.parser))
		return LP_ERR_NOMEM;
	yaml_parser_set_input_string(&l.parser, (const unsigned char *)(data ? data : ""), len);
	while (!done && l.err == LP_OK) {
		if (!next(&l, &ev))
			break;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT: {
			size_t line = ev.start_mark.line + 1;
			yaml_event_t first;
			json_t *root;
			if (!next(&l, &first))
				break;
			if (first.type == YAML_DOCUMENT_END_EVENT) {
				yaml_event_delete(&first);
				if (add_doc(out, NULL, line) != LP_OK)
					l.err = LP_ERR_NOMEM;
				break;
			}
			root = node(&l, &first, 0);
			if (first.type != YAML_SCALAR_EVENT && first.type != YAML_ALIAS_EVENT)
				line = first.start_mark.line + 1;
			yaml_event_delete(&first);
			if (!root)
				break;
			if (json_is_null(root)) {
				json_decref(root);
				root = NULL;
			}
			if (add_doc(out, root, line) != LP_OK) {
				l.err = LP_ERR_NOMEM;
				break;
			}
			anchors_clear(&l); /* anchors do not cross documents */
			break;
		}
		default: /* stream start, document end */
			break;
		}
		yaml_event_delete(&ev);
	}
	anchors_clear(&l);
	yaml_parser_delete(&l.parser);
	if (l.err == LP_OK && out->error)
		l.err = LP_ERR_PARSE;
	return l.err;
}

lp_err lp_yaml_load_file(struct lp_yaml_docs *out, const char *path)
{
	struct lp_buf b, msg;
	char chunk[65536];
	FILE *f = NULL;
	size_t n;
	lp_err err = LP_OK;

	if (!out || !path)
		return LP_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	lp_buf_init(&b, LP_YAML_MAX_BYTES);
	lp_buf_init(&msg, 0);
	f = fopen(path, "rb");
	if (!f) {
		err = LP_ERR_IO;
		goto fail;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		err = lp_buf_add(&b, chunk, n);
		if (err != LP_OK)
			goto fail;
	}
	if (ferror(f)) {
		err = LP_ERR_IO;
		goto fail;
	}
	fclose(f);
	f = NULL;
	err = lp_yaml_load_string(out, lp_buf_str(&b), b.len);
	lp_buf_free(&b);
	return err;
fail:
	if (f)
		fclose(f);
	lp_buf_free(&b);
	{
		lp_err e2 = LP_OK;
		if (err == LP_ERR_TOO_LARGE)
			e2 = lp_buf_addf(&msg, "file is larger than %zu bytes", LP_YAML_MAX_BYTES);
		else if (err == LP_ERR_IO)
			e2 = lp_buf_addf(&msg, "cannot read: %s", strerror(errno));
		if (e2 == LP_OK && msg.len)
			out->error = lp_buf_take(&msg);
	}
	lp_buf_free(&msg);
	return err;
}

void lp_yaml_docs_free(struct lp_yaml_docs *docs)
{
	if (!docs)
		return;
	for (size_t i = 0; i < docs->n; i++)
		json_decref(docs->v[i].root);
	lp_free(docs->v);
	lp_free(docs->error);
	memset(docs, 0, sizeof(*docs));
}
