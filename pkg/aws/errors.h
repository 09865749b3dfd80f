/* AWS errors: the service's code and message kept next to the mapped lp_err,
 * and bounded exponential backoff with jitter for the retryable ones. */
#ifndef LP_AWS_ERRORS_H
#define LP_AWS_ERRORS_H
#include <stddef.h>
#include <stdint.h>
#include "../util/err.h"

struct lp_aws_error {
	lp_err err;        /* mapped error, LP_OK when none */
	long status;       /* HTTP status, 0 when no answer (transport failure) */
	char code[96];     /* AWS code ("ResourceNotFoundException"), "" when none */
	char message[768]; /* AWS message or transport error text */
	char op[64];       /* "kinesis:CreateStream" */
};

/* Maps an AWS error code (with or without a "prefix#" namespace) and the HTTP
 * status to lp_err: AccessDenied* -> FORBIDDEN, ResourceNotFound/NoSuchBucket ->
 * NOTFOUND, ResourceInUse/BucketNotEmpty -> IN_USE, LimitExceeded -> LIMIT,
 * Throttling/SlowDown/ProvisionedThroughputExceeded -> THROTTLED, 5xx -> SERVER.
 * code may be NULL or "". */
lp_err lp_aws_error_map(const char *code, long status);

/* Clears e. NULL-safe. */
void lp_aws_error_clear(struct lp_aws_error *e);
/* Sets e (first error wins: no-op when e->err is already set). Returns err. */
lp_err lp_aws_error_set(struct lp_aws_error *e, lp_err err, long status, const char *code,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Fills e from an error answer (JSON {"__type","message"} or XML <Code>/<Message>,
 * or only the status when body is empty) and returns the mapped error. */
lp_err lp_aws_error_from_response(struct lp_aws_error *e, long status, const char *body,
                                  size_t len);
/* Longest message shown (status, Events, logs), without the "..." mark. */
#define LP_AWS_ERROR_SHOW_MAX 256
/* Makes e safe to show: every occurrence of each non-empty secrets[i] (NULL
 * entries skipped) and every SigV4 "Signature=<hex>" in code and message
 * becomes "***", bytes outside printable ASCII become '?', and the message is
 * cut to LP_AWS_ERROR_SHOW_MAX bytes with "..." appended. NULL-safe. */
void lp_aws_error_scrub(struct lp_aws_error *e, const char *const *secrets, size_t n);
/* The same for one text s (NUL-terminated in a buffer of size bytes, at most
 * LP_AWS_SCRUB_MAX): every known value and SigV4 signature replaced by "***",
 * bytes outside printable ASCII by '?'; not cut. For texts built from an AWS
 * answer outside lp_aws_error (conditions, Events, ARNs, states). NULL-safe. */
#define LP_AWS_SCRUB_MAX 1024
void lp_aws_scrub_text(char *s, size_t size, const char *const *secrets, size_t n);
/* Retryable: throttling, 5xx, transport failures. */
int lp_aws_error_retryable(const struct lp_aws_error *e);

/* Delay before retry number attempt (0-based): a uniformly random value in
 * [cap/2, cap] where cap = min(cap_ms, base_ms << attempt) ("equal jitter").
 * rng is the caller's xorshift state (never 0). */
uint64_t lp_aws_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint64_t *rng);

#endif
