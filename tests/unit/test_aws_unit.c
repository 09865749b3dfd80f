/* pkg/aws unit tests: error mapping, backoff, XML helpers, endpoint
 * resolution (partitions, override, port split) and the credential chain
 * order, with an in-process transport and environment (no network). */
#include "../../pkg/aws/creds.h"
#include "../../pkg/aws/endpoints.h"
#include "../../pkg/aws/errors.h"
#include "../../pkg/aws/provision.h"
#include "../../pkg/aws/xml.h"
#include "../../pkg/util/mem.h"
#include "lp_test.h"
#include <stdlib.h>
#include <unistd.h>

/* ---- errors ---- */

static void error_map(void)
{
	static const struct {
		const char *code;
		long status;
		lp_err want;
	} t[] = {
	    {"AccessDenied", 403, LP_ERR_FORBIDDEN},
	    {"AccessDeniedException", 400, LP_ERR_FORBIDDEN},
	    {"com.amazonaws.kinesis#AccessDeniedException", 400, LP_ERR_FORBIDDEN},
	    {"ResourceNotFoundException", 400, LP_ERR_NOTFOUND},
	    {"NoSuchBucket", 404, LP_ERR_NOTFOUND},
	    {"ResourceInUseException", 400, LP_ERR_IN_USE},
	    {"BucketNotEmpty", 409, LP_ERR_IN_USE},
	    {"LimitExceededException", 400, LP_ERR_LIMIT},
	    {"Throttling", 400, LP_ERR_THROTTLED},
	    {"ThrottlingException", 400, LP_ERR_THROTTLED},
	    {"SlowDown", 503, LP_ERR_THROTTLED},
	    {"ProvisionedThroughputExceededException", 400, LP_ERR_THROTTLED},
	    {"SignatureDoesNotMatch", 403, LP_ERR_UNAUTHORIZED},
	    {"ExpiredToken", 400, LP_ERR_UNAUTHORIZED},
	    {"BucketAlreadyExists", 409, LP_ERR_CONFLICT},
	    {"NotImplemented", 501, LP_ERR_UNSUPPORTED},
	    {"UnknownOperationException", 400, LP_ERR_UNSUPPORTED},
	    {"ValidationException", 400, LP_ERR_INVALID},
	    {"InternalFailure", 500, LP_ERR_SERVER},
	    {"SomethingNew", 500, LP_ERR_SERVER},
	    {"SomethingNew", 503, LP_ERR_SERVER},
	    {"SomethingNew", 400, LP_ERR_AWS},
	    {NULL, 404, LP_ERR_NOTFOUND},
	    {"", 403, LP_ERR_FORBIDDEN},
	    {NULL, 429, LP_ERR_THROTTLED},
	    {NULL, 502, LP_ERR_SERVER},
	};
	for (size_t i = 0; i < LP_TEST_COUNT(t); i++) {
		lp_err got = lp_aws_error_map(t[i].code, t[i].status);
		if (got != t[i].want)
			lp_test_fail(__FILE__, __LINE__, "%s/%ld -> %s, want %s",
			             t[i].code ? t[i].code : "(null)", t[i].status,
			             lp_strerror(got), lp_strerror(t[i].want));
	}
	LP_CHECK(lp_err_retryable(lp_aws_error_map("SlowDown", 503)));
	LP_CHECK(!lp_err_retryable(lp_aws_error_map("AccessDenied", 403)));
}

static void error_parse(void)
{
	struct lp_aws_error e = {0};
	const char *json = "{\"__type\":\"com.amazon.coral.service#ResourceNotFoundException\","
	                   "\"message\":\"Stream x under account 1 not found.\"}";
	const char *xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The "
	                  "specified bucket &amp; key do not exist</Message></Error>";
	const char *sts = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
	                  "<Message>not authorized</Message></Error></ErrorResponse>";

	LP_CHECK_INT(lp_aws_error_from_response(&e, 400, json, strlen(json)), LP_ERR_NOTFOUND);
	LP_CHECK_STR(e.code, "ResourceNotFoundException");
	LP_CHECK_STR(e.message, "Stream x under account 1 not found.");
	LP_CHECK_INT(e.status, 400);
	lp_aws_error_clear(&e);
	LP_CHECK_INT(lp_aws_error_from_response(&e, 404, xml, strlen(xml)), LP_ERR_NOTFOUND);
	LP_CHECK_STR(e.code, "NoSuchBucket");
	LP_CHECK_STR(e.message, "The specified bucket & key do not exist");
	lp_aws_error_clear(&e);
	LP_CHECK_INT(lp_aws_error_from_response(&e, 403, sts, strlen(sts)), LP_ERR_FORBIDDEN);
	LP_CHECK_STR(e.code, "AccessDenied");
	lp_aws_error_clear(&e);
	LP_CHECK_INT(lp_aws_error_from_response(&e, 503, "", 0), LP_ERR_SERVER);
	LP_CHECK_STR(e.message, "HTTP status 503");
	lp_aws_error_clear(&e);
	{ /* Kinesis rate limits come as LimitExceededException */
		const char *rl =
		    "{\"__type\":\"LimitExceededException\",\"message\":\"Rate exceeded "
		    "for stream x\"}";
		LP_CHECK_INT(lp_aws_error_from_response(&e, 400, rl, strlen(rl)), LP_ERR_THROTTLED);
	}
	/* first error wins */
	LP_CHECK_INT(lp_aws_error_set(&e, LP_ERR_IO, 0, NULL, "second"), LP_ERR_IO);
	LP_CHECK_INT(e.err, LP_ERR_THROTTLED);
}

