/* pkg/hub/filter: a live-tail subscriber's conditions, parsed once and matched
 * against every record (see filter.h). */
#include "filter.h"
#include <fnmatch.h>
#include <oniguruma.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "../api/check.h"
#include "../util/mem.h"

#define SEL_MAX_REQS   16
#define SEL_MAX_VALUES 16
#define FIELD_MAX      253

enum sel_op { SEL_EQ, SEL_NE, SEL_EXISTS, SEL_NOT_EXISTS, SEL_IN, SEL_NOT_IN };

struct sel_req {
	char *key;
	enum sel_op op;
	char *values[SEL_MAX_VALUES];
	size_t nvalues;
};

struct lp_hub_filter {
	char *ns; /* "" = every namespace */
	char *pod;
	char *container;
	struct sel_req reqs[SEL_MAX_REQS];
	size_t nreqs;
	enum lp_hub_level level; /* UNKNOWN = any */
	char *grep;
	size_t grep_len;
	OnigRegex re;
};

static const struct {
	const char *name;
	enum lp_hub_level level;
} level_names[] = {
    {"trace", LP_HUB_LVL_TRACE},    {"debug", LP_HUB_LVL_DEBUG}, {"dbg", LP_HUB_LVL_DEBUG},
    {"d", LP_HUB_LVL_DEBUG},        {"info", LP_HUB_LVL_INFO},   {"information", LP_HUB_LVL_INFO},
    {"notice", LP_HUB_LVL_INFO},    {"i", LP_HUB_LVL_INFO},      {"warn", LP_HUB_LVL_WARN},
    {"warning", LP_HUB_LVL_WARN},   {"w", LP_HUB_LVL_WARN},      {"error", LP_HUB_LVL_ERROR},
    {"err", LP_HUB_LVL_ERROR},      {"e", LP_HUB_LVL_ERROR},     {"fatal", LP_HUB_LVL_FATAL},
    {"critical", LP_HUB_LVL_FATAL}, {"crit", LP_HUB_LVL_FATAL},  {"panic", LP_HUB_LVL_FATAL},
    {"emerg", LP_HUB_LVL_FATAL},    {"alert", LP_HUB_LVL_FATAL},
};

enum lp_hub_level lp_hub_level_parse(const char *s)
{
	if (!s)
		return LP_HUB_LVL_UNKNOWN;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i].name) == 0)
			return level_names[i].level;
	return LP_HUB_LVL_UNKNOWN;
}

const char *lp_hub_level_name(enum lp_hub_level l)
{
	static const char *names[] = {"", "trace", "debug", "info", "warn", "error", "fatal"};
	return (unsigned)l < sizeof(names) / sizeof(names[0]) ? names[l] : "";
}

