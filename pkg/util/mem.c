/* pkg/util/mem.c: allocation wrappers and the allocation-failure hook (see mem.h). */
#include "mem.h"
#include <stdlib.h>
#include <string.h>

/* The hook's state, per thread: the one piece of mutable static state here,
 * set only by tests; 0 (off) in every other program. */
static _Thread_local size_t fail_countdown;
static _Thread_local int fail_fired;

/* 1 when this allocation is the one to fail. */
static int fail_now(void)
{
	if (__builtin_expect(fail_countdown == 0, 1))
		return 0;
	if (--fail_countdown)
		return 0;
	fail_fired = 1;
	return 1;
}

size_t lp_mem_fail_nth(size_t n)
{
	size_t left = fail_countdown;

	fail_countdown = n;
	fail_fired = 0;
	return left;
}

int lp_mem_fail_fired(void)
{
	return fail_fired;
}

void *lp_malloc(size_t n)
{
	return fail_now() ? NULL : malloc(n ? n : 1);
}

void *lp_calloc(size_t nmemb, size_t size)
{
	return fail_now() ? NULL : calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *lp_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : realloc(p, n ? n : 1);
}

char *lp_strdup(const char *s)
{
	return s ? lp_strndup(s, strlen(s)) : NULL;
}

char *lp_strndup(const char *s, size_t n)
{
	size_t len;
	char *p;

	if (!s)
		return NULL;
	len = strnlen(s, n);
	p = lp_malloc(len + 1);
	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void lp_free(void *p)
{
	free(p);
}