static void backoff(void)
{
	uint64_t rng = 42, prev_cap = 0;

	for (unsigned a = 0; a < 12; a++) {
		uint64_t cap = 100ull << (a < 6 ? a : 6);
		if (cap > 2000)
			cap = 2000;
		for (int k = 0; k < 50; k++) {
			uint64_t d = lp_aws_backoff_ms(a, 100, 2000, &rng);
			if (d < cap / 2 || d > cap)
				lp_test_fail(__FILE__, __LINE__,
				             "attempt %u: %llu outside [%llu,%llu]", a,
				             (unsigned long long)d, (unsigned long long)cap / 2,
				             (unsigned long long)cap);
		}
		LP_CHECK(cap >= prev_cap);
		prev_cap = cap;
	}
	{ /* jitter: not all equal */
		uint64_t a = lp_aws_backoff_ms(5, 100, 5000, &rng), same = 1;
		for (int k = 0; k < 20; k++)
			if (lp_aws_backoff_ms(5, 100, 5000, &rng) != a)
				same = 0;
		LP_CHECK(!same);
	}
}

static void xml_helpers(void)
{
	const char *x =
	    "<R><Rule><ID>a</ID><Days>3</Days></Rule><Rule><ID>b</ID><Empty/></Rule></R>";
	char out[32];
	size_t il;
	const char *next, *in;
	struct lp_buf b;

	in = lp_aws_xml_inner(x, strlen(x), "Rule", &il, &next);
	LP_CHECK(in != NULL);
	LP_CHECK(lp_aws_xml_text(in, il, "Days", out, sizeof(out)));
	LP_CHECK_STR(out, "3");
	in = lp_aws_xml_inner(next, strlen(next), "Rule", &il, &next);
	LP_CHECK(in != NULL);
	LP_CHECK(lp_aws_xml_text(in, il, "ID", out, sizeof(out)));
	LP_CHECK_STR(out, "b");
	LP_CHECK(!lp_aws_xml_text(in, il, "Days", out, sizeof(out)));
	LP_CHECK(lp_aws_xml_text(in, il, "Empty", out, sizeof(out)));
	LP_CHECK_STR(out, "");
	lp_buf_init(&b, 0);
	LP_CHECK_INT(lp_aws_xml_escape(&b, "a<b>&\"c'"), LP_OK);
	LP_CHECK_STR(lp_buf_str(&b), "a&lt;b&gt;&amp;&quot;c&apos;");
	lp_buf_free(&b);
}

/* ---- endpoints ---- */

static void endpoint_partitions(void)
{
	static const struct {
		const char *svc, *region, *url, *partition;
	} t[] = {
	    {"kinesis", "us-east-1", "https://kinesis.us-east-1.amazonaws.com", "aws"},
	    {"s3", "eu-west-1", "https://s3.eu-west-1.amazonaws.com", "aws"},
	    {"logs", "cn-north-1", "https://logs.cn-north-1.amazonaws.com.cn", "aws-cn"},
	    {"firehose", "cn-northwest-1", "https://firehose.cn-northwest-1.amazonaws.com.cn",
	     "aws-cn"},
	    {"sts", "us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com", "aws-us-gov"},
	};
	for (size_t i = 0; i < LP_TEST_COUNT(t); i++) {
		struct lp_aws_endpoint ep;
		LP_CHECK_INT(lp_aws_endpoint_resolve(&ep, t[i].svc, t[i].region, NULL, NULL, 0),
		             LP_OK);
		LP_CHECK_STR(ep.url, t[i].url);
		LP_CHECK_STR(ep.partition, t[i].partition);
		LP_CHECK_STR(ep.scheme, "https");
		LP_CHECK_STR(ep.base_path, "");
		LP_CHECK_INT(ep.custom, 0);
		LP_CHECK_STR(ep.host_header, t[i].url + 8);
		lp_aws_endpoint_free(&ep);
	}
	LP_CHECK_STR(lp_aws_partition("cn-north-1"), "aws-cn");
	LP_CHECK_STR(lp_aws_dns_suffix("aws-us-gov"), "amazonaws.com");
}

