/* pkg/reconcile/debounce: when to rebuild the configuration after changes.
 *
 * Leading edge for a lone change, trailing edge for a burst:
 * - a change that comes at least gap_ms after the previous one, while no
 *   configuration is being applied, is lone: it runs at once;
 * - a change within gap_ms of the previous one, or while a configuration is
 *   being applied, makes the pending changes a burst: they are merged into one
 *   trailing run once no change came for quiet_ms, but no later than
 *   max_wait_ms after the first of them (a steady stream cannot starve it).
 *
 * Pure and clock-free: the caller passes monotonic milliseconds. */
#ifndef LP_RECONCILE_DEBOUNCE_H
#define LP_RECONCILE_DEBOUNCE_H
#include <stdint.h>

#define LP_DEBOUNCE_GAP_MS 50u /* default gap_ms (at most quiet_ms) */

struct lp_debounce {
	uint64_t quiet_ms, gap_ms, max_wait_ms;
	int dirty;               /* changes not yet taken by a run */
	int lone;                /* ...and they are one lone change */
	int any;                 /* a change was ever seen (last_change_ms valid) */
	uint64_t dirty_since_ms; /* first change not yet taken */
	uint64_t last_change_ms;
};

/* quiet_ms 0 means 500. gap_ms is min(LP_DEBOUNCE_GAP_MS, quiet_ms), max_wait_ms
 * max(10 * quiet_ms, 5000). */
void lp_debounce_init(struct lp_debounce *d, uint64_t quiet_ms);
/* A change at now; busy: a configuration is being applied right now. */
void lp_debounce_note(struct lp_debounce *d, uint64_t now, int busy);
/* 0: run now (nothing pending, a lone change, or the burst is over); else the
 * ms to wait before asking again. */
uint64_t lp_debounce_wait(const struct lp_debounce *d, uint64_t now);
/* A run starts: it takes every pending change. */
void lp_debounce_ran(struct lp_debounce *d);

#endif
