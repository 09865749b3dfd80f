/* LogPipeline: parse (with defaults) and free. Single-object checks live here;
 * cross-object rules (tenancy, references) are in validate.c. */
#include "reader.h"
#include "../util/mem.h"
#include <stdio.h>
#include <string.h>

#define GIB (1024ULL * 1024ULL * 1024ULL)

/* ---------- free ---------- */

static void rules_free(struct lp_grep_rule *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		lp_free(v[i].key);
		lp_free(v[i].regex);
	}
	lp_free(v);
}

static void transform_clear(struct lp_transform *t)
{
	switch (t->kind) {
	case LP_TR_FLATTEN:
		lp_free(t->u.flatten.separator);
		break;
	case LP_TR_DROP_FIELDS:
	case LP_TR_KEEP_FIELDS:
		lp_strlist_clear(&t->u.fields);
		break;
	case LP_TR_RENAME_FIELDS:
		lp_kv_array_free(t->u.rename.pairs, t->u.rename.n);
		break;
	case LP_TR_ADD_FIELDS:
		lp_kv_array_free(t->u.add.pairs, t->u.add.n);
		break;
	case LP_TR_GREP:
		rules_free(t->u.grep.include, t->u.grep.n_include);
		rules_free(t->u.grep.exclude, t->u.grep.n_exclude);
		break;
	case LP_TR_THROTTLE:
		lp_free(t->u.throttle.interval);
		break;
	case LP_TR_DETECT_LEVEL:
		lp_free(t->u.detect_level.source_key);
		lp_free(t->u.detect_level.target_key);
		break;
	default:
		break;
	}
}

void lp_pipeline_free(struct lp_pipeline *p)
{
	size_t i;

	if (!p)
		return;
	lp_meta_clear(&p->meta);
	lp_strlist_clear(&p->app.ns_include);
	lp_strlist_clear(&p->app.ns_exclude);
	lp_kv_array_free(p->app.pod_labels, p->app.n_pod_labels);
	lp_strlist_clear(&p->app.container_include);
	lp_strlist_clear(&p->app.container_exclude);
	for (i = 0; i < p->n_files; i++) {
		lp_free(p->files[i].name);
		lp_free(p->files[i].path);
		lp_free(p->files[i].metadata_regex);
	}
	lp_free(p->files);
	for (i = 0; i < p->multiline.n_rules; i++) {
		lp_free(p->multiline.rules[i].state);
		lp_free(p->multiline.rules[i].regex);
		lp_free(p->multiline.rules[i].next_state);
	}
	lp_free(p->multiline.rules);
	lp_free(p->parse.key);
	lp_free(p->parse.regex);
	lp_free(p->parse.time_key);
	lp_free(p->parse.time_format);
	for (i = 0; i < p->n_transforms; i++)
		transform_clear(&p->transforms[i]);
	lp_free(p->transforms);
	for (i = 0; i < p->n_routes; i++) {
		lp_free(p->routes[i].output_ref);
		lp_free(p->routes[i].output_ns);
		lp_free(p->routes[i].match_field);
		lp_strlist_clear(&p->routes[i].match_in);
		lp_free(p->routes[i].match_regex);
	}
	lp_free(p->routes);
	lp_free(p->aggregator.storage_size);
	for (size_t k = 0; p->metrics && k < p->n_metrics; k++) {
		lp_free(p->metrics[k].name);
		lp_free(p->metrics[k].description);
		lp_strlist_clear(&p->metrics[k].labels);
		lp_free(p->metrics[k].field);
		lp_free(p->metrics[k].buckets);
	}
	lp_free(p->metrics);
	lp_free(p);
}

/* ---------- input ---------- */

static void rd_include_exclude(struct lp_rd *r, const json_t *o, const char *base, const char *key,
                               struct lp_strlist *inc, struct lp_strlist *exc)
{
	static const char *const known[] = {"include", "exclude", NULL};
	char path[LP_RD_PATH], epath[LP_RD_PATH], ipath[LP_RD_PATH];
	const json_t *v = lp_rd_get(r, o, base, key, LP_RD_OBJ, 0);

	if (!v)
		return;
	lp_rd_join(path, base, key);
	lp_rd_known(r, v, path, known);
	lp_rd_strlist(r, v, path, "include", inc, LP_STR_DNS_LABEL, 0, 1, 256, 0);
	lp_rd_strlist(r, v, path, "exclude", exc, LP_STR_DNS_LABEL, 0, 1, 256, 0);
	for (size_t i = 0; i < exc->n; i++)
		for (size_t j = 0; j < inc->n; j++)
			if (strcmp(exc->v[i], inc->v[j]) == 0) {
				lp_rd_join(epath, path, "exclude");
				lp_rd_index(ipath, epath, i);
				lp_rd_bad(r, ipath, "\"%s\" is also in include", exc->v[i]);
			}
}