static void endpoint_override(void)
{
	struct lp_aws_endpoint ep;
	char msg[256];

	LP_CHECK_INT(lp_aws_endpoint_resolve(&ep, "kinesis", "us-east-1", "http://127.0.0.1:4567",
	                                     msg, sizeof(msg)),
	             LP_OK);
	LP_CHECK_STR(ep.host, "127.0.0.1");
	LP_CHECK_INT(ep.port, 4567);
	LP_CHECK_STR(ep.host_header, "127.0.0.1:4567");
	LP_CHECK_STR(ep.url, "http://127.0.0.1:4567");
	LP_CHECK_INT(ep.custom, 1);
	LP_CHECK_STR(ep.partition, "aws");
	lp_aws_endpoint_free(&ep);

	LP_CHECK_INT(lp_aws_endpoint_resolve(&ep, "s3", "cn-north-1", "https://[::1]:9000/minio/",
	                                     msg, sizeof(msg)),
	             LP_OK);
	LP_CHECK_STR(ep.host, "::1");
	LP_CHECK_INT(ep.port, 9000);
	LP_CHECK_STR(ep.host_header, "[::1]:9000");
	LP_CHECK_STR(ep.base_path, "/minio");
	LP_CHECK_STR(ep.url, "https://[::1]:9000");
	LP_CHECK_STR(ep.partition, "aws-cn");
	lp_aws_endpoint_free(&ep);

	/* the default port is not part of the Host header */
	LP_CHECK_INT(lp_aws_endpoint_resolve(&ep, "s3", "us-east-1", "http://minio.local:80", msg,
	                                     sizeof(msg)),
	             LP_OK);
	LP_CHECK_STR(ep.host_header, "minio.local");
	lp_aws_endpoint_free(&ep);
	LP_CHECK_INT(
	    lp_aws_endpoint_resolve(&ep, "s3", NULL, "https://localstack", msg, sizeof(msg)),
	    LP_OK);
	LP_CHECK_STR(ep.host_header, "localstack");
	LP_CHECK_INT(ep.port, 0);
	lp_aws_endpoint_free(&ep);
}

static void endpoint_invalid(void)
{
	static const struct {
		const char *region, *url, *want;
	} t[] = {
	    {"us-east-1", "ftp://x", "must start with http:// or https://"},
	    {"us-east-1", "http://", "has no host"},
	    {"us-east-1", "http://:80", "has no host"},
	    {"us-east-1", "http://h:0", "port must be a number from 1 to 65535"},
	    {"us-east-1", "http://h:99999", "port must be a number from 1 to 65535"},
	    {"us-east-1", "http://h:12ab/", "port must be a number from 1 to 65535"},
	    {"us-east-1", "http://h/?x=1", "must not have a query"},
	    {"us-east-1", "http://u:p@h/", "must not carry user information"},
	    {"us-east-1", "http://[::1/", "unclosed IPv6 bracket"},
	    {"US-EAST-1", NULL, "spec.aws.region \"US-EAST-1\" is not a valid AWS region name"},
	    {"", NULL, "spec.aws.region"},
	    {"us-east-1.evil.com/", NULL, "is not a valid AWS region name"},
	};
	for (size_t i = 0; i < LP_TEST_COUNT(t); i++) {
		struct lp_aws_endpoint ep = {0};
		char msg[256] = "";
		lp_err got = lp_aws_endpoint_resolve(&ep, "kinesis", t[i].region, t[i].url, msg,
		                                     sizeof(msg));
		if (got != LP_ERR_INVALID)
			lp_test_fail(__FILE__, __LINE__, "case %zu (%s): got %s", i,
			             t[i].url ? t[i].url : t[i].region, lp_strerror(got));
		lp_aws_endpoint_free(&ep);
		LP_CHECK_HAS(msg, t[i].want);
		if (t[i].url)
			LP_CHECK_HAS(msg, "spec.aws.endpoint");
		LP_CHECK(ep.url == NULL);
	}
}

/* ---- credential chain (in-process transport and environment) ---- */

struct world {
	const char *env[32]; /* name, value pairs */
	int64_t now;
	char log[4096]; /* "METHOD URL|" per request */
	char last_body[4096];
	char last_auth[512];
	int sts_seq;
};

static const char *w_getenv(void *ctx, const char *name)
{
	struct world *w = ctx;

	for (size_t i = 0; w->env[i]; i += 2)
		if (strcmp(w->env[i], name) == 0)
			return w->env[i + 1];
	return NULL;
}

static int64_t w_now(void *ctx)
{
	return ((struct world *)ctx)->now;
}

static void w_sleep(void *ctx, uint64_t ms)
{
	(void)ctx;
	(void)ms;
}

