/* pkg/aws/iam.c: see iam.h. */
#include "iam.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "../util/buf.h"
#include "../util/mem.h"

#define RO 1
#define RW 0

static const struct lp_aws_iam_action actions[] = {
    /* Kinesis Data Streams */
    {"kinesis:DescribeStreamSummary", "kinesis", "DescribeStreamSummary", RO,
     "check that a stream exists and read its mode, shards, retention and encryption"},
    {"kinesis:ListTagsForStream", "kinesis", "ListTagsForStream", RO,
     "read a stream's tags (ownership, drift)"},
    {"kinesis:ListShards", "kinesis", "ListShards", RO,
     "resharding step by step where UpdateShardCount is not available"},
    {"kinesis:CreateStream", "kinesis", "CreateStream", RW, "create a provisioned stream"},
    {"kinesis:AddTagsToStream", "kinesis", "AddTagsToStream", RW, "tag a stream it manages"},
    {"kinesis:IncreaseStreamRetentionPeriod", "kinesis", "IncreaseStreamRetentionPeriod", RW,
     "set spec retention"},
    {"kinesis:DecreaseStreamRetentionPeriod", "kinesis", "DecreaseStreamRetentionPeriod", RW,
     "set spec retention"},
    {"kinesis:UpdateShardCount", "kinesis", "UpdateShardCount", RW, "set spec shard count"},
    {"kinesis:SplitShard", "kinesis", "SplitShard", RW,
     "grow the shard count where UpdateShardCount is not available"},
    {"kinesis:MergeShards", "kinesis", "MergeShards", RW,
     "shrink the shard count where UpdateShardCount is not available"},
    {"kinesis:UpdateStreamMode", "kinesis", "UpdateStreamMode", RW,
     "switch between on-demand and provisioned"},
    {"kinesis:StartStreamEncryption", "kinesis", "StartStreamEncryption", RW,
     "turn on KMS encryption (the key must allow its use too)"},
    {"kinesis:DeleteStream", "kinesis", "DeleteStream", RW, "deletionPolicy: Delete only"},
    /* S3 (ListBucket also covers HeadBucket) */
    {"s3:ListBucket", "s3", "ListBucket", RO, "check that a bucket exists and is empty"},
    {"s3:GetLifecycleConfiguration", "s3", "GetLifecycleConfiguration", RO,
     "read the expiry rule (drift)"},
    {"s3:GetEncryptionConfiguration", "s3", "GetEncryptionConfiguration", RO,
     "read default encryption (drift)"},
    {"s3:GetBucketTagging", "s3", "GetBucketTagging", RO, "read a bucket's tags (ownership)"},
    {"s3:GetBucketPublicAccessBlock", "s3", "GetBucketPublicAccessBlock", RO,
     "read the public access block (drift)"},
    {"s3:CreateBucket", "s3", "CreateBucket", RW, "create a bucket"},
    {"s3:PutLifecycleConfiguration", "s3", "PutLifecycleConfiguration", RW, "set spec expiry"},
    {"s3:PutEncryptionConfiguration", "s3", "PutEncryptionConfiguration", RW,
     "set default encryption"},
    {"s3:PutBucketTagging", "s3", "PutBucketTagging", RW, "tag a bucket it manages"},
    {"s3:PutBucketPublicAccessBlock", "s3", "PutBucketPublicAccessBlock", RW,
     "block public access"},
    {"s3:DeleteBucket", "s3", "DeleteBucket", RW, "deletionPolicy: Delete only (empty buckets)"},
    /* Kinesis Data Firehose */
    {"firehose:DescribeDeliveryStream", "firehose", "DescribeDeliveryStream", RO,
     "check that a delivery stream exists and read its destination"},
    {"firehose:CreateDeliveryStream", "firehose", "CreateDeliveryStream", RW,
     "create a delivery stream"},
    {"firehose:UpdateDestination", "firehose", "UpdateDestination", RW,
     "set spec buffering, prefix and compression"},
    {"firehose:TagDeliveryStream", "firehose", "CreateDeliveryStream", RW,
     "tag a delivery stream it creates (the tags go with CreateDeliveryStream)"},
    {"firehose:DeleteDeliveryStream", "firehose", "DeleteDeliveryStream", RW,
     "deletionPolicy: Delete only"},
    {"iam:PassRole", "firehose", "CreateDeliveryStream", RW,
     "hand the delivery role to Firehose (narrow it to that role)"},
    /* CloudWatch Logs */
    {"logs:DescribeLogGroups", "logs", "DescribeLogGroups", RO,
     "check that a log group exists and read its retention"},
    {"logs:CreateLogGroup", "logs", "CreateLogGroup", RW, "create a log group"},
    {"logs:TagResource", "logs", "CreateLogGroup", RW,
     "tag a log group it creates (the tags go with CreateLogGroup)"},
    {"logs:PutRetentionPolicy", "logs", "PutRetentionPolicy", RW, "set spec retention"},
    {"logs:DeleteRetentionPolicy", "logs", "DeleteRetentionPolicy", RW,
     "keep records forever when the spec sets no retention"},
    {"logs:DeleteLogGroup", "logs", "DeleteLogGroup", RW, "deletionPolicy: Delete only"},
    /* STS */
    {"sts:GetCallerIdentity", "sts", "GetCallerIdentity", RO,
     "the account id, to build a source stream's ARN for Firehose"},
    {"sts:AssumeRole", "sts", "AssumeRole", RO,
     "a LogOutput's credentials.roleArn (that role's trust policy must allow it)"},
    {"sts:AssumeRoleWithWebIdentity", "sts", "AssumeRoleWithWebIdentity", RO,
     "IRSA: allowed by the role's trust policy, not by this policy"},
};