static void rd_files(struct lp_rd *r, const json_t *in, struct lp_pipeline *p)
{
	static const char *const known[] = {"name", "path", "metadataRegex", NULL};
	char path[LP_RD_PATH], fpath[LP_RD_PATH];
	const json_t *a = lp_rd_get(r, in, "spec.input", "files", LP_RD_ARR, 0);
	size_t n;

	if (!a)
		return;
	n = json_array_size(a);
	if (n > 16) {
		lp_rd_bad(r, "spec.input.files", "must have at most 16 items (got %zu)", n);
		return;
	}
	p->files = lp_calloc(n + 1, sizeof(*p->files));
	if (!p->files) {
		r->err = LP_ERR_NOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *it = json_array_get(a, i);
		struct lp_in_file *f = &p->files[p->n_files++];
		char *names = NULL;
		lp_rd_index(path, "spec.input.files", i);
		if (!json_is_object(it)) {
			lp_rd_bad(r, path, "must be an object");
			continue;
		}
		lp_rd_known(r, it, path, known);
		lp_rd_str(r, it, path, "name", &f->name, LP_STR_DNS_LABEL, 0, 1);
		for (size_t j = 0; f->name && j + 1 < p->n_files; j++)
			if (p->files[j].name && strcmp(p->files[j].name, f->name) == 0) {
				lp_rd_join(fpath, path, "name");
				lp_rd_bad(r, fpath,
				          "duplicate name \"%s\" (also spec.input.files[%zu])",
				          f->name, j);
			}
		lp_rd_str(r, it, path, "path", &f->path, LP_STR_PATH, 0, 1);
		if (f->path && (strncmp(f->path, "/var/log/containers/", 20) == 0 ||
		                strncmp(f->path, "/var/log/pods/", 14) == 0)) {
			lp_rd_join(fpath, path, "path");
			lp_rd_bad(r, fpath,
			          "container logs are read by spec.input.application, not "
			          "as files");
		}
		lp_rd_regex(r, it, path, "metadataRegex", &f->metadata_regex, &names, 0);
		if (f->metadata_regex && !lp_regex_names_has(names, "namespace_name") &&
		    !lp_regex_names_has(names, "pod_name") &&
		    !lp_regex_names_has(names, "container_name")) {
			lp_rd_join(fpath, path, "metadataRegex");
			lp_rd_bad(r, fpath,
			          "must have at least one of the named groups "
			          "(?<namespace_name>...), (?<pod_name>...), "
			          "(?<container_name>...)");
		}
		lp_free(names);
	}
}

static void rd_input(struct lp_rd *r, const json_t *spec, struct lp_pipeline *p)
{
	static const char *const known[] = {"application", "system", "files", "http", NULL};
	static const char *const aknown[] = {"enabled", "namespaces", "podLabels", "containers",
	                                     NULL};
	static const char *const sknown[] = {"enabled", NULL};
	static const char *const hknown[] = {"enabled", "port", NULL};
	const char *ab = "spec.input.application";
	const json_t *in = lp_rd_get(r, spec, "spec", "input", LP_RD_OBJ, 0);
	const json_t *a, *s, *h;

	p->http.port = 9880;
	if (!in) {
		/* no input section: the pipeline reads application logs */
		p->has_app = 1;
		p->app.enabled = 1;
		return;
	}
	lp_rd_known(r, in, "spec.input", known);
	a = lp_rd_get(r, in, "spec.input", "application", LP_RD_OBJ, 0);
	if (a) {
		p->has_app = 1;
		p->app.enabled = 1;
		lp_rd_known(r, a, ab, aknown);
		lp_rd_bool(r, a, ab, "enabled", &p->app.enabled);
		rd_include_exclude(r, a, ab, "namespaces", &p->app.ns_include, &p->app.ns_exclude);
		for (size_t i = 0; i < p->app.ns_include.n; i++)
			if (strcmp(p->app.ns_include.v[i], "kube-system") == 0) {
				char ipath[LP_RD_PATH];
				lp_rd_index(ipath, "spec.input.application.namespaces.include", i);
				lp_rd_bad(
				    r, ipath,
				    "the application input never reads kube-system (its container "
				    "logs are spec.input.system's, in a pipeline of the control "
				    "namespace)");
			}
		lp_rd_kvmap(r, a, ab, "podLabels", &p->app.pod_labels, &p->app.n_pod_labels,
		            LP_STR_LABEL_KEY, 0, LP_STR_LABEL_VALUE, 0, 32);
		rd_include_exclude(r, a, ab, "containers", &p->app.container_include,
		                   &p->app.container_exclude);
	}
	s = lp_rd_get(r, in, "spec.input", "system", LP_RD_OBJ, 0);
	if (s) {
		p->system = 1;
		lp_rd_known(r, s, "spec.input.system", sknown);
		lp_rd_bool(r, s, "spec.input.system", "enabled", &p->system);
	}
	rd_files(r, in, p);
	h = lp_rd_get(r, in, "spec.input", "http", LP_RD_OBJ, 0);
	if (h) {
		p->http.enabled = 1;
		lp_rd_known(r, h, "spec.input.http", hknown);
		lp_rd_bool(r, h, "spec.input.http", "enabled", &p->http.enabled);
		lp_rd_int(r, h, "spec.input.http", "port", &p->http.port, 1024, 65535, 0);
	}
	if (!(p->has_app && p->app.enabled) && !p->system && p->n_files == 0 && !p->http.enabled)
		lp_rd_bad(r, "spec.input",
		          "no input enabled: set application, system, files or http");
}

