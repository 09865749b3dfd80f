#include "mem.h"
#include <stdlib.h>
#include <string.h>

/* Per-thread statistics counter: the one piece of mutable static state, read only
 * by benchmarks; it never affects behaviour. */
static _Thread_local size_t lp_mem_count;

void *lp_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p)
		lp_mem_count++;
	return p;
}

void *lp_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p)
		lp_mem_count++;
	return p;
}

void *lp_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q)
		lp_mem_count++;
	return q;
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

size_t lp_mem_allocs(void)
{
	return lp_mem_count;
}
