/* pkg/api/out_aws.c: the AWS output types (kinesis, firehose, s3, cloudwatch):
 * each one's reader, free, rules, provisioning facts, Fluent Bit keys and
 * descriptor (see struct lp_output_type_desc in api.h). */
#include "outtype.h"
#include "../util/mem.h"
#include <string.h>

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)

/* ---------- readers ---------- */

static void rd_kinesis(struct lp_rd *r, const json_t *o, struct lp_out_kinesis *k)
{
	static const char *const known[] = {"stream", "timeKey", "provision", NULL};
	static const char *const pknown[] = {
	    "mode", "shardCount", "retentionHours", "encryption", "tags", "deletionPolicy", NULL};
	static const char *const eknown[] = {"enabled", "kmsKeyId", NULL};
	static const char *const modes[] = {"provisioned", "onDemand"};
	const char *b = "spec.kinesis", *pb = "spec.kinesis.provision";
	struct lp_kinesis_provision *p = &k->provision;
	const json_t *po, *e;
	int mode = 0;

	lp_rd_known(r, o, b, known);
	lp_rd_str(r, o, b, "stream", &k->stream, LP_STR_AWS_NAME, 128, 1);
	lp_rd_str(r, o, b, "timeKey", &k->time_key, LP_STR_FIELD, 0, 0);
	po = lp_rd_get(r, o, b, "provision", LP_RD_OBJ, 0);
	if (!po)
		return;
	p->present = 1;
	p->retention_hours = 24;
	lp_rd_known(r, po, pb, pknown);
	lp_rd_enum(r, po, pb, "mode", modes, 2, &mode, 0);
	p->on_demand = mode == 1;
	lp_rd_int(r, po, pb, "shardCount", &p->shard_count, 1, 10000, 0);
	if (p->on_demand && p->shard_count)
		lp_rd_bad(r, "spec.kinesis.provision.shardCount",
		          "not used with mode onDemand (AWS scales the shards)");
	if (!p->on_demand && !p->shard_count)
		p->shard_count = 1;
	lp_rd_int(r, po, pb, "retentionHours", &p->retention_hours, 24, 8760, 0);
	e = lp_rd_get(r, po, pb, "encryption", LP_RD_OBJ, 0);
	if (e) {
		lp_rd_known(r, e, "spec.kinesis.provision.encryption", eknown);
		lp_rd_bool(r, e, "spec.kinesis.provision.encryption", "enabled", &p->encrypt);
		lp_rd_str(r, e, "spec.kinesis.provision.encryption", "kmsKeyId", &p->kms_key_id,
		          LP_STR_KMS_KEY, 0, 0);
		if (p->kms_key_id && !p->encrypt)
			lp_rd_bad(r, "spec.kinesis.provision.encryption.kmsKeyId",
			          "needs encryption.enabled: true");
		if (p->encrypt)
			lp_rd_default(r, &p->kms_key_id, "alias/aws/kinesis");
	}
	lp_rd_tags(r, po, pb, &p->tags, &p->n_tags);
	lp_rd_deletion(r, po, pb, &p->deletion_policy);
}

