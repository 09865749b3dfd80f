#include "kinesis.h"
#include "../util/mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

void lp_kinesis_stream_free(struct lp_kinesis_stream *s)
{
	if (!s)
		return;
	lp_free(s->arn);
	lp_free(s->status);
	lp_free(s->mode);
	lp_free(s->encryption);
	lp_free(s->key_id);
	memset(s, 0, sizeof(*s));
}

static json_t *named(const char *name)
{
	return json_pack("{s:s}", "StreamName", name);
}

lp_err lp_kinesis_describe(struct lp_aws_client *c, const char *name, struct lp_kinesis_stream *out,
                           struct lp_aws_error *e)
{
	json_t *ans = NULL, *d;
	struct lp_kinesis_stream s = {0};
	lp_err err = lp_aws_json_send(c, "DescribeStreamSummary", named(name), &ans, e);

	if (err)
		return err;
	d = json_object_get(ans, "StreamDescriptionSummary");
	if (!json_is_object(d)) {
		json_decref(ans);
		return lp_aws_error_set(
		    e, LP_ERR_PARSE, 200, NULL,
		    "DescribeStreamSummary answer lacks StreamDescriptionSummary");
	}
	s.arn = lp_aws_json_strdup(d, "StreamARN");
	s.status = lp_aws_json_strdup(d, "StreamStatus");
	s.mode = lp_aws_json_strdup(json_object_get(d, "StreamModeDetails"), "StreamMode");
	s.encryption = lp_aws_json_strdup(d, "EncryptionType");
	s.key_id = lp_aws_json_strdup(d, "KeyId");
	s.retention_hours = (int)json_integer_value(json_object_get(d, "RetentionPeriodHours"));
	s.open_shards = (int)json_integer_value(json_object_get(d, "OpenShardCount"));
	json_decref(ans);
	if (!s.arn || !s.status || !s.mode || !s.encryption || !s.key_id) {
		lp_kinesis_stream_free(&s);
		return lp_aws_error_set(e, LP_ERR_NOMEM, 0, NULL, "out of memory");
	}
	if (!s.mode[0]) { /* endpoints older than on-demand streams */
		lp_free(s.mode);
		s.mode = lp_strdup("PROVISIONED");
	}
	if (!s.encryption[0]) {
		lp_free(s.encryption);
		s.encryption = lp_strdup("NONE");
	}
	if (!s.mode || !s.encryption) {
		lp_kinesis_stream_free(&s);
		return lp_aws_error_set(e, LP_ERR_NOMEM, 0, NULL, "out of memory");
	}
	*out = s;
	return LP_OK;
}

lp_err lp_kinesis_create(struct lp_aws_client *c, const char *name, int on_demand, int shards,
                         struct lp_aws_error *e)
{
	json_t *req = on_demand ? json_pack("{s:s, s:{s:s}}", "StreamName", name,
	                                    "StreamModeDetails", "StreamMode", "ON_DEMAND")
	                        : json_pack("{s:s, s:i}", "StreamName", name, "ShardCount",
	                                    shards > 0 ? shards : 1);

	return lp_aws_json_send(c, "CreateStream", req, NULL, e);
}

lp_err lp_kinesis_set_retention(struct lp_aws_client *c, const char *name, int cur, int want,
                                struct lp_aws_error *e)
{
	if (cur == want)
		return LP_OK;
	return lp_aws_json_send(
	    c, want > cur ? "IncreaseStreamRetentionPeriod" : "DecreaseStreamRetentionPeriod",
	    json_pack("{s:s, s:i}", "StreamName", name, "RetentionPeriodHours", want), NULL, e);
}

static int parse_u128(const char *s, u128 *out)
{
	u128 v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*out = v;
	return 0;
}

static void fmt_u128(u128 v, char out[48])
{
	char tmp[48];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v && n < sizeof(tmp) - 1);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

struct shard {
	const char *id;
	u128 start, end;
};

