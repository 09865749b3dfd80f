/* LogOutput: parse (with defaults) and free. Single-object checks live here;
 * cross-object rules (tenancy, Secrets) are in validate.c. */
#include "reader.h"
#include "../util/mem.h"
#include <string.h>
#include <strings.h>

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)
#define TIB (1024ULL * GIB)

static const char *const deletion_names[] = {"Retain", "Delete"};
static const char *const yes_no_tls_keys[] = {"enabled", "verify", "caSecretRef", NULL};

/* ---------- free ---------- */

static void tls_clear(struct lp_tls *t)
{
	lp_free(t->ca_secret_name);
}

static void auth_clear(struct lp_basic_auth *a)
{
	lp_free(a->secret_name);
	lp_free(a->username_key);
	lp_free(a->password_key);
}

static void output_body_clear(struct lp_output *o)
{
	size_t i;

	switch (o->type) {
	case LP_OUT_KINESIS:
		lp_free(o->u.kinesis.stream);
		lp_free(o->u.kinesis.time_key);
		lp_free(o->u.kinesis.provision.kms_key_id);
		lp_kv_array_free(o->u.kinesis.provision.tags, o->u.kinesis.provision.n_tags);
		break;
	case LP_OUT_FIREHOSE: {
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
		break;
	}
	case LP_OUT_S3:
		lp_free(o->u.s3.bucket);
		lp_free(o->u.s3.key_format);
		lp_free(o->u.s3.total_file_size);
		lp_free(o->u.s3.upload_timeout);
		lp_free(o->u.s3.compression);
		lp_free(o->u.s3.storage_class);
		lp_free(o->u.s3.provision.encryption);
		lp_free(o->u.s3.provision.kms_key_id);
		lp_kv_array_free(o->u.s3.provision.tags, o->u.s3.provision.n_tags);
		break;
	case LP_OUT_CLOUDWATCH:
		lp_free(o->u.cloudwatch.log_group);
		lp_free(o->u.cloudwatch.log_stream_prefix);
		lp_kv_array_free(o->u.cloudwatch.provision.tags, o->u.cloudwatch.provision.n_tags);
		break;
	case LP_OUT_OPENSEARCH:
	case LP_OUT_ELASTICSEARCH:
		lp_free(o->u.search.host);
		lp_free(o->u.search.index);
		lp_free(o->u.search.logstash_prefix);
		lp_free(o->u.search.aws_region);
		tls_clear(&o->u.search.tls);
		auth_clear(&o->u.search.auth);
		break;
	case LP_OUT_KAFKA:
		lp_strlist_clear(&o->u.kafka.brokers);
		lp_free(o->u.kafka.topic);
		lp_free(o->u.kafka.format);
		break;
	case LP_OUT_LOKI:
		lp_free(o->u.loki.host);
		lp_kv_array_free(o->u.loki.labels, o->u.loki.n_labels);
		lp_free(o->u.loki.tenant_id);
		tls_clear(&o->u.loki.tls);
		auth_clear(&o->u.loki.auth);
		break;
	case LP_OUT_HTTP:
		lp_free(o->u.http.host);
		lp_free(o->u.http.uri);
		lp_free(o->u.http.format);
		for (i = 0; i < o->u.http.n_headers; i++) {
			lp_free(o->u.http.headers[i].name);
			lp_free(o->u.http.headers[i].value);
			lp_secret_ref_clear(&o->u.http.headers[i].value_from);
		}
		lp_free(o->u.http.headers);
		tls_clear(&o->u.http.tls);
		auth_clear(&o->u.http.auth);
		break;
	case LP_OUT_SLACK:
		lp_secret_ref_clear(&o->u.slack.webhook);
		break;
	case LP_OUT_FORWARD:
		lp_free(o->u.forward.host);
		lp_secret_ref_clear(&o->u.forward.shared_key);
		tls_clear(&o->u.forward.tls);
		break;
	case LP_OUT_STDOUT:
		lp_free(o->u.std_out.format);
		break;
	default:
		break;
	}
}

