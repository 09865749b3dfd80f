#include "lp_test.h"
#include <stdarg.h>

int lp_test_failed;
static const char *cur_suite;
static const char *cur_name;

void lp_test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (!lp_test_failed) {
		printf("FAIL %s:%s: %s:%d: ", cur_suite, cur_name, file, line);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	lp_test_failed = 1;
}

int lp_test_main(const char *suite, const struct lp_test *tests, size_t n)
{
	int failures = 0;

	cur_suite = suite;
	for (size_t i = 0; i < n; i++) {
		cur_name = tests[i].name;
		lp_test_failed = 0;
		tests[i].fn();
		if (!lp_test_failed)
			printf("PASS %s:%s\n", suite, tests[i].name);
		else
			failures++;
		fflush(stdout);
	}
	return failures ? 1 : 0;
}

const char *lp_test_secret_lookup(void *ctx, const char *ns, const char *name, const char *key)
{
	const struct lp_test_secret *s = ctx;
	for (; s && s->ns; s++)
		if (!strcmp(s->ns, ns) && !strcmp(s->name, name) && !strcmp(s->key, key))
			return s->value;
	return NULL;
}
