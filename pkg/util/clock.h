/* Monotonic and wall clocks, and a small vtable seam so tests can drive time. */
#ifndef LP_UTIL_CLOCK_H
#define LP_UTIL_CLOCK_H
#include <stdint.h>

uint64_t lp_clock_mono_ns(void);
uint64_t lp_clock_mono_ms(void);
/* Wall clock as RFC 3339 UTC with seconds ("2026-11-23T18:25:17Z") into out[21]. */
void lp_clock_rfc3339(char out[21]);
/* Seconds since the epoch of RFC 3339 UTC text (its first 19 characters,
 * "2026-11-23T18:25:17"); 0 for NULL, text that does not parse, or a time
 * before the epoch. */
int64_t lp_clock_rfc3339_parse(const char *s);

struct lp_clock {
	uint64_t (*now_ms)(void *ctx); /* monotonic milliseconds */
	void *ctx;
};
/* The real monotonic clock. */
extern const struct lp_clock lp_clock_system;

#endif
