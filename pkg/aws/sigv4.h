/* AWS Signature Version 4 (header form), computed with OpenSSL HMAC/SHA-256.
 *
 * Canonicalisation follows the published rules and the aws-sig-v4-test-suite:
 * the path is normalised (dot segments, repeated slashes) and URI-encoded once
 * more for every service except S3 (S3: decoded then encoded exactly once, no
 * normalisation); query parameters are decoded, RFC 3986-encoded, given "=" when
 * bare and sorted by key then value; header names are lower-cased, values
 * trimmed with inner runs of spaces collapsed, repeated names joined with ",". */
#ifndef LP_AWS_SIGV4_H
#define LP_AWS_SIGV4_H
#include <stddef.h>
#include <time.h>
#include "../util/buf.h"
#include "../util/err.h"

struct lp_sigv4_hdr {
	const char *name;
	const char *value;
};

struct lp_sigv4_input {
	const char *method;
	const char *path;                   /* as sent on the wire, "/" when NULL or empty */
	const char *query;                  /* without '?', may be NULL */
	const struct lp_sigv4_hdr *headers; /* every header to sign, Host included */
	size_t n_headers;
	const void *body;
	size_t body_len;
	const char *payload_hash; /* NULL: SHA-256 of body; or e.g. "UNSIGNED-PAYLOAD" */
	const char *region;
	const char *service;  /* signing name: "kinesis", "s3", "sts", "logs", "firehose" */
	const char *amz_date; /* "20150830T123600Z" (the X-Amz-Date header value) */
	const char *access_key_id;
	const char *secret_access_key;
	int s3; /* S3 path rules */
};

struct lp_sigv4_output { /* all owned, free with lp_sigv4_output_free */
	char *canonical_request;
	char *string_to_sign;
	char *signature;     /* 64 hex chars */
	char *authorization; /* value of the Authorization header */
};

/* Signs in. On success fills *out (caller frees with lp_sigv4_output_free);
 * on failure *out is untouched. LP_ERR_INVALID when a required member is NULL. */
LP_WUR lp_err lp_sigv4_sign(struct lp_sigv4_output *out, const struct lp_sigv4_input *in);
void lp_sigv4_output_free(struct lp_sigv4_output *out); /* NULL-safe */

/* Hex SHA-256 of data into hex[65]. */
void lp_sigv4_sha256_hex(const void *data, size_t len, char hex[65]);
/* "YYYYMMDDTHHMMSSZ" for t (UTC) into out[17]. */
void lp_sigv4_amz_date(time_t t, char out[17]);
/* Appends s[0..len) RFC 3986-encoded (unreserved A-Z a-z 0-9 - . _ ~ kept; '/'
 * kept too when keep_slash). Upper-case hex. */
LP_WUR lp_err lp_aws_uri_encode(struct lp_buf *b, const char *s, size_t len, int keep_slash);
/* Appends s[0..len) percent-decoded ('+' stays '+'). */
LP_WUR lp_err lp_aws_uri_decode(struct lp_buf *b, const char *s, size_t len);

#endif