void lp_output_free(struct lp_output *o)
{
	if (!o)
		return;
	lp_meta_clear(&o->meta);
	lp_free(o->delivery.buffer_limit);
	lp_free(o->delivery.mem_buf_limit);
	lp_free(o->aws.region);
	lp_free(o->aws.endpoint);
	lp_free(o->aws.credentials.secret_name);
	lp_free(o->aws.credentials.access_key_id_key);
	lp_free(o->aws.credentials.secret_access_key_key);
	lp_free(o->aws.credentials.session_token_key);
	lp_free(o->aws.credentials.role_arn);
	lp_free(o->aws.credentials.external_id);
	output_body_clear(o);
	lp_free(o);
}

/* ---------- shared pieces ---------- */

static void rd_tags(struct lp_rd *r, const json_t *obj, const char *base, struct lp_kv **tags,
                    size_t *n)
{
	lp_rd_kvmap(r, obj, base, "tags", tags, n, LP_STR_TEXT, 128, LP_STR_TEXT, 256, 50);
}

static void rd_tls(struct lp_rd *r, const json_t *obj, const char *base, struct lp_tls *t,
                   int default_on)
{
	char path[LP_RD_PATH], cpath[LP_RD_PATH];
	const json_t *o = lp_rd_get(r, obj, base, "tls", LP_RD_OBJ, 0);
	const json_t *ca;

	t->enabled = default_on;
	t->verify = 1;
	if (!o)
		return;
	lp_rd_join(path, base, "tls");
	lp_rd_known(r, o, path, yes_no_tls_keys);
	lp_rd_bool(r, o, path, "enabled", &t->enabled);
	lp_rd_bool(r, o, path, "verify", &t->verify);
	ca = lp_rd_get(r, o, path, "caSecretRef", LP_RD_OBJ, 0);
	if (ca) {
		static const char *const known[] = {"name", NULL};
		lp_rd_join(cpath, path, "caSecretRef");
		lp_rd_known(r, ca, cpath, known);
		lp_rd_str(r, ca, cpath, "name", &t->ca_secret_name, LP_STR_DNS_SUBDOMAIN, 0, 1);
	}
	if (!t->enabled && (json_object_get(o, "verify") || ca))
		lp_rd_bad(r, path, "verify and caSecretRef need enabled: true");
}

static void rd_auth(struct lp_rd *r, const json_t *obj, const char *base, struct lp_basic_auth *a)
{
	static const char *const known[] = {"secretRef", NULL};
	static const char *const sknown[] = {"name", "usernameKey", "passwordKey", NULL};
	char path[LP_RD_PATH], spath[LP_RD_PATH];
	const json_t *o = lp_rd_get(r, obj, base, "auth", LP_RD_OBJ, 0);
	const json_t *s;

	if (!o)
		return;
	lp_rd_join(path, base, "auth");
	lp_rd_known(r, o, path, known);
	s = lp_rd_get(r, o, path, "secretRef", LP_RD_OBJ, 1);
	if (!s)
		return;
	lp_rd_join(spath, path, "secretRef");
	lp_rd_known(r, s, spath, sknown);
	lp_rd_str(r, s, spath, "name", &a->secret_name, LP_STR_DNS_SUBDOMAIN, 0, 1);
	lp_rd_str(r, s, spath, "usernameKey", &a->username_key, LP_STR_SECRET_KEY, 0, 0);
	lp_rd_str(r, s, spath, "passwordKey", &a->password_key, LP_STR_SECRET_KEY, 0, 0);
	lp_rd_default(r, &a->username_key, "username");
	lp_rd_default(r, &a->password_key, "password");
}

/* ---------- delivery and aws ---------- */