/* ---------- multiline and parse ---------- */

/* A multiline state name: letters, digits, '_' and '-'. */
static void rd_state(struct lp_rd *r, const json_t *o, const char *base, const char *key,
                     char **out)
{
	char path[LP_RD_PATH];

	lp_rd_str(r, o, base, key, out, LP_STR_TOKEN, 64, 1);
	if (*out && strchr(*out, '.')) {
		lp_rd_join(path, base, key);
		lp_rd_bad(r, path, "must contain only letters, digits, '_' and '-'");
	}
}

static void rd_multiline(struct lp_rd *r, const json_t *spec, struct lp_multiline *m)
{
	static const char *const known[] = {"parsers", "rules", "flushTimeoutMs", NULL};
	static const char *const rknown[] = {"state", "regex", "nextState", NULL};
	static const char *const builtins[] = {"java", "python", "go", "cri", "docker"};
	const char *b = "spec.multiline";
	char path[LP_RD_PATH], ipath[LP_RD_PATH];
	const json_t *o = lp_rd_get(r, spec, "spec", "multiline", LP_RD_OBJ, 0);
	const json_t *ps, *rs;
	int has_start = 0;

	m->flush_timeout_ms = 1000;
	if (!o)
		return;
	m->present = 1;
	lp_rd_known(r, o, b, known);
	lp_rd_int(r, o, b, "flushTimeoutMs", &m->flush_timeout_ms, 100, 60000, 0);
	ps = lp_rd_get(r, o, b, "parsers", LP_RD_ARR, 0);
	for (size_t i = 0; ps && i < json_array_size(ps); i++) {
		const json_t *v = json_array_get(ps, i);
		int found = -1;
		lp_rd_index(path, "spec.multiline.parsers", i);
		for (int k = 0; json_is_string(v) && k < 5; k++)
			if (strcmp(json_string_value(v), builtins[k]) == 0)
				found = k;
		if (found < 0)
			lp_rd_bad(
			    r, path,
			    "unsupported parser: must be one of \"java\", \"python\", \"go\", "
			    "\"cri\", \"docker\" (custom parsers go in spec.multiline.rules)");
		else if (m->builtin & (1u << found))
			lp_rd_bad(r, path, "duplicate parser \"%s\"", builtins[found]);
		else
			m->builtin |= 1u << found;
	}
	rs = lp_rd_get(r, o, b, "rules", LP_RD_ARR, 0);
	if (rs) {
		size_t n = json_array_size(rs);
		if (n > 32) {
			lp_rd_bad(r, "spec.multiline.rules", "must have at most 32 items");
			n = 0;
		}
		m->rules = lp_calloc(n + 1, sizeof(*m->rules));
		if (!m->rules) {
			r->err = LP_ERR_NOMEM;
			return;
		}
		for (size_t i = 0; i < n; i++) {
			const json_t *it = json_array_get(rs, i);
			struct lp_ml_rule *ru = &m->rules[m->n_rules++];
			lp_rd_index(path, "spec.multiline.rules", i);
			if (!json_is_object(it)) {
				lp_rd_bad(r, path, "must be an object");
				continue;
			}
			lp_rd_known(r, it, path, rknown);
			rd_state(r, it, path, "state", &ru->state);
			lp_rd_regex(r, it, path, "regex", &ru->regex, NULL, 1);
			rd_state(r, it, path, "nextState", &ru->next_state);
			if (ru->state && strcmp(ru->state, "start_state") == 0)
				has_start = 1;
		}
		if (n > 0 && !has_start)
			lp_rd_bad(r, "spec.multiline.rules",
			          "must include a rule with state \"start_state\"");
		/* every nextState must be the state of some rule */
		for (size_t i = 0; i < m->n_rules; i++) {
			int known_state = 0;
			if (!m->rules[i].next_state)
				continue;
			for (size_t j = 0; j < m->n_rules; j++)
				if (m->rules[j].state &&
				    strcmp(m->rules[j].state, m->rules[i].next_state) == 0)
					known_state = 1;
			if (!known_state) {
				lp_rd_index(ipath, "spec.multiline.rules", i);
				lp_rd_join(path, ipath, "nextState");
				lp_rd_bad(r, path, "no rule has state \"%s\"",
				          m->rules[i].next_state);
			}
		}
	}
	if (m->builtin == 0 && m->n_rules == 0 && !(ps && json_array_size(ps)) &&
	    !(rs && json_array_size(rs)))
		lp_rd_bad(r, b, "set parsers or rules");
}