static void rd_firehose(struct lp_rd *r, const json_t *o, struct lp_out_firehose *f)
{
	static const char *const known[] = {"deliveryStream", "timeKey", "provision", NULL};
	static const char *const pknown[] = {"sourceStream",
	                                     "bucket",
	                                     "prefix",
	                                     "errorPrefix",
	                                     "bufferingSizeMiB",
	                                     "bufferingIntervalSeconds",
	                                     "compression",
	                                     "roleArn",
	                                     "tags",
	                                     "deletionPolicy",
	                                     NULL};
	static const char *const comps[] = {"UNCOMPRESSED", "GZIP", "ZIP", "Snappy",
	                                    "HADOOP_SNAPPY"};
	const char *b = "spec.firehose", *pb = "spec.firehose.provision";
	struct lp_firehose_provision *p = &f->provision;
	const json_t *po;
	int comp = 1;

	lp_rd_known(r, o, b, known);
	lp_rd_str(r, o, b, "deliveryStream", &f->delivery_stream, LP_STR_AWS_NAME, 64, 1);
	lp_rd_str(r, o, b, "timeKey", &f->time_key, LP_STR_FIELD, 0, 0);
	po = lp_rd_get(r, o, b, "provision", LP_RD_OBJ, 0);
	if (!po)
		return;
	p->present = 1;
	p->buffering_size_mib = 64;
	p->buffering_interval_seconds = 300;
	lp_rd_known(r, po, pb, pknown);
	lp_rd_str(r, po, pb, "sourceStream", &p->source_stream, LP_STR_AWS_NAME, 128, 0);
	lp_rd_str(r, po, pb, "bucket", &p->bucket, LP_STR_BUCKET, 0, 1);
	lp_rd_str(r, po, pb, "prefix", &p->prefix, LP_STR_TEXT, 1024, 0);
	lp_rd_str(r, po, pb, "errorPrefix", &p->error_prefix, LP_STR_TEXT, 1024, 0);
	lp_rd_int(r, po, pb, "bufferingSizeMiB", &p->buffering_size_mib, 1, 128, 0);
	lp_rd_int(r, po, pb, "bufferingIntervalSeconds", &p->buffering_interval_seconds, 0, 900, 0);
	lp_rd_enum(r, po, pb, "compression", comps, 5, &comp, 0);
	p->compression = lp_strdup(comps[comp]);
	if (!p->compression)
		r->err = LP_ERR_NOMEM;
	lp_rd_str(r, po, pb, "roleArn", &p->role_arn, LP_STR_ARN, 0, 1);
	lp_rd_tags(r, po, pb, &p->tags, &p->n_tags);
	lp_rd_deletion(r, po, pb, &p->deletion_policy);
}

static void rd_s3(struct lp_rd *r, const json_t *o, struct lp_out_s3 *s)
{
	static const char *const known[] = {"bucket",        "keyFormat",   "totalFileSize",
	                                    "uploadTimeout", "compression", "storageClass",
	                                    "provision",     NULL};
	static const char *const pknown[] = {
	    "expirationDays", "encryption",     "kmsKeyId", "blockPublicAccess",
	    "tags",           "deletionPolicy", NULL};
	static const char *const comps[] = {"gzip", "none"};
	static const char *const classes[] = {"STANDARD",     "REDUCED_REDUNDANCY",  "STANDARD_IA",
	                                      "ONEZONE_IA",   "INTELLIGENT_TIERING", "GLACIER",
	                                      "DEEP_ARCHIVE", "GLACIER_IR"};
	static const char *const encs[] = {"AES256", "aws:kms"};
	const char *b = "spec.s3", *pb = "spec.s3.provision";
	struct lp_s3_provision *p = &s->provision;
	const json_t *po;
	int comp = 0, cls = -1, enc = 0;
	char why[256];

	lp_rd_known(r, o, b, known);
	lp_rd_str(r, o, b, "bucket", &s->bucket, LP_STR_BUCKET, 0, 1);
	lp_rd_str(r, o, b, "keyFormat", &s->key_format, LP_STR_S3_KEY, 0, 0);
	if (s->key_format && !lp_s3_key_check(s->key_format, why, sizeof(why)))
		lp_rd_bad(r, "spec.s3.keyFormat", "%s", why);
	lp_rd_size(r, o, b, "totalFileSize", &s->total_file_size, MIB, 50 * GIB, 0);
	lp_rd_duration(r, o, b, "uploadTimeout", &s->upload_timeout, 60, 86400, 0);
	lp_rd_enum(r, o, b, "compression", comps, 2, &comp, 0);
	s->compression = lp_strdup(comps[comp]);
	if (!s->compression)
		r->err = LP_ERR_NOMEM;
	lp_rd_enum(r, o, b, "storageClass", classes, 8, &cls, 0);
	if (cls >= 0 && !(s->storage_class = lp_strdup(classes[cls])))
		r->err = LP_ERR_NOMEM;
	lp_rd_default(r, &s->total_file_size, "100M");
	lp_rd_default(r, &s->upload_timeout, "10m");
	po = lp_rd_get(r, o, b, "provision", LP_RD_OBJ, 0);
	if (!po)
		return;
	p->present = 1;
	p->block_public_access = 1;
	lp_rd_known(r, po, pb, pknown);
	lp_rd_int(r, po, pb, "expirationDays", &p->expiration_days, 0, 36500, 0);
	lp_rd_enum(r, po, pb, "encryption", encs, 2, &enc, 0);
	p->encryption = lp_strdup(encs[enc]);
	if (!p->encryption)
		r->err = LP_ERR_NOMEM;
	lp_rd_str(r, po, pb, "kmsKeyId", &p->kms_key_id, LP_STR_KMS_KEY, 0, 0);
	if (p->kms_key_id && enc != 1)
		lp_rd_bad(r, "spec.s3.provision.kmsKeyId", "needs encryption: aws:kms");
	lp_rd_bool(r, po, pb, "blockPublicAccess", &p->block_public_access);
	lp_rd_tags(r, po, pb, &p->tags, &p->n_tags);
	lp_rd_deletion(r, po, pb, &p->deletion_policy);
}

