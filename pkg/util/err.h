/* lp_err: the one error enum of logplane (append-only, numbers never reused). */
#ifndef LP_UTIL_ERR_H
#define LP_UTIL_ERR_H

#define LP_WUR __attribute__((warn_unused_result))

typedef enum lp_err {
	LP_OK = 0,
	LP_ERR_NOMEM = 1,         /* allocation failed */
	LP_ERR_INVALID = 2,       /* bad argument or invalid input */
	LP_ERR_PARSE = 3,         /* malformed JSON / YAML / text */
	LP_ERR_NOTFOUND = 4,      /* object or file does not exist */
	LP_ERR_CONFLICT = 5,      /* 409: stale resourceVersion or already exists */
	LP_ERR_IO = 6,            /* read/write/socket failure */
	LP_ERR_HTTP = 7,          /* transport failure talking to a server */
	LP_ERR_TIMEOUT = 8,       /* operation took too long */
	LP_ERR_GONE = 9,          /* 410: watch history expired, relist */
	LP_ERR_FORBIDDEN = 10,    /* 403 / AccessDenied */
	LP_ERR_UNAUTHORIZED = 11, /* 401 / bad credentials */
	LP_ERR_THROTTLED = 12,    /* 429 / Throttling / SlowDown: retry later */
	LP_ERR_SERVER = 13,       /* 5xx: retry later */
	LP_ERR_TOO_LARGE = 14,    /* size cap exceeded */
	LP_ERR_UNSUPPORTED = 15,  /* feature or media type not supported */
	LP_ERR_AWS = 16,          /* other AWS error, code and message kept by caller */
	LP_ERR_IN_USE = 17,       /* resource busy (ResourceInUse, bucket not empty) */
	LP_ERR_LIMIT = 18,        /* quota exceeded (LimitExceeded) */
	LP_ERR_LAST               /* not an error: keep last */
} lp_err;

/* Returns a static, never-NULL description of err. */
const char *lp_strerror(lp_err err);

/* True for errors worth retrying with backoff (throttling, 5xx, transport, timeout). */
int lp_err_retryable(lp_err err);

#endif