static lp_err w_send(void *ctx, const struct lp_aws_http_req *req, struct lp_aws_http_resp *resp,
                     char *errbuf, size_t errlen)
{
	struct world *w = ctx;
	char exp[32];
	time_t t = (time_t)(w->now + 3600);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(w->log + strlen(w->log), sizeof(w->log) - strlen(w->log), "%s %s|", req->method,
	         req->url);
	snprintf(w->last_body, sizeof(w->last_body), "%.*s", (int)req->body_len,
	         req->body ? (const char *)req->body : "");
	w->last_auth[0] = '\0';
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcmp(req->headers[i].name, "Authorization") == 0)
			snprintf(w->last_auth, sizeof(w->last_auth), "%s", req->headers[i].value);
	if (strstr(req->url, "://sts.test")) {
		resp->status = 200;
		w->sts_seq++;
		return lp_buf_addf(&resp->body,
		                   "<R><Credentials><AccessKeyId>ASIASTS%d</AccessKeyId>"
		                   "<SecretAccessKey>s</SecretAccessKey><SessionToken>t%d"
		                   "</SessionToken><Expiration>%s</Expiration></Credentials></R>",
		                   w->sts_seq, w->sts_seq, exp);
	}
	if (strstr(req->url, "://imds.test/latest/api/token")) {
		resp->status = strcmp(req->method, "PUT") == 0 ? 200 : 405;
		return lp_buf_adds(&resp->body, "TOKEN");
	}
	if (strstr(req->url, "://imds.test/latest/meta-data/iam/security-credentials/")) {
		int has = 0;
		for (size_t i = 0; i < req->n_headers; i++)
			has |= strcmp(req->headers[i].name, "X-aws-ec2-metadata-token") == 0 &&
			       strcmp(req->headers[i].value, "TOKEN") == 0;
		resp->status = has ? 200 : 401;
		if (!has)
			return LP_OK;
		if (strstr(req->url, "/node-role"))
			return lp_buf_addf(
			    &resp->body,
			    "{\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"x\","
			    "\"Token\":\"it\",\"Expiration\":\"%s\"}",
			    exp);
		return lp_buf_adds(&resp->body, "node-role\n");
	}
	if (strstr(req->url, "://pod.test/creds")) {
		resp->status = strcmp(w->last_auth, "pod-token") == 0 ? 200 : 401;
		return lp_buf_addf(&resp->body,
		                   "{\"AccessKeyId\":\"ASIAPOD\",\"SecretAccessKey\":\"x\","
		                   "\"Token\":\"pt\",\"Expiration\":\"%s\"}",
		                   exp);
	}
	snprintf(errbuf, errlen, "Couldn't connect to server");
	return LP_ERR_HTTP;
}

/* ---- an error answer echoing the request shows none of its secrets ---- */

#define ECHO_AKID   "AKIAECHOTESTKEY12345"
#define ECHO_SECRET "echoSecret/abcdEFGH1234567890xyzSECRET"
#define ECHO_TOKEN  "echoSessionTokenZZZ999"
#define ECHO_HDR    "echoHeaderValue-777"

static lp_err echo_send(void *ctx, const struct lp_aws_http_req *req, struct lp_aws_http_resp *resp,
                        char *errbuf, size_t errlen)
{
	lp_err err = LP_OK;

	(void)ctx;
	(void)errbuf;
	(void)errlen;
	resp->status = 403;
	err = lp_buf_adds(&resp->body, "{\"__type\":\"AccessDeniedException\",\"message\":\"denied "
	                               "secret=" ECHO_SECRET " headers:");
	for (size_t i = 0; i < req->n_headers && !err; i++)
		err = lp_buf_addf(&resp->body, " %s: %s\\r\\n\\u0007", req->headers[i].name,
		                  req->headers[i].value);
	for (int i = 0; i < 100 && !err; i++)
		err = lp_buf_adds(&resp->body, " padding");
	return err ? err : lp_buf_adds(&resp->body, "\"}");
}

