/* pkg/api/check: the "safe string" checker and Oniguruma regex checks shared by
 * the parser (and usable by the renderer as a last line of defence).
 *
 * Every user string that ends up in a rendered config belongs to one class;
 * the class decides the allowed characters and shape. All classes reject NUL,
 * control characters (C0, DEL, C1, U+2028/U+2029), invalid UTF-8, "${" (Fluent
 * Bit environment expansion) and "#{" (Fluentd Ruby interpolation).
 */
#ifndef LP_API_CHECK_H
#define LP_API_CHECK_H
#include <stddef.h>
#include "../util/err.h"

enum lp_str_class {
	LP_STR_TEXT = 0,      /* free text: also no leading '@' or '[' */
	LP_STR_DNS_LABEL,     /* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63 */
	LP_STR_DNS_SUBDOMAIN, /* dot-separated DNS labels, <= 253 */
	LP_STR_SECRET_KEY,    /* key of a Secret's data: [-._a-zA-Z0-9]+ */
	LP_STR_FIELD, /* record key: [A-Za-z0-9_@][A-Za-z0-9_./-]* (dots address nested maps) */
	LP_STR_REGEX, /* regex text: printable; checked with Oniguruma separately */
	LP_STR_HOST,  /* host name, IPv4 or IPv6 literal */
	LP_STR_PATH,  /* absolute host path glob: letters, digits, -_./?* and [] classes, no ".." */
	LP_STR_URI,   /* URI path: starts with '/', no spaces, no braces */
	LP_STR_AWS_NAME,    /* Kinesis / Firehose stream name: [A-Za-z0-9_.-]+ */
	LP_STR_BUCKET,      /* S3 bucket name: [a-z0-9][a-z0-9.-]+[a-z0-9], 3..63 */
	LP_STR_LOG_GROUP,   /* CloudWatch log group / stream prefix: [.-_/#A-Za-z0-9]+ */
	LP_STR_ARN,         /* arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE */
	LP_STR_REGION,      /* AWS region: us-east-1, eu-central-2, us-gov-west-1 */
	LP_STR_URL,         /* http(s)://host[:port][/path] */
	LP_STR_TOKEN,       /* simple token: [A-Za-z0-9_.-]+ (topics, tenant ids, classes) */
	LP_STR_LABEL_KEY,   /* Kubernetes label key: [prefix/]name */
	LP_STR_LABEL_VALUE, /* Kubernetes label value (may be empty) */
	LP_STR_S3_KEY,      /* s3 key format: starts with '/', printable, no spaces */
	LP_STR_HEADER_NAME, /* HTTP header field name (RFC 9110 token) */
	LP_STR_BROKER,      /* host:port */
	LP_STR_KMS_KEY,     /* KMS key id, alias/..., or ARN */
	LP_STR_CLASS_COUNT
};

/* Checks s (len bytes, may contain NUL) against class c and max_len (0 = the
 * class's own limit). Returns NULL when fine, else a static message
 * ("must not contain a newline or control character", ...). */
const char *lp_check_string(const char *s, size_t len, enum lp_str_class c, size_t max_len);

/* Compiles pattern with Oniguruma (Ruby syntax, UTF-8, as Fluent Bit does).
 * On success returns LP_OK and, when names is non-NULL, sets *names to a
 * newly allocated "\0"-separated list of the named groups ending with an
 * empty string (free with lp_free), or NULL when there are none. On a bad
 * pattern returns LP_ERR_INVALID and writes into why (size whysz)
 * "invalid regular expression at offset N: <oniguruma message>".
 * LP_ERR_NOMEM on allocation failure. */
LP_WUR lp_err lp_regex_check(const char *pattern, char **names, char *why, size_t whysz);

/* 1 when the "\0"-separated list from lp_regex_check contains name. */
int lp_regex_names_has(const char *names, const char *name);

#endif
