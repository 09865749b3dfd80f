/* pkg/api/outtype: what the output-type files (out_aws.c, out_net.c,
 * out_misc.c) share: the rule checker of rules.c, the reader pieces every
 * type's parser uses, and their descriptors (internal to pkg/api; the public
 * descriptor is struct lp_output_type_desc in api.h). */
#ifndef LP_API_OUTTYPE_H
#define LP_API_OUTTYPE_H
#include "reader.h"
#include "rules.h"
#include "secretval.h"
#include <stddef.h>

#define LP_OFF(m) ((long)offsetof(struct lp_output, m))

/* The rules checker: problems go to probs, ok drops to 0 at the first, err
 * holds LP_ERR_NOMEM. */
struct lp_chk {
	struct lp_problems *probs;
	int ok;
	lp_err err;
};

void lp_chk_bad(struct lp_chk *k, const char *field, const char *msg);
/* UTF-8, bounded, no "${"; 1 when s is NULL or good. */
int lp_chk_str(struct lp_chk *k, const char *field, const char *s);
/* lp_chk_str and one token: no whitespace, control characters or extra. */
int lp_chk_token(struct lp_chk *k, const char *field, const char *s, const char *extra);
/* 1 when s is set and not empty, else a "required" problem. */
int lp_chk_need(struct lp_chk *k, const char *field, const char *s);
void lp_chk_tls(struct lp_chk *k, const char *field, const struct lp_tls *t);
void lp_chk_auth(struct lp_chk *k, const struct lp_basic_auth *a);

/* Reader pieces of the type parsers (output.c). */
void lp_rd_tls(struct lp_rd *r, const json_t *obj, const char *base, struct lp_tls *t,
               int default_on);
void lp_rd_auth(struct lp_rd *r, const json_t *obj, const char *base, struct lp_basic_auth *a);
void lp_rd_tags(struct lp_rd *r, const json_t *obj, const char *base, struct lp_kv **tags,
                size_t *n);
/* provision.deletionPolicy: Retain (default) or Delete. */
void lp_rd_deletion(struct lp_rd *r, const json_t *obj, const char *base,
                    enum lp_deletion_policy *out);
void lp_tls_clear(struct lp_tls *t);
void lp_auth_clear(struct lp_basic_auth *a);

/* Fills s for a type's one Secret reference (field: its CRD path; default_key:
 * what the renderer reads when ref->key is unset; kind: enum lp_secret_use),
 * no TLS need, no header; returns 1, the count for a type's secret hook. */
int lp_out_secret_one(struct lp_output_secret *s, const char *field,
                      const struct lp_secret_key_ref *ref, const char *default_key, int kind);

/* The descriptors, one per type (out_aws.c, out_net.c, out_misc.c). */
extern const struct lp_output_type_desc lp_otd_kinesis, lp_otd_firehose, lp_otd_s3,
    lp_otd_cloudwatch, lp_otd_opensearch, lp_otd_elasticsearch, lp_otd_kafka, lp_otd_loki,
    lp_otd_http, lp_otd_slack, lp_otd_forward, lp_otd_stdout, lp_otd_livetail, lp_otd_alert;

#define LP_KEYS(t) t, sizeof(t) / sizeof(t[0])

/* Key table rows (struct lp_out_key): key, member, default, then the docs'
 * field, Fluentd setting and note. */
#define LP_KSTR(k, m, d, f, fd, n)                                                                 \
	{                                                                                          \
		k, LP_KEY_STR, LP_OFF(m), d, 0, 0, f, fd, n                                        \
	}
#define LP_KQSTR(k, m, d, f, fd, n)                                                                \
	{                                                                                          \
		k, LP_KEY_QSTR, LP_OFF(m), d, 0, 0, f, fd, n                                       \
	}
#define LP_KSIZE(k, m, d, f, fd, n)                                                                \
	{                                                                                          \
		k, LP_KEY_SIZE, LP_OFF(m), d, 0, 0, f, fd, n                                       \
	}
#define LP_KINT(k, m, d, f, fd, n)                                                                 \
	{                                                                                          \
		k, LP_KEY_INT, LP_OFF(m), NULL, d, 0, f, fd, n                                     \
	}
#define LP_KLIST(k, m, f, fd, n)                                                                   \
	{                                                                                          \
		k, LP_KEY_LIST, LP_OFF(m), NULL, 0, 0, f, fd, n                                    \
	}
#define LP_KBOOL(k, v, f, fd, n)                                                                   \
	{                                                                                          \
		k, LP_KEY_BOOL, -1, NULL, v, 0, f, fd, n                                           \
	}
#define LP_KCONST(k, v, f, fd, n)                                                                  \
	{                                                                                          \
		k, LP_KEY_CONST, -1, v, 0, 0, f, fd, n                                             \
	}
#define LP_KHOOK(k, h, f, fd, n)                                                                   \
	{                                                                                          \
		k, LP_KEY_HOOK, -1, NULL, 0, h, f, fd, n                                           \
	}

#endif