static void rd_delivery(struct lp_rd *r, const json_t *spec, struct lp_delivery *d)
{
	static const char *const known[] = {"mode", "retryLimit", "bufferLimit", "memBufLimit",
	                                    NULL};
	static const char *const modes[] = {"atLeastOnce", "atMostOnce"};
	const json_t *o = lp_rd_get(r, spec, "spec", "delivery", LP_RD_OBJ, 0);
	int mode = LP_DELIVERY_AT_LEAST_ONCE;

	d->retry_limit = 10;
	if (o) {
		lp_rd_known(r, o, "spec.delivery", known);
		lp_rd_enum(r, o, "spec.delivery", "mode", modes, 2, &mode, 0);
		lp_rd_int(r, o, "spec.delivery", "retryLimit", &d->retry_limit, 1, 100, 0);
		lp_rd_size(r, o, "spec.delivery", "bufferLimit", &d->buffer_limit, MIB, TIB, 0);
		lp_rd_size(r, o, "spec.delivery", "memBufLimit", &d->mem_buf_limit, 64 * KIB,
		           4 * GIB, 0);
		if (mode == LP_DELIVERY_AT_MOST_ONCE && json_object_get(o, "bufferLimit"))
			lp_rd_bad(r, "spec.delivery.bufferLimit",
			          "only used with mode atLeastOnce (the filesystem buffer)");
	}
	d->mode = (enum lp_delivery_mode)mode;
	/* no default for buffer_limit: unset means the agents' default (1G) */
	lp_rd_default(r, &d->mem_buf_limit, "5M");
}

static void rd_aws(struct lp_rd *r, const json_t *spec, struct lp_output *o)
{
	static const char *const known[] = {"region", "endpoint", "credentials", NULL};
	static const char *const cknown[] = {"secretRef", "roleArn", "externalId", NULL};
	static const char *const sknown[] = {"name", "accessKeyIdKey", "secretAccessKeyKey",
	                                     "sessionTokenKey", NULL};
	const char *tname = lp_output_type_name(o->type);
	int is_aws = lp_output_type_is_aws(o->type);
	int aws_allowed = is_aws || o->type == LP_OUT_OPENSEARCH;
	const json_t *a = lp_rd_get(r, spec, "spec", "aws", LP_RD_OBJ, 0);
	const json_t *c, *s;
	struct lp_aws_credentials *cr = &o->aws.credentials;

	if (!a) {
		if (is_aws)
			lp_rd_bad(r, "spec.aws.region", "required for type %s", tname);
		return;
	}
	if (!aws_allowed && tname) {
		lp_rd_bad(r, "spec.aws", "not used by type %s", tname);
		return;
	}
	lp_rd_known(r, a, "spec.aws", known);
	lp_rd_str(r, a, "spec.aws", "region", &o->aws.region, LP_STR_REGION, 0, is_aws);
	lp_rd_str(r, a, "spec.aws", "endpoint", &o->aws.endpoint, LP_STR_URL, 0, 0);
	c = lp_rd_get(r, a, "spec.aws", "credentials", LP_RD_OBJ, 0);
	if (!c)
		return;
	lp_rd_known(r, c, "spec.aws.credentials", cknown);
	lp_rd_str(r, c, "spec.aws.credentials", "roleArn", &cr->role_arn, LP_STR_ARN, 0, 0);
	lp_rd_str(r, c, "spec.aws.credentials", "externalId", &cr->external_id, LP_STR_TEXT, 1224,
	          0);
	if (cr->external_id && !cr->role_arn)
		lp_rd_bad(r, "spec.aws.credentials.externalId", "needs roleArn");
	s = lp_rd_get(r, c, "spec.aws.credentials", "secretRef", LP_RD_OBJ, 0);
	if (!s)
		return;
	lp_rd_known(r, s, "spec.aws.credentials.secretRef", sknown);
	lp_rd_str(r, s, "spec.aws.credentials.secretRef", "name", &cr->secret_name,
	          LP_STR_DNS_SUBDOMAIN, 0, 1);
	lp_rd_str(r, s, "spec.aws.credentials.secretRef", "accessKeyIdKey", &cr->access_key_id_key,
	          LP_STR_SECRET_KEY, 0, 0);
	lp_rd_str(r, s, "spec.aws.credentials.secretRef", "secretAccessKeyKey",
	          &cr->secret_access_key_key, LP_STR_SECRET_KEY, 0, 0);
	lp_rd_str(r, s, "spec.aws.credentials.secretRef", "sessionTokenKey", &cr->session_token_key,
	          LP_STR_SECRET_KEY, 0, 0);
	lp_rd_default(r, &cr->access_key_id_key, "AWS_ACCESS_KEY_ID");
	lp_rd_default(r, &cr->secret_access_key_key, "AWS_SECRET_ACCESS_KEY");
}

