/* pkg/aws against real servers on 127.0.0.1: kinesalite and s3rver (npm
 * emulators) and the signature-checking fakes of tests/aws/fakeaws.py (STS,
 * Firehose, CloudWatch Logs, an S3 subset, IMDSv2), all started by this
 * program through tests/aws/servers.sh and stopped at exit (a watchdog in the
 * script also stops them if this program dies). Needs `make deps`. */
#include "../../pkg/aws/cloudwatch.h"
#include "../../cmd/logplane-operator/aws_hook.h"
#include "../../pkg/aws/firehose.h"
#include "../../pkg/aws/provision.h"
#include "../../pkg/aws/s3.h"
#include "../../pkg/util/mem.h"
#include "lp_test.h"
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEST_KEY    "AKIDLOGPLANETEST"
#define TEST_SECRET "logplane/test+secret/K7MDENGbPxRfiCYEXAMPLEKEY"

static char top[1024] = ".";
static char dir[256];
static int started;
static json_t *ports;

/* test seams: counting transport, controllable clocks */
static unsigned calls;
static uint64_t mono_ms = 1000;
static int64_t wall_offset;

static lp_err count_send(void *ctx, const struct lp_aws_http_req *req,
                         struct lp_aws_http_resp *resp, char *errbuf, size_t errlen)
{
	(void)ctx;
	calls++;
	return lp_aws_transport_curl.send(NULL, req, resp, errbuf, errlen);
}

static const struct lp_aws_transport counting = {count_send, NULL};

static uint64_t fake_mono(void *ctx)
{
	(void)ctx;
	return mono_ms;
}

static const struct lp_clock test_clock = {fake_mono, NULL};

static int64_t fake_wall(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL) + wall_offset;
}

static void fast_sleep(void *ctx, uint64_t ms)
{
	(void)ctx;
	usleep((useconds_t)(ms > 50 ? 50 : ms) * 1000);
}

static const char *no_env(void *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return NULL;
}

static int port(const char *name)
{
	return (int)json_integer_value(json_object_get(ports, name));
}

static void url_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "http://127.0.0.1:%d", port(name));
}

static struct lp_aws_ctx *new_ctx(const char *(*env)(void *, const char *), int attempts)
{
	static char sts[64];
	struct lp_aws_ctx_opts o = {0};

	url_of(sts, sizeof(sts), "sts");
	o.transport = &counting;
	o.now_s = fake_wall;
	o.sleep_ms = fast_sleep;
	o.getenv = env ? env : no_env;
	o.clock = &test_clock;
	o.max_attempts = attempts;
	o.backoff_base_ms = 10;
	o.backoff_cap_ms = 40;
	o.timeout_ms = 3000;
	o.requeue_ms = 100;
	o.sts_endpoint = sts;
	return lp_aws_ctx_new(&o);
}

/* ---- raw HTTP to the servers (not through pkg/aws) ---- */

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
	return lp_buf_add(ud, p, s * n) == LP_OK ? s * n : 0;
}

/* Returns the status; body into b (may be NULL). */
static long raw(const char *method, const char *url, const char *const *hdrs, const char *body,
                struct lp_buf *b)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct lp_buf tmp;
	long status = 0;

	lp_buf_init(&tmp, 0);
	for (size_t i = 0; hdrs && hdrs[i]; i++)
		hl = curl_slist_append(hl, hdrs[i]);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b ? b : &tmp);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	lp_buf_free(&tmp);
	return status;
}

/* DescribeStreamSummary straight to kinesalite; NULL when absent. */
static json_t *kinesalite_describe(const char *stream)
{
	char url[64], body[256];
	const char *h[] = {"X-Amz-Target: Kinesis_20131202.DescribeStreamSummary",
	                   "Content-Type: application/x-amz-json-1.1",
	                   "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/"
	                   "kinesis/aws4_request, SignedHeaders=host, Signature=00",
	                   "X-Amz-Date: 20260101T000000Z", NULL};
	struct lp_buf b;
	json_t *j = NULL;

	lp_buf_init(&b, 0);
	url_of(url, sizeof(url), "kinesalite");
	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\"}", stream);
	if (raw("POST", url, h, body, &b) == 200) {
		json_t *all = json_loads(lp_buf_str(&b), 0, NULL);
		j = json_incref(json_object_get(all, "StreamDescriptionSummary"));
		json_decref(all);
	}
	lp_buf_free(&b);
	return j;
}

static int kinesalite_set_retention(const char *stream, int hours, int increase)
{
	char url[64], body[256], target[96];
	const char *h[] = {target, "Content-Type: application/x-amz-json-1.1",
	                   "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/"
	                   "kinesis/aws4_request, SignedHeaders=host, Signature=00",
	                   "X-Amz-Date: 20260101T000000Z", NULL};

	snprintf(target, sizeof(target), "X-Amz-Target: Kinesis_20131202.%sStreamRetentionPeriod",
	         increase ? "Increase" : "Decrease");
	url_of(url, sizeof(url), "kinesalite");
	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\",\"RetentionPeriodHours\":%d}", stream,
	         hours);
	return (int)raw("POST", url, h, body, NULL);
}

