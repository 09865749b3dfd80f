#include "errors.h"
#include "xml.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct code_map {
	const char *code;
	lp_err err;
};

static const struct code_map codes[] = {
    {"AccessDenied", LP_ERR_FORBIDDEN},
    {"AccessDeniedException", LP_ERR_FORBIDDEN},
    {"AuthorizationError", LP_ERR_FORBIDDEN},
    {"UnauthorizedOperation", LP_ERR_FORBIDDEN},
    {"AllAccessDisabled", LP_ERR_FORBIDDEN},
    {"InvalidClientTokenId", LP_ERR_UNAUTHORIZED},
    {"UnrecognizedClientException", LP_ERR_UNAUTHORIZED},
    {"SignatureDoesNotMatch", LP_ERR_UNAUTHORIZED},
    {"InvalidSignatureException", LP_ERR_UNAUTHORIZED},
    {"InvalidAccessKeyId", LP_ERR_UNAUTHORIZED},
    {"ExpiredToken", LP_ERR_UNAUTHORIZED},
    {"ExpiredTokenException", LP_ERR_UNAUTHORIZED},
    {"IncompleteSignature", LP_ERR_UNAUTHORIZED},
    {"MissingAuthenticationToken", LP_ERR_UNAUTHORIZED},
    {"InvalidIdentityToken", LP_ERR_UNAUTHORIZED},
    {"ResourceNotFoundException", LP_ERR_NOTFOUND},
    {"ResourceNotFound", LP_ERR_NOTFOUND},
    {"NoSuchBucket", LP_ERR_NOTFOUND},
    {"NoSuchKey", LP_ERR_NOTFOUND},
    {"NoSuchLifecycleConfiguration", LP_ERR_NOTFOUND},
    {"NoSuchTagSet", LP_ERR_NOTFOUND},
    {"NoSuchTagSetError", LP_ERR_NOTFOUND},
    {"NoSuchPublicAccessBlockConfiguration", LP_ERR_NOTFOUND},
    {"ServerSideEncryptionConfigurationNotFoundError", LP_ERR_NOTFOUND},
    {"NoSuchEntity", LP_ERR_NOTFOUND},
    {"NotFound", LP_ERR_NOTFOUND},
    {"ResourceInUseException", LP_ERR_IN_USE},
    {"ResourceInUse", LP_ERR_IN_USE},
    {"BucketNotEmpty", LP_ERR_IN_USE},
    {"OperationAbortedException", LP_ERR_IN_USE},
    {"OperationAborted", LP_ERR_IN_USE},
    {"LimitExceededException", LP_ERR_LIMIT},
    {"LimitExceeded", LP_ERR_LIMIT},
    {"TooManyBuckets", LP_ERR_LIMIT},
    {"Throttling", LP_ERR_THROTTLED},
    {"ThrottlingException", LP_ERR_THROTTLED},
    {"ThrottledException", LP_ERR_THROTTLED},
    {"SlowDown", LP_ERR_THROTTLED},
    {"ProvisionedThroughputExceededException", LP_ERR_THROTTLED},
    {"RequestLimitExceeded", LP_ERR_THROTTLED},
    {"TooManyRequestsException", LP_ERR_THROTTLED},
    {"RequestThrottled", LP_ERR_THROTTLED},
    {"RequestThrottledException", LP_ERR_THROTTLED},
    {"BucketAlreadyExists", LP_ERR_CONFLICT},
    {"BucketAlreadyOwnedByYou", LP_ERR_CONFLICT},
    {"ResourceAlreadyExistsException", LP_ERR_CONFLICT},
    {"ValidationException", LP_ERR_INVALID},
    {"InvalidArgumentException", LP_ERR_INVALID},
    {"InvalidArgument", LP_ERR_INVALID},
    {"InvalidParameterValue", LP_ERR_INVALID},
    {"InvalidParameterException", LP_ERR_INVALID},
    {"InvalidParameterCombination", LP_ERR_INVALID},
    {"MalformedXML", LP_ERR_INVALID},
    {"InvalidBucketName", LP_ERR_INVALID},
    {"IllegalLocationConstraintException", LP_ERR_INVALID},
    {"InvalidLocationConstraint", LP_ERR_INVALID},
    {"SerializationException", LP_ERR_INVALID},
    {"NotImplemented", LP_ERR_UNSUPPORTED},
    {"UnknownOperationException", LP_ERR_UNSUPPORTED},
    {"InvalidAction", LP_ERR_UNSUPPORTED},
    {"InternalFailure", LP_ERR_SERVER},
    {"InternalError", LP_ERR_SERVER},
    {"InternalServerError", LP_ERR_SERVER},
    {"ServiceUnavailable", LP_ERR_SERVER},
    {"ServiceUnavailableException", LP_ERR_SERVER},
    {"ServiceFailure", LP_ERR_SERVER},
};

lp_err lp_aws_error_map(const char *code, long status)
{
	if (code && *code) {
		const char *hash = strrchr(code, '#');
		const char *colon;
		char tmp[96];
		size_t n;

		if (hash)
			code = hash + 1;
		/* "ResourceNotFoundException:http://internal..." (some JSON services) */
		colon = strchr(code, ':');
		n = colon ? (size_t)(colon - code) : strlen(code);
		if (n >= sizeof(tmp))
			n = sizeof(tmp) - 1;
		memcpy(tmp, code, n);
		tmp[n] = '\0';
		for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
			if (strcmp(codes[i].code, tmp) == 0)
				return codes[i].err;
	}
	if (status >= 500)
		return LP_ERR_SERVER;
	switch (status) {
	case 429:
		return LP_ERR_THROTTLED;
	case 401:
		return LP_ERR_UNAUTHORIZED;
	case 403:
		return LP_ERR_FORBIDDEN;
	case 404:
		return LP_ERR_NOTFOUND;
	case 409:
		return LP_ERR_CONFLICT;
	default:
		return LP_ERR_AWS;
	}
}