static int cw_retention_ok(int d)
{
	static const int allowed[] = {0,    1,    3,    5,    7,    14,   30,  60,
	                              90,   120,  150,  180,  365,  400,  545, 731,
	                              1096, 1827, 2192, 2557, 2922, 3288, 3653};
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (allowed[i] == d)
			return 1;
	return 0;
}

static void rd_cloudwatch(struct lp_rd *r, const json_t *o, struct lp_out_cloudwatch *c)
{
	static const char *const known[] = {"logGroup", "logStreamPrefix", "provision", NULL};
	static const char *const pknown[] = {"retentionDays", "tags", "deletionPolicy", NULL};
	const char *b = "spec.cloudwatch", *pb = "spec.cloudwatch.provision";
	struct lp_cloudwatch_provision *p = &c->provision;
	const json_t *po;

	lp_rd_known(r, o, b, known);
	lp_rd_str(r, o, b, "logGroup", &c->log_group, LP_STR_LOG_GROUP, 512, 1);
	lp_rd_str(r, o, b, "logStreamPrefix", &c->log_stream_prefix, LP_STR_LOG_GROUP, 256, 0);
	lp_rd_default(r, &c->log_stream_prefix, "fluent-bit-");
	po = lp_rd_get(r, o, b, "provision", LP_RD_OBJ, 0);
	if (!po)
		return;
	p->present = 1;
	lp_rd_known(r, po, pb, pknown);
	lp_rd_int(r, po, pb, "retentionDays", &p->retention_days, 0, 3653, 0);
	if (!cw_retention_ok(p->retention_days)) {
		lp_rd_bad(r, "spec.cloudwatch.provision.retentionDays",
		          "must be 0 (never expire) or one of 1, 3, 5, 7, 14, 30, 60, 90, 120, "
		          "150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653");
		p->retention_days = 0;
	}
	lp_rd_tags(r, po, pb, &p->tags, &p->n_tags);
	lp_rd_deletion(r, po, pb, &p->deletion_policy);
}

static void parse_kinesis(struct lp_rd *r, const json_t *b, const char *path, struct lp_output *o)
{
	(void)path;
	if (b)
		rd_kinesis(r, b, &o->u.kinesis);
}

static void parse_firehose(struct lp_rd *r, const json_t *b, const char *path, struct lp_output *o)
{
	(void)path;
	if (b)
		rd_firehose(r, b, &o->u.firehose);
}

static void parse_s3(struct lp_rd *r, const json_t *b, const char *path, struct lp_output *o)
{
	(void)path;
	if (b)
		rd_s3(r, b, &o->u.s3);
}