const struct lp_aws_iam_action *lp_aws_iam_actions(size_t *n)
{
	*n = sizeof(actions) / sizeof(actions[0]);
	return actions;
}

const struct lp_aws_iam_action *lp_aws_iam_find(const char *service, const char *operation)
{
	if (!service || !operation)
		return NULL;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(actions[i].service, service) &&
		    !strcmp(actions[i].operation, operation))
			return &actions[i];
	return NULL;
}

/* Whether a goes into the identity policy (AssumeRoleWithWebIdentity is
 * granted by the trust policy instead). */
static int in_policy(const struct lp_aws_iam_action *a)
{
	return strcmp(a->action, "sts:AssumeRoleWithWebIdentity") != 0;
}

lp_err lp_aws_iam_policy_json(char **out)
{
	static const char *const groups[][2] = {
	    {"LogplaneReadOnly", "1"},
	    {"LogplaneProvision", "0"},
	};
	json_t *doc = NULL, *stmts;
	char *s = NULL;
	lp_err err = LP_ERR_NOMEM;

	*out = NULL;
	doc = json_pack("{s:s, s:[]}", "Version", "2012-10-17", "Statement");
	if (!doc)
		goto out;
	stmts = json_object_get(doc, "Statement");
	for (size_t g = 0; g < 2; g++) {
		json_t *acts = json_array();
		if (!acts ||
		    json_array_append_new(stmts, json_pack("{s:s, s:s, s:o, s:s}", "Sid",
		                                           groups[g][0], "Effect", "Allow",
		                                           "Action", acts, "Resource", "*")))
			goto out;
		for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
			if (in_policy(&actions[i]) &&
			    actions[i].read_only == (groups[g][1][0] == '1') &&
			    json_array_append_new(acts, json_string(actions[i].action)))
				goto out;
	}
	s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!s)
		goto out;
	*out = lp_malloc(strlen(s) + 2);
	if (!*out)
		goto out;
	memcpy(*out, s, strlen(s));
	memcpy(*out + strlen(s), "\n", 2);
	err = LP_OK;
out:
	free(s);
	json_decref(doc);
	return err;
}

lp_err lp_aws_iam_markdown(char **out)
{
	struct lp_buf b;
	lp_err err;

	*out = NULL;
	lp_buf_init(&b, 0);
	err = lp_buf_adds(&b, "| Action | Needed without `provision` | Why |\n|---|---|---|\n");
	for (size_t i = 0; !err && i < sizeof(actions) / sizeof(actions[0]); i++)
		err = lp_buf_addf(&b, "| `%s` | %s | %s |\n", actions[i].action,
		                  actions[i].read_only ? "yes" : "no", actions[i].why);
	if (err)
		goto out;
	*out = lp_buf_take(&b);
	if (!*out)
		err = LP_ERR_NOMEM;
out:
	lp_buf_free(&b);
	return err;
}