static void rd_parse(struct lp_rd *r, const json_t *spec, struct lp_parse *ps)
{
	static const char *const known[] = {"format",     "key",          "regex", "timeKey",
	                                    "timeFormat", "keepOriginal", NULL};
	static const char *const formats[] = {NULL, "json", "logfmt", "regex"};
	const char *b = "spec.parse";
	const json_t *o = lp_rd_get(r, spec, "spec", "parse", LP_RD_OBJ, 0);
	char *names = NULL;
	int fmt = 0;

	if (!o)
		return;
	lp_rd_known(r, o, b, known);
	lp_rd_enum(r, o, b, "format", formats, 4, &fmt, 1);
	ps->format = (enum lp_parse_format)fmt;
	lp_rd_str(r, o, b, "key", &ps->key, LP_STR_FIELD, 0, 0);
	lp_rd_default(r, &ps->key, "log");
	if (fmt == LP_PARSE_REGEX) {
		lp_rd_regex(r, o, b, "regex", &ps->regex, &names, 1);
		if (ps->regex && !names)
			lp_rd_bad(r, "spec.parse.regex",
			          "must have at least one named group such as (?<level>...)");
	} else if (json_object_get(o, "regex") && fmt != LP_PARSE_NONE) {
		lp_rd_bad(r, "spec.parse.regex", "only used with format: regex");
	}
	lp_rd_str(r, o, b, "timeKey", &ps->time_key, LP_STR_FIELD, 0, 0);
	lp_rd_str(r, o, b, "timeFormat", &ps->time_format, LP_STR_TEXT, 128, 0);
	if (ps->time_format && !strchr(ps->time_format, '%'))
		lp_rd_bad(r, "spec.parse.timeFormat",
		          "must be a strptime format such as \"%%Y-%%m-%%dT%%H:%%M:%%S\"");
	if (json_object_get(o, "timeFormat") && !json_object_get(o, "timeKey"))
		lp_rd_bad(r, "spec.parse.timeFormat", "needs timeKey");
	if (ps->regex && names && ps->time_key && !lp_regex_names_has(names, ps->time_key))
		lp_rd_bad(r, "spec.parse.timeKey",
		          "\"%s\" is not a named group of spec.parse.regex", ps->time_key);
	lp_rd_bool(r, o, b, "keepOriginal", &ps->keep_original);
	lp_free(names);
}

/* ---------- transforms ---------- */

static const char *const tr_names[] = {"flatten",      "dropFields",  "keepFields",
                                       "renameFields", "addFields",   "grep",
                                       "throttle",     "detectLevel", NULL};

/* A list of 1..max objects at path: the array of cnt zeroed items of size
 * bytes to fill (NULL with the error recorded in r). */
static void *rd_items(struct lp_rd *r, const json_t *a, const char *path, size_t max, size_t size)
{
	size_t cnt = json_array_size(a);
	void *v;

	if (cnt == 0 || cnt > max) {
		lp_rd_bad(r, path, "must have between 1 and %zu items", max);
		return NULL;
	}
	v = lp_calloc(cnt, size);
	if (!v)
		r->err = LP_ERR_NOMEM;
	return v;
}

/* Item i of a, an object with only the known keys (NULL when not an object). */
static const json_t *rd_item(struct lp_rd *r, const json_t *a, const char *path, size_t i,
                             char ipath[LP_RD_PATH], const char *const *known)
{
	const json_t *it = json_array_get(a, i);

	lp_rd_index(ipath, path, i);
	if (!json_is_object(it)) {
		lp_rd_bad(r, ipath, "must be an object");
		return NULL;
	}
	lp_rd_known(r, it, ipath, known);
	return it;
}

/* [{a, b}] pairs, both record keys except value when value_text */
static void rd_pairs(struct lp_rd *r, const json_t *a, const char *path, const char *ka,
                     const char *kb, int value_text, struct lp_kv **out, size_t *n)
{
	const char *const known[] = {ka, kb, NULL};
	char ipath[LP_RD_PATH];

	*out = rd_items(r, a, path, 64, sizeof(**out));
	for (size_t i = 0; *out && i < json_array_size(a); i++) {
		struct lp_kv *kv = &(*out)[(*n)++];
		const json_t *it = rd_item(r, a, path, i, ipath, known);
		if (!it)
			continue;
		lp_rd_str(r, it, ipath, ka, &kv->key, LP_STR_FIELD, 0, 1);
		if (value_text) {
			lp_rd_str(r, it, ipath, kb, &kv->value, LP_STR_TEXT, 1024, 0);
			if (!json_object_get(it, kb)) {
				char vpath[LP_RD_PATH];
				lp_rd_join(vpath, ipath, kb);
				lp_rd_bad(r, vpath, "required");
			}
		} else {
			lp_rd_str(r, it, ipath, kb, &kv->value, LP_STR_FIELD, 0, 1);
		}
	}
}

static void rd_grep_rules(struct lp_rd *r, const json_t *g, const char *base, const char *key,
                          struct lp_grep_rule **out, size_t *n)
{
	static const char *const known[] = {"key", "regex", NULL};
	char path[LP_RD_PATH], ipath[LP_RD_PATH];
	const json_t *a = lp_rd_get(r, g, base, key, LP_RD_ARR, 0);

	if (!a)
		return;
	lp_rd_join(path, base, key);
	*out = rd_items(r, a, path, 32, sizeof(**out));
	for (size_t i = 0; *out && i < json_array_size(a); i++) {
		struct lp_grep_rule *ru = &(*out)[(*n)++];
		const json_t *it = rd_item(r, a, path, i, ipath, known);
		if (!it)
			continue;
		lp_rd_str(r, it, ipath, "key", &ru->key, LP_STR_FIELD, 0, 1);
		lp_rd_regex(r, it, ipath, "regex", &ru->regex, NULL, 1);
	}
}