static void parse_cloudwatch(struct lp_rd *r, const json_t *b, const char *path,
                             struct lp_output *o)
{
	(void)path;
	if (b)
		rd_cloudwatch(r, b, &o->u.cloudwatch);
}

/* ---------- free ---------- */

static void clear_kinesis(struct lp_output *o)
{
	lp_free(o->u.kinesis.stream);
	lp_free(o->u.kinesis.time_key);
	lp_free(o->u.kinesis.provision.kms_key_id);
	lp_kv_array_free(o->u.kinesis.provision.tags, o->u.kinesis.provision.n_tags);
}

static void clear_firehose(struct lp_output *o)
{
	struct lp_firehose_provision *p = &o->u.firehose.provision;

	lp_free(o->u.firehose.delivery_stream);
	lp_free(o->u.firehose.time_key);
	lp_free(p->source_stream);
	lp_free(p->bucket);
	lp_free(p->prefix);
	lp_free(p->error_prefix);
	lp_free(p->compression);
	lp_free(p->role_arn);
	lp_kv_array_free(p->tags, p->n_tags);
}

static void clear_s3(struct lp_output *o)
{
	lp_free(o->u.s3.bucket);
	lp_free(o->u.s3.key_format);
	lp_free(o->u.s3.total_file_size);
	lp_free(o->u.s3.upload_timeout);
	lp_free(o->u.s3.compression);
	lp_free(o->u.s3.storage_class);
	lp_free(o->u.s3.provision.encryption);
	lp_free(o->u.s3.provision.kms_key_id);
	lp_kv_array_free(o->u.s3.provision.tags, o->u.s3.provision.n_tags);
}

static void clear_cloudwatch(struct lp_output *o)
{
	lp_free(o->u.cloudwatch.log_group);
	lp_free(o->u.cloudwatch.log_stream_prefix);
	lp_kv_array_free(o->u.cloudwatch.provision.tags, o->u.cloudwatch.provision.n_tags);
}

/* ---------- rules ---------- */

static void check_kinesis(struct lp_chk *k, const struct lp_output *o)
{
	if (lp_chk_need(k, "spec.kinesis.stream", o->u.kinesis.stream))
		lp_chk_token(k, "spec.kinesis.stream", o->u.kinesis.stream, NULL);
	lp_chk_token(k, "spec.kinesis.timeKey", o->u.kinesis.time_key, NULL);
}

static void check_firehose(struct lp_chk *k, const struct lp_output *o)
{
	if (lp_chk_need(k, "spec.firehose.deliveryStream", o->u.firehose.delivery_stream))
		lp_chk_token(k, "spec.firehose.deliveryStream", o->u.firehose.delivery_stream,
		             NULL);
	lp_chk_token(k, "spec.firehose.timeKey", o->u.firehose.time_key, NULL);
}

static void check_s3(struct lp_chk *k, const struct lp_output *o)
{
	double secs;
	uint64_t b;

	if (lp_chk_need(k, "spec.s3.bucket", o->u.s3.bucket))
		lp_chk_token(k, "spec.s3.bucket", o->u.s3.bucket, NULL);
	lp_chk_token(k, "spec.s3.keyFormat", o->u.s3.key_format, NULL);
	if (o->u.s3.total_file_size && lp_size_parse(o->u.s3.total_file_size, &b) != LP_OK)
		lp_chk_bad(k, "spec.s3.totalFileSize", "must be a size such as 64M or 1G");
	if (o->u.s3.upload_timeout && !lp_fb_duration(o->u.s3.upload_timeout, &secs))
		lp_chk_bad(k, "spec.s3.uploadTimeout", "must be a duration such as 30s, 10m or 1h");
	if (o->u.s3.compression && strcmp(o->u.s3.compression, "gzip") != 0 &&
	    strcmp(o->u.s3.compression, "none") != 0)
		lp_chk_bad(k, "spec.s3.compression", "must be gzip or none");
	lp_chk_token(k, "spec.s3.storageClass", o->u.s3.storage_class, NULL);
}

