/* pkg/kube/client: asynchronous Kubernetes REST client on one libcurl multi
 * handle driven by an lp_loop. Keep-alive, HTTP/2 over TLS when offered, bearer
 * token from lp_kube_config (re-read on its TTL), TLS verification always on.
 *
 * Retries: transport errors, 429 and 5xx are retried with exponential backoff
 * and jitter (base 250 ms, cap 30 s), honouring Retry-After (seconds), up to
 * max_attempts (default 5). Watches (streaming requests) are never retried here:
 * the informer resumes them.
 *
 * Threading: single-threaded, on the loop's thread. Callbacks (completion and
 * streaming data) run from the loop, never from inside libcurl, so they may start
 * and cancel other calls; they must not block. */
#ifndef LP_KUBE_CLIENT_H
#define LP_KUBE_CLIENT_H
#include <stddef.h>
#include <stdint.h>
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/loop.h"
#include "config.h"

struct lp_kube_client;
struct lp_kube_call; /* one in-flight request; owned by the client */

/* What a finished request gave. Passed borrowed to the completion callback. */
struct lp_kube_resp {
	long status;         /* HTTP status; 0 when no response (transport error) */
	lp_err err;          /* LP_OK for 2xx; else mapped from the Status / transport */
	struct lp_buf body;  /* response body (for streaming calls: only a non-2xx body);
	                        the callback may lp_buf_take() it */
	const char *reason;  /* Status "reason" ("AlreadyExists", "Conflict"...) or "" */
	const char *message; /* Status "message", or a transport error text, or "" */
	int attempts;        /* how many times it was sent */
};

/* Completion: called exactly once per successfully started request (also when
 * it is cancelled by lp_kube_client_free: then err is LP_ERR_IO, status 0, and
 * the callback must not start new requests). The call handle is invalid after. */
typedef void (*lp_kube_done_cb)(void *arg, struct lp_kube_resp *resp);
/* Streaming data of a 2xx response, as it arrives (any split). Return 0 to go
 * on, non-zero to abort the call (it then completes with LP_ERR_IO). */
typedef int (*lp_kube_data_cb)(void *arg, const char *data, size_t len);

struct lp_kube_req {
	const char *method;       /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *path;         /* "/api/v1/...?query", already escaped */
	const char *content_type; /* for a body; default "application/json" */
	const char *body;         /* borrowed until the call is started (copied) */
	size_t body_len;
	int max_attempts;        /* 0 = default (5); 1 = no retry */
	long timeout_ms;         /* whole request; 0 = default (30 s) */
	lp_kube_data_cb on_data; /* non-NULL: streaming (watch), not retried */
	const char *verb;        /* metrics label override ("LIST", "WATCH"); NULL = method */
};

/* Counters for /metrics. */
#define LP_KUBE_STATS_ROWS 48
struct lp_kube_stats_row {
	char verb[8]; /* "GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "DELETE" */
	int code;     /* HTTP status, 0 = transport error */
	uint64_t n;
};
struct lp_kube_stats {
	struct lp_kube_stats_row rows[LP_KUBE_STATS_ROWS]; /* first nrows used */
	size_t nrows;
	uint64_t requests; /* every attempt sent */
	uint64_t retries;  /* attempts after the first */
	uint64_t inflight;
};

/* New client in *out. loop and cfg are borrowed and must outlive the client
 * (cfg is mutated only by the token re-read). */
LP_WUR lp_err lp_kube_client_new(struct lp_kube_client **out, struct lp_loop *loop,
                                 struct lp_kube_config *cfg);
/* Cancels every call (their callbacks run with LP_ERR_IO) and frees. NULL-safe. */
void lp_kube_client_free(struct lp_kube_client *c);

/* Starts a request; cb(arg, resp) runs later from the loop, never from inside
 * this call. *call (optional) gets a handle for lp_kube_call_cancel. On failure
 * nothing was started and cb will not run. */
LP_WUR lp_err lp_kube_call_start(struct lp_kube_client *c, const struct lp_kube_req *req,
                                 lp_kube_done_cb cb, void *arg, struct lp_kube_call **call);
/* Cancels a pending call: its callback does NOT run. The handle is invalid
 * after. Must not be called from that call's own callbacks. */
void lp_kube_call_cancel(struct lp_kube_client *c, struct lp_kube_call *call);

/* Synchronous request for start-up code and tests: runs the loop until done or
 * timeout. Never call from a loop callback. On LP_OK (the request completed,
 * whatever its status) *out is filled: free it with lp_kube_resp_free.
 * The returned lp_err is the request's error (out->err) or a local failure. */
LP_WUR lp_err lp_kube_call_sync(struct lp_kube_client *c, const struct lp_kube_req *req,
                                struct lp_kube_resp *out);
/* Frees what lp_kube_call_sync filled. NULL-safe. */
void lp_kube_resp_free(struct lp_kube_resp *r);

const struct lp_kube_stats *lp_kube_client_stats(const struct lp_kube_client *c);
struct lp_loop *lp_kube_client_loop(const struct lp_kube_client *c);
/* curl's text for the last TLS failure talking to the API server (certificate
 * not verified, bad CA file, handshake), "" once a request got an answer. */
const char *lp_kube_client_tls_error(const struct lp_kube_client *c);

/* ---- pieces exposed for unit tests ---- */

/* Maps an HTTP status and optional Status JSON body to lp_err, and copies the
 * Status reason/message (or "") into reason/message (may be NULL). */
lp_err lp_kube_status_to_err(long status, const char *body, size_t len, struct lp_buf *reason,
                             struct lp_buf *message);
/* Retry delay for attempt n (1 = first retry): retry_after_s >= 0 wins (capped
 * at cap_ms); else d = min(cap_ms, base_ms << (n-1)) and the delay is uniform
 * in [d/2, d] using rnd (any 32-bit random value). */
uint64_t lp_kube_backoff_ms(int n, uint64_t base_ms, uint64_t cap_ms, long retry_after_s,
                            uint32_t rnd);

#endif