static void error_scrub(void)
{
	struct lp_aws_transport tr = {echo_send, NULL};
	struct lp_aws_sys sys;
	struct lp_aws_endpoint ep = {.scheme = "https",
	                             .host = "kinesis.test",
	                             .base_path = "",
	                             .url = "https://kinesis.test",
	                             .host_header = "kinesis.test",
	                             .partition = "aws"};
	struct lp_aws_client c = {.sys = &sys,
	                          .ep = &ep,
	                          .service = "kinesis",
	                          .region = "us-east-1",
	                          .json_prefix = "Kinesis_20131202"};
	struct lp_sigv4_hdr extra[] = {{"X-Tenant-Key", ECHO_HDR}};
	struct lp_aws_http_resp resp;
	struct lp_aws_error e = {0};
	const char *bad[] = {ECHO_AKID,     ECHO_SECRET,   ECHO_TOKEN,    ECHO_HDR,
	                     "Signature=0", "Signature=1", "Signature=2", "Signature=3",
	                     "Signature=4", "Signature=5", "Signature=6", "Signature=7",
	                     "Signature=8", "Signature=9", "Signature=a", "Signature=b",
	                     "Signature=c", "Signature=d", "Signature=e", "Signature=f"};

	lp_aws_sys_default(&sys);
	sys.transport = &tr;
	sys.sleep_ms = w_sleep;
	sys.max_attempts = 1;
	c.cred = (struct lp_aws_signer){ECHO_AKID, ECHO_SECRET, ECHO_TOKEN};
	lp_aws_http_resp_init(&resp);
	LP_CHECK_INT(lp_aws_request(&c, "POST", "/", NULL, extra, 1, "{}", 2, &resp, &e),
	             LP_ERR_FORBIDDEN);
	/* the answer really echoed them */
	LP_CHECK_HAS(lp_buf_str(&resp.body), ECHO_AKID);
	LP_CHECK_HAS(lp_buf_str(&resp.body), ECHO_TOKEN);
	LP_CHECK_HAS(lp_buf_str(&resp.body), ECHO_HDR);
	LP_CHECK_STR(e.code, "AccessDeniedException");
	LP_CHECK_HAS(e.message, "denied secret=***");
	LP_CHECK_HAS(e.message, "Credential=***/");
	for (size_t i = 0; i < LP_TEST_COUNT(bad); i++)
		if (strstr(e.message, bad[i]))
			lp_test_fail(__FILE__, __LINE__, "message carries %s: %s", bad[i],
			             e.message);
	for (const char *p = e.message; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
			lp_test_fail(__FILE__, __LINE__, "byte 0x%02x in message",
			             (unsigned char)*p);
			break;
		}
	LP_CHECK(strlen(e.message) <= LP_AWS_ERROR_SHOW_MAX + 3);
	LP_CHECK(strlen(lp_buf_str(&resp.body)) > LP_AWS_ERROR_SHOW_MAX + 3);
	lp_aws_http_resp_free(&resp);
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		lp_test_fail(__FILE__, __LINE__, "cannot write %s", path);
		return;
	}
	fputs(s, f);
	fclose(f);
}

struct chain_case {
	struct world w;
	struct lp_aws_transport tr;
	struct lp_aws_sys sys;
	struct lp_aws_cred_cache *cache;
	struct lp_aws_creds out;
	struct lp_aws_error e;
};

static void chain_setup(struct chain_case *c)
{
	memset(c, 0, sizeof(*c));
	c->w.now = 1800000000;
	c->tr.send = w_send;
	c->tr.ctx = &c->w;
	lp_aws_sys_default(&c->sys);
	c->sys.transport = &c->tr;
	c->sys.getenv = w_getenv;
	c->sys.now_s = w_now;
	c->sys.sleep_ms = w_sleep;
	c->sys.ctx = &c->w;
	c->sys.max_attempts = 1;
	c->cache = lp_aws_cred_cache_new();
}

static lp_err chain_run(struct chain_case *c, const struct lp_aws_secret_creds *secret,
                        const char *role, const char *ext)
{
	struct lp_aws_cred_opts o = {.secret = secret,
	                             .region = "us-east-1",
	                             .role_arn = role,
	                             .external_id = ext,
	                             .sts_endpoint = "https://sts.test"};

	lp_aws_creds_free(&c->out);
	lp_aws_error_clear(&c->e);
	c->w.log[0] = '\0';
	return lp_aws_creds_resolve(&c->sys, c->cache, &o, &c->out, &c->e);
}

static void chain_teardown(struct chain_case *c)
{
	lp_aws_creds_free(&c->out);
	lp_aws_cred_cache_free(c->cache);
}

static char tokfile[64], podfile[64];

/* ---- the credential chain's own messages (creds.c) are scrubbed too ---- */

#define ECHO_WEB_TOKEN  "echo-web-token-SECRET1"
#define ECHO_IMDS_TOKEN "IMDSECHOTOKEN123"

/* STS echoes the request body (the web identity token) into its error; the
 * instance metadata service hands out a session token, then the next request
 * fails with a transport text that carries the token header it was sent. */
static lp_err chain_echo_send(void *ctx, const struct lp_aws_http_req *req,
                              struct lp_aws_http_resp *resp, char *errbuf, size_t errlen)
{
	(void)ctx;
	if (strstr(req->url, "://sts.echo")) {
		resp->status = 400;
		return lp_buf_addf(
		    &resp->body,
		    "<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>"
		    "bad request %.*s</Message></Error></ErrorResponse>",
		    (int)req->body_len, req->body ? (const char *)req->body : "");
	}
	if (strstr(req->url, "/latest/api/token")) {
		resp->status = 200;
		return lp_buf_adds(&resp->body, ECHO_IMDS_TOKEN);
	}
	snprintf(errbuf, errlen, "connection reset after sending %s: %s",
	         req->n_headers ? req->headers[0].name : "",
	         req->n_headers ? req->headers[0].value : "");
	return LP_ERR_HTTP;
}