static void check_cloudwatch(struct lp_chk *k, const struct lp_output *o)
{
	if (lp_chk_need(k, "spec.cloudwatch.logGroup", o->u.cloudwatch.log_group))
		lp_chk_token(k, "spec.cloudwatch.logGroup", o->u.cloudwatch.log_group, NULL);
	lp_chk_token(k, "spec.cloudwatch.logStreamPrefix", o->u.cloudwatch.log_stream_prefix, NULL);
}

/* ---------- what provisioning depends on (pkg/aws spec hash) ---------- */

typedef void (*str_fn)(void *, const char *);
typedef void (*num_fn)(void *, long);

static void tags_facts(const struct lp_kv *t, size_t n, str_fn s, num_fn i, void *arg)
{
	i(arg, (long)n);
	for (size_t k = 0; k < n; k++) {
		s(arg, t[k].key);
		s(arg, t[k].value);
	}
}

static void facts_kinesis(const struct lp_output *o, str_fn s, num_fn i, void *arg)
{
	const struct lp_kinesis_provision *p = &o->u.kinesis.provision;

	s(arg, o->u.kinesis.stream);
	i(arg, p->present);
	i(arg, p->on_demand);
	i(arg, p->shard_count);
	i(arg, p->retention_hours);
	i(arg, p->encrypt);
	i(arg, (long)p->deletion_policy);
	s(arg, p->kms_key_id);
	tags_facts(p->tags, p->n_tags, s, i, arg);
}

static void facts_s3(const struct lp_output *o, str_fn s, num_fn i, void *arg)
{
	const struct lp_s3_provision *p = &o->u.s3.provision;

	s(arg, o->u.s3.bucket);
	i(arg, p->present);
	i(arg, p->expiration_days);
	i(arg, p->block_public_access);
	i(arg, (long)p->deletion_policy);
	s(arg, p->encryption);
	s(arg, p->kms_key_id);
	tags_facts(p->tags, p->n_tags, s, i, arg);
}

static void facts_firehose(const struct lp_output *o, str_fn s, num_fn i, void *arg)
{
	const struct lp_firehose_provision *p = &o->u.firehose.provision;

	s(arg, o->u.firehose.delivery_stream);
	i(arg, p->present);
	i(arg, p->buffering_size_mib);
	i(arg, p->buffering_interval_seconds);
	i(arg, (long)p->deletion_policy);
	s(arg, p->source_stream);
	s(arg, p->bucket);
	s(arg, p->prefix);
	s(arg, p->error_prefix);
	s(arg, p->compression);
	s(arg, p->role_arn);
	tags_facts(p->tags, p->n_tags, s, i, arg);
}

static void facts_cloudwatch(const struct lp_output *o, str_fn s, num_fn i, void *arg)
{
	const struct lp_cloudwatch_provision *p = &o->u.cloudwatch.provision;

	s(arg, o->u.cloudwatch.log_group);
	i(arg, p->present);
	i(arg, p->retention_days);
	i(arg, (long)p->deletion_policy);
	tags_facts(p->tags, p->n_tags, s, i, arg);
}

/* ---------- Fluent Bit keys ---------- */

static const struct lp_out_key kinesis_keys[] = {
    LP_KHOOK(NULL, LP_HOOK_AWS, NULL, NULL, NULL),
    LP_KSTR("stream", u.kinesis.stream, NULL, "spec.kinesis.stream", "stream_name", NULL),
    LP_KSTR("time_key", u.kinesis.time_key, NULL, "spec.kinesis.timeKey", NULL, NULL),
};

static const struct lp_out_key firehose_keys[] = {
    LP_KHOOK(NULL, LP_HOOK_AWS, NULL, NULL, NULL),
    LP_KSTR("delivery_stream", u.firehose.delivery_stream, NULL, "spec.firehose.deliveryStream",
            "delivery_stream_name", NULL),
    LP_KSTR("time_key", u.firehose.time_key, NULL, "spec.firehose.timeKey", NULL, NULL),
};

