/* Path-tracking typed getters over jansson trees (see reader.h). */
#include "reader.h"
#include "../util/mem.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

void lp_rd_bad(struct lp_rd *r, const char *path, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lp_problems_add(r->probs, path, "%s", msg) != LP_OK)
		r->err = LP_ERR_NOMEM;
	r->added++;
}

/* A key printable in a field path: keys that are not plain text are shown as
 * "<invalid key>" so that a path never carries control characters. */
static const char *shown_key(const char *key)
{
	if (lp_check_string(key, strlen(key), LP_STR_TEXT, 253) != NULL)
		return "<invalid key>";
	return key;
}

/* A path that did not fit ends in "..." (paths are at most a few dozen bytes
 * in practice). */
static void path_fit(char *dst, int n)
{
	if (n < 0 || n >= LP_RD_PATH)
		memcpy(dst + LP_RD_PATH - 4, "...", 4);
}

void lp_rd_join(char *dst, const char *base, const char *key)
{
	int n;

	if (!base || !*base)
		n = snprintf(dst, LP_RD_PATH, "%s", shown_key(key));
	else
		n = snprintf(dst, LP_RD_PATH, "%s.%s", base, shown_key(key));
	path_fit(dst, n);
}

void lp_rd_index(char *dst, const char *base, size_t i)
{
	path_fit(dst, snprintf(dst, LP_RD_PATH, "%s[%zu]", base, i));
}

static const char *type_word(enum lp_rd_type t)
{
	switch (t) {
	case LP_RD_STR:
		return "a string";
	case LP_RD_INT:
		return "an integer";
	case LP_RD_BOOL:
		return "a boolean (true or false)";
	case LP_RD_OBJ:
		return "an object";
	default:
		return "a list";
	}
}

static int type_ok(const json_t *v, enum lp_rd_type t)
{
	switch (t) {
	case LP_RD_STR:
		return json_is_string(v);
	case LP_RD_INT:
		return json_is_integer(v);
	case LP_RD_BOOL:
		return json_is_boolean(v);
	case LP_RD_OBJ:
		return json_is_object(v);
	default:
		return json_is_array(v);
	}
}

const json_t *lp_rd_get(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                        enum lp_rd_type t, int required)
{
	char path[LP_RD_PATH];
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (!v || json_is_null(v)) {
		if (required) {
			lp_rd_join(path, base, key);
			lp_rd_bad(r, path, "required");
		}
		return NULL;
	}
	if (!type_ok(v, t)) {
		lp_rd_join(path, base, key);
		lp_rd_bad(r, path, "must be %s", type_word(t));
		return NULL;
	}
	return v;
}

/* Fields that existed and were taken out of the API, with the reason the
 * user reads instead of a bare "unknown field" (CHANGELOG.md lists them). */
static const struct {
	const char *path;
	const char *why;
} removed_fields[] = {
    {"spec.kinesis.partitionKey",
     "removed: Fluent Bit 5.1.1's kinesis_streams output has no partition key setting "
     "(every record gets a random key); delete the field"},
};

/* Levenshtein distance of a and b, ASCII case folded, capped at 99. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			int same =
			    tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
			size_t best = prev[j - 1] + (same ? 0 : 1);
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			cur[j] = best;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

/* The known name closest to k (at most a third of its length apart, at least
 * 2 edits allowed), or NULL. Borrowed from known. */
static const char *closest(const char *k, const char *const *known)
{
	const char *best = NULL;
	size_t bd = 99, limit = strlen(k) / 3;

	if (limit < 2)
		limit = 2;
	for (size_t i = 0; known[i]; i++) {
		size_t d = edit_distance(k, known[i]);
		if (d < bd) {
			bd = d;
			best = known[i];
		}
	}
	return bd <= limit ? best : NULL;
}

void lp_rd_known(struct lp_rd *r, const json_t *obj, const char *base, const char *const *known)
{
	const char *k;
	json_t *v;
	char path[LP_RD_PATH];

	if (!json_is_object(obj))
		return;
	/* jansson iterates in insertion order: the report follows the document */
	json_object_foreach((json_t *)obj, k, v)
	{
		size_t i;
		(void)v;
		for (i = 0; known[i]; i++)
			if (strcmp(known[i], k) == 0)
				break;
		if (!known[i]) {
			const char *why = NULL, *near = closest(k, known);
			lp_rd_join(path, base, k);
			for (size_t j = 0; j < sizeof(removed_fields) / sizeof(removed_fields[0]);
			     j++)
				if (strcmp(removed_fields[j].path, path) == 0)
					why = removed_fields[j].why;
			if (why)
				lp_rd_bad(r, path, "%s", why);
			else if (near)
				lp_rd_bad(r, path, "unknown field (did you mean \"%s\"?)", near);
			else
				lp_rd_bad(r, path, "unknown field");
		}
	}
}

static char *dup_n(struct lp_rd *r, const char *s, size_t len)
{
	char *d = lp_strndup(s, len);
	if (!d)
		r->err = LP_ERR_NOMEM;
	return d;
}