static void rd_transform(struct lp_rd *r, const json_t *it, const char *path,
                         struct lp_transform *t)
{
	char kpath[LP_RD_PATH];
	const char *k, *first = NULL;
	const json_t *v;
	json_t *jv;
	int count = 0, kind = 0;

	json_object_foreach((json_t *)it, k, jv)
	{
		int known = 0;
		for (int i = 0; tr_names[i]; i++)
			if (strcmp(tr_names[i], k) == 0) {
				known = 1;
				if (count++ == 0) {
					first = tr_names[i];
					kind = i + 1;
				} else {
					lp_rd_bad(
					    r, path,
					    "sets both %s and %s: each transform sets exactly "
					    "one operation",
					    first, tr_names[i]);
				}
			}
		if (!known && strcmp(k, "overwrite") != 0) {
			lp_rd_join(kpath, path, k);
			lp_rd_bad(r, kpath, "unknown field");
		}
	}
	if (count == 0) {
		lp_rd_bad(r, path,
		          "must set exactly one of flatten, dropFields, keepFields, renameFields, "
		          "addFields, grep, throttle, detectLevel");
		return;
	}
	if (count > 1)
		return;
	if (json_object_get(it, "overwrite") && kind != LP_TR_ADD_FIELDS) {
		lp_rd_join(kpath, path, "overwrite");
		lp_rd_bad(r, kpath, "only used with addFields");
	}
	t->kind = (enum lp_transform_kind)kind;
	lp_rd_join(kpath, path, first);
	switch (t->kind) {
	case LP_TR_FLATTEN: {
		static const char *const known[] = {"separator", NULL};
		v = lp_rd_get(r, it, path, "flatten", LP_RD_OBJ, 1);
		lp_rd_known(r, v, kpath, known);
		lp_rd_str(r, v, kpath, "separator", &t->u.flatten.separator, LP_STR_TEXT, 8, 0);
		if (t->u.flatten.separator && !*t->u.flatten.separator) {
			char spath[LP_RD_PATH];
			lp_rd_join(spath, kpath, "separator");
			lp_rd_bad(r, spath, "must not be empty");
		}
		lp_rd_default(r, &t->u.flatten.separator, ".");
		break;
	}
	case LP_TR_DROP_FIELDS:
	case LP_TR_KEEP_FIELDS:
		lp_rd_strlist(r, it, path, first, &t->u.fields, LP_STR_FIELD, 0, 1, 64, 1);
		break;
	case LP_TR_RENAME_FIELDS:
		v = lp_rd_get(r, it, path, first, LP_RD_ARR, 1);
		if (v)
			rd_pairs(r, v, kpath, "from", "to", 0, &t->u.rename.pairs, &t->u.rename.n);
		break;
	case LP_TR_ADD_FIELDS:
		v = lp_rd_get(r, it, path, first, LP_RD_ARR, 1);
		if (v)
			rd_pairs(r, v, kpath, "key", "value", 1, &t->u.add.pairs, &t->u.add.n);
		lp_rd_bool(r, it, path, "overwrite", &t->u.add.overwrite);
		break;
	case LP_TR_GREP: {
		static const char *const known[] = {"include", "exclude", NULL};
		v = lp_rd_get(r, it, path, "grep", LP_RD_OBJ, 1);
		if (!v)
			break;
		lp_rd_known(r, v, kpath, known);
		rd_grep_rules(r, v, kpath, "include", &t->u.grep.include, &t->u.grep.n_include);
		rd_grep_rules(r, v, kpath, "exclude", &t->u.grep.exclude, &t->u.grep.n_exclude);
		if (!json_object_get(v, "include") && !json_object_get(v, "exclude"))
			lp_rd_bad(r, kpath, "set include or exclude");
		break;
	}
	case LP_TR_THROTTLE: {
		static const char *const known[] = {"rate", "window", "interval", "perPod", NULL};
		v = lp_rd_get(r, it, path, "throttle", LP_RD_OBJ, 1);
		t->u.throttle.window = 5;
		if (v) {
			lp_rd_known(r, v, kpath, known);
			lp_rd_int(r, v, kpath, "rate", &t->u.throttle.rate, 1, 1000000, 1);
			lp_rd_int(r, v, kpath, "window", &t->u.throttle.window, 1, 1000, 0);
			lp_rd_duration(r, v, kpath, "interval", &t->u.throttle.interval, 1, 3600,
			               0);
			lp_rd_bool(r, v, kpath, "perPod", &t->u.throttle.per_pod);
		}
		lp_rd_default(r, &t->u.throttle.interval, "1s");
		break;
	}
	case LP_TR_DETECT_LEVEL: {
		static const char *const known[] = {"sourceKey", "targetKey", NULL};
		v = lp_rd_get(r, it, path, "detectLevel", LP_RD_OBJ, 1);
		lp_rd_known(r, v, kpath, known);
		lp_rd_str(r, v, kpath, "sourceKey", &t->u.detect_level.source_key, LP_STR_FIELD, 0,
		          0);
		lp_rd_str(r, v, kpath, "targetKey", &t->u.detect_level.target_key, LP_STR_FIELD, 0,
		          0);
		lp_rd_default(r, &t->u.detect_level.source_key, "log");
		lp_rd_default(r, &t->u.detect_level.target_key, "level");
		break;
	}
	default:
		break;
	}
}