static int shard_cmp(const void *a, const void *b)
{
	const struct shard *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* One SplitShard (grow) or MergeShards (shrink) step, for endpoints without
 * UpdateShardCount. */
static lp_err split_merge_step(struct lp_aws_client *c, const char *name, int target,
                               struct lp_aws_error *e)
{
	json_t *ans = NULL, *list;
	struct shard *v = NULL;
	size_t n = 0, idx;
	lp_err err = lp_aws_json_send(c, "ListShards", named(name), &ans, e);

	if (err)
		return err;
	list = json_object_get(ans, "Shards");
	v = lp_calloc(json_array_size(list) + 1, sizeof(*v));
	if (!v) {
		err = lp_aws_error_set(e, LP_ERR_NOMEM, 0, NULL, "out of memory");
		goto out;
	}
	for (idx = 0; idx < json_array_size(list); idx++) {
		json_t *sh = json_array_get(list, idx);
		json_t *seq = json_object_get(sh, "SequenceNumberRange");
		json_t *hk = json_object_get(sh, "HashKeyRange");
		if (json_object_get(seq, "EndingSequenceNumber"))
			continue; /* closed */
		v[n].id = json_string_value(json_object_get(sh, "ShardId"));
		if (!v[n].id ||
		    parse_u128(json_string_value(json_object_get(hk, "StartingHashKey")),
		               &v[n].start) ||
		    parse_u128(json_string_value(json_object_get(hk, "EndingHashKey")),
		               &v[n].end)) {
			err = lp_aws_error_set(e, LP_ERR_PARSE, 200, NULL,
			                       "ListShards answer has a malformed shard");
			goto out;
		}
		n++;
	}
	if (n == 0 || (int)n == target)
		goto out;
	qsort(v, n, sizeof(*v), shard_cmp);
	if ((int)n < target) { /* split the widest open shard in the middle */
		size_t w = 0;
		char mid[48];
		for (size_t i = 1; i < n; i++)
			if (v[i].end - v[i].start > v[w].end - v[w].start)
				w = i;
		fmt_u128(v[w].start + (v[w].end - v[w].start) / 2 + 1, mid);
		err =
		    lp_aws_json_send(c, "SplitShard",
		                     json_pack("{s:s, s:s, s:s}", "StreamName", name,
		                               "ShardToSplit", v[w].id, "NewStartingHashKey", mid),
		                     NULL, e);
	} else { /* merge the narrowest adjacent pair */
		size_t best = n;
		for (size_t i = 0; i + 1 < n; i++) {
			if (v[i].end + 1 != v[i + 1].start)
				continue;
			if (best == n ||
			    v[i + 1].end - v[i].start < v[best + 1].end - v[best].start)
				best = i;
		}
		if (best == n) {
			err =
			    lp_aws_error_set(e, LP_ERR_AWS, 0, NULL,
			                     "no adjacent open shards to merge in stream %s", name);
			goto out;
		}
		err = lp_aws_json_send(c, "MergeShards",
		                       json_pack("{s:s, s:s, s:s}", "StreamName", name,
		                                 "ShardToMerge", v[best].id, "AdjacentShardToMerge",
		                                 v[best + 1].id),
		                       NULL, e);
	}
out:
	lp_free(v);
	json_decref(ans);
	return err;
}

lp_err lp_kinesis_update_shards(struct lp_aws_client *c, const char *name, int target,
                                struct lp_aws_error *e)
{
	struct lp_aws_error tmp = {0};
	lp_err err =
	    lp_aws_json_send(c, "UpdateShardCount",
	                     json_pack("{s:s, s:i, s:s}", "StreamName", name, "TargetShardCount",
	                               target, "ScalingType", "UNIFORM_SCALING"),
	                     NULL, &tmp);

	if (err == LP_ERR_UNSUPPORTED) /* kinesalite: UnknownOperationException */
		return split_merge_step(c, name, target, e);
	if (err && e && !e->err)
		*e = tmp;
	return err;
}

lp_err lp_kinesis_set_mode(struct lp_aws_client *c, const char *arn, int on_demand,
                           struct lp_aws_error *e)
{
	return lp_aws_json_send(c, "UpdateStreamMode",
	                        json_pack("{s:s, s:{s:s}}", "StreamARN", arn, "StreamModeDetails",
	                                  "StreamMode", on_demand ? "ON_DEMAND" : "PROVISIONED"),
	                        NULL, e);
}

lp_err lp_kinesis_encrypt(struct lp_aws_client *c, const char *name, const char *key_id,
                          struct lp_aws_error *e)
{
	return lp_aws_json_send(c, "StartStreamEncryption",
	                        json_pack("{s:s, s:s, s:s}", "StreamName", name, "EncryptionType",
	                                  "KMS", "KeyId", key_id),
	                        NULL, e);
}

lp_err lp_kinesis_tags(struct lp_aws_client *c, const char *name, json_t **out,
                       struct lp_aws_error *e)
{
	json_t *ans = NULL, *tags = json_object(), *list;
	size_t i;
	lp_err err;

	if (!tags)
		return lp_aws_error_set(e, LP_ERR_NOMEM, 0, NULL, "out of memory");
	err = lp_aws_json_send(c, "ListTagsForStream", named(name), &ans, e);
	if (err) {
		json_decref(tags);
		return err;
	}
	list = json_object_get(ans, "Tags");
	for (i = 0; i < json_array_size(list); i++) {
		json_t *t = json_array_get(list, i);
		const char *k = json_string_value(json_object_get(t, "Key"));
		const char *v = json_string_value(json_object_get(t, "Value"));
		if (k)
			json_object_set_new(tags, k, json_string(v ? v : ""));
	}
	json_decref(ans);
	*out = tags;
	return LP_OK;
}

lp_err lp_kinesis_add_tags(struct lp_aws_client *c, const char *name, json_t *tags,
                           struct lp_aws_error *e)
{
	return lp_aws_json_send(c, "AddTagsToStream",
	                        json_pack("{s:s, s:O}", "StreamName", name, "Tags", tags), NULL, e);
}

lp_err lp_kinesis_delete(struct lp_aws_client *c, const char *name, struct lp_aws_error *e)
{
	return lp_aws_json_send(
	    c, "DeleteStream",
	    json_pack("{s:s, s:b}", "StreamName", name, "EnforceConsumerDeletion", 1), NULL, e);
}
