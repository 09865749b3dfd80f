/* pkg/reconcile/worker: one background thread for slow, blocking steps (AWS
 * calls), so the event loop never blocks. Jobs run in submission order; each
 * job's done callback runs afterwards on the loop thread.
 *
 * The run callback must not touch the loop, the Kubernetes client or anything
 * the loop thread mutates: give it copies (or reference-counted data nobody
 * changes while it runs). */
#ifndef LP_RECONCILE_WORKER_H
#define LP_RECONCILE_WORKER_H
#include <stddef.h>
#include "../util/err.h"
#include "../util/loop.h"

struct lp_worker;

typedef void (*lp_worker_run_fn)(void *arg); /* worker thread */
/* Loop thread. cancelled = 1 when the worker was freed before the job ran
 * (then run was never called). */
typedef void (*lp_worker_done_fn)(void *arg, int cancelled);

/* Starts the thread. loop borrowed (must outlive the worker). */
LP_WUR lp_err lp_worker_new(struct lp_worker **out, struct lp_loop *loop);
/* Queues a job. On failure nothing was queued and done will not run. */
LP_WUR lp_err lp_worker_submit(struct lp_worker *w, lp_worker_run_fn run, lp_worker_done_fn done,
                               void *arg);
/* Jobs queued or running, not yet reported done. */
size_t lp_worker_pending(const struct lp_worker *w);
/* Waits for the running job, then calls done for every job not reported yet
 * (cancelled = 1 for those never run), stops the thread and frees. NULL-safe.
 * Not from inside a done callback. */
void lp_worker_free(struct lp_worker *w);

#endif