static void rd_transforms(struct lp_rd *r, const json_t *spec, struct lp_pipeline *p)
{
	char path[LP_RD_PATH], fpath[LP_RD_PATH];
	const json_t *a = lp_rd_get(r, spec, "spec", "transforms", LP_RD_ARR, 0);
	size_t n;
	long flat_at = -1; /* index of the first flatten */

	if (!a)
		return;
	n = json_array_size(a);
	if (n > 64) {
		lp_rd_bad(r, "spec.transforms", "must have at most 64 items (got %zu)", n);
		return;
	}
	p->transforms = lp_calloc(n + 1, sizeof(*p->transforms));
	if (!p->transforms) {
		r->err = LP_ERR_NOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *it = json_array_get(a, i);
		struct lp_transform t;
		memset(&t, 0, sizeof(t));
		lp_rd_index(path, "spec.transforms", i);
		if (!json_is_object(it)) {
			lp_rd_bad(r, path, "must be an object");
			continue;
		}
		rd_transform(r, it, path, &t);
		if (t.kind == 0)
			continue; /* nothing allocated */
		if (t.kind == LP_TR_FLATTEN && flat_at < 0)
			flat_at = (long)i;
		/* the pod metadata is the nested map "kubernetes": after a flatten only
		 * kubernetes<sep>pod_name and its siblings exist, so keeping
		 * "kubernetes" would drop all of it */
		for (size_t j = 0; t.kind == LP_TR_KEEP_FIELDS && flat_at >= 0 && j < t.u.fields.n;
		     j++)
			if (strcmp(t.u.fields.v[j], "kubernetes") == 0) {
				char kpath[LP_RD_PATH + 16];
				lp_rd_index(fpath, "spec.transforms", (size_t)flat_at);
				snprintf(kpath, sizeof(kpath), "%s.keepFields", path);
				lp_rd_index(path, kpath, j);
				lp_rd_bad(r, path,
				          "\"kubernetes\" no longer exists after the flatten at %s "
				          "(the pod "
				          "metadata becomes kubernetes<separator>pod_name and so "
				          "on): keep "
				          "fields before the flatten, or name the flattened keys",
				          fpath);
			}
		p->transforms[p->n_transforms++] = t;
	}
}

/* ---------- routes and aggregator ---------- */

static void rd_routes(struct lp_rd *r, const json_t *spec, struct lp_pipeline *p)
{
	static const char *const known[] = {"outputRef", "outputNamespace", "match", NULL};
	static const char *const mknown[] = {"field", "in", "regex", NULL};
	char path[LP_RD_PATH], mpath[LP_RD_PATH], fpath[LP_RD_PATH];
	const json_t *a = lp_rd_get(r, spec, "spec", "routes", LP_RD_ARR, 1);
	size_t n;

	if (!a)
		return;
	n = json_array_size(a);
	if (n == 0 || n > 32) {
		lp_rd_bad(r, "spec.routes", "must have between 1 and 32 items (got %zu)", n);
		return;
	}
	p->routes = lp_calloc(n, sizeof(*p->routes));
	if (!p->routes) {
		r->err = LP_ERR_NOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *it = json_array_get(a, i), *m;
		struct lp_route *ro = &p->routes[p->n_routes++];
		lp_rd_index(path, "spec.routes", i);
		if (!json_is_object(it)) {
			lp_rd_bad(r, path, "must be an object");
			continue;
		}
		lp_rd_known(r, it, path, known);
		lp_rd_str(r, it, path, "outputRef", &ro->output_ref, LP_STR_DNS_LABEL, 0, 1);
		lp_rd_str(r, it, path, "outputNamespace", &ro->output_ns, LP_STR_DNS_LABEL, 63, 0);
		for (size_t j = 0; ro->output_ref && j + 1 < p->n_routes; j++)
			if (p->routes[j].output_ref &&
			    strcmp(p->routes[j].output_ref, ro->output_ref) == 0 &&
			    strcmp(lp_route_output_ns(p, &p->routes[j]),
			           lp_route_output_ns(p, ro)) == 0) {
				lp_rd_join(fpath, path, "outputRef");
				lp_rd_bad(r, fpath,
				          "LogOutput \"%s\" is already used by spec.routes[%zu]",
				          ro->output_ref, j);
				break;
			}
		m = lp_rd_get(r, it, path, "match", LP_RD_OBJ, 0);
		if (!m)
			continue;
		lp_rd_join(mpath, path, "match");
		lp_rd_known(r, m, mpath, mknown);
		lp_rd_str(r, m, mpath, "field", &ro->match_field, LP_STR_FIELD, 0, 1);
		lp_rd_strlist(r, m, mpath, "in", &ro->match_in, LP_STR_TEXT, 256, 1, 64, 0);
		lp_rd_regex(r, m, mpath, "regex", &ro->match_regex, NULL, 0);
		if (json_object_get(m, "in") && json_object_get(m, "regex"))
			lp_rd_bad(r, mpath, "set in or regex, not both");
		else if (!json_object_get(m, "in") && !json_object_get(m, "regex"))
			lp_rd_bad(r, mpath, "one of in or regex is required");
		ro->op = json_object_get(m, "regex") ? LP_ROUTE_REGEX : LP_ROUTE_IN;
	}
}