/* ---------- one reader per type ---------- */

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
	int mode = 0, del = 0;

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
	rd_tags(r, po, pb, &p->tags, &p->n_tags);
	lp_rd_enum(r, po, pb, "deletionPolicy", deletion_names, 2, &del, 0);
	p->deletion_policy = (enum lp_deletion_policy)del;
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
	int comp = 1, del = 0;

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
	rd_tags(r, po, pb, &p->tags, &p->n_tags);
	lp_rd_enum(r, po, pb, "deletionPolicy", deletion_names, 2, &del, 0);
	p->deletion_policy = (enum lp_deletion_policy)del;
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
	int comp = 0, cls = -1, enc = 0, del = 0;

	lp_rd_known(r, o, b, known);
	lp_rd_str(r, o, b, "bucket", &s->bucket, LP_STR_BUCKET, 0, 1);
	lp_rd_str(r, o, b, "keyFormat", &s->key_format, LP_STR_S3_KEY, 0, 0);
	if (s->key_format && !strstr(s->key_format, "$UUID") && !strstr(s->key_format, "$INDEX"))
		lp_rd_bad(r, "spec.s3.keyFormat",
		          "must contain $UUID or $INDEX, or objects overwrite each other");
	lp_rd_size(r, o, b, "totalFileSize", &s->total_file_size, MIB, 50 * GIB, 0);
	lp_rd_duration(r, o, b, "uploadTimeout", &s->upload_timeout, 60, 86400, 0);
	lp_rd_enum(r, o, b, "compression", comps, 2, &comp, 0);
	s->compression = lp_strdup(comps[comp]);
	if (!s->compression)
		r->err = LP_ERR_NOMEM;
	lp_rd_enum(r, o, b, "storageClass", classes, 8, &cls, 0);
	if (cls >= 0 && !(s->storage_class = lp_strdup(classes[cls])))
		r->err = LP_ERR_NOMEM;
	lp_rd_default(r, &s->key_format, "/logs/$TAG/%Y/%m/%d/%H%M%S-$UUID.gz");
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
	rd_tags(r, po, pb, &p->tags, &p->n_tags);
	lp_rd_enum(r, po, pb, "deletionPolicy", deletion_names, 2, &del, 0);
	p->deletion_policy = (enum lp_deletion_policy)del;
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
	int del = 0;

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
	rd_tags(r, po, pb, &p->tags, &p->n_tags);
	lp_rd_enum(r, po, pb, "deletionPolicy", deletion_names, 2, &del, 0);
	p->deletion_policy = (enum lp_deletion_policy)del;
}

/* Elasticsearch / OpenSearch index names: lower case, no leading '-', '_', '+'. */
static void check_index(struct lp_rd *r, const char *b, const char *key, const char *v)
{
	char path[LP_RD_PATH];

	if (!v)
		return;
	for (const char *p = v; *p; p++)
		if (*p >= 'A' && *p <= 'Z') {
			lp_rd_join(path, b, key);
			lp_rd_bad(r, path, "must be lower case");
			return;
		}
	if (v[0] == '-' || v[0] == '_' || v[0] == '.') {
		lp_rd_join(path, b, key);
		lp_rd_bad(r, path, "must not start with '-', '_' or '.'");
	}
}

static void rd_search(struct lp_rd *r, const json_t *o, const char *b, struct lp_output *out)
{
	static const char *const known[] = {"host",    "port", "index", "logstashPrefix",
	                                    "awsAuth", "tls",  "auth",  NULL};
	static const char *const es_known[] = {"host", "port", "index", "logstashPrefix",
	                                       "tls",  "auth", NULL};
	struct lp_out_search *s = &out->u.search;

	lp_rd_known(r, o, b, out->type == LP_OUT_OPENSEARCH ? known : es_known);
	lp_rd_str(r, o, b, "host", &s->host, LP_STR_HOST, 0, 1);
	s->port = 9200;
	lp_rd_int(r, o, b, "port", &s->port, 1, 65535, 0);
	lp_rd_str(r, o, b, "index", &s->index, LP_STR_TOKEN, 255, 0);
	lp_rd_str(r, o, b, "logstashPrefix", &s->logstash_prefix, LP_STR_TOKEN, 200, 0);
	check_index(r, b, "index", s->index);
	check_index(r, b, "logstashPrefix", s->logstash_prefix);
	if (s->index && s->logstash_prefix)
		lp_rd_bad(r, b, "set index or logstashPrefix, not both");
	lp_rd_default(r, &s->index, "logs");
	lp_rd_bool(r, o, b, "awsAuth", &s->aws_auth);
	rd_tls(r, o, b, &s->tls, 1);
	rd_auth(r, o, b, &s->auth);
	if (s->aws_auth && s->auth.secret_name)
		lp_rd_bad(r, b, "set awsAuth or auth, not both");
}

