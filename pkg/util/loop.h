/* lp_loop: one small epoll event loop (after Redis' ae): fd watches and timers
 * whose callback returns the next delay. Single-threaded: every function must be
 * called from the thread that runs the loop (or before it runs). No globals.
 *
 * Signals: block them with sigprocmask and watch a signalfd(2) like any fd.
 *
 * Callbacks may add or remove any watch or timer, including their own; a removed
 * watch or timer is never called again, even later in the same iteration. */
#ifndef LP_UTIL_LOOP_H
#define LP_UTIL_LOOP_H
#include <stdint.h>
#include "clock.h"
#include "err.h"

struct lp_loop;
struct lp_loop_fd;    /* an fd watch; owned by the loop */
struct lp_loop_timer; /* a timer; owned by the loop */

#define LP_LOOP_READ  1u
#define LP_LOOP_WRITE 2u
#define LP_LOOP_ERROR 4u /* error or hang-up (reported whatever was asked) */

/* Called with the events that are ready (LP_LOOP_* bits). */
typedef void (*lp_loop_fd_cb)(struct lp_loop *loop, int fd, unsigned events, void *arg);
/* Returns the delay in ms until the next call, or a negative value to stop:
 * the timer is then released (its handle becomes invalid). */
typedef int64_t (*lp_loop_timer_cb)(struct lp_loop *loop, void *arg);

/* New loop in *out. clock: monotonic clock for timers, NULL = lp_clock_system
 * (borrowed, must outlive the loop). */
LP_WUR lp_err lp_loop_new(struct lp_loop **out, const struct lp_clock *clock);
/* Frees the loop and every remaining watch and timer (their args are not
 * touched; fds are not closed). NULL-safe. */
void lp_loop_free(struct lp_loop *loop);

/* Watches fd for events (LP_LOOP_READ|WRITE). The fd stays owned by the caller;
 * remove the watch before closing it. *out (optional) gets the handle.
 * LP_ERR_INVALID if fd is already watched. */
LP_WUR lp_err lp_loop_fd_add(struct lp_loop *loop, int fd, unsigned events, lp_loop_fd_cb cb,
                             void *arg, struct lp_loop_fd **out);
/* Changes the events of a watch. */
LP_WUR lp_err lp_loop_fd_set(struct lp_loop *loop, struct lp_loop_fd *w, unsigned events);
/* Removes and releases a watch; NULL-safe. */
void lp_loop_fd_del(struct lp_loop *loop, struct lp_loop_fd *w);

/* Calls cb after delay_ms (>= 0). *out (optional) gets the handle, valid until
 * cb returns a negative value or lp_loop_timer_del. */
LP_WUR lp_err lp_loop_timer_add(struct lp_loop *loop, int64_t delay_ms, lp_loop_timer_cb cb,
                                void *arg, struct lp_loop_timer **out);
/* Re-arms a pending timer to fire delay_ms from now. No effect from inside the
 * timer's own callback: there its return value decides. */
void lp_loop_timer_set(struct lp_loop *loop, struct lp_loop_timer *t, int64_t delay_ms);
/* Cancels and releases a timer; NULL-safe (also from inside its own callback:
 * its return value is then ignored). */
void lp_loop_timer_del(struct lp_loop *loop, struct lp_loop_timer *t);

/* Runs until lp_loop_stop() or until nothing is left to wait for.
 * LP_ERR_IO when epoll fails. */
LP_WUR lp_err lp_loop_run(struct lp_loop *loop);
/* Runs one iteration, waiting at most timeout_ms (-1 = until something
 * happens). Returns LP_ERR_IO when epoll fails. */
LP_WUR lp_err lp_loop_run_once(struct lp_loop *loop, int64_t timeout_ms);
/* Runs until *flag becomes non-zero, lp_loop_stop(), or timeout_ms elapses
 * (LP_ERR_TIMEOUT). For start-up code and tests only: never from a callback. */
LP_WUR lp_err lp_loop_run_until(struct lp_loop *loop, const int *flag, int64_t timeout_ms);
/* Makes lp_loop_run return after the current iteration. */
void lp_loop_stop(struct lp_loop *loop);
/* The loop's clock, in ms. */
uint64_t lp_loop_now_ms(const struct lp_loop *loop);

#endif