/* Checks a string value; returns a copy or NULL (problem added). */
static char *str_value(struct lp_rd *r, const json_t *v, const char *path, enum lp_str_class c,
                       size_t max_len)
{
	const char *why;
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	why = lp_check_string(s, len, c, max_len);
	if (why) {
		lp_rd_bad(r, path, "%s", why);
		return NULL;
	}
	return dup_n(r, s, len);
}

void lp_rd_str(struct lp_rd *r, const json_t *obj, const char *base, const char *key, char **out,
               enum lp_str_class c, size_t max_len, int required)
{
	char path[LP_RD_PATH];
	const json_t *v = lp_rd_get(r, obj, base, key, LP_RD_STR, required);
	char *s;

	if (!v)
		return;
	lp_rd_join(path, base, key);
	if (required && json_string_length(v) == 0) {
		lp_rd_bad(r, path, "must not be empty");
		return;
	}
	s = str_value(r, v, path, c, max_len);
	if (s) {
		lp_free(*out);
		*out = s;
	}
}

void lp_rd_int(struct lp_rd *r, const json_t *obj, const char *base, const char *key, int *out,
               int min, int max, int required)
{
	char path[LP_RD_PATH];
	const json_t *v = lp_rd_get(r, obj, base, key, LP_RD_INT, required);
	json_int_t x;

	if (!v)
		return;
	x = json_integer_value(v);
	if (x < min || x > max) {
		lp_rd_join(path, base, key);
		lp_rd_bad(r, path, "must be between %d and %d (got %lld)", min, max, (long long)x);
		return;
	}
	*out = (int)x;
}

void lp_rd_bool(struct lp_rd *r, const json_t *obj, const char *base, const char *key, int *out)
{
	const json_t *v = lp_rd_get(r, obj, base, key, LP_RD_BOOL, 0);
	if (v)
		*out = json_is_true(v) ? 1 : 0;
}

void lp_rd_enum(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                const char *const *names, int n, int *out, int required)
{
	char path[LP_RD_PATH], list[512];
	const json_t *v = lp_rd_get(r, obj, base, key, LP_RD_STR, required);
	const char *s;
	size_t used = 0;

	if (!v)
		return;
	s = json_string_value(v);
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0 && strlen(s) == json_string_length(v)) {
			*out = i;
			return;
		}
	list[0] = 0;
	for (int i = 0; i < n; i++) {
		if (!names[i])
			continue;
		int w = snprintf(list + used, sizeof(list) - used, "%s\"%s\"", used ? ", " : "",
		                 names[i]);
		if (w < 0 || (size_t)w >= sizeof(list) - used)
			break;
		used += (size_t)w;
	}
	lp_rd_join(path, base, key);
	if (lp_check_string(s, json_string_length(v), LP_STR_TEXT, 64) != NULL)
		lp_rd_bad(r, path, "unsupported value: must be one of %s", list);
	else
		lp_rd_bad(r, path, "unsupported value \"%s\": must be one of %s", s, list);
}

/* A size or duration string: parsed by parse, checked within [min, max]. */
static void rd_quantity(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                        char **out, uint64_t min, uint64_t max, int required,
                        lp_err (*parse)(const char *, uint64_t *), const char *what,
                        const char *unit_lo, const char *unit_hi)
{
	char path[LP_RD_PATH];
	const json_t *v = lp_rd_get(r, obj, base, key, LP_RD_STR, required);
	uint64_t n = 0;
	const char *s;

	if (!v)
		return;
	lp_rd_join(path, base, key);
	s = json_string_value(v);
	if (lp_check_string(s, json_string_length(v), LP_STR_TOKEN, 32) != NULL ||
	    parse(s, &n) != LP_OK) {
		lp_rd_bad(r, path, "must be %s", what);
		return;
	}
	if (n < min || n > max) {
		lp_rd_bad(r, path, "must be between %llu%s and %llu%s (got \"%s\")",
		          (unsigned long long)min, unit_lo, (unsigned long long)max, unit_hi, s);
		return;
	}
	lp_free(*out);
	*out = dup_n(r, s, strlen(s));
}

void lp_rd_size(struct lp_rd *r, const json_t *obj, const char *base, const char *key, char **out,
                uint64_t min, uint64_t max, int required)
{
	rd_quantity(r, obj, base, key, out, min, max, required, lp_size_parse,
	            "a size such as \"512K\", \"100M\", \"1G\" or \"10Gi\"", "", " bytes");
}

void lp_rd_duration(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                    char **out, uint64_t min, uint64_t max, int required)
{
	rd_quantity(r, obj, base, key, out, min, max, required, lp_duration_parse,
	            "a duration such as \"30s\", \"10m\" or \"1h\"", "s", "s");
}

