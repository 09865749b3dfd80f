/* pkg/api/reader: typed, path-tracking getters over a jansson tree, shared by the
 * LogPipeline and LogOutput parsers (internal to pkg/api).
 *
 * Every getter takes the parent object, the parent's field path and a key; it
 * writes *out only when the value is present, of the right type and passes its
 * checks, and otherwise appends a problem naming "<base>.<key>". Absent and
 * JSON null are the same. Allocation failure is sticky in r->err.
 */
#ifndef LP_API_READER_H
#define LP_API_READER_H
#include "api.h"
#include "check.h"
#include <jansson.h>

#define LP_RD_PATH 320

struct lp_rd {
	struct lp_problems *probs;
	lp_err err;   /* LP_ERR_NOMEM once an allocation failed */
	size_t added; /* problems appended by this reader */
};

enum lp_rd_type { LP_RD_STR, LP_RD_INT, LP_RD_BOOL, LP_RD_OBJ, LP_RD_ARR };

/* Appends a problem for field path (printf-style). */
void lp_rd_bad(struct lp_rd *r, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* dst = base.key (or key when base is empty); dst has LP_RD_PATH bytes. */
void lp_rd_join(char *dst, const char *base, const char *key);
/* dst = base[i] */
void lp_rd_index(char *dst, const char *base, size_t i);

/* The child under key when present and of type t; NULL otherwise (a problem is
 * added for a wrong type, or for a missing value when required). Borrowed. */
const json_t *lp_rd_get(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                        enum lp_rd_type t, int required);

/* Adds "unknown field" for every key of obj not in known (NULL-terminated). */
void lp_rd_known(struct lp_rd *r, const json_t *obj, const char *base, const char *const *known);

/* String of class c (max_len 0: the class limit); *out replaced (old value freed). */
void lp_rd_str(struct lp_rd *r, const json_t *obj, const char *base, const char *key, char **out,
               enum lp_str_class c, size_t max_len, int required);
/* Integer in [min, max]. */
void lp_rd_int(struct lp_rd *r, const json_t *obj, const char *base, const char *key, int *out,
               int min, int max, int required);
void lp_rd_bool(struct lp_rd *r, const json_t *obj, const char *base, const char *key, int *out);
/* One of names[0..n) (NULL entries skipped); *out is the index. */
void lp_rd_enum(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                const char *const *names, int n, int *out, int required);
/* Size quantity ("100M", "1Gi") between min and max bytes; stores the string. */
void lp_rd_size(struct lp_rd *r, const json_t *obj, const char *base, const char *key, char **out,
                uint64_t min, uint64_t max, int required);
/* Duration ("10m") between min and max seconds; stores the string. */
void lp_rd_duration(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                    char **out, uint64_t min, uint64_t max, int required);
/* Regex checked with Oniguruma; *names (may be NULL) gets its named groups. */
void lp_rd_regex(struct lp_rd *r, const json_t *obj, const char *base, const char *key, char **out,
                 char **names, int required);
/* Array of unique strings of class c, at most max_items; min_items when present. */
void lp_rd_strlist(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                   struct lp_strlist *out, enum lp_str_class c, size_t max_len, size_t min_items,
                   size_t max_items, int required);
/* Object of string values, sorted by key, at most max_items entries. */
void lp_rd_kvmap(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                 struct lp_kv **out, size_t *n, enum lp_str_class kc, size_t kmax,
                 enum lp_str_class vc, size_t vmax, size_t max_items);

/* Release a list or key/value array. NULL-safe. */
void lp_strlist_clear(struct lp_strlist *l);
void lp_kv_array_free(struct lp_kv *kv, size_t n);

/* Checks apiVersion and kind, reads metadata into meta (namespace "default"
 * when absent) and the known top-level keys; returns spec (borrowed) or NULL
 * (problem "spec: required" added). */
const json_t *lp_rd_header(struct lp_rd *r, const json_t *obj, const char *kind,
                           struct lp_meta *meta);
void lp_meta_clear(struct lp_meta *m);

/* Secret reference {name, key} (both required); path "<base>.<key>". */
void lp_rd_secret_ref(struct lp_rd *r, const json_t *obj, const char *base, const char *key,
                      struct lp_secret_key_ref *out, int required);
void lp_secret_ref_clear(struct lp_secret_key_ref *s);

/* Sets *out to a copy of s when *out is NULL (a default). */
void lp_rd_default(struct lp_rd *r, char **out, const char *s);

#endif