static void rd_kafka(struct lp_rd *r, const json_t *o, struct lp_out_kafka *k)
{
	static const char *const known[] = {"brokers", "topic", "format", NULL};
	static const char *const formats[] = {"json", "msgpack", "raw"};
	int fmt = 0;

	lp_rd_known(r, o, "spec.kafka", known);
	lp_rd_strlist(r, o, "spec.kafka", "brokers", &k->brokers, LP_STR_BROKER, 0, 1, 32, 1);
	lp_rd_str(r, o, "spec.kafka", "topic", &k->topic, LP_STR_TOKEN, 249, 1);
	lp_rd_enum(r, o, "spec.kafka", "format", formats, 3, &fmt, 0);
	k->format = lp_strdup(formats[fmt]);
	if (!k->format)
		r->err = LP_ERR_NOMEM;
}

static void rd_loki(struct lp_rd *r, const json_t *o, struct lp_out_loki *l)
{
	static const char *const known[] = {"host", "port", "labels", "tenantId",
	                                    "tls",  "auth", NULL};
	char path[LP_RD_PATH];

	lp_rd_known(r, o, "spec.loki", known);
	lp_rd_str(r, o, "spec.loki", "host", &l->host, LP_STR_HOST, 0, 1);
	l->port = 3100;
	lp_rd_int(r, o, "spec.loki", "port", &l->port, 1, 65535, 0);
	lp_rd_kvmap(r, o, "spec.loki", "labels", &l->labels, &l->n_labels, LP_STR_FIELD, 64,
	            LP_STR_TEXT, 256, 30);
	for (size_t i = 0; i < l->n_labels; i++)
		if (strchr(l->labels[i].key, '.') || strchr(l->labels[i].key, '-') ||
		    strchr(l->labels[i].key, '/')) {
			snprintf(path, sizeof(path), "spec.loki.labels.%s", l->labels[i].key);
			lp_rd_bad(r, path, "a Loki label name has only letters, digits and '_'");
		}
	lp_rd_str(r, o, "spec.loki", "tenantId", &l->tenant_id, LP_STR_TOKEN, 150, 0);
	rd_tls(r, o, "spec.loki", &l->tls, 1);
	rd_auth(r, o, "spec.loki", &l->auth);
}