void lp_aws_error_clear(struct lp_aws_error *e)
{
	if (e)
		memset(e, 0, sizeof(*e));
}

lp_err lp_aws_error_set(struct lp_aws_error *e, lp_err err, long status, const char *code,
                        const char *fmt, ...)
{
	va_list ap;

	if (!e || e->err)
		return err;
	e->err = err;
	e->status = status;
	snprintf(e->code, sizeof(e->code), "%s", code ? code : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return err;
}

/* Replaces every occurrence of what in s[size] by "***" (cut at size). */
static void replace_all(char *s, size_t size, const char *what)
{
	char tmp[LP_AWS_SCRUB_MAX];
	size_t wl = strlen(what), o = 0;
	const char *p = s, *hit;

	if (!wl || size > sizeof(tmp) || !strstr(s, what))
		return;
	while ((hit = strstr(p, what)) && o + 1 < size) {
		o += (size_t)snprintf(tmp + o, size - o, "%.*s***", (int)(hit - p), p);
		p = hit + wl;
	}
	if (o + 1 < size)
		snprintf(tmp + o, size - o, "%s", p);
	memcpy(s, tmp, size);
	s[size - 1] = '\0';
}

/* Cuts "Signature=<hex>" down to "Signature=***" and non-printable bytes to '?'. */
static void sanitise(char *s)
{
	char *p = s;

	for (char *q = s; *q; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
			*q = '?';
	while ((p = strstr(p, "Signature="))) {
		char *h = p + strlen("Signature="), *end = h;
		while (strchr("0123456789abcdefABCDEF", *end) && *end)
			end++;
		if (end - h >= 3) {
			memcpy(h, "***", 3);
			memmove(h + 3, end, strlen(end) + 1);
		}
		p = h;
	}
}

lp_err lp_aws_error_from_response(struct lp_aws_error *e, long status, const char *body, size_t len)
{
	char code[96] = "", msg[768] = "";
	const char *c;
	lp_err err;

	while (len && body && (*body == ' ' || *body == '\n' || *body == '\r')) {
		body++;
		len--;
	}
	if (len && body[0] == '{') {
		json_t *j = json_loadb(body, len, 0, NULL);
		if (j) {
			const char *t = json_string_value(json_object_get(j, "__type"));
			const char *m = json_string_value(json_object_get(j, "message"));
			if (!m)
				m = json_string_value(json_object_get(j, "Message"));
			if (!t)
				t = json_string_value(json_object_get(j, "code"));
			snprintf(code, sizeof(code), "%s", t ? t : "");
			snprintf(msg, sizeof(msg), "%s", m ? m : "");
			json_decref(j);
		}
	} else if (len && body[0] == '<') {
		lp_aws_xml_text(body, len, "Code", code, sizeof(code));
		lp_aws_xml_text(body, len, "Message", msg, sizeof(msg));
	}
	c = strrchr(code, '#');
	if (c)
		memmove(code, c + 1, strlen(c + 1) + 1);
	err = lp_aws_error_map(code, status);
	/* Kinesis answers control-plane rate limits with LimitExceededException. */
	if (err == LP_ERR_LIMIT && strstr(msg, "Rate exceeded"))
		err = LP_ERR_THROTTLED;
	if (!msg[0])
		snprintf(msg, sizeof(msg), "HTTP status %ld", status);
	if (e && !e->err) {
		lp_aws_error_set(e, err, status, code[0] ? code : NULL, "%s", msg);
		sanitise(e->message); /* cut to length only once the caller scrubbed */
		sanitise(e->code);
	}
	return err;
}

/* A body cut at the message size may end in the first bytes of a secret. */
static void cut_prefix_at_end(char *s, const char *secret)
{
	size_t sl = strlen(s), wl = strlen(secret);

	for (size_t k = wl - 1; k >= 4; k--)
		if (k <= sl && memcmp(s + sl - k, secret, k) == 0) {
			memcpy(s + sl - k, "***", 4);
			return;
		}
}

void lp_aws_error_scrub(struct lp_aws_error *e, const char *const *secrets, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!secrets[i] || !secrets[i][0])
			continue;
		replace_all(e->message, sizeof(e->message), secrets[i]);
		replace_all(e->code, sizeof(e->code), secrets[i]);
		cut_prefix_at_end(e->message, secrets[i]);
	}
	sanitise(e->message);
	sanitise(e->code);
	if (strlen(e->message) > LP_AWS_ERROR_SHOW_MAX)
		memcpy(e->message + LP_AWS_ERROR_SHOW_MAX, "...", 4);
}

void lp_aws_scrub_text(char *s, size_t size, const char *const *secrets, size_t n)
{
	if (!s || !size)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!secrets[i] || !secrets[i][0])
			continue;
		replace_all(s, size, secrets[i]);
		cut_prefix_at_end(s, secrets[i]);
	}
	sanitise(s);
}

int lp_aws_error_retryable(const struct lp_aws_error *e)
{
	return e && lp_err_retryable(e->err);
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

uint64_t lp_aws_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint64_t *rng)
{
	uint64_t cap = base_ms;

	for (unsigned i = 0; i < attempt && cap < cap_ms; i++)
		cap *= 2;
	if (cap > cap_ms)
		cap = cap_ms;
	if (cap < 2)
		return cap;
	return cap / 2 + xorshift(rng) % (cap / 2 + 1);
}