/* A fake's counters. */
static json_t *fake_stats(const char *name)
{
	char url[96];
	struct lp_buf b;
	json_t *j = NULL;

	lp_buf_init(&b, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__stats", port(name));
	if (raw("GET", url, NULL, NULL, &b) == 200)
		j = json_loads(lp_buf_str(&b), 0, NULL);
	lp_buf_free(&b);
	return j;
}

static void fake_config(const char *name, const char *json)
{
	char url[96];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__config", port(name));
	if (raw("POST", url, NULL, json, NULL) != 200)
		lp_test_fail(__FILE__, __LINE__, "cannot configure fake %s", name);
}

static int stats_sig_failures(const char *name)
{
	json_t *s = fake_stats(name);
	int n = s ? (int)json_integer_value(json_object_get(s, "sig_failures")) : -1;

	json_decref(s);
	return n;
}

/* 1 when the fake's list `what` has an entry containing needle. */
static int stats_has(const char *name, const char *what, const char *needle)
{
	json_t *s = fake_stats(name), *v;
	size_t i;
	int found = 0;

	json_array_foreach(json_object_get(s, what), i, v)
	{
		if (json_string_value(v) && strstr(json_string_value(v), needle))
			found = 1;
	}
	json_decref(s);
	return found;
}

/* ---- outputs ---- */

static char kin_ep[64], s3rver_ep[64], s3fake_ep[64], fh_ep[64], logs_ep[64];
static const struct lp_aws_secret_creds test_creds = {TEST_KEY, TEST_SECRET, NULL};
static const struct lp_aws_secret_creds s3rver_creds = {"S3RVER", "S3RVER", NULL};

static void base_output(struct lp_output *o, enum lp_output_type t, char *name, char *ep)
{
	memset(o, 0, sizeof(*o));
	o->meta.ns = "team-a";
	o->meta.name = name;
	o->type = t;
	o->aws.region = "us-east-1";
	o->aws.endpoint = ep;
}

static int has_event(const struct lp_aws_result *r, const char *needle)
{
	for (size_t i = 0; i < r->n_events; i++)
		if (strstr(r->events[i], needle))
			return 1;
	return 0;
}

/* Reconciles until no longer in progress (bounded); collects events. */
static lp_err converge(struct lp_aws_ctx *ctx, const struct lp_output *o,
                       const struct lp_aws_secret_creds *c, struct lp_aws_result *res,
                       char events[2048])
{
	lp_err err = LP_OK;

	events[0] = '\0';
	for (int i = 0; i < 100; i++) {
		err = lp_aws_reconcile_output(ctx, o, c, res);
		for (size_t k = 0; k < res->n_events; k++)
			snprintf(events + strlen(events), 2048 - strlen(events), "%s|",
			         res->events[k]);
		if (err || !res->in_progress)
			return err;
		usleep(100 * 1000);
	}
	lp_test_fail(__FILE__, __LINE__, "still in progress after 100 passes: %s",
	             res->provisioned.message);
	return err;
}

static void expect_true(const struct lp_aws_result *r, lp_err err)
{
	if (err || r->provisioned.status != LP_COND_TRUE)
		lp_test_fail(__FILE__, __LINE__, "Provisioned=%d %s: %s (err %s); creds %s: %s",
		             r->provisioned.status, r->provisioned.reason, r->provisioned.message,
		             lp_strerror(err), r->credentials.reason, r->credentials.message);
}

static struct lp_aws_ctx *shared;

/* ---- cases ---- */

static struct lp_output kin;

static void kinesis_create(void)
{
	struct lp_aws_result r;
	char ev[2048];
	json_t *d;
	lp_err err;

	base_output(&kin, LP_OUT_KINESIS, "kin", kin_ep);
	kin.u.kinesis.stream = "logs-a";
	kin.u.kinesis.provision.present = 1;
	kin.u.kinesis.provision.shard_count = 2;
	kin.u.kinesis.provision.retention_hours = 48;
	err = converge(shared, &kin, &test_creds, &r, ev);
	expect_true(&r, err);
	LP_CHECK_INT(r.credentials.status, LP_COND_TRUE);
	LP_CHECK_STR(r.credentials_source, "secret");
	LP_CHECK_HAS(ev, "created Kinesis stream logs-a with 2 shards");
	LP_CHECK_HAS(ev, "set retention of logs-a back to 48h (was 24h)");
	LP_CHECK_HAS(r.arn, "stream/logs-a");
	LP_CHECK_STR(r.stream_mode, "PROVISIONED");
	LP_CHECK_STR(r.state, "ACTIVE");
	LP_CHECK_STR(r.region, "us-east-1");
	d = kinesalite_describe("logs-a");
	LP_CHECK(d != NULL);
	LP_CHECK_INT(json_integer_value(json_object_get(d, "OpenShardCount")), 2);
	LP_CHECK_INT(json_integer_value(json_object_get(d, "RetentionPeriodHours")), 48);
	LP_CHECK_STR(json_string_value(json_object_get(d, "StreamStatus")), "ACTIVE");
	json_decref(d);
}

static void verification_cache(void)
{
	struct lp_aws_result r;
	unsigned before;
	lp_err err;

	err = lp_aws_reconcile_output(shared, &kin, &test_creds, &r);
	expect_true(&r, err);
	before = calls;
	err = lp_aws_reconcile_output(shared, &kin, &test_creds, &r);
	expect_true(&r, err);
	LP_CHECK_INT(calls - before, 0);
	LP_CHECK_INT(r.cached, 1);
	LP_CHECK_INT(r.n_events, 0);
	mono_ms += 9 * 60 * 1000; /* within the 10 min interval */
	err = lp_aws_reconcile_output(shared, &kin, &test_creds, &r);
	LP_CHECK_INT(calls - before, 0);
	mono_ms += 2 * 60 * 1000; /* past it: checked again */
	err = lp_aws_reconcile_output(shared, &kin, &test_creds, &r);
	expect_true(&r, err);
	LP_CHECK(calls - before > 0);
	LP_CHECK_INT(r.cached, 0);
}

static void kinesis_update(void)
{
	struct lp_aws_result r;
	char ev[2048];
	json_t *d;
	lp_err err;

	kin.u.kinesis.provision.shard_count = 3;
	kin.u.kinesis.provision.retention_hours = 72;
	err = converge(shared, &kin, &test_creds, &r, ev);
	expect_true(&r, err);
	LP_CHECK_HAS(ev, "set retention of logs-a back to 72h (was 48h)");
	LP_CHECK_HAS(ev, "scaling logs-a from 2 to 3 shards");
	d = kinesalite_describe("logs-a");
	LP_CHECK_INT(json_integer_value(json_object_get(d, "OpenShardCount")), 3);
	LP_CHECK_INT(json_integer_value(json_object_get(d, "RetentionPeriodHours")), 72);
	json_decref(d);
	/* and down again */
	kin.u.kinesis.provision.shard_count = 2;
	err = converge(shared, &kin, &test_creds, &r, ev);
	expect_true(&r, err);
	d = kinesalite_describe("logs-a");
	LP_CHECK_INT(json_integer_value(json_object_get(d, "OpenShardCount")), 2);
	json_decref(d);
}

static void kinesis_drift(void)
{
	struct lp_aws_result r;
	char ev[2048];
	json_t *d;
	lp_err err;

	LP_CHECK_INT(kinesalite_set_retention("logs-a", 24, 0), 200); /* changed outside */
	usleep(200 * 1000);
	mono_ms += 11 * 60 * 1000;
	err = converge(shared, &kin, &test_creds, &r, ev);
	expect_true(&r, err);
	LP_CHECK_HAS(ev, "set retention of logs-a back to 72h (was 24h)");
	d = kinesalite_describe("logs-a");
	LP_CHECK_INT(json_integer_value(json_object_get(d, "RetentionPeriodHours")), 72);
	json_decref(d);
}

static void kinesis_verify_only(void)
{
	struct lp_output o;
	struct lp_aws_result r;
	lp_err err;

	base_output(&o, LP_OUT_KINESIS, "verify", kin_ep);
	o.u.kinesis.stream = "logs-a";
	err = lp_aws_reconcile_output(shared, &o, &test_creds, &r);
	expect_true(&r, err);
	LP_CHECK_STR(r.provisioned.reason, "Verified");
	o.u.kinesis.stream = "missing";
	err = lp_aws_reconcile_output(shared, &o, &test_creds, &r);
	LP_CHECK_INT(err, LP_ERR_NOTFOUND);
	LP_CHECK_INT(r.provisioned.status, LP_COND_FALSE);
	LP_CHECK_STR(r.provisioned.reason, "NotFound");
	LP_CHECK_HAS(r.provisioned.message,
	             "Kinesis stream \"missing\" does not exist in us-east-1");
	LP_CHECK(kinesalite_describe("missing") == NULL);
}

static struct lp_output bucket;

static void s3rver_bucket(void)
{
	struct lp_aws_result r;
	char ev[2048], url[128];
	lp_err err;

	base_output(&bucket, LP_OUT_S3, "bucket", s3rver_ep);
	bucket.u.s3.bucket = "lp-logs";
	bucket.u.s3.provision.present = 1;
	bucket.u.s3.provision.expiration_days = 30;
	bucket.u.s3.provision.block_public_access = 1;
	err = converge(shared, &bucket, &s3rver_creds, &r, ev);
	expect_true(&r, err);
	LP_CHECK_HAS(ev, "created S3 bucket lp-logs in us-east-1");
	LP_CHECK_STR(r.bucket_region, "us-east-1");
	/* s3rver answers NotImplemented for these: said, not hidden */
	LP_CHECK_HAS(r.provisioned.message, "the endpoint does not implement: lifecycle");
	snprintf(url, sizeof(url), "%s/lp-logs", s3rver_ep);
	LP_CHECK_INT(raw("GET", url, NULL, NULL, NULL), 200);
}

static struct lp_output fbucket;

static void s3_lifecycle(void)
{
	struct lp_aws_result r;
	static struct lp_kv tags[] = {{"team", "a"}, {"owner", "logplane"}};
	char ev[2048];
	lp_err err;

	base_output(&fbucket, LP_OUT_S3, "fbucket", s3fake_ep);
	fbucket.aws.region = "eu-west-1";
	fbucket.u.s3.bucket = "lp-archive";
	fbucket.u.s3.provision.present = 1;
	fbucket.u.s3.provision.expiration_days = 30;
	fbucket.u.s3.provision.block_public_access = 1;
	fbucket.u.s3.provision.tags = tags;
	fbucket.u.s3.provision.n_tags = 2;
	err = converge(shared, &fbucket, &test_creds, &r, ev);
	expect_true(&r, err);
	LP_CHECK_HAS(ev, "created S3 bucket lp-archive in eu-west-1");
	LP_CHECK_HAS(ev, "set lifecycle expiry of bucket lp-archive to 30 days");
	LP_CHECK_HAS(ev, "set default encryption of bucket lp-archive to AES256");
	LP_CHECK_HAS(ev, "set tags of bucket lp-archive");
	LP_CHECK_HAS(ev, "blocked public access on bucket lp-archive");
	LP_CHECK_STR(r.bucket_region, "eu-west-1");
	LP_CHECK_STR(r.region, "eu-west-1");
	LP_CHECK_STR(r.state, "Available");
	LP_CHECK(strstr(r.provisioned.message, "does not implement") == NULL);
	LP_CHECK(stats_has("s3", "ops", "PUT bucket?lifecycle"));
	LP_CHECK_INT(stats_sig_failures("s3"), 0);
	{ /* drift: someone shortens the expiry; read back what the fake stored */
		struct lp_aws_endpoint ep;
		struct lp_aws_sys sys;
		struct lp_aws_client c = {0};
		struct lp_aws_error e = {0};
		int days = 0;
		lp_aws_sys_default(&sys);
		LP_CHECK_INT(lp_aws_endpoint_resolve(&ep, "s3", "eu-west-1", s3fake_ep, NULL, 0),
		             LP_OK);
		c.sys = &sys;
		c.ep = &ep;
		c.cred.access_key_id = TEST_KEY;
		c.cred.secret_access_key = TEST_SECRET;
		c.service = "s3";
		c.region = "eu-west-1";
		LP_CHECK_INT(lp_s3_get_expiry(&c, "/lp-archive", &days, &e), LP_OK);
		LP_CHECK_INT(days, 30);
		LP_CHECK_INT(lp_s3_put_expiry(&c, "/lp-archive", 5, &e), LP_OK);
		mono_ms += 11 * 60 * 1000;
		err = converge(shared, &fbucket, &test_creds, &r, ev);
		expect_true(&r, err);
		LP_CHECK_HAS(ev,
		             "set lifecycle expiry of bucket lp-archive back to 30 days (was 5)");
		LP_CHECK_INT(lp_s3_get_expiry(&c, "/lp-archive", &days, &e), LP_OK);
		LP_CHECK_INT(days, 30);
		/* an object, so the bucket is not empty for the deletion case */
		{
			struct lp_aws_http_resp resp;
			lp_aws_http_resp_init(&resp);
			LP_CHECK_INT(lp_aws_request(&c, "PUT", "/lp-archive/app/1.log.gz", NULL,
			                            NULL, 0, "x", 1, &resp, &e),
			             LP_OK);
			lp_aws_http_resp_free(&resp);
		}
		lp_aws_endpoint_free(&ep);
	}
}

static void s3_name_taken(void)
{
	struct lp_output o;
	struct lp_aws_result r;
	lp_err err;

	fake_config("s3", "{\"taken\": [\"someone-elses\"]}");
	base_output(&o, LP_OUT_S3, "taken", s3fake_ep);
	o.u.s3.bucket = "someone-elses";
	o.u.s3.provision.present = 1;
	err = lp_aws_reconcile_output(shared, &o, &test_creds, &r);
	LP_CHECK_INT(err, LP_ERR_CONFLICT);
	LP_CHECK_STR(r.provisioned.reason, "BucketNameTaken");
	LP_CHECK_HAS(r.provisioned.message, "bucket name taken by another account");
}

static void firehose_create(void)
{
	struct lp_output o;
	struct lp_aws_result r;
	char ev[2048];
	lp_err err;

	base_output(&o, LP_OUT_FIREHOSE, "fh", fh_ep);
	o.u.firehose.delivery_stream = "logs-to-s3";
	o.u.firehose.provision.present = 1;
	o.u.firehose.provision.source_stream = "logs-a";
	o.u.firehose.provision.bucket = "lp-archive";
	o.u.firehose.provision.prefix = "logs/";
	o.u.firehose.provision.role_arn = "arn:aws:iam::123456789012:role/firehose";
	o.u.firehose.provision.buffering_size_mib = 128;
	o.u.firehose.provision.buffering_interval_seconds = 900;
	err = converge(shared, &o, &test_creds, &r, ev);
	expect_true(&r, err);
	LP_CHECK_HAS(
	    ev,
	    "created Firehose delivery stream logs-to-s3 to lp-archive (128 MiB / 900 s, GZIP)");
	LP_CHECK_HAS(r.arn, "deliverystream/logs-to-s3");
	LP_CHECK(stats_has("firehose", "ops", "CreateDeliveryStream"));
	LP_CHECK(stats_has("sts", "ops", "GetCallerIdentity"));
	LP_CHECK_INT(stats_sig_failures("firehose"), 0);
	LP_CHECK_INT(stats_sig_failures("sts"), 0);
	{ /* what the fake holds, and drift back */
		struct lp_aws_endpoint ep;
		struct lp_aws_sys sys;
		struct lp_aws_client c = {0};
		struct lp_aws_error e = {0};
		struct lp_firehose_stream s = {0};
		struct lp_firehose_want w = {.name = "logs-to-s3",
		                             .bucket_arn = "arn:aws:s3:::lp-archive",
		                             .role_arn = o.u.firehose.provision.role_arn,
		                             .prefix = "logs/",
		                             .compression = "GZIP",
		                             .buffer_mib = 128,
		                             .buffer_seconds = 60};
		lp_aws_sys_default(&sys);
		LP_CHECK_INT(lp_aws_endpoint_resolve(&ep, "firehose", "us-east-1", fh_ep, NULL, 0),
		             LP_OK);
		c.sys = &sys;
		c.ep = &ep;
		c.cred.access_key_id = TEST_KEY;
		c.cred.secret_access_key = TEST_SECRET;
		c.service = "firehose";
		c.region = "us-east-1";
		c.json_prefix = "Firehose_20150804";
		LP_CHECK_INT(lp_firehose_describe(&c, "logs-to-s3", &s, &e), LP_OK);
		LP_CHECK_STR(s.source_arn, "arn:aws:kinesis:us-east-1:123456789012:stream/logs-a");
		LP_CHECK_INT(s.buffer_mib, 128);
		LP_CHECK_INT(s.buffer_seconds, 900);
		LP_CHECK_STR(s.prefix, "logs/");
		LP_CHECK_INT(lp_firehose_update(&c, &s, &w, &e), LP_OK);
		lp_firehose_stream_free(&s);
		mono_ms += 11 * 60 * 1000;
		err = converge(shared, &o, &test_creds, &r, ev);
		expect_true(&r, err);
		LP_CHECK_HAS(
		    ev,
		    "set buffering interval 60 s (want 900) of delivery stream logs-to-s3 back");
		LP_CHECK_INT(lp_firehose_describe(&c, "logs-to-s3", &s, &e), LP_OK);
		LP_CHECK_INT(s.buffer_seconds, 900);
		lp_firehose_stream_free(&s);
		lp_aws_endpoint_free(&ep);
	}
}

static void firehose_denied(void)
{
	struct lp_output o;
	struct lp_aws_result r;
	lp_err err;

	fake_config("firehose", "{\"deny\": [\"CreateDeliveryStream\"]}");
	base_output(&o, LP_OUT_FIREHOSE, "fh-denied", fh_ep);
	o.u.firehose.delivery_stream = "denied";
	o.u.firehose.provision.present = 1;
	o.u.firehose.provision.bucket = "lp-archive";
	o.u.firehose.provision.role_arn = "arn:aws:iam::123456789012:role/firehose";
	err = lp_aws_reconcile_output(shared, &o, &test_creds, &r);
	LP_CHECK_INT(err, LP_ERR_FORBIDDEN);
	LP_CHECK_STR(r.provisioned.reason, "AccessDenied");
	LP_CHECK_HAS(r.provisioned.message,
	             "the operator's role lacks firehose:CreateDeliveryStream on "
	             "arn:aws:firehose:us-east-1:123456789012:deliverystream/denied");
	fake_config("firehose", "{\"deny\": []}");
}

static void bad_signature(void)
{
	struct lp_output o;
	struct lp_aws_result r;
	struct lp_aws_secret_creds wrong = {TEST_KEY, "not-the-secret", NULL};
	int before = stats_sig_failures("logs");
	lp_err err;

	base_output(&o, LP_OUT_CLOUDWATCH, "badsig", logs_ep);
	o.u.cloudwatch.log_group = "/x";
	err = lp_aws_reconcile_output(shared, &o, &wrong, &r);
	LP_CHECK_INT(err, LP_ERR_UNAUTHORIZED);
	LP_CHECK_STR(r.provisioned.reason, "InvalidCredentials");
	LP_CHECK_HAS(r.provisioned.message, "SignatureDoesNotMatch");
	LP_CHECK_INT(stats_sig_failures("logs"), before + 1);
}

static void cloudwatch_group(void)
{
	struct lp_output o;
	struct lp_aws_result r;
	char ev[2048];
	int found = 0, days = 0;
	char arn[512];
	lp_err err;

	base_output(&o, LP_OUT_CLOUDWATCH, "cw", logs_ep);
	o.u.cloudwatch.log_group = "/logplane/team-a";
	o.u.cloudwatch.provision.present = 1;
	o.u.cloudwatch.provision.retention_days = 14;
	err = converge(shared, &o, &test_creds, &r, ev);
	expect_true(&r, err);
	LP_CHECK_HAS(ev, "created CloudWatch log group /logplane/team-a");
	LP_CHECK_HAS(ev, "set retention of log group /logplane/team-a to 14 days");
	LP_CHECK_HAS(r.provisioned.message, "retention 14 days");
	LP_CHECK_INT(stats_sig_failures("logs") >= 0, 1);
	{
		struct lp_aws_endpoint ep;
		struct lp_aws_sys sys;
		struct lp_aws_client c = {0};
		struct lp_aws_error e = {0};
		lp_aws_sys_default(&sys);
		LP_CHECK_INT(lp_aws_endpoint_resolve(&ep, "logs", "us-east-1", logs_ep, NULL, 0),
		             LP_OK);
		c.sys = &sys;
		c.ep = &ep;
		c.cred.access_key_id = TEST_KEY;
		c.cred.secret_access_key = TEST_SECRET;
		c.service = "logs";
		c.region = "us-east-1";
		c.json_prefix = "Logs_20140328";
		LP_CHECK_INT(lp_cwl_describe(&c, "/logplane/team-a", &found, &days, arn, &e),
		             LP_OK);
		LP_CHECK_INT(found, 1);
		LP_CHECK_INT(days, 14);
		LP_CHECK_INT(lp_cwl_set_retention(&c, "/logplane/team-a", 7, &e), LP_OK);
		mono_ms += 11 * 60 * 1000;
		err = converge(shared, &o, &test_creds, &r, ev);
		expect_true(&r, err);
		LP_CHECK_HAS(ev,
		             "set retention of log group /logplane/team-a back to 14 days (was 7)");
		LP_CHECK_INT(lp_cwl_describe(&c, "/logplane/team-a", &found, &days, arn, &e),
		             LP_OK);
		LP_CHECK_INT(days, 14);
		lp_aws_endpoint_free(&ep);
	}
}

/* IRSA: role + projected token file in the environment, fake STS. */
static char irsa_token_file[300], sts_url[64];

static const char *irsa_env(void *ctx, const char *name)
{
	(void)ctx;
	if (strcmp(name, "AWS_ROLE_ARN") == 0)
		return "arn:aws:iam::123456789012:role/logplane-operator";
	if (strcmp(name, "AWS_WEB_IDENTITY_TOKEN_FILE") == 0)
		return irsa_token_file;
	if (strcmp(name, "AWS_ENDPOINT_URL_STS") == 0)
		return sts_url;
	return NULL;
}

static void write_token(const char *tok)
{
	FILE *f = fopen(irsa_token_file, "w");

	if (!f) {
		lp_test_fail(__FILE__, __LINE__, "cannot write %s", irsa_token_file);
		return;
	}
	fputs(tok, f);
	fclose(f);
}

static void irsa(void)
{
	struct lp_aws_ctx *ctx;
	struct lp_output o;
	struct lp_aws_result r;
	json_t *st;
	size_t n1, n2;
	lp_err err;

	snprintf(irsa_token_file, sizeof(irsa_token_file), "%s/token", dir);
	url_of(sts_url, sizeof(sts_url), "sts");
	write_token("projected-sa-token-1");
	fake_config("sts", "{\"duration\": 400}"); /* short-lived: inside the 5 min margin soon */
	ctx = new_ctx(irsa_env, 2);
	base_output(&o, LP_OUT_CLOUDWATCH, "irsa", logs_ep);
	o.u.cloudwatch.log_group = "/logplane/irsa";
	o.u.cloudwatch.provision.present = 1;
	err = lp_aws_reconcile_output(ctx, &o, NULL, &r);
	expect_true(&r, err);
	LP_CHECK_STR(r.credentials.reason, "Resolved");
	LP_CHECK_STR(r.credentials_source, "web-identity");
	LP_CHECK_INT(lp_aws_ctx_credential_fetches(ctx), 1);
	LP_CHECK(stats_has("sts", "web_tokens", "projected-sa-token-1"));
	LP_CHECK(stats_has("logs", "tokens", "FakeSessionToken/"));
	LP_CHECK_INT(stats_sig_failures("logs"), 1); /* only bad_signature's */
	st = fake_stats("logs");
	n1 = json_array_size(json_object_get(st, "tokens"));
	json_decref(st);
	/* still fresh 90 s later: no new fetch */
	wall_offset += 90;
	mono_ms += 11 * 60 * 1000;
	err = lp_aws_reconcile_output(ctx, &o, NULL, &r);
	expect_true(&r, err);
	LP_CHECK_INT(lp_aws_ctx_credential_fetches(ctx), 1);
	/* 110 s later the credentials expire within 5 min: refreshed, token re-read */
	write_token("projected-sa-token-2");
	wall_offset += 20;
	mono_ms += 11 * 60 * 1000;
	err = lp_aws_reconcile_output(ctx, &o, NULL, &r);
	expect_true(&r, err);
	LP_CHECK_INT(lp_aws_ctx_credential_fetches(ctx), 2);
	LP_CHECK(stats_has("sts", "web_tokens", "projected-sa-token-2"));
	st = fake_stats("logs");
	n2 = json_array_size(json_object_get(st, "tokens"));
	LP_CHECK(n2 > n1);
	LP_CHECK(strcmp(json_string_value(json_array_get(json_object_get(st, "tokens"), n1 - 1)),
	                json_string_value(json_array_get(json_object_get(st, "tokens"), n2 - 1))) !=
	         0);
	json_decref(st);
	wall_offset = 0;
	fake_config("sts", "{\"duration\": 3600}");
	lp_aws_ctx_free(ctx);
}

/* IMDSv2 and Pod Identity against the fakes (issued credentials then used,
 * signature checked by the CloudWatch Logs fake). */
static char imds_url[64], pod_url[96], pod_token_file[300];

static const char *imds_env(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "AWS_EC2_METADATA_SERVICE_ENDPOINT") == 0 ? imds_url : NULL;
}

