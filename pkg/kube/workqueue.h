/* pkg/kube/workqueue: de-duplicating work queue of string keys.
 *
 * - add(key): the key becomes due debounce_ms later; adding it again before
 *   then is coalesced (the due time never moves later, so bursts cannot starve
 *   it). A key added while it is being processed is re-queued after done().
 * - done(key, err): err == LP_OK forgets the key's failures; any error re-queues
 *   it after base * 2^(failures-1) ms (capped), unless it was added meanwhile
 *   (then the earlier of the two times wins).
 * - At most max_inflight keys are processed at once (default 1).
 * - Bounded: at most max_keys queued keys (LP_ERR_LIMIT beyond).
 * - Memory: add() takes what the key needs (LP_ERR_NOMEM leaves the queue as
 *   it was); done() allocates nothing, so a retry is never lost for memory.
 *
 * With a loop, a timer dispatches due keys; without one (tests), call
 * lp_kube_wq_poll() with a fake clock. Loop thread only. */
#ifndef LP_KUBE_WORKQUEUE_H
#define LP_KUBE_WORKQUEUE_H
#include <stddef.h>
#include <stdint.h>
#include "../util/clock.h"
#include "../util/err.h"
#include "../util/loop.h"

struct lp_kube_wq;

/* Called for a due key (borrowed, valid until done()). The owner must call
 * lp_kube_wq_done(wq, key, err) exactly once for it, from inside this call or
 * later (after an async reconcile). */
typedef void (*lp_kube_wq_fn)(void *arg, struct lp_kube_wq *wq, const char *key);

struct lp_kube_wq_opts {
	uint64_t debounce_ms;         /* default 100 (0 here means default; use 1 for ~none) */
	uint64_t backoff_base_ms;     /* default 200 */
	uint64_t backoff_cap_ms;      /* default 60000 */
	size_t max_keys;              /* default 100000 */
	unsigned max_inflight;        /* default 1 */
	const struct lp_clock *clock; /* default: the loop's clock, else lp_clock_system */
};

/* New queue. loop may be NULL (then use lp_kube_wq_poll). opts may be NULL. */
LP_WUR lp_err lp_kube_wq_new(struct lp_kube_wq **out, struct lp_loop *loop,
                             const struct lp_kube_wq_opts *opts, lp_kube_wq_fn fn, void *arg);
/* NULL-safe; keys in flight are dropped (done() must not be called after). */
void lp_kube_wq_free(struct lp_kube_wq *wq);

/* Queues key (copied). LP_ERR_LIMIT when full, LP_ERR_NOMEM. */
LP_WUR lp_err lp_kube_wq_add(struct lp_kube_wq *wq, const char *key);
/* Queues key to be due after delay_ms (no debounce added), e.g. a periodic
 * resync; coalesced like add(). */
LP_WUR lp_err lp_kube_wq_add_after(struct lp_kube_wq *wq, const char *key, uint64_t delay_ms);
/* Reports the end of processing of key (see above). Unknown keys are ignored. */
void lp_kube_wq_done(struct lp_kube_wq *wq, const char *key, lp_err err);
/* Removes a queued (not in-flight) key and forgets its failures. */
void lp_kube_wq_forget(struct lp_kube_wq *wq, const char *key);

/* Dispatches every due key (respecting max_inflight). Returns the ms until the
 * next key is due, or -1 when none is waiting. */
int64_t lp_kube_wq_poll(struct lp_kube_wq *wq);

size_t lp_kube_wq_len(const struct lp_kube_wq *wq); /* queued, not in flight */
size_t lp_kube_wq_inflight(const struct lp_kube_wq *wq);
/* Failures recorded for key (0 when none). */
unsigned lp_kube_wq_failures(const struct lp_kube_wq *wq, const char *key);
/* Backoff after the n-th consecutive failure: min(cap, base << (n-1)). */
uint64_t lp_kube_wq_backoff_ms(const struct lp_kube_wq *wq, unsigned n);

#endif