void lp_rd_regex(struct lp_rd *r, const json_t *obj, const char *base, const char *key, char **out,
                 char **names, int required)
{
	char path[LP_RD_PATH], why[512];
	char *s;
	lp_err e;

	{
		const json_t *v = lp_rd_get(r, obj, base, key, LP_RD_STR, required);
		if (!v)
			return;
		lp_rd_join(path, base, key);
		if (json_string_length(v) == 0) {
			lp_rd_bad(r, path, "must not be empty");
			return;
		}
		s = str_value(r, v, path, LP_STR_REGEX, 0);
	}
	if (!s)
		return;
	e = lp_regex_check(s, names, why, sizeof(why));
	if (e == LP_ERR_NOMEM) {
		r->err = e;
		lp_free(s);
		return;
	}
	if (e != LP_OK) {
		lp_rd_bad(r, path, "%s", why);
		lp_free(s);
		return;
	}
	lp_free(*out);
	*out = s;
}

void lp_strlist_clear(struct lp_strlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		lp_free(l->v[i]);
	lp_free(l->v);
	l->v = NULL;
	l->n = 0;
}

void lp_kv_array_free(struct lp_kv *kv, size_t n)
{
	if (!kv)
		return;
	for (size_t i = 0; i < n; i++) {
		lp_free(kv[i].key);
		lp_free(kv[i].value);
	}
	lp_free(kv);
}

void lp_rd_strlist(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                   struct lp_strlist *out, enum lp_str_class c, size_t max_len, size_t min_items,
                   size_t max_items, int required)
{
	char path[LP_RD_PATH], ipath[LP_RD_PATH];
	const json_t *a = lp_rd_get(r, obj, base, key, LP_RD_ARR, required);
	struct lp_strlist l = {NULL, 0};
	size_t i, n;

	if (!a)
		return;
	lp_rd_join(path, base, key);
	n = json_array_size(a);
	if (n < min_items) {
		lp_rd_bad(r, path, "must have at least %zu item%s", min_items,
		          min_items == 1 ? "" : "s");
		return;
	}
	if (n > max_items) {
		lp_rd_bad(r, path, "must have at most %zu items (got %zu)", max_items, n);
		return;
	}
	l.v = lp_calloc(n ? n : 1, sizeof(char *));
	if (!l.v) {
		r->err = LP_ERR_NOMEM;
		return;
	}
	for (i = 0; i < n; i++) {
		const json_t *v = json_array_get(a, i);
		char *s;
		lp_rd_index(ipath, path, i);
		if (!json_is_string(v)) {
			lp_rd_bad(r, ipath, "must be a string");
			continue;
		}
		s = str_value(r, v, ipath, c, max_len);
		if (!s)
			continue;
		for (size_t j = 0; j < l.n; j++)
			if (strcmp(l.v[j], s) == 0) {
				lp_rd_bad(r, ipath, "duplicate value \"%s\"", s);
				lp_free(s);
				s = NULL;
				break;
			}
		if (s)
			l.v[l.n++] = s;
	}
	lp_strlist_clear(out);
	*out = l;
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lp_kv *)a)->key, ((const struct lp_kv *)b)->key);
}

void lp_rd_kvmap(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                 struct lp_kv **out, size_t *n, enum lp_str_class kc, size_t kmax,
                 enum lp_str_class vc, size_t vmax, size_t max_items)
{
	char path[LP_RD_PATH], kpath[LP_RD_PATH];
	const json_t *m = lp_rd_get(r, obj, base, key, LP_RD_OBJ, 0);
	struct lp_kv *kv;
	size_t cnt = 0, total;
	const char *k;
	json_t *v;

	if (!m)
		return;
	lp_rd_join(path, base, key);
	total = json_object_size(m);
	if (total > max_items) {
		lp_rd_bad(r, path, "must have at most %zu entries (got %zu)", max_items, total);
		return;
	}
	kv = lp_calloc(total ? total : 1, sizeof(*kv));
	if (!kv) {
		r->err = LP_ERR_NOMEM;
		return;
	}
	json_object_foreach((json_t *)m, k, v)
	{
		const char *why = lp_check_string(k, strlen(k), kc, kmax);
		char *vs;
		lp_rd_join(kpath, path, k);
		if (why) {
			lp_rd_bad(r, kpath, "key %s", why);
			continue;
		}
		if (!json_is_string(v)) {
			lp_rd_bad(r, kpath, "must be a string");
			continue;
		}
		vs = str_value(r, v, kpath, vc, vmax);
		if (!vs)
			continue;
		kv[cnt].key = dup_n(r, k, strlen(k));
		kv[cnt].value = vs;
		if (!kv[cnt].key) {
			lp_free(vs);
			continue;
		}
		cnt++;
	}
	qsort(kv, cnt, sizeof(*kv), kv_cmp);
	lp_kv_array_free(*out, *n);
	*out = kv;
	*n = cnt;
}

void lp_rd_default(struct lp_rd *r, char **out, const char *s)
{
	if (*out)
		return;
	*out = lp_strdup(s);
	if (!*out)
		r->err = LP_ERR_NOMEM;
}