static void rd_aggregator(struct lp_rd *r, const json_t *spec, struct lp_aggregator *ag)
{
	static const char *const known[] = {"enabled", "engine", "replicas", "storageSize", NULL};
	static const char *const engines[] = {"fluentbit", "fluentd"};
	const char *b = "spec.aggregator";
	const json_t *o = lp_rd_get(r, spec, "spec", "aggregator", LP_RD_OBJ, 0);
	int eng = 0;

	ag->replicas = 2;
	if (o) {
		ag->enabled = 1;
		lp_rd_known(r, o, b, known);
		lp_rd_bool(r, o, b, "enabled", &ag->enabled);
		lp_rd_enum(r, o, b, "engine", engines, 2, &eng, 0);
		lp_rd_int(r, o, b, "replicas", &ag->replicas, 1, 20, 0);
		lp_rd_size(r, o, b, "storageSize", &ag->storage_size, GIB, 64 * 1024 * GIB, 0);
		ag->set = (json_object_get(o, "engine") ? LP_AGG_SET_ENGINE : 0) |
		          (json_object_get(o, "replicas") ? LP_AGG_SET_REPLICAS : 0) |
		          (json_object_get(o, "storageSize") ? LP_AGG_SET_STORAGE : 0);
		if (ag->storage_size && strchr(ag->storage_size, 'B'))
			lp_rd_bad(r, "spec.aggregator.storageSize",
			          "must be a Kubernetes quantity such as \"10Gi\"");
	}
	ag->engine = (enum lp_aggregator_engine)eng;
	lp_rd_default(r, &ag->storage_size, "10Gi");
}

/* ---------- metrics ---------- */

/* A Prometheus metric name part: [a-z_][a-z0-9_]*, at most 64, no "__" prefix
 * (reserved by Prometheus). */
static int metric_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || (s[0] == '_' && s[1] == '_') || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* One label: level, namespace, workload, pod or field:<record key>. */
static void rd_metric_label(struct lp_rd *r, const char *lpath, const char *v)
{
	static const char *const fixed[] = {"level", "namespace", "workload", "pod"};

	for (size_t k = 0; k < 4; k++)
		if (strcmp(v, fixed[k]) == 0)
			return;
	if (strncmp(v, "field:", 6) == 0) {
		const char *why = lp_check_string(v + 6, strlen(v + 6), LP_STR_FIELD, 64);
		if (!why && strchr(v + 6, '.'))
			why = "must be a top-level record key (no '.')";
		if (why)
			lp_rd_bad(r, lpath, "field label key: %s", why);
		else if (!metric_name_ok(v + 6))
			lp_rd_bad(r, lpath,
			          "field label key must be a Prometheus label name "
			          "([a-z_][a-z0-9_]*, at most 64)");
		return;
	}
	lp_rd_bad(r, lpath,
	          "unsupported label \"%s\": must be one of \"level\", \"namespace\", "
	          "\"workload\", \"pod\" or \"field:<key>\"",
	          v);
}

static void rd_metric(struct lp_rd *r, const json_t *it, const char *path, struct lp_logmetric *m)
{
	static const char *const types[] = {"counter", "histogram"};
	char fpath[LP_RD_PATH], ipath[LP_RD_PATH];
	const json_t *bs;
	int type = 0;

	lp_rd_str(r, it, path, "name", &m->name, LP_STR_TOKEN, 64, 1);
	if (m->name && !metric_name_ok(m->name)) {
		lp_rd_join(fpath, path, "name");
		lp_rd_bad(r, fpath,
		          "must match [a-z_][a-z0-9_]* (at most 64, not starting with \"__\"): it "
		          "becomes part of a Prometheus metric name");
	}
	lp_rd_enum(r, it, path, "type", types, 2, &type, 1);
	m->type = (enum lp_logmetric_type)type;
	lp_rd_str(r, it, path, "description", &m->description, LP_STR_TEXT, 256, 0);
	lp_rd_strlist(r, it, path, "labels", &m->labels, LP_STR_TEXT, 80, 0, LP_METRIC_LABELS_MAX,
	              0);
	lp_rd_join(fpath, path, "labels");
	for (size_t j = 0; j < m->labels.n; j++) {
		lp_rd_index(ipath, fpath, j);
		rd_metric_label(r, ipath, m->labels.v[j]); /* duplicates: lp_rd_strlist */
	}
	lp_rd_str(r, it, path, "field", &m->field, LP_STR_FIELD, 64,
	          m->type == LP_LOGMETRIC_HISTOGRAM);
	bs = lp_rd_get(r, it, path, "buckets", LP_RD_ARR, 0);
	lp_rd_join(fpath, path, "buckets");
	if (m->type == LP_LOGMETRIC_COUNTER) {
		if (json_object_get(it, "field")) {
			lp_rd_join(ipath, path, "field");
			lp_rd_bad(r, ipath, "only used with type: histogram");
		}
		if (json_object_get(it, "buckets"))
			lp_rd_bad(r, fpath, "only used with type: histogram");
		return;
	}
	if (m->field && strchr(m->field, '.')) {
		lp_rd_join(ipath, path, "field");
		lp_rd_bad(r, ipath, "must be a top-level record key (no '.')");
	}
	if (!bs)
		return; /* Fluent Bit's default buckets */
	m->buckets = rd_items(r, bs, fpath, 16, sizeof(*m->buckets));
	for (size_t j = 0; m->buckets && j < json_array_size(bs); j++) {
		const json_t *v = json_array_get(bs, j);
		lp_rd_index(ipath, fpath, j);
		if (!json_is_number(v)) {
			lp_rd_bad(r, ipath, "must be a number");
			continue;
		}
		m->buckets[m->n_buckets] = json_number_value(v);
		if (m->n_buckets > 0 && !(m->buckets[m->n_buckets] > m->buckets[m->n_buckets - 1]))
			lp_rd_bad(r, ipath, "buckets must be strictly increasing");
		m->n_buckets++;
	}
}

