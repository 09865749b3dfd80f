/* Amazon Data Firehose (JSON protocol, Firehose_20150804): a delivery stream
 * from a Kinesis stream (or direct PUT) to S3. */
#ifndef LP_AWS_FIREHOSE_H
#define LP_AWS_FIREHOSE_H
#include "../api/api.h"
#include "http.h"

struct lp_firehose_stream { /* owned; free with lp_firehose_stream_free */
	char *arn;
	char *status; /* CREATING | ACTIVE | DELETING | CREATING_FAILED ... */
	char *version_id;
	char *destination_id;
	char *source_arn; /* Kinesis source stream ARN, "" for direct PUT */
	char *bucket_arn;
	char *prefix;
	char *error_prefix;
	char *compression;
	char *role_arn;
	int buffer_mib;
	int buffer_seconds;
};

/* What to create or keep (all borrowed). */
struct lp_firehose_want {
	const char *name;
	const char *source_arn; /* NULL: direct PUT */
	const char *bucket_arn;
	const char *role_arn;
	const char *prefix;       /* may be NULL */
	const char *error_prefix; /* may be NULL */
	const char *compression;
	int buffer_mib;
	int buffer_seconds;
	const struct lp_kv *tags;
	size_t n_tags;
};

void lp_firehose_stream_free(struct lp_firehose_stream *s); /* NULL-safe */
LP_WUR lp_err lp_firehose_describe(struct lp_aws_client *c, const char *name,
                                   struct lp_firehose_stream *out, struct lp_aws_error *e);
LP_WUR lp_err lp_firehose_create(struct lp_aws_client *c, const struct lp_firehose_want *w,
                                 struct lp_aws_error *e);
/* 1 when the destination settings of have differ from w (drift); what[256]
 * names the first differing setting. */
int lp_firehose_differs(const struct lp_firehose_stream *have, const struct lp_firehose_want *w,
                        char what[256]);
/* UpdateDestination to w's buffering, compression, prefixes and role. */
LP_WUR lp_err lp_firehose_update(struct lp_aws_client *c, const struct lp_firehose_stream *have,
                                 const struct lp_firehose_want *w, struct lp_aws_error *e);
LP_WUR lp_err lp_firehose_delete(struct lp_aws_client *c, const char *name, struct lp_aws_error *e);

#endif