static const struct lp_out_key s3_keys[] = {
    LP_KHOOK(NULL, LP_HOOK_AWS_URL, NULL, NULL, NULL),
    LP_KSTR("bucket", u.s3.bucket, NULL, "spec.s3.bucket", "s3_bucket", NULL),
    LP_KHOOK("s3_key_format", LP_HOOK_S3_KEY, "spec.s3.keyFormat", NULL,
             "{namespace} {pod} {container} become the $TAG[n] of the pipeline's tag shape, "
             "{pipeline} its name, per pipeline instance (docs/aws.md); not used by the Fluentd "
             "engine (path logs/<tag>/)"),
    LP_KSIZE("total_file_size", u.s3.total_file_size, "100M", "spec.s3.totalFileSize", NULL, NULL),
    LP_KSTR("upload_timeout", u.s3.upload_timeout, "10m", "spec.s3.uploadTimeout", NULL, NULL),
    LP_KHOOK("compression", LP_HOOK_S3_COMPRESSION, "spec.s3.compression", "store_as",
             "gzip, or no key for none"),
    LP_KBOOL("use_put_object", 1, "spec.s3 (buffer)", NULL, "always on"),
    LP_KHOOK("store_dir", LP_HOOK_S3_STORE_DIR, "spec.s3 (buffer)", NULL,
             "under /var/lib/logplane/s3/<hash>"),
    LP_KHOOK("store_dir_limit_size", LP_HOOK_S3_STORE_LIMIT, "spec.delivery.bufferLimit", NULL,
             "s3 bounds its own buffer (no storage.total_limit_size)"),
    LP_KSTR("storage_class", u.s3.storage_class, NULL, "spec.s3.storageClass", NULL, NULL),
};

static const struct lp_out_key cloudwatch_keys[] = {
    LP_KHOOK(NULL, LP_HOOK_AWS, NULL, NULL, NULL),
    LP_KSTR("log_group_name", u.cloudwatch.log_group, NULL, "spec.cloudwatch.logGroup",
            "log_group_name", NULL),
    LP_KSTR("log_stream_prefix", u.cloudwatch.log_stream_prefix, "fluent-bit-",
            "spec.cloudwatch.logStreamPrefix", "use_tag_as_stream", NULL),
    LP_KBOOL("auto_create_group", 0, "spec.cloudwatch.logGroup", NULL,
             "off: the operator provisions the group"),
};

/* ---------- descriptors ---------- */

#define AWS_DESC(sub, plugin, tgt, svc, what, url)                                                 \
	.name = #sub, .fb_plugin = plugin, .fb_workers = 1, .aws = 1, .aws_url_endpoint = url,     \
	.tls = -1, .auth = -1, .host = -1, .aws_auth = -1, .target = LP_OFF(u.sub.tgt),            \
	.provision = LP_OFF(u.sub.provision.present),                                              \
	.deletion = LP_OFF(u.sub.provision.deletion_policy), .aws_service = svc, .aws_what = what, \
	.parse = parse_##sub, .clear = clear_##sub, .check = check_##sub,                          \
	.aws_facts = facts_##sub, .keys = sub##_keys,                                              \
	.n_keys = sizeof(sub##_keys) / sizeof(sub##_keys[0])

const struct lp_output_type_desc lp_otd_kinesis = {
    AWS_DESC(kinesis, "kinesis_streams", stream, "kinesis", "Kinesis stream", 0)};
const struct lp_output_type_desc lp_otd_firehose = {AWS_DESC(
    firehose, "kinesis_firehose", delivery_stream, "firehose", "Firehose delivery stream", 0)};
const struct lp_output_type_desc lp_otd_s3 = {AWS_DESC(s3, "s3", bucket, "s3", "S3 bucket", 1)};
const struct lp_output_type_desc lp_otd_cloudwatch = {
    AWS_DESC(cloudwatch, "cloudwatch_logs", log_group, "logs", "CloudWatch log group", 0)};