static void rd_http(struct lp_rd *r, const json_t *o, struct lp_out_http *h)
{
	static const char *const known[] = {"host",    "port", "uri",  "format",
	                                    "headers", "tls",  "auth", NULL};
	static const char *const hknown[] = {"name", "value", "valueFrom", NULL};
	static const char *const vknown[] = {"secretKeyRef", NULL};
	static const char *const formats[] = {"json", "json_lines", "msgpack"};
	char path[LP_RD_PATH], vpath[LP_RD_PATH];
	const json_t *hs;
	int fmt = 0;

	lp_rd_known(r, o, "spec.http", known);
	lp_rd_str(r, o, "spec.http", "host", &h->host, LP_STR_HOST, 0, 1);
	rd_tls(r, o, "spec.http", &h->tls, 1);
	h->port = h->tls.enabled ? 443 : 80;
	lp_rd_int(r, o, "spec.http", "port", &h->port, 1, 65535, 0);
	lp_rd_str(r, o, "spec.http", "uri", &h->uri, LP_STR_URI, 0, 0);
	lp_rd_default(r, &h->uri, "/");
	lp_rd_enum(r, o, "spec.http", "format", formats, 3, &fmt, 0);
	h->format = lp_strdup(formats[fmt]);
	if (!h->format)
		r->err = LP_ERR_NOMEM;
	rd_auth(r, o, "spec.http", &h->auth);
	hs = lp_rd_get(r, o, "spec.http", "headers", LP_RD_ARR, 0);
	if (!hs)
		return;
	if (json_array_size(hs) > 32) {
		lp_rd_bad(r, "spec.http.headers", "must have at most 32 items");
		return;
	}
	h->headers = lp_calloc(json_array_size(hs) + 1, sizeof(*h->headers));
	if (!h->headers) {
		r->err = LP_ERR_NOMEM;
		return;
	}
	for (size_t i = 0; i < json_array_size(hs); i++) {
		const json_t *it = json_array_get(hs, i), *vf;
		struct lp_http_header *hd = &h->headers[h->n_headers++];
		lp_rd_index(path, "spec.http.headers", i);
		if (!json_is_object(it)) {
			lp_rd_bad(r, path, "must be an object");
			continue;
		}
		lp_rd_known(r, it, path, hknown);
		lp_rd_str(r, it, path, "name", &hd->name, LP_STR_HEADER_NAME, 0, 1);
		if (hd->name && (strcasecmp(hd->name, "Host") == 0 ||
		                 strcasecmp(hd->name, "Content-Length") == 0 ||
		                 strcasecmp(hd->name, "Transfer-Encoding") == 0)) {
			lp_rd_join(vpath, path, "name");
			lp_rd_bad(r, vpath, "header \"%s\" is set by the client itself", hd->name);
		}
		lp_rd_str(r, it, path, "value", &hd->value, LP_STR_TEXT, 4096, 0);
		vf = lp_rd_get(r, it, path, "valueFrom", LP_RD_OBJ, 0);
		if (vf) {
			lp_rd_join(vpath, path, "valueFrom");
			lp_rd_known(r, vf, vpath, vknown);
			lp_rd_secret_ref(r, vf, vpath, "secretKeyRef", &hd->value_from, 1);
		}
		if (json_object_get(it, "value") && vf)
			lp_rd_bad(r, path, "set value or valueFrom, not both");
		else if (!json_object_get(it, "value") && !vf)
			lp_rd_bad(r, path, "one of value or valueFrom is required");
	}
}

static void rd_forward(struct lp_rd *r, const json_t *o, struct lp_out_forward *f)
{
	static const char *const known[] = {"host", "port", "sharedKeySecretRef", "tls", NULL};

	lp_rd_known(r, o, "spec.forward", known);
	lp_rd_str(r, o, "spec.forward", "host", &f->host, LP_STR_HOST, 0, 1);
	f->port = 24224;
	lp_rd_int(r, o, "spec.forward", "port", &f->port, 1, 65535, 0);
	lp_rd_secret_ref(r, o, "spec.forward", "sharedKeySecretRef", &f->shared_key, 0);
	rd_tls(r, o, "spec.forward", &f->tls, 0);
}

/* ---------- the object ---------- */

static const char *const spec_keys[] = {
    "type",       "delivery",   "aws",           "kinesis",  "firehose", "s3",
    "cloudwatch", "opensearch", "elasticsearch", "kafka",    "loki",     "http",
    "slack",      "forward",    "stdout",        "livetail", NULL};