static void rd_metrics(struct lp_rd *r, const json_t *spec, struct lp_pipeline *p)
{
	static const char *const known[] = {"name",  "type",    "description", "labels",
	                                    "field", "buckets", NULL};
	char ipath[LP_RD_PATH], fpath[LP_RD_PATH];
	const json_t *a = lp_rd_get(r, spec, "spec", "metrics", LP_RD_ARR, 0);

	if (!a || json_array_size(a) == 0)
		return;
	p->metrics = rd_items(r, a, "spec.metrics", LP_METRICS_MAX, sizeof(*p->metrics));
	for (size_t i = 0; p->metrics && i < json_array_size(a); i++) {
		struct lp_logmetric *m = &p->metrics[p->n_metrics++];
		const json_t *it = rd_item(r, a, "spec.metrics", i, ipath, known);
		if (!it)
			continue;
		rd_metric(r, it, ipath, m);
		for (size_t k = 0; m->name && k + 1 < p->n_metrics; k++)
			if (p->metrics[k].name && strcmp(p->metrics[k].name, m->name) == 0) {
				lp_rd_join(fpath, ipath, "name");
				lp_rd_bad(r, fpath, "\"%s\" is already used by spec.metrics[%zu]",
				          m->name, k);
				break;
			}
	}
	if (p->aggregator.enabled)
		lp_rd_bad(r, "spec.metrics",
		          "not supported with spec.aggregator: records are counted on the agents");
}

/* ---------- the object ---------- */

static void rd_pipeline_spec(struct lp_rd *r, const json_t *spec, struct lp_pipeline *p)
{
	static const char *const known[] = {"input",      "kubernetes", "multiline",
	                                    "parse",      "transforms", "routes",
	                                    "aggregator", "metrics",    NULL};
	static const char *const kknown[] = {"enabled", "labels", "annotations", NULL};
	const json_t *k;

	lp_rd_known(r, spec, "spec", known);
	rd_input(r, spec, p);
	p->kubernetes.enabled = 1;
	p->kubernetes.labels = 1;
	k = lp_rd_get(r, spec, "spec", "kubernetes", LP_RD_OBJ, 0);
	if (k) {
		lp_rd_known(r, k, "spec.kubernetes", kknown);
		lp_rd_bool(r, k, "spec.kubernetes", "enabled", &p->kubernetes.enabled);
		lp_rd_bool(r, k, "spec.kubernetes", "labels", &p->kubernetes.labels);
		lp_rd_bool(r, k, "spec.kubernetes", "annotations", &p->kubernetes.annotations);
	}
	rd_multiline(r, spec, &p->multiline);
	rd_parse(r, spec, &p->parse);
	rd_transforms(r, spec, p);
	rd_routes(r, spec, p);
	rd_aggregator(r, spec, &p->aggregator);
	rd_metrics(r, spec, p);
}

lp_err lp_pipeline_parse(struct lp_pipeline **out, const json_t *obj, struct lp_problems *probs)
{
	struct lp_rd r = {probs, LP_OK, 0};
	struct lp_pipeline *p;
	const json_t *spec;

	if (!out || !probs)
		return LP_ERR_INVALID;
	*out = NULL;
	if (!json_is_object(obj))
		return LP_ERR_INVALID;
	p = lp_calloc(1, sizeof(*p));
	if (!p)
		return LP_ERR_NOMEM;
	spec = lp_rd_header(&r, obj, "LogPipeline", &p->meta);
	if (spec)
		rd_pipeline_spec(&r, spec, p);
	if (r.err != LP_OK) {
		lp_pipeline_free(p);
		return r.err;
	}
	*out = p;
	return r.added ? LP_ERR_INVALID : LP_OK;
}
