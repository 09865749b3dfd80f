/* A tiny table-driven test harness. Each tests/unit/test_*.c defines an array
 * of struct lp_test and calls lp_test_main(). Every case prints one line,
 * "PASS file:name" or "FAIL file:name: where: what"; tests/run.sh counts them. */
#ifndef LP_TEST_H
#define LP_TEST_H
#include <stdio.h>
#include <string.h>

struct lp_test {
	const char *name;
	void (*fn)(void);
};

extern int lp_test_failed; /* set by the CHECK macros for the running case */

void lp_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Runs every case, prints PASS/FAIL lines; returns the process exit code. */
int lp_test_main(const char *suite, const struct lp_test *tests, size_t n);

#define LP_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond))                                                                       \
			lp_test_fail(__FILE__, __LINE__, "check failed: %s", #cond);               \
	} while (0)

#define LP_CHECK_INT(got, want)                                                                    \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		if (g_ != w_)                                                                      \
			lp_test_fail(__FILE__, __LINE__, "%s = %lld, want %lld", #got, g_, w_);    \
	} while (0)

#define LP_CHECK_STR(got, want)                                                                    \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		if (!g_ || !w_ || strcmp(g_, w_) != 0)                                             \
			lp_test_fail(__FILE__, __LINE__, "%s = \"%s\", want \"%s\"", #got,         \
			             g_ ? g_ : "(null)", w_ ? w_ : "(null)");                      \
	} while (0)

/* got contains the substring want */
#define LP_CHECK_HAS(got, want)                                                                    \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		if (!g_ || !w_ || !strstr(g_, w_))                                                 \
			lp_test_fail(__FILE__, __LINE__, "%s = \"%s\", does not contain \"%s\"",   \
			             #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");                \
	} while (0)

/* A fake Secret store for the lookup callbacks of pkg/render and pkg/reconcile:
 * an array of entries ended by one whose ns is NULL. */
struct lp_test_secret {
	const char *ns, *name, *key, *value;
};

/* ctx is a struct lp_test_secret array (or NULL); returns the value of key in
 * Secret ns/name, or NULL when there is none. */
const char *lp_test_secret_lookup(void *ctx, const char *ns, const char *name, const char *key);

#define LP_TEST_COUNT(arr) (sizeof(arr) / sizeof((arr)[0]))

#endif
