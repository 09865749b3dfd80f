/* The AWS transport seam and the three wire protocols.
 *
 * struct lp_aws_transport is a one-function vtable (tests inject their own or
 * wrap the libcurl one to count calls). struct lp_aws_sys bundles every seam the
 * AWS code touches (transport, wall clock, sleep, environment, jitter state,
 * retry policy); it is owned by the caller and used by one thread at a time.
 * struct lp_aws_client is one service endpoint with signing credentials; its
 * calls sign with SigV4 (re-signed on every attempt) and retry retryable
 * failures with bounded exponential backoff and jitter. */
#ifndef LP_AWS_HTTP_H
#define LP_AWS_HTTP_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "../util/buf.h"
#include "endpoints.h"
#include "errors.h"
#include "sigv4.h"

struct lp_aws_http_req {
	const char *method;
	const char *url; /* full URL with path and query */
	const struct lp_sigv4_hdr *headers;
	size_t n_headers;
	const void *body;
	size_t body_len;
	long timeout_ms; /* whole request; connect gets at most half of it */
};

struct lp_aws_http_resp {
	long status;
	struct lp_buf body;
	struct lp_buf headers; /* raw "Name: value\r\n" lines of the final answer */
};

void lp_aws_http_resp_init(struct lp_aws_http_resp *r);
void lp_aws_http_resp_free(struct lp_aws_http_resp *r); /* NULL-safe */
/* Copies the value of header name (case-insensitive) into out[outlen];
 * returns 1 when present. */
int lp_aws_http_resp_header(const struct lp_aws_http_resp *r, const char *name, char *out,
                            size_t outlen);

struct lp_aws_transport {
	/* Sends req; on an HTTP answer (any status) fills resp and returns LP_OK.
	 * On transport failure returns LP_ERR_HTTP / LP_ERR_TIMEOUT with a reason
	 * in errbuf. */
	lp_err (*send)(void *ctx, const struct lp_aws_http_req *req, struct lp_aws_http_resp *resp,
	               char *errbuf, size_t errlen);
	void *ctx;
};

/* The libcurl transport (a new easy handle per request, no shared state). */
extern const struct lp_aws_transport lp_aws_transport_curl;

struct lp_aws_sys {
	const struct lp_aws_transport *transport; /* borrowed, required */
	int64_t (*now_s)(void *ctx);              /* wall clock, Unix seconds */
	void (*sleep_ms)(void *ctx, uint64_t ms);
	const char *(*getenv)(void *ctx, const char *name);
	void *ctx;
	uint64_t rng;     /* jitter state */
	int max_attempts; /* per call, >= 1 */
	uint64_t backoff_base_ms;
	uint64_t backoff_cap_ms;
	long timeout_ms; /* per attempt */
	/* Called after every attempt of a signed call, on the calling thread, for
	 * metrics: service (signing name: "kinesis", "s3", ...), operation
	 * ("PutRecords", "HeadBucket"; the HTTP method when unnamed), the HTTP
	 * status (0 when no answer came) and the AWS error code of an error
	 * answer ("" otherwise). NULL: none. */
	void (*on_call)(void *ctx, const char *service, const char *operation, long status,
	                const char *code);
	void *on_call_ctx;
};

/* Fills sys with the real seams: curl, time(), nanosleep, getenv; 4 attempts,
 * backoff 200 ms doubling to 5 s, 10 s per attempt. */
void lp_aws_sys_default(struct lp_aws_sys *sys);
int64_t lp_aws_sys_now(const struct lp_aws_sys *sys);
const char *lp_aws_sys_getenv(const struct lp_aws_sys *sys, const char *name);

struct lp_aws_signer { /* borrowed strings; key id NULL = unsigned request */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
};

struct lp_aws_client {
	struct lp_aws_sys *sys;           /* borrowed */
	const struct lp_aws_endpoint *ep; /* borrowed */
	struct lp_aws_signer cred;
	const char *service;     /* signing name */
	const char *region;      /* signing region */
	const char *json_prefix; /* "Kinesis_20131202" for JSON calls */
};

/* Raw signed request with retries: path is URI-encoded, query canonical-ready
 * (may be NULL). An answer with status >= 300 becomes an error in e (code and
 * message parsed from the body) and the mapped lp_err is returned; resp then
 * still holds the answer. */
LP_WUR lp_err lp_aws_request(struct lp_aws_client *c, const char *method, const char *path,
                             const char *query, const struct lp_sigv4_hdr *extra, size_t n_extra,
                             const void *body, size_t body_len, struct lp_aws_http_resp *resp,
                             struct lp_aws_error *e);

/* JSON protocol: POST / with X-Amz-Target: json_prefix.op and
 * application/x-amz-json-1.1. req is borrowed (NULL = {}); *out (may be NULL)
 * receives a new reference to the parsed answer on success. */
LP_WUR lp_err lp_aws_json_call(struct lp_aws_client *c, const char *op, json_t *req, json_t **out,
                               struct lp_aws_error *e);

/* lp_aws_json_call for a request built just for this call: req is stolen
 * (released here); NULL req (a failed json_pack) is reported as no memory. */
LP_WUR lp_err lp_aws_json_send(struct lp_aws_client *c, const char *op, json_t *req, json_t **out,
                               struct lp_aws_error *e);

/* A new copy of o[k] when it is a string, else of "" (NULL on no memory). */
char *lp_aws_json_strdup(json_t *o, const char *k);

/* Query protocol (STS): POST / form-encoded body built from the NULL-terminated
 * key, value, key, value... list (values encoded here). resp gets the answer. */
LP_WUR lp_err lp_aws_query_call(struct lp_aws_client *c, const char *const *kv,
                                struct lp_aws_http_resp *resp, struct lp_aws_error *e);

#endif