static const char *str_at(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

void lp_hub_fields_from_record(struct lp_hub_fields *r, json_t *rec, const char *path_ns)
{
	json_t *k = json_object_get(rec, "kubernetes");
	json_t *lv;
	json_t *m;
	static const char *level_keys[] = {"level", "severity", "lvl", "loglevel", "log_level"};
	static const char *msg_keys[] = {"log", "message", "msg"};

	memset(r, 0, sizeof(*r));
	r->ns = json_is_object(k) ? str_at(k, "namespace_name") : "";
	if (!*r->ns)
		r->ns = path_ns ? path_ns : "";
	r->pod = json_is_object(k) ? str_at(k, "pod_name") : "";
	r->container = json_is_object(k) ? str_at(k, "container_name") : "";
	r->labels = json_is_object(k) ? json_object_get(k, "labels") : NULL;
	if (r->labels && !json_is_object(r->labels))
		r->labels = NULL;
	r->level_text = "";
	for (size_t i = 0; i < sizeof(level_keys) / sizeof(level_keys[0]); i++) {
		lv = json_object_get(rec, level_keys[i]);
		if (json_is_string(lv)) {
			r->level_text = json_string_value(lv);
			break;
		}
	}
	r->level = lp_hub_level_parse(r->level_text);
	r->msg = "";
	for (size_t i = 0; i < sizeof(msg_keys) / sizeof(msg_keys[0]); i++) {
		m = json_object_get(rec, msg_keys[i]);
		if (json_is_string(m)) {
			r->msg = json_string_value(m);
			r->msg_len = json_string_length(m);
			break;
		}
	}
}

static void sel_free(struct sel_req *q)
{
	lp_free(q->key);
	for (size_t i = 0; i < q->nvalues; i++)
		lp_free(q->values[i]);
}

void lp_hub_filter_free(struct lp_hub_filter *f)
{
	if (!f)
		return;
	lp_free(f->ns);
	lp_free(f->pod);
	lp_free(f->container);
	for (size_t i = 0; i < f->nreqs; i++)
		sel_free(&f->reqs[i]);
	lp_free(f->grep);
	if (f->re)
		onig_free(f->re);
	lp_free(f);
}

const char *lp_hub_filter_namespace(const struct lp_hub_filter *f)
{
	return f->ns;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Copies the token [p, end) without surrounding blanks; NULL on no memory. */
static char *trimmed(const char *p, const char *end)
{
	p = skip_ws(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return lp_strndup(p, (size_t)(end - p));
}

static int key_ok(const char *k)
{
	return *k && !lp_check_string(k, strlen(k), LP_STR_LABEL_KEY, 0);
}

static int value_ok(const char *v)
{
	return !lp_check_string(v, strlen(v), LP_STR_LABEL_VALUE, 0);
}

/* Parses one requirement [p, end) of a label selector into q. */
static lp_err sel_parse_one(struct sel_req *q, const char *p, const char *end, struct lp_buf *msg)
{
	const char *op;
	const char *paren;
	const char *v;
	lp_err err = LP_OK;

	p = skip_ws(p);
	if (*p == '!') {
		q->op = SEL_NOT_EXISTS;
		q->key = trimmed(p + 1, end);
	} else if ((op = memchr(p, '(', (size_t)(end - p))) != NULL) {
		/* "k in (a,b)" / "k notin (a,b)" */
		const char *sp = p;
		while (sp < op && *sp != ' ' && *sp != '\t')
			sp++;
		q->key = trimmed(p, sp);
		v = skip_ws(sp);
		if ((size_t)(op - v) >= 2 && strncmp(v, "in", 2) == 0 && skip_ws(v + 2) == op)
			q->op = SEL_IN;
		else if ((size_t)(op - v) >= 5 && strncmp(v, "notin", 5) == 0 &&
		         skip_ws(v + 5) == op)
			q->op = SEL_NOT_IN;
		else
			goto bad;
		paren = memchr(op, ')', (size_t)(end - op));
		if (!paren || (*skip_ws(paren + 1) != '\0' && skip_ws(paren + 1) != end))
			goto bad;
		for (v = op + 1; v < paren;) {
			const char *c = memchr(v, ',', (size_t)(paren - v));
			const char *ve = c ? c : paren;
			if (q->nvalues == SEL_MAX_VALUES)
				goto bad;
			q->values[q->nvalues] = trimmed(v, ve);
			if (!q->values[q->nvalues])
				return LP_ERR_NOMEM;
			if (!value_ok(q->values[q->nvalues++]))
				goto bad;
			v = ve + 1;
		}
	} else if ((op = memchr(p, '=', (size_t)(end - p))) != NULL) {
		if (op > p && op[-1] == '!') {
			q->op = SEL_NE;
			q->key = trimmed(p, op - 1);
		} else {
			q->op = SEL_EQ;
			q->key = trimmed(p, op);
		}
		if (op + 1 < end && op[1] == '=')
			op++;
		q->values[0] = trimmed(op + 1, end);
		if (!q->values[0])
			return LP_ERR_NOMEM;
		q->nvalues = 1;
		if (!value_ok(q->values[0]))
			goto bad;
	} else {
		q->op = SEL_EXISTS;
		q->key = trimmed(p, end);
	}
	if (!q->key)
		return LP_ERR_NOMEM;
	if (!key_ok(q->key))
		goto bad;
	return LP_OK;
bad:
	err = LP_ERR_INVALID;
	if (lp_buf_addf(msg,
	                "selector: cannot read \"%.*s\" (use k=v, k!=v, k, !k, k in (a,b), "
	                "k notin (a,b))",
	                (int)(end - p), p))
		err = LP_ERR_NOMEM;
	return err;
}

/* Splits a selector on commas outside parentheses. */
static lp_err sel_parse(struct lp_hub_filter *f, const char *s, struct lp_buf *msg)
{
	const char *p = s;
	int depth = 0;
	lp_err err;

	if (!*skip_ws(s))
		return LP_OK;
	for (const char *c = s;; c++) {
		if (*c == '(')
			depth++;
		else if (*c == ')')
			depth--;
		if (*c == '\0' || (*c == ',' && depth == 0)) {
			if (f->nreqs == SEL_MAX_REQS) {
				err = lp_buf_addf(msg, "selector: at most %d requirements",
				                  SEL_MAX_REQS);
				return err ? err : LP_ERR_INVALID;
			}
			err = sel_parse_one(&f->reqs[f->nreqs++], p, c, msg);
			if (err)
				return err;
			if (*c == '\0')
				break;
			p = c + 1;
		}
	}
	return LP_OK;
}

static lp_err opt_str(const json_t *req, const char *key, char **out, size_t max,
                      enum lp_str_class cls, struct lp_buf *msg)
{
	json_t *v = json_object_get(req, key);
	const char *why;
	lp_err err;

	*out = NULL;
	if (!v || json_is_null(v))
		return LP_OK;
	if (!json_is_string(v)) {
		err = lp_buf_addf(msg, "%s: must be a string", key);
		return err ? err : LP_ERR_INVALID;
	}
	why = lp_check_string(json_string_value(v), json_string_length(v), cls, max);
	if (why) {
		err = lp_buf_addf(msg, "%s: %s", key, why);
		return err ? err : LP_ERR_INVALID;
	}
	*out = lp_strdup(json_string_value(v));
	return *out ? LP_OK : LP_ERR_NOMEM;
}

lp_err lp_hub_filter_parse(struct lp_hub_filter **out, const json_t *req, struct lp_buf *msg)
{
	struct lp_hub_filter *f = lp_calloc(1, sizeof(*f));
	char *sel = NULL;
	char *level = NULL;
	char *regex = NULL;
	char why[256];
	OnigErrorInfo einfo;
	lp_err err = LP_OK;

	if (!f)
		return LP_ERR_NOMEM;
	if (!json_is_object(req)) {
		err = lp_buf_adds(msg, "subscription: must be a JSON object");
		err = err ? err : LP_ERR_INVALID;
		goto out;
	}
	err = opt_str(req, "namespace", &f->ns, 63, LP_STR_TEXT, msg);
	if (!err && f->ns && *f->ns && strcmp(f->ns, "*") != 0 &&
	    lp_check_string(f->ns, strlen(f->ns), LP_STR_DNS_LABEL, 0)) {
		err = lp_buf_adds(msg, "namespace: must be a namespace name, or \"*\" for all");
		err = err ? err : LP_ERR_INVALID;
	}
	if (!err && (!f->ns || strcmp(f->ns, "*") == 0)) {
		lp_free(f->ns);
		f->ns = lp_strdup("");
		if (!f->ns)
			err = LP_ERR_NOMEM;
	}
	if (!err)
		err = opt_str(req, "pod", &f->pod, FIELD_MAX, LP_STR_TEXT, msg);
	if (!err)
		err = opt_str(req, "container", &f->container, FIELD_MAX, LP_STR_TEXT, msg);
	if (!err)
		err = opt_str(req, "selector", &sel, 1024, LP_STR_TEXT, msg);
	if (!err && sel)
		err = sel_parse(f, sel, msg);
	if (!err)
		err = opt_str(req, "level", &level, 32, LP_STR_TEXT, msg);
	if (!err && level && *level) {
		f->level = lp_hub_level_parse(level);
		if (f->level == LP_HUB_LVL_UNKNOWN) {
			err = lp_buf_addf(msg,
			                  "level: \"%s\" is not one of trace, debug, info, warn, "
			                  "error, fatal",
			                  level);
			err = err ? err : LP_ERR_INVALID;
		}
	}
	if (!err)
		err = opt_str(req, "grep", &f->grep, 1024, LP_STR_TEXT, msg);
	if (!err && f->grep)
		f->grep_len = strlen(f->grep);
	if (!err)
		err = opt_str(req, "regex", &regex, 1024, LP_STR_REGEX, msg);
	if (!err && regex && *regex) {
		err = lp_regex_check(regex, NULL, why, sizeof(why));
		if (err == LP_ERR_INVALID && lp_buf_addf(msg, "regex: %s", why))
			err = LP_ERR_NOMEM;
		if (!err && onig_new(&f->re, (const OnigUChar *)regex,
		                     (const OnigUChar *)regex + strlen(regex), ONIG_OPTION_NONE,
		                     ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY, &einfo) != ONIG_NORMAL) {
			f->re = NULL;
			err = LP_ERR_NOMEM;
		}
	}
out:
	lp_free(sel);
	lp_free(level);
	lp_free(regex);
	if (err) {
		lp_hub_filter_free(f);
		return err;
	}
	*out = f;
	return LP_OK;
}

static int glob_or_eq(const char *pat, const char *s)
{
	if (!pat || !*pat)
		return 1;
	if (strpbrk(pat, "*?["))
		return fnmatch(pat, s, 0) == 0;
	return strcmp(pat, s) == 0;
}

static int sel_match(const struct sel_req *q, json_t *labels)
{
	const char *v = labels ? json_string_value(json_object_get(labels, q->key)) : NULL;
	int in = 0;

	switch (q->op) {
	case SEL_EXISTS:
		return v != NULL;
	case SEL_NOT_EXISTS:
		return v == NULL;
	case SEL_EQ:
		return v && strcmp(v, q->values[0]) == 0;
	case SEL_NE: /* as Kubernetes: a missing label satisfies k!=v */
		return !v || strcmp(v, q->values[0]) != 0;
	case SEL_IN:
	case SEL_NOT_IN:
		for (size_t i = 0; v && i < q->nvalues; i++)
			in |= strcmp(v, q->values[i]) == 0;
		return q->op == SEL_IN ? in : !in;
	}
	return 0;
}

/* Searches the regex in the record's message under the retry limit. Returns
 * 1 and the span on a match, 0 on none, -1 when the search was cut off. */
static int re_search(const struct lp_hub_filter *f, const struct lp_hub_fields *r, size_t *s,
                     size_t *e)
{
	OnigMatchParam *mp = onig_new_match_param();
	OnigRegion *region = onig_region_new();
	size_t len = r->msg_len < LP_HUB_MATCH_MAX_BYTES ? r->msg_len : LP_HUB_MATCH_MAX_BYTES;
	const OnigUChar *str = (const OnigUChar *)r->msg;
	int rc = 0;
	int ret;

	if (!mp || !region) {
		rc = -1;
		goto out;
	}
	onig_initialize_match_param(mp);
	onig_set_retry_limit_in_match_of_match_param(mp, LP_HUB_REGEX_RETRY_LIMIT);
	onig_set_retry_limit_in_search_of_match_param(mp, LP_HUB_REGEX_RETRY_LIMIT);
	ret = onig_search_with_param(f->re, str, str + len, str, str + len, region,
	                             ONIG_OPTION_NONE, mp);
	if (ret >= 0) {
		*s = (size_t)region->beg[0];
		*e = (size_t)region->end[0];
		rc = 1;
	} else if (ret != ONIG_MISMATCH) {
		rc = -1;
	}
out:
	if (region)
		onig_region_free(region, 1);
	if (mp)
		onig_free_match_param(mp);
	return rc;
}

static const char *find_sub(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return hay;
	if (hlen > LP_HUB_MATCH_MAX_BYTES)
		hlen = LP_HUB_MATCH_MAX_BYTES;
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

int lp_hub_filter_match(const struct lp_hub_filter *f, const struct lp_hub_fields *r,
                        uint64_t *regex_aborted)
{
	size_t s, e;
	int rc;

	if (*f->ns && strcmp(f->ns, r->ns) != 0)
		return 0;
	if (!glob_or_eq(f->pod, r->pod) || !glob_or_eq(f->container, r->container))
		return 0;
	for (size_t i = 0; i < f->nreqs; i++)
		if (!sel_match(&f->reqs[i], r->labels))
			return 0;
	if (f->level != LP_HUB_LVL_UNKNOWN && r->level < f->level)
		return 0;
	if (f->grep && !find_sub(r->msg, r->msg_len, f->grep, f->grep_len))
		return 0;
	if (f->re) {
		rc = re_search(f, r, &s, &e);
		if (rc < 0 && regex_aborted)
			(*regex_aborted)++;
		if (rc != 1)
			return 0;
	}
	return 1;
}
