#include "clock.h"
#include <stdio.h>
#include <time.h>

uint64_t lp_clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t lp_clock_mono_ms(void)
{
	return lp_clock_mono_ns() / 1000000u;
}

void lp_clock_rfc3339(char out[21])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static uint64_t system_now_ms(void *ctx)
{
	(void)ctx;
	return lp_clock_mono_ms();
}

const struct lp_clock lp_clock_system = {system_now_ms, NULL};