static void chain_echo_scrub(void)
{
	struct chain_case c;
	struct lp_aws_cred_opts o = {.region = "us-east-1", .sts_endpoint = "https://sts.echo"};

	chain_setup(&c);
	c.tr.send = chain_echo_send;
	write_file(tokfile, ECHO_WEB_TOKEN "\n");
	c.w.env[0] = "AWS_ROLE_ARN";
	c.w.env[1] = "arn:aws:iam::1:role/irsa";
	c.w.env[2] = "AWS_WEB_IDENTITY_TOKEN_FILE";
	c.w.env[3] = tokfile;
	LP_CHECK(lp_aws_creds_resolve(&c.sys, c.cache, &o, &c.out, &c.e) != LP_OK);
	LP_CHECK_STR(c.e.code, "InvalidIdentityToken");
	LP_CHECK_HAS(c.e.message, "bad request");
	LP_CHECK(strstr(c.e.message, ECHO_WEB_TOKEN) == NULL);
	LP_CHECK(strstr(c.e.message, "SECRET1") == NULL);
	/* instance metadata: the session token the service gave */
	lp_aws_error_clear(&c.e);
	c.w.env[0] = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
	c.w.env[1] = "http://imds.echo";
	c.w.env[2] = NULL;
	LP_CHECK(lp_aws_creds_resolve(&c.sys, c.cache, &o, &c.out, &c.e) != LP_OK);
	LP_CHECK_HAS(c.e.message, "connection reset after sending X-aws-ec2-metadata-token: ***");
	LP_CHECK(strstr(c.e.message, ECHO_IMDS_TOKEN) == NULL);
	chain_teardown(&c);
}

static void chain_order(void)
{
	struct chain_case c;
	struct lp_aws_secret_creds sec = {"AKIDSECRET", "sk", NULL};

	chain_setup(&c);
	write_file(tokfile, "web-token-1\n");
	write_file(podfile, "pod-token");
	/* everything configured: the Secret wins */
	c.w.env[0] = "AWS_ROLE_ARN";
	c.w.env[1] = "arn:aws:iam::1:role/irsa";
	c.w.env[2] = "AWS_WEB_IDENTITY_TOKEN_FILE";
	c.w.env[3] = tokfile;
	c.w.env[4] = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
	c.w.env[5] = "http://pod.test/creds";
	c.w.env[6] = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
	c.w.env[7] = podfile;
	c.w.env[8] = "AWS_ACCESS_KEY_ID";
	c.w.env[9] = "AKIDENV";
	c.w.env[10] = "AWS_SECRET_ACCESS_KEY";
	c.w.env[11] = "envsecret";
	c.w.env[12] = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
	c.w.env[13] = "http://imds.test";
	LP_CHECK_INT(chain_run(&c, &sec, NULL, NULL), LP_OK);
	LP_CHECK_STR(c.out.source, "secret");
	LP_CHECK_STR(c.out.access_key_id, "AKIDSECRET");
	LP_CHECK_STR(c.w.log, "");
	/* then web identity, with the token read from the file, unsigned */
	LP_CHECK_INT(chain_run(&c, NULL, NULL, NULL), LP_OK);
	if (c.e.err)
		lp_test_fail(__FILE__, __LINE__, "%s", c.e.message);
	LP_CHECK_STR(c.out.source, "web-identity");
	LP_CHECK_STR(c.out.access_key_id, "ASIASTS1");
	LP_CHECK_STR(c.out.session_token, "t1");
	LP_CHECK_HAS(c.w.last_body, "Action=AssumeRoleWithWebIdentity");
	LP_CHECK_HAS(c.w.last_body, "WebIdentityToken=web-token-1");
	LP_CHECK_HAS(c.w.last_body, "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Firsa");
	LP_CHECK_STR(c.w.last_auth, "");
	/* then pod identity (token from the file in Authorization) */
	c.w.env[0] = "X";
	LP_CHECK_INT(chain_run(&c, NULL, NULL, NULL), LP_OK);
	LP_CHECK_STR(c.out.source, "pod-identity");
	LP_CHECK_STR(c.out.access_key_id, "ASIAPOD");
	LP_CHECK_STR(c.w.last_auth, "pod-token");
	/* then the environment */
	c.w.env[4] = "Y";
	LP_CHECK_INT(chain_run(&c, NULL, NULL, NULL), LP_OK);
	LP_CHECK_STR(c.out.source, "environment");
	LP_CHECK_STR(c.out.access_key_id, "AKIDENV");
	LP_CHECK(c.out.session_token == NULL);
	LP_CHECK_STR(c.w.log, "");
	/* then IMDSv2: token first, then the role, then its credentials */
	c.w.env[8] = "Z";
	LP_CHECK_INT(chain_run(&c, NULL, NULL, NULL), LP_OK);
	if (c.e.err)
		lp_test_fail(__FILE__, __LINE__, "%s", c.e.message);
	LP_CHECK_STR(c.out.source, "imds");
	LP_CHECK_STR(c.out.access_key_id, "ASIAIMDS");
	LP_CHECK_STR(c.w.log,
	             "PUT http://imds.test/latest/api/token|"
	             "GET http://imds.test/latest/meta-data/iam/security-credentials/|"
	             "GET http://imds.test/latest/meta-data/iam/security-credentials/node-role|");
	/* IMDS disabled: nothing left */
	c.w.env[14] = "AWS_EC2_METADATA_DISABLED";
	c.w.env[15] = "true";
	LP_CHECK_INT(chain_run(&c, NULL, NULL, NULL), LP_ERR_UNAUTHORIZED);
	LP_CHECK_STR(c.e.code, "NoCredentials");
	LP_CHECK_HAS(c.e.message, "no AWS credentials found");
	LP_CHECK(c.out.access_key_id == NULL);
	chain_teardown(&c);
}

