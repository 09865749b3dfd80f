/* Kinesis Data Streams control plane (JSON protocol, Kinesis_20131202). */
#ifndef LP_AWS_KINESIS_H
#define LP_AWS_KINESIS_H
#include "http.h"

struct lp_kinesis_stream { /* owned strings; free with lp_kinesis_stream_free */
	char *arn;
	char *status;     /* CREATING | ACTIVE | UPDATING | DELETING */
	char *mode;       /* PROVISIONED | ON_DEMAND */
	char *encryption; /* NONE | KMS */
	char *key_id;
	int retention_hours;
	int open_shards;
};

void lp_kinesis_stream_free(struct lp_kinesis_stream *s); /* NULL-safe */
/* DescribeStreamSummary; *out written only on success (NOTFOUND when absent). */
LP_WUR lp_err lp_kinesis_describe(struct lp_aws_client *c, const char *name,
                                  struct lp_kinesis_stream *out, struct lp_aws_error *e);
/* CreateStream: on_demand, else shards (>= 1). */
LP_WUR lp_err lp_kinesis_create(struct lp_aws_client *c, const char *name, int on_demand,
                                int shards, struct lp_aws_error *e);
/* Increase/DecreaseStreamRetentionPeriod from cur to want. */
LP_WUR lp_err lp_kinesis_set_retention(struct lp_aws_client *c, const char *name, int cur, int want,
                                       struct lp_aws_error *e);
/* UpdateShardCount (uniform scaling); where the endpoint does not implement it
 * (kinesalite), one SplitShard or MergeShards step toward target instead. In
 * both cases the stream goes UPDATING; the caller polls and calls again. */
LP_WUR lp_err lp_kinesis_update_shards(struct lp_aws_client *c, const char *name, int target,
                                       struct lp_aws_error *e);
/* UpdateStreamMode (needs the ARN). */
LP_WUR lp_err lp_kinesis_set_mode(struct lp_aws_client *c, const char *arn, int on_demand,
                                  struct lp_aws_error *e);
/* StartStreamEncryption with KMS key_id. */
LP_WUR lp_err lp_kinesis_encrypt(struct lp_aws_client *c, const char *name, const char *key_id,
                                 struct lp_aws_error *e);
/* ListTagsForStream into a new JSON object {key: value} (*out, caller decrefs). */
LP_WUR lp_err lp_kinesis_tags(struct lp_aws_client *c, const char *name, json_t **out,
                              struct lp_aws_error *e);
/* AddTagsToStream; tags is a JSON object (borrowed). */
LP_WUR lp_err lp_kinesis_add_tags(struct lp_aws_client *c, const char *name, json_t *tags,
                                  struct lp_aws_error *e);
/* DeleteStream (consumers deleted too). */
LP_WUR lp_err lp_kinesis_delete(struct lp_aws_client *c, const char *name, struct lp_aws_error *e);

#endif
