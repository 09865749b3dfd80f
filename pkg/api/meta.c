/* The parts every logplane object shares: header, metadata, Secret references. */
#include "reader.h"
#include "../util/clock.h"
#include "../util/mem.h"
#include <string.h>

int lp_meta_cmp(const struct lp_meta *a, const struct lp_meta *b)
{
	int r = strcmp(lp_str_or_empty(a->ns), lp_str_or_empty(b->ns));
	return r ? r : strcmp(lp_str_or_empty(a->name), lp_str_or_empty(b->name));
}

int lp_meta_cmp_created(const struct lp_meta *a, const struct lp_meta *b)
{
	int r = strcmp(lp_str_or_empty(a->ns), lp_str_or_empty(b->ns));
	if (!r)
		r = (a->created > b->created) - (a->created < b->created);
	return r ? r : strcmp(lp_str_or_empty(a->name), lp_str_or_empty(b->name));
}

void lp_meta_clear(struct lp_meta *m)
{
	if (!m)
		return;
	lp_free(m->name);
	lp_free(m->ns);
	lp_free(m->uid);
	lp_free(m->resource_version);
	memset(m, 0, sizeof(*m));
}

/* A copy of a metadata string that is safe to print even when invalid. */
static void meta_str(struct lp_rd *r, const json_t *md, const char *key, char **out,
                     enum lp_str_class c)
{
	char path[LP_RD_PATH];
	const json_t *v = lp_rd_get(r, md, "metadata", key, LP_RD_STR, 0);
	const char *s, *why;
	size_t len;

	if (!v)
		return;
	s = json_string_value(v);
	len = json_string_length(v);
	lp_rd_join(path, "metadata", key);
	why = lp_check_string(s, len, c, 0);
	if (why)
		lp_rd_bad(r, path, "%s", why);
	/* keep a printable name even when it is not valid, so reports can name it */
	if (lp_check_string(s, len, LP_STR_TEXT, 253) == NULL || why == NULL) {
		*out = lp_strndup(s, len);
		if (!*out)
			r->err = LP_ERR_NOMEM;
	}
}

const json_t *lp_rd_header(struct lp_rd *r, const json_t *obj, const char *kind,
                           struct lp_meta *meta)
{
	static const char *const top[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
	const json_t *md, *v, *spec;

	lp_rd_known(r, obj, "", top);
	v = lp_rd_get(r, obj, "", "apiVersion", LP_RD_STR, 1);
	if (v && strcmp(json_string_value(v), LP_API_GROUP_VERSION) != 0)
		lp_rd_bad(r, "apiVersion", "must be \"%s\"", LP_API_GROUP_VERSION);
	v = lp_rd_get(r, obj, "", "kind", LP_RD_STR, 1);
	if (v && strcmp(json_string_value(v), kind) != 0)
		lp_rd_bad(r, "kind", "must be \"%s\"", kind);
	md = lp_rd_get(r, obj, "", "metadata", LP_RD_OBJ, 1);
	if (md) {
		meta_str(r, md, "name", &meta->name, LP_STR_DNS_LABEL);
		/* "name: null" (or "name: !tag" with nothing) is no name either */
		if (json_is_null(json_object_get(md, "name")) ||
		    (!json_object_get(md, "name") && !json_object_get(md, "generateName")))
			lp_rd_bad(r, "metadata.name", "required");
		meta_str(r, md, "namespace", &meta->ns, LP_STR_DNS_LABEL);
		v = lp_rd_get(r, md, "metadata", "uid", LP_RD_STR, 0);
		if (v && !(meta->uid = lp_strdup(json_string_value(v))))
			r->err = LP_ERR_NOMEM;
		v = lp_rd_get(r, md, "metadata", "resourceVersion", LP_RD_STR, 0);
		if (v && !(meta->resource_version = lp_strdup(json_string_value(v))))
			r->err = LP_ERR_NOMEM;
		meta->created = lp_clock_rfc3339_parse(
		    json_string_value(json_object_get(md, "creationTimestamp")));
		v = lp_rd_get(r, md, "metadata", "generation", LP_RD_INT, 0);
		if (v)
			meta->generation = (int64_t)json_integer_value(v);
		v = json_object_get(md, "deletionTimestamp");
		meta->deleting = v && !json_is_null(v);
	}
	if (!meta->ns && r->err == LP_OK && !(meta->ns = lp_strdup("default")))
		r->err = LP_ERR_NOMEM;
	spec = lp_rd_get(r, obj, "", "spec", LP_RD_OBJ, 1);
	return spec;
}

void lp_secret_ref_clear(struct lp_secret_key_ref *s)
{
	if (!s)
		return;
	lp_free(s->name);
	lp_free(s->key);
	s->name = NULL;
	s->key = NULL;
}

void lp_rd_secret_ref(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                      struct lp_secret_key_ref *out, int required)
{
	static const char *const known[] = {"name", "key", NULL};
	char path[LP_RD_PATH];
	const json_t *o = lp_rd_get(r, obj, base, key, LP_RD_OBJ, required);

	if (!o)
		return;
	lp_rd_join(path, base, key);
	lp_rd_known(r, o, path, known);
	lp_rd_str(r, o, path, "name", &out->name, LP_STR_DNS_SUBDOMAIN, 0, 1);
	lp_rd_str(r, o, path, "key", &out->key, LP_STR_SECRET_KEY, 0, 1);
}