static const char *pod_env(void *ctx, const char *name)
{
	(void)ctx;
	if (strcmp(name, "AWS_CONTAINER_CREDENTIALS_FULL_URI") == 0)
		return pod_url;
	if (strcmp(name, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") == 0)
		return pod_token_file;
	return NULL;
}

static void imds_and_pod_identity(void)
{
	struct lp_aws_ctx *ctx;
	struct lp_output o;
	struct lp_aws_result r;
	FILE *f;
	lp_err err;
	int fails = stats_sig_failures("logs");

	url_of(imds_url, sizeof(imds_url), "imds");
	base_output(&o, LP_OUT_CLOUDWATCH, "node-role", logs_ep);
	o.u.cloudwatch.log_group = "/logplane/team-a";
	ctx = new_ctx(imds_env, 1);
	err = lp_aws_reconcile_output(ctx, &o, NULL, &r);
	expect_true(&r, err);
	LP_CHECK_STR(r.credentials_source, "imds");
	LP_CHECK(stats_has("imds", "ops", "PUT /latest/api/token"));
	LP_CHECK(stats_has("imds", "ops",
	                   "GET /latest/meta-data/iam/security-credentials/logplane-node"));
	lp_aws_ctx_free(ctx);

	snprintf(pod_url, sizeof(pod_url), "http://127.0.0.1:%d/v1/credentials",
	         port("podidentity"));
	snprintf(pod_token_file, sizeof(pod_token_file), "%s/pod-token", dir);
	f = fopen(pod_token_file, "w");
	if (f) {
		fputs("eks-pod-identity-token", f);
		fclose(f);
	}
	fake_config("podidentity", "{\"auth_token\": \"eks-pod-identity-token\"}");
	ctx = new_ctx(pod_env, 1);
	err = lp_aws_reconcile_output(ctx, &o, NULL, &r);
	expect_true(&r, err);
	LP_CHECK_STR(r.credentials_source, "pod-identity");
	LP_CHECK(stats_has("podidentity", "tokens", "eks-pod-identity-token"));
	lp_aws_ctx_free(ctx);
	/* a wrong token: CredentialsResolved=False with the reason */
	fake_config("podidentity", "{\"auth_token\": \"something-else\"}");
	ctx = new_ctx(pod_env, 1);
	err = lp_aws_reconcile_output(ctx, &o, NULL, &r);
	LP_CHECK(err != LP_OK);
	LP_CHECK_INT(r.credentials.status, LP_COND_FALSE);
	LP_CHECK_HAS(r.credentials.message, "answered HTTP 401");
	lp_aws_ctx_free(ctx);
	LP_CHECK_INT(stats_sig_failures("logs"), fails);
}

/* Throttling (JSON) and SlowDown (S3) are retried with backoff, bounded. */
static void throttling_retried(void)
{
	struct lp_output o;
	struct lp_aws_result r;
	json_t *st;
	int before, after;
	lp_err err;

	base_output(&o, LP_OUT_CLOUDWATCH, "throttled", logs_ep);
	o.u.cloudwatch.log_group = "/logplane/team-a";
	st = fake_stats("logs");
	before = (int)json_integer_value(json_object_get(st, "calls"));
	json_decref(st);
	fake_config("logs", "{\"throttle\": 1}");
	err = lp_aws_reconcile_output(shared, &o, &test_creds, &r); /* 2 attempts per call */
	expect_true(&r, err);
	st = fake_stats("logs");
	after = (int)json_integer_value(json_object_get(st, "calls"));
	json_decref(st);
	LP_CHECK_INT(after - before, 2);
	/* more throttling than attempts: Throttled, retried later */
	fake_config("logs", "{\"throttle\": 5}");
	lp_aws_ctx_forget(shared, "team-a", "throttled");
	err = lp_aws_reconcile_output(shared, &o, &test_creds, &r);
	LP_CHECK_INT(err, LP_ERR_THROTTLED);
	LP_CHECK_STR(r.provisioned.reason, "Throttled");
	LP_CHECK_HAS(r.provisioned.message, "AWS throttled logs:DescribeLogGroups");
	fake_config("logs", "{\"throttle\": 0}");
	/* S3 SlowDown (503) */
	fake_config("s3", "{\"slowdown\": 1}");
	lp_aws_ctx_forget(shared, "team-a", "fbucket");
	err = lp_aws_reconcile_output(shared, &fbucket, &test_creds, &r);
	expect_true(&r, err);
	LP_CHECK(stats_has("s3", "ops", "HEAD bucket"));
}

static void assume_role_on_top(void)
{
	struct lp_output o;
	struct lp_aws_result r;
	lp_err err;

	fake_config("sts", "{\"external_id\": \"ext-7\"}");
	base_output(&o, LP_OUT_CLOUDWATCH, "assumed", logs_ep);
	o.u.cloudwatch.log_group = "/logplane/team-a";
	o.aws.credentials.role_arn = "arn:aws:iam::123456789012:role/writer";
	o.aws.credentials.external_id = "ext-7";
	err = lp_aws_reconcile_output(shared, &o, &test_creds, &r);
	expect_true(&r, err);
	LP_CHECK_STR(r.credentials_source, "secret+assume-role");
	LP_CHECK(stats_has("sts", "ops", "AssumeRole"));
	o.aws.credentials.external_id = "wrong";
	err = lp_aws_reconcile_output(shared, &o, &test_creds, &r);
	LP_CHECK_INT(err, LP_ERR_FORBIDDEN);
	LP_CHECK_INT(r.credentials.status, LP_COND_FALSE);
	LP_CHECK_STR(r.credentials.reason, "AssumeRoleDenied");
	LP_CHECK_HAS(r.credentials.message, "may not assume arn:aws:iam::123456789012:role/writer");
	LP_CHECK_STR(r.provisioned.reason, "CredentialsNotResolved");
	fake_config("sts", "{\"external_id\": null}");
}

static void emulator_down(void)
{
	struct lp_aws_ctx *ctx = new_ctx(NULL, 3);
	struct lp_aws_result r;
	char cmd[2048], ev[2048], want[96];
	unsigned before;
	lp_err err;

	snprintf(cmd, sizeof(cmd), "bash '%s/tests/aws/servers.sh' stop-one '%s' kinesalite", top,
	         dir);
	LP_CHECK_INT(system(cmd), 0);
	before = calls;
	err = lp_aws_reconcile_output(ctx, &kin, &test_creds, &r);
	LP_CHECK(err == LP_ERR_HTTP || err == LP_ERR_TIMEOUT);
	LP_CHECK_INT(calls - before, 3); /* retried with backoff, bounded */
	LP_CHECK_INT(r.provisioned.status, LP_COND_FALSE);
	LP_CHECK_STR(r.provisioned.reason, "EndpointUnreachable");
	snprintf(want, sizeof(want), "cannot reach %s", kin_ep);
	LP_CHECK_HAS(r.provisioned.message, want);
	LP_CHECK_INT(r.credentials.status, LP_COND_TRUE);
	snprintf(cmd, sizeof(cmd), "bash '%s/tests/aws/servers.sh' start-one '%s' kinesalite", top,
	         dir);
	LP_CHECK_INT(system(cmd), 0);
	err = converge(ctx, &kin, &test_creds, &r, ev); /* in-memory emulator: created again */
	expect_true(&r, err);
	lp_aws_ctx_free(ctx);
}

static void delete_retain(void)
{
	struct lp_aws_result r;
	json_t *d;
	char url[128];

	LP_CHECK_INT(lp_aws_finalize_output(shared, &kin, &test_creds, &r), LP_OK);
	LP_CHECK_STR(r.provisioned.reason, "Retained");
	LP_CHECK_INT(lp_aws_finalize_output(shared, &bucket, &s3rver_creds, &r), LP_OK);
	d = kinesalite_describe("logs-a");
	LP_CHECK(d != NULL);
	json_decref(d);
	snprintf(url, sizeof(url), "%s/lp-logs", s3rver_ep);
	LP_CHECK_INT(raw("GET", url, NULL, NULL, NULL), 200);
}

static void delete_delete(void)
{
	struct lp_aws_result r;
	json_t *d = NULL;
	char url[128];
	lp_err err;

	kin.u.kinesis.provision.deletion_policy = LP_DELETION_DELETE;
	LP_CHECK_INT(lp_aws_finalize_output(shared, &kin, &test_creds, &r), LP_OK);
	LP_CHECK_STR(r.provisioned.reason, "Deleted");
	LP_CHECK(has_event(&r, "deleted Kinesis stream logs-a"));
	for (int i = 0; i < 50; i++) { /* DELETING, then gone */
		d = kinesalite_describe("logs-a");
		if (!d)
			break;
		json_decref(d);
		usleep(50 * 1000);
	}
	LP_CHECK(d == NULL);
	/* a bucket with objects is never deleted (s3rver) */
	{
		struct lp_aws_endpoint ep;
		struct lp_aws_sys sys;
		struct lp_aws_client c = {0};
		struct lp_aws_error e = {0};
		struct lp_aws_http_resp resp;
		lp_aws_sys_default(&sys);
		lp_aws_http_resp_init(&resp);
		LP_CHECK_INT(lp_aws_endpoint_resolve(&ep, "s3", "us-east-1", s3rver_ep, NULL, 0),
		             LP_OK);
		c.sys = &sys;
		c.ep = &ep;
		c.cred.access_key_id = "S3RVER";
		c.cred.secret_access_key = "S3RVER";
		c.service = "s3";
		c.region = "us-east-1";
		LP_CHECK_INT(lp_aws_request(&c, "PUT", "/lp-logs/app/1.log", NULL, NULL, 0,
		                            "log line", 8, &resp, &e),
		             LP_OK);
		lp_aws_http_resp_free(&resp);
		lp_aws_endpoint_free(&ep);
	}
	bucket.u.s3.provision.deletion_policy = LP_DELETION_DELETE;
	err = lp_aws_finalize_output(shared, &bucket, &s3rver_creds, &r);
	LP_CHECK_INT(err, LP_ERR_IN_USE);
	LP_CHECK_STR(r.provisioned.reason, "BucketNotEmpty");
	LP_CHECK_HAS(r.provisioned.message, "S3 bucket lp-logs still holds objects");
	snprintf(url, sizeof(url), "%s/lp-logs", s3rver_ep);
	LP_CHECK_INT(raw("GET", url, NULL, NULL, NULL), 200);
	/* the fake bucket too; emptied, it goes */
	fbucket.u.s3.provision.deletion_policy = LP_DELETION_DELETE;
	LP_CHECK_INT(lp_aws_finalize_output(shared, &fbucket, &test_creds, &r), LP_ERR_IN_USE);
	{
		struct lp_aws_endpoint ep;
		struct lp_aws_sys sys;
		struct lp_aws_client c = {0};
		struct lp_aws_error e = {0};
		struct lp_aws_http_resp resp;
		lp_aws_sys_default(&sys);
		lp_aws_http_resp_init(&resp);
		LP_CHECK_INT(lp_aws_endpoint_resolve(&ep, "s3", "eu-west-1", s3fake_ep, NULL, 0),
		             LP_OK);
		c.sys = &sys;
		c.ep = &ep;
		c.cred.access_key_id = TEST_KEY;
		c.cred.secret_access_key = TEST_SECRET;
		c.service = "s3";
		c.region = "eu-west-1";
		LP_CHECK_INT(lp_aws_request(&c, "DELETE", "/lp-archive/app/1.log.gz", NULL, NULL, 0,
		                            NULL, 0, &resp, &e),
		             LP_OK);
		lp_aws_http_resp_free(&resp);
		lp_aws_endpoint_free(&ep);
	}
	LP_CHECK_INT(lp_aws_finalize_output(shared, &fbucket, &test_creds, &r), LP_OK);
	LP_CHECK(has_event(&r, "deleted empty S3 bucket lp-archive"));
	LP_CHECK_INT(stats_sig_failures("s3"), 0);
}

static const char *imds_off_env(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0 ? "true" : NULL;
}

/* The adapter the controller plugs in (lp_ctrl_aws_ops). */
static void controller_hook(void)
{
	struct lp_aws_hook hook = {.ctx = shared, .max_polls = 50, .poll_ms = 100};
	const struct lp_ctrl_aws_ops ops = {lp_aws_hook_reconcile,
	                                    &hook}; /* as the operator wires it */
	struct lp_ctrl_aws_creds c = {TEST_KEY, TEST_SECRET, NULL};
	struct lp_ctrl_aws_result out;
	struct lp_output o;
	json_t *d;

	base_output(&o, LP_OUT_KINESIS, "hooked", kin_ep);
	o.u.kinesis.stream = "hooked";
	o.u.kinesis.provision.present = 1;
	o.u.kinesis.provision.deletion_policy = LP_DELETION_DELETE;
	ops.reconcile(ops.ctx, &o, &c, 0, &out);
	LP_CHECK_INT(out.creds.status, LP_COND_TRUE);
	LP_CHECK_INT(out.prov.status, LP_COND_TRUE);
	LP_CHECK_STR(out.prov.reason, "Provisioned");
	LP_CHECK(out.n_events >= 1);
	LP_CHECK_HAS(out.events[0], "created Kinesis stream hooked with 1 shard");
	LP_CHECK(out.target.known && out.target.provisioned);
	LP_CHECK_STR(out.target.type, "kinesis");
	LP_CHECK_STR(out.target.name, "hooked");
	LP_CHECK_HAS(out.target.arn, ":stream/hooked");
	LP_CHECK_INT(out.cleanup_done, 0);
	d = kinesalite_describe("hooked");
	LP_CHECK(d != NULL);
	json_decref(d);
	lp_aws_hook_reconcile(&hook, &o, &c, 1, &out);
	LP_CHECK_INT(out.cleanup_done, 1);
	LP_CHECK_STR(out.prov.reason, "Deleted");
	/* no credentials anywhere: CredentialsResolved=False, no cleanup */
	{
		struct lp_aws_ctx *ctx = new_ctx(imds_off_env, 1);
		struct lp_aws_hook h2 = {.ctx = ctx, .max_polls = 1, .poll_ms = 10};
		lp_aws_hook_reconcile(&h2, &o, NULL, 1, &out);
		LP_CHECK_INT(out.creds.status, LP_COND_FALSE);
		LP_CHECK_STR(out.creds.reason, "NoCredentials");
		LP_CHECK_INT(out.cleanup_done, 0);
		lp_aws_ctx_free(ctx);
	}
}

static void stop_servers(void)
{
	char cmd[2048];

	if (!started)
		return;
	started = 0;
	snprintf(cmd, sizeof(cmd),
	         "bash '%s/tests/aws/servers.sh' stop '%s' >/dev/null 2>&1; rm -rf '%s'", top, dir,
	         dir);
	if (system(cmd) != 0)
		fprintf(stderr, "stopping the test servers failed\n");
}

static void on_signal(int sig)
{
	stop_servers();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int start_servers(void)
{
	char cmd[2048], path[1400], mods[1400];
	struct stat st;
	json_error_t je;

	if (getenv("LP_TOP"))
		snprintf(top, sizeof(top), "%s", getenv("LP_TOP"));
	snprintf(mods, sizeof(mods), "%s/.deps/npm/node_modules/kinesalite", top);
	if (stat(mods, &st) != 0) {
		printf("FAIL aws_live:setup: %s missing: run `make deps` (hack/install-deps.sh)\n",
		       mods);
		return -1;
	}
	snprintf(dir, sizeof(dir), "/tmp/lp-aws-live-XXXXXX");
	if (!mkdtemp(dir)) {
		printf("FAIL aws_live:setup: mkdtemp failed\n");
		return -1;
	}
	started = 1;
	atexit(stop_servers);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	snprintf(cmd, sizeof(cmd), "LP_AWS_RMDIR=1 bash '%s/tests/aws/servers.sh' start '%s' %d",
	         top, dir, (int)getpid());
	if (system(cmd) != 0) {
		printf("FAIL aws_live:setup: tests/aws/servers.sh start failed (logs in %s)\n",
		       dir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/ports.json", dir);
	ports = json_load_file(path, 0, &je);
	if (!ports) {
		printf("FAIL aws_live:setup: %s: %s\n", path, je.text);
		return -1;
	}
	url_of(kin_ep, sizeof(kin_ep), "kinesalite");
	url_of(s3rver_ep, sizeof(s3rver_ep), "s3rver");
	url_of(s3fake_ep, sizeof(s3fake_ep), "s3");
	url_of(fh_ep, sizeof(fh_ep), "firehose");
	url_of(logs_ep, sizeof(logs_ep), "logs");
	return 0;
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"kinesis-create-2-shards-48h", kinesis_create},
	    {"verification-cache", verification_cache},
	    {"kinesis-update-shards-retention", kinesis_update},
	    {"kinesis-drift", kinesis_drift},
	    {"kinesis-verify-only", kinesis_verify_only},
	    {"s3rver-bucket", s3rver_bucket},
	    {"s3-lifecycle-signed", s3_lifecycle},
	    {"s3-name-taken", s3_name_taken},
	    {"firehose-create-signed", firehose_create},
	    {"firehose-access-denied", firehose_denied},
	    {"bad-signature-rejected", bad_signature},
	    {"cloudwatch-group-retention", cloudwatch_group},
	    {"irsa-web-identity-refresh", irsa},
	    {"throttling-retried", throttling_retried},
	    {"assume-role-external-id", assume_role_on_top},
	    {"imds-and-pod-identity", imds_and_pod_identity},
	    {"emulator-down-then-up", emulator_down},
	    {"delete-retain", delete_retain},
	    {"delete-delete", delete_delete},
	    {"controller-hook", controller_hook},
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (start_servers() != 0) {
		stop_servers();
		json_decref(ports);
		return 1;
	}
	shared = new_ctx(NULL, 2);
	rc = lp_test_main("aws_live", tests, LP_TEST_COUNT(tests));
	lp_aws_ctx_free(shared);
	json_decref(ports);
	stop_servers();
	curl_global_cleanup();
	return rc;
}