static void rd_output_spec(struct lp_rd *r, const json_t *spec, struct lp_output *o)
{
	const char *names[LP_OUT_TYPE_COUNT];
	const json_t *body;
	const char *tname;
	char path[LP_RD_PATH];
	int t = 0;

	for (int i = 0; i < LP_OUT_TYPE_COUNT; i++)
		names[i] = lp_output_type_name((enum lp_output_type)i);
	lp_rd_known(r, spec, "spec", spec_keys);
	lp_rd_enum(r, spec, "spec", "type", names, LP_OUT_TYPE_COUNT, &t, 1);
	o->type = (enum lp_output_type)t;
	rd_delivery(r, spec, &o->delivery);
	if (o->type == LP_OUT_NONE)
		return;
	tname = lp_output_type_name(o->type);
	/* exactly the sub-object named by type */
	for (int i = LP_OUT_NONE + 1; i < LP_OUT_TYPE_COUNT; i++) {
		const char *n = lp_output_type_name((enum lp_output_type)i);
		if (i != t && json_object_get(spec, n)) {
			lp_rd_join(path, "spec", n);
			lp_rd_bad(r, path,
			          "not allowed with type %s (set spec.type: %s or remove it)",
			          tname, n);
		}
	}
	rd_aws(r, spec, o);
	if (o->type == LP_OUT_OPENSEARCH && o->aws.region) {
		o->u.search.aws_region = lp_strdup(o->aws.region);
		if (!o->u.search.aws_region)
			r->err = LP_ERR_NOMEM;
	}
	body = lp_rd_get(r, spec, "spec", tname, LP_RD_OBJ,
	                 o->type != LP_OUT_STDOUT && o->type != LP_OUT_LIVETAIL);
	lp_rd_join(path, "spec", tname);
	switch (o->type) {
	case LP_OUT_KINESIS:
		if (body)
			rd_kinesis(r, body, &o->u.kinesis);
		break;
	case LP_OUT_FIREHOSE:
		if (body)
			rd_firehose(r, body, &o->u.firehose);
		break;
	case LP_OUT_S3:
		if (body)
			rd_s3(r, body, &o->u.s3);
		break;
	case LP_OUT_CLOUDWATCH:
		if (body)
			rd_cloudwatch(r, body, &o->u.cloudwatch);
		break;
	case LP_OUT_OPENSEARCH:
	case LP_OUT_ELASTICSEARCH:
		if (body)
			rd_search(r, body, path, o);
		if (o->u.search.aws_auth && !o->aws.region)
			lp_rd_bad(r, "spec.aws.region", "required with spec.opensearch.awsAuth");
		if (!o->u.search.aws_auth && json_object_get(spec, "aws"))
			lp_rd_bad(r, "spec.aws", "only used with spec.opensearch.awsAuth: true");
		break;
	case LP_OUT_KAFKA:
		if (body)
			rd_kafka(r, body, &o->u.kafka);
		break;
	case LP_OUT_LOKI:
		if (body)
			rd_loki(r, body, &o->u.loki);
		break;
	case LP_OUT_HTTP:
		if (body)
			rd_http(r, body, &o->u.http);
		break;
	case LP_OUT_SLACK:
		if (body) {
			static const char *const known[] = {"webhookSecretRef", NULL};
			lp_rd_known(r, body, path, known);
			lp_rd_secret_ref(r, body, path, "webhookSecretRef", &o->u.slack.webhook, 1);
		}
		break;
	case LP_OUT_FORWARD:
		if (body)
			rd_forward(r, body, &o->u.forward);
		break;
	case LP_OUT_STDOUT: {
		static const char *const known[] = {"format", NULL};
		static const char *const formats[] = {"json_lines", "json", "msgpack"};
		int fmt = 0;
		lp_rd_known(r, body, path, known);
		lp_rd_enum(r, body, path, "format", formats, 3, &fmt, 0);
		o->u.std_out.format = lp_strdup(formats[fmt]);
		if (!o->u.std_out.format)
			r->err = LP_ERR_NOMEM;
		break;
	}
	case LP_OUT_LIVETAIL: {
		static const char *const known[] = {"maxRecordsPerSecond", NULL};
		o->u.livetail.max_records_per_second = 100;
		lp_rd_known(r, body, path, known);
		lp_rd_int(r, body, path, "maxRecordsPerSecond",
		          &o->u.livetail.max_records_per_second, 1, 10000, 0);
		break;
	}
	default:
		break;
	}
}

lp_err lp_output_parse(struct lp_output **out, const json_t *obj, struct lp_problems *probs)
{
	struct lp_rd r = {probs, LP_OK, 0};
	struct lp_output *o;
	const json_t *spec;

	if (!out || !probs)
		return LP_ERR_INVALID;
	*out = NULL;
	if (!json_is_object(obj))
		return LP_ERR_INVALID;
	o = lp_calloc(1, sizeof(*o));
	if (!o)
		return LP_ERR_NOMEM;
	spec = lp_rd_header(&r, obj, "LogOutput", &o->meta);
	if (spec)
		rd_output_spec(&r, spec, o);
	if (r.err != LP_OK) {
		lp_output_free(o);
		return r.err;
	}
	*out = o;
	return r.added ? LP_ERR_INVALID : LP_OK;
}