static void chain_imds_unreachable(void)
{
	struct chain_case c;

	chain_setup(&c);
	c.w.env[0] = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
	c.w.env[1] = "http://nothing.test";
	LP_CHECK_INT(chain_run(&c, NULL, NULL, NULL), LP_ERR_UNAUTHORIZED);
	LP_CHECK_STR(c.e.code, "NoCredentials");
	LP_CHECK_HAS(c.e.message, "instance metadata failed: cannot reach http://nothing.test");
	chain_teardown(&c);
}

/* lp_aws_sys.on_call: "service op status code|" per attempt */
static void record_call(void *ctx, const char *service, const char *op, long status,
                        const char *code)
{
	char *log = ctx;
	size_t len = strlen(log);

	snprintf(log + len, 512 - len, "%s %s %ld %s|", service, op, status, code);
}

static void chain_assume_role(void)
{
	struct chain_case c;
	struct lp_aws_secret_creds sec = {"AKIDSECRET", "sk", "st"};
	char calls[512] = "";

	chain_setup(&c);
	c.sys.on_call = record_call;
	c.sys.on_call_ctx = calls;
	LP_CHECK_INT(chain_run(&c, &sec, "arn:aws:iam::1:role/writer", "ext-42"), LP_OK);
	LP_CHECK_STR(c.out.source, "secret+assume-role");
	LP_CHECK_STR(c.out.access_key_id, "ASIASTS1");
	LP_CHECK_HAS(c.w.last_body, "Action=AssumeRole&");
	LP_CHECK_HAS(c.w.last_body, "ExternalId=ext-42");
	LP_CHECK_HAS(c.w.last_auth, "Credential=AKIDSECRET/");
	LP_CHECK_HAS(c.w.last_auth, "x-amz-security-token");
	LP_CHECK_STR(calls, "sts AssumeRole 200 |"); /* the per-call report, for metrics */
	/* cached until close to expiry */
	LP_CHECK_INT(chain_run(&c, &sec, "arn:aws:iam::1:role/writer", "ext-42"), LP_OK);
	LP_CHECK_STR(c.out.access_key_id, "ASIASTS1");
	LP_CHECK_STR(c.w.log, "");
	LP_CHECK_INT(lp_aws_cred_cache_fetches(c.cache), 1);
	/* a different external id is another session */
	LP_CHECK_INT(chain_run(&c, &sec, "arn:aws:iam::1:role/writer", "other"), LP_OK);
	LP_CHECK_STR(c.out.access_key_id, "ASIASTS2");
	/* incomplete Secret */
	sec.secret_access_key = "";
	LP_CHECK_INT(chain_run(&c, &sec, NULL, NULL), LP_ERR_INVALID);
	LP_CHECK_HAS(c.e.message, "secretRef");
	chain_teardown(&c);
}

static void chain_refresh(void)
{
	struct chain_case c;

	chain_setup(&c);
	write_file(tokfile, "web-token-A");
	c.w.env[0] = "AWS_ROLE_ARN";
	c.w.env[1] = "arn:aws:iam::1:role/irsa";
	c.w.env[2] = "AWS_WEB_IDENTITY_TOKEN_FILE";
	c.w.env[3] = tokfile;
	LP_CHECK_INT(chain_run(&c, NULL, NULL, NULL), LP_OK);
	LP_CHECK_STR(c.out.access_key_id, "ASIASTS1");
	c.w.now += 3600 - 301; /* 301 s before expiry: still good */
	LP_CHECK_INT(chain_run(&c, NULL, NULL, NULL), LP_OK);
	LP_CHECK_STR(c.out.access_key_id, "ASIASTS1");
	LP_CHECK_INT(lp_aws_cred_cache_fetches(c.cache), 1);
	write_file(tokfile, "web-token-B"); /* kubelet rotated the projected token */
	c.w.now += 2;                       /* inside the 5 min window: refresh */
	LP_CHECK_INT(chain_run(&c, NULL, NULL, NULL), LP_OK);
	LP_CHECK_STR(c.out.access_key_id, "ASIASTS2");
	LP_CHECK_HAS(c.w.last_body, "WebIdentityToken=web-token-B");
	LP_CHECK_INT(lp_aws_cred_cache_fetches(c.cache), 2);
	LP_CHECK(c.out.expires_at > c.w.now);
	chain_teardown(&c);
}

