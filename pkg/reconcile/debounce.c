/* pkg/reconcile/debounce.c: leading edge for a lone change, trailing for a burst. */
#include "debounce.h"
#include <string.h>

void lp_debounce_init(struct lp_debounce *d, uint64_t quiet_ms)
{
	memset(d, 0, sizeof(*d));
	d->quiet_ms = quiet_ms ? quiet_ms : 500;
	d->gap_ms = d->quiet_ms < LP_DEBOUNCE_GAP_MS ? d->quiet_ms : LP_DEBOUNCE_GAP_MS;
	d->max_wait_ms = d->quiet_ms * 10 > 5000 ? d->quiet_ms * 10 : 5000;
}

void lp_debounce_note(struct lp_debounce *d, uint64_t now, int busy)
{
	if (!d->dirty) {
		d->dirty = 1;
		d->dirty_since_ms = now;
		d->lone = !busy && (!d->any || now - d->last_change_ms >= d->gap_ms);
	} else {
		d->lone = 0; /* a second change before the run: a burst */
	}
	d->any = 1;
	d->last_change_ms = now;
}

uint64_t lp_debounce_wait(const struct lp_debounce *d, uint64_t now)
{
	uint64_t quiet_at, deadline, until;

	if (!d->dirty || d->lone)
		return 0;
	quiet_at = d->last_change_ms + d->quiet_ms;
	deadline = d->dirty_since_ms + d->max_wait_ms;
	until = quiet_at < deadline ? quiet_at : deadline;
	return until > now ? until - now : 0;
}

void lp_debounce_ran(struct lp_debounce *d)
{
	d->dirty = 0;
	d->lone = 0;
}
