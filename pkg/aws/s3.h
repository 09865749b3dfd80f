/* S3 bucket control (REST + XML). The client's endpoint decides the
 * addressing: path-style for an override URL (emulators, MinIO) or a bucket
 * name with dots, virtual-hosted otherwise (lp_s3_client_for_bucket). */
#ifndef LP_AWS_S3_H
#define LP_AWS_S3_H
#include "../api/api.h"
#include "http.h"

/* Fills c (borrowing base's seams and creds) and, for virtual-hosted access,
 * a new endpoint in *vh (caller frees with lp_aws_endpoint_free; untouched for
 * path-style). *path_prefix gets "/bucket" (path-style) or "". */
LP_WUR lp_err lp_s3_client_for_bucket(const struct lp_aws_client *base, const char *bucket,
                                      struct lp_aws_client *c, struct lp_aws_endpoint *vh,
                                      char path_prefix[80]);

/* HeadBucket. LP_OK: exists and ours; region[32] gets x-amz-bucket-region when
 * sent. LP_ERR_NOTFOUND: absent. LP_ERR_FORBIDDEN: exists, no access (most
 * often owned by another account). */
LP_WUR lp_err lp_s3_head(struct lp_aws_client *c, const char *prefix, char region[32],
                         struct lp_aws_error *e);
/* CreateBucket with LocationConstraint unless region is us-east-1.
 * BucketAlreadyOwnedByYou counts as success; BucketAlreadyExists is
 * LP_ERR_CONFLICT ("bucket name taken by another account"). */
LP_WUR lp_err lp_s3_create(struct lp_aws_client *c, const char *prefix, const char *region,
                           struct lp_aws_error *e);
/* Lifecycle expiry rule "logplane-expiration": *days 0 when none. */
LP_WUR lp_err lp_s3_get_expiry(struct lp_aws_client *c, const char *prefix, int *days,
                               struct lp_aws_error *e);
LP_WUR lp_err lp_s3_put_expiry(struct lp_aws_client *c, const char *prefix, int days,
                               struct lp_aws_error *e);
/* Default encryption: algo[32] "" when none. */
LP_WUR lp_err lp_s3_get_encryption(struct lp_aws_client *c, const char *prefix, char algo[32],
                                   char key[256], struct lp_aws_error *e);
LP_WUR lp_err lp_s3_put_encryption(struct lp_aws_client *c, const char *prefix, const char *algo,
                                   const char *kms_key, struct lp_aws_error *e);
/* Tags: *matches 1 when every declared tag is present with its value. */
LP_WUR lp_err lp_s3_tags_match(struct lp_aws_client *c, const char *prefix,
                               const struct lp_kv *tags, size_t n, int *matches,
                               struct lp_aws_error *e);
LP_WUR lp_err lp_s3_put_tags(struct lp_aws_client *c, const char *prefix, const struct lp_kv *tags,
                             size_t n, struct lp_aws_error *e);
/* Public access block: *all 1 when the four settings are true. */
LP_WUR lp_err lp_s3_get_pab(struct lp_aws_client *c, const char *prefix, int *all,
                            struct lp_aws_error *e);
LP_WUR lp_err lp_s3_put_pab(struct lp_aws_client *c, const char *prefix, struct lp_aws_error *e);
/* *empty 1 when the bucket lists no object. */
LP_WUR lp_err lp_s3_is_empty(struct lp_aws_client *c, const char *prefix, int *empty,
                             struct lp_aws_error *e);
LP_WUR lp_err lp_s3_delete(struct lp_aws_client *c, const char *prefix, struct lp_aws_error *e);

#endif