static void parse_time(void)
{
	LP_CHECK_INT(lp_aws_parse_time("2027-01-15T08:00:00Z"), 1800000000);
	LP_CHECK_INT(lp_aws_parse_time("2027-01-15T08:00:00.123Z"), 1800000000);
	LP_CHECK_INT(lp_aws_parse_time("garbage"), -1);
}

/* Spec problems are reported before any AWS call. */
static void provision_invalid_spec(void)
{
	struct world w = {0};
	struct lp_aws_transport tr = {w_send, &w};
	struct lp_aws_ctx_opts opts = {.transport = &tr, .getenv = w_getenv, .seam_ctx = &w};
	struct lp_aws_ctx *ctx = lp_aws_ctx_new(&opts);
	struct lp_aws_secret_creds sec = {"AKID", "SECRET", NULL};
	struct lp_aws_result r;
	struct lp_output o;

	LP_CHECK(ctx != NULL);
	if (!ctx)
		return;
	memset(&o, 0, sizeof(o));
	o.meta.ns = "ns";
	o.meta.name = "out";
	o.type = LP_OUT_KINESIS;
	o.aws.region = "us-east-1";
	LP_CHECK_INT(lp_aws_reconcile_output(ctx, &o, &sec, &r), LP_ERR_INVALID);
	LP_CHECK_STR(r.provisioned.reason, "InvalidSpec");
	LP_CHECK_HAS(r.provisioned.message, "spec.kinesis.stream is required");
	o.u.kinesis.stream = "s";
	o.aws.region = "Moon-1";
	LP_CHECK_INT(lp_aws_reconcile_output(ctx, &o, &sec, &r), LP_ERR_INVALID);
	LP_CHECK_HAS(r.provisioned.message, "spec.aws.region \"Moon-1\" is not a valid AWS region");
	LP_CHECK_INT(r.credentials.status, LP_COND_UNKNOWN);
	o.aws.region = "us-east-1";
	o.aws.endpoint = "localhost:4566";
	LP_CHECK_INT(lp_aws_reconcile_output(ctx, &o, &sec, &r), LP_ERR_INVALID);
	LP_CHECK_HAS(r.provisioned.message, "spec.aws.endpoint \"localhost:4566\" must start with");
	o.type = LP_OUT_LOKI;
	LP_CHECK_INT(lp_aws_reconcile_output(ctx, &o, &sec, &r), LP_ERR_INVALID);
	LP_CHECK_STR(r.provisioned.reason, "NotAWS");
	o.type = LP_OUT_S3;
	o.aws.endpoint = NULL;
	memset(&o.u, 0, sizeof(o.u));
	LP_CHECK_INT(lp_aws_reconcile_output(ctx, &o, &sec, &r), LP_ERR_INVALID);
	LP_CHECK_HAS(r.provisioned.message, "spec.s3.bucket is required");
	LP_CHECK_STR(w.log, ""); /* no request went out */
	/* finalize without provision: Retain, nothing called */
	LP_CHECK_INT(lp_aws_finalize_output(ctx, &o, &sec, &r), LP_OK);
	LP_CHECK_STR(r.provisioned.reason, "Retained");
	LP_CHECK_STR(w.log, "");
	lp_aws_ctx_free(ctx);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"error-map", error_map},
	    {"error-parse", error_parse},
	    {"error-scrub", error_scrub},
	    {"backoff", backoff},
	    {"xml-helpers", xml_helpers},
	    {"endpoint-partitions", endpoint_partitions},
	    {"endpoint-override", endpoint_override},
	    {"endpoint-invalid", endpoint_invalid},
	    {"chain-order", chain_order},
	    {"chain-imds-unreachable", chain_imds_unreachable},
	    {"chain-assume-role", chain_assume_role},
	    {"chain-refresh", chain_refresh},
	    {"chain-echo-scrub", chain_echo_scrub},
	    {"parse-time", parse_time},
	    {"provision-invalid-spec", provision_invalid_spec},
	};
	int rc;

	snprintf(tokfile, sizeof(tokfile), "/tmp/lp-aws-unit-tok-%d", (int)getpid());
	snprintf(podfile, sizeof(podfile), "/tmp/lp-aws-unit-pod-%d", (int)getpid());
	rc = lp_test_main("aws", tests, LP_TEST_COUNT(tests));
	unlink(tokfile);
	unlink(podfile);
	return rc;
}
