#include "clock.h"
#include <stdio.h>
#include <string.h>
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

int64_t lp_clock_rfc3339_parse(const char *s)
{
	struct tm tm;
	time_t t;

	if (!s)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	           &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	return t < 0 ? 0 : (int64_t)t;
}

static uint64_t system_now_ms(void *ctx)
{
	(void)ctx;
	return lp_clock_mono_ms();
}

const struct lp_clock lp_clock_system = {system_now_ms, NULL};
