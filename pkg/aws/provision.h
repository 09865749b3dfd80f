/* The AWS reconcile step for one LogOutput, as plain functions the controller
 * calls from a worker thread (they may block on HTTP for a bounded time).
 *
 * struct lp_aws_ctx holds the seams (transport, clocks, environment), the
 * credential cache and the verification cache; it has no global state and is
 * used by one thread at a time. The verification cache remembers, per output
 * (namespace/name), the hash of everything that decides the outcome (spec and
 * credentials) and the time of the last successful check: a reconcile with the
 * same hash within verify_interval_ms returns the cached result and makes no
 * AWS call. */
#ifndef LP_AWS_PROVISION_H
#define LP_AWS_PROVISION_H
#include <stdint.h>
#include "../api/api.h"
#include "../util/clock.h"
#include "creds.h"
#include "http.h"

#define LP_AWS_MAX_EVENTS 8

struct lp_aws_result {
	struct lp_cond_report credentials; /* CredentialsResolved */
	struct lp_cond_report provisioned; /* Provisioned */
	int in_progress;                   /* target is CREATING/UPDATING: call again later */
	uint64_t requeue_after_ms;         /* when in_progress (or 0) */
	int cached;                        /* served from the verification cache (no AWS call) */
	char arn[512];                     /* stream / delivery stream / log group ARN when known */
	char stream_mode[16];              /* Kinesis: PROVISIONED | ON_DEMAND */
	char bucket_region[32];            /* S3 */
	char region[32];                   /* the target's region (status.target.region) */
	char state[32]; /* ACTIVE, CREATING, UPDATING (streams), "Available" (bucket,
	                   log group), "" when unknown (status.target.state) */
	char credentials_source[48];
	char events[LP_AWS_MAX_EVENTS][256]; /* changes made ("set retention back to 48h") */
	size_t n_events;
};

struct lp_aws_ctx_opts {
	const struct lp_aws_transport *transport;                /* NULL = libcurl */
	int64_t (*now_s)(void *seam_ctx);                        /* NULL = time() */
	void (*sleep_ms)(void *seam_ctx, uint64_t ms);           /* NULL = nanosleep */
	const char *(*getenv)(void *seam_ctx, const char *name); /* NULL = getenv */
	void *seam_ctx;
	const struct lp_clock *clock; /* monotonic, for the cache; NULL = system */
	uint64_t verify_interval_ms;  /* default 600000 (10 min) */
	uint64_t requeue_ms;          /* in-progress requeue hint, default 5000 */
	int refresh_before_s;         /* credentials refresh margin, default 300 */
	int max_attempts;             /* per AWS call, default 4 */
	uint64_t backoff_base_ms;     /* default 200 */
	uint64_t backoff_cap_ms;      /* default 5000 */
	long timeout_ms;              /* per HTTP attempt, default 10000 */
	const char *sts_endpoint;     /* STS override (else AWS_ENDPOINT_URL_STS) */
	/* per-call report for metrics, see lp_aws_sys.on_call; NULL: none */
	void (*on_call)(void *ctx, const char *service, const char *operation, long status,
	                const char *code);
	void *on_call_ctx;
};

struct lp_aws_ctx;

/* New context; opts may be NULL (all defaults). Copies what it needs from opts
 * except the borrowed transport, clock and seam_ctx. NULL on no memory. */
struct lp_aws_ctx *lp_aws_ctx_new(const struct lp_aws_ctx_opts *opts);
void lp_aws_ctx_free(struct lp_aws_ctx *ctx); /* NULL-safe */
/* Drops the cached verification of ns/name (e.g. the object was deleted). */
void lp_aws_ctx_forget(struct lp_aws_ctx *ctx, const char *ns, const char *name);
/* Credential fetches made so far (STS/IMDS/container endpoint), for tests. */
unsigned lp_aws_ctx_credential_fetches(const struct lp_aws_ctx *ctx);

/* Verifies (no provision) or creates and keeps (provision) the AWS target of o.
 * creds: keys from the Secret o references, or NULL for the chain.
 * res is always written (it is the report for status and Events). Returns
 * LP_OK when the target is verified/provisioned or still converging
 * (res->in_progress set: call again after res->requeue_after_ms), else the
 * error that stopped it (res->provisioned / res->credentials say why). */
LP_WUR lp_err lp_aws_reconcile_output(struct lp_aws_ctx *ctx, const struct lp_output *o,
                                      const struct lp_aws_secret_creds *creds,
                                      struct lp_aws_result *res);

/* Runs deletionPolicy for an output being deleted: Retain (default, and always
 * without provision) leaves the target; Delete removes it, except a bucket that
 * still holds objects (LP_ERR_IN_USE, res says so; keep the finalizer and call
 * again later). LP_OK means the finalizer may be removed. res always written. */
LP_WUR lp_err lp_aws_finalize_output(struct lp_aws_ctx *ctx, const struct lp_output *o,
                                     const struct lp_aws_secret_creds *creds,
                                     struct lp_aws_result *res);

#endif
