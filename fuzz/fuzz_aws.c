/* libFuzzer target: AWS response parsing (JSON and XML). A fake transport
 * answers every request with the input: byte 0 picks the call, byte 1 the HTTP
 * status, byte 2 whether an x-amz-bucket-region header comes along, the rest
 * is the body. The calls are the real ones of pkg/aws (Kinesis, Firehose,
 * CloudWatch Logs: JSON; STS, S3: XML), plus the error-body parser and the XML
 * helpers directly. One attempt, no sleeping, no network. */
#include "../pkg/api/api.h"
#include "../pkg/aws/cloudwatch.h"
#include "../pkg/aws/creds.h"
#include "../pkg/aws/endpoints.h"
#include "../pkg/aws/firehose.h"
#include "../pkg/aws/http.h"
#include "../pkg/aws/kinesis.h"
#include "../pkg/aws/s3.h"
#include "../pkg/aws/sts.h"
#include "../pkg/aws/xml.h"
#include "../pkg/util/mem.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct answer {
	const uint8_t *body;
	size_t len;
	long status;
	int region_header;
};

static const long statuses[] = {200, 200, 200, 200, 204, 301, 307, 400, 403, 404, 409, 500, 503};

static lp_err fake_send(void *ctx, const struct lp_aws_http_req *req, struct lp_aws_http_resp *resp,
                        char *errbuf, size_t errlen)
{
	const struct answer *a = ctx;
	(void)req;
	(void)errbuf;
	(void)errlen;
	resp->status = a->status;
	if (a->region_header && lp_buf_add(&resp->headers, "x-amz-bucket-region: eu-west-1\r\n",
	                                   strlen("x-amz-bucket-region: eu-west-1\r\n")))
		return LP_ERR_NOMEM;
	if (a->len && lp_buf_add(&resp->body, a->body, a->len))
		return LP_ERR_NOMEM;
	return LP_OK;
}

static int64_t fake_now(void *ctx)
{
	(void)ctx;
	return 1800000000;
}

static void fake_sleep(void *ctx, uint64_t ms)
{
	(void)ctx;
	(void)ms;
}

static const char *fake_getenv(void *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return NULL;
}

static void call(int which, struct lp_aws_client *c, struct lp_aws_error *e, const char *body,
                 size_t len)
{
	static const struct lp_kv tags[] = {{(char *)"team", (char *)"a"},
	                                    {(char *)"app", (char *)"logs"}};
	char buf[512], algo[32], key[256], region[32];
	int i1 = 0, i2 = 0;
	size_t inner = 0;

	switch (which) {
	case 0: {
		struct lp_kinesis_stream s;
		memset(&s, 0, sizeof(s));
		if (lp_kinesis_describe(c, "s", &s, e) == LP_OK)
			lp_kinesis_stream_free(&s);
		break;
	}
	case 1: {
		json_t *t = NULL;
		if (lp_kinesis_tags(c, "s", &t, e) == LP_OK)
			json_decref(t);
		break;
	}
	case 2: {
		struct lp_firehose_stream s;
		memset(&s, 0, sizeof(s));
		if (lp_firehose_describe(c, "s", &s, e) == LP_OK)
			lp_firehose_stream_free(&s);
		break;
	}
	case 3:
		(void)lp_cwl_describe(c, "/g", &i1, &i2, buf, e);
		break;
	case 4: {
		struct lp_aws_creds cr;
		memset(&cr, 0, sizeof(cr));
		if (lp_sts_assume_role(c, "arn:aws:iam::123456789012:role/r", "s", "x", &cr, e) ==
		    LP_OK)
			lp_aws_creds_free(&cr);
		break;
	}
	case 5: {
		struct lp_aws_creds cr;
		memset(&cr, 0, sizeof(cr));
		if (lp_sts_assume_role_with_web_identity(c, "arn:aws:iam::123456789012:role/r", "s",
		                                         "tok", &cr, e) == LP_OK)
			lp_aws_creds_free(&cr);
		break;
	}
	case 6:
		(void)lp_sts_get_caller_identity(c, algo, e);
		break;
	case 7:
		(void)lp_s3_head(c, "/b", region, e);
		break;
	case 8:
		(void)lp_s3_get_expiry(c, "/b", &i1, e);
		break;
	case 9:
		(void)lp_s3_get_encryption(c, "/b", algo, key, e);
		break;
	case 10:
		(void)lp_s3_tags_match(c, "/b", tags, 2, &i1, e);
		break;
	case 11:
		(void)lp_s3_get_pab(c, "/b", &i1, e);
		break;
	case 12:
		(void)lp_s3_is_empty(c, "/b", &i1, e);
		break;
	case 13:
		(void)lp_s3_create(c, "/b", "eu-west-1", e);
		break;
	case 14:
		(void)lp_aws_error_from_response(e, 400, body, len);
		break;
	case 15:
		(void)lp_aws_xml_text(body, len, "Code", buf, sizeof(buf));
		(void)lp_aws_xml_inner(body, len, "Error", &inner, NULL);
		break;
	default: {
		char *s = lp_strndup(body, len);
		if (s)
			(void)lp_aws_parse_time(s);
		lp_free(s);
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lp_aws_endpoint ep_json, ep_s3;
	struct answer a;
	struct lp_aws_transport tr = {fake_send, &a};
	struct lp_aws_sys sys;
	struct lp_aws_client c;
	struct lp_aws_error e;
	int which;

	if (size < 3 || size > 64 * 1024)
		return 0;
	if (!ep_json.url &&
	    (lp_aws_endpoint_resolve(&ep_json, "kinesis", "us-east-1", NULL, NULL, 0) != LP_OK ||
	     lp_aws_endpoint_resolve(&ep_s3, "s3", "us-east-1", "http://127.0.0.1:9", NULL, 0) !=
	         LP_OK))
		abort();
	which = data[0] % 17;
	a.status = statuses[data[1] % (sizeof(statuses) / sizeof(statuses[0]))];
	a.region_header = data[2] & 1;
	a.body = data + 3;
	a.len = size - 3;
	lp_aws_sys_default(&sys);
	sys.transport = &tr;
	sys.now_s = fake_now;
	sys.sleep_ms = fake_sleep;
	sys.getenv = fake_getenv;
	sys.max_attempts = 1;
	memset(&c, 0, sizeof(c));
	memset(&e, 0, sizeof(e));
	c.sys = &sys;
	c.cred.access_key_id = "AKIDEXAMPLE";
	c.cred.secret_access_key = "secret";
	c.region = "us-east-1";
	if (which >= 7 && which <= 13) {
		c.ep = &ep_s3;
		c.service = "s3";
	} else if (which >= 4 && which <= 6) {
		c.ep = &ep_json;
		c.service = "sts";
	} else {
		c.ep = &ep_json;
		c.service = which == 2 ? "firehose" : which == 3 ? "logs" : "kinesis";
		c.json_prefix = which == 2   ? "Firehose_20150804"
		                : which == 3 ? "Logs_20140328"
		                             : "Kinesis_20131202";
	}
	call(which, &c, &e, (const char *)data + 3, size - 3);
	lp_aws_error_clear(&e);
	return 0;
}
