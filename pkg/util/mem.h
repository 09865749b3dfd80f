/* Allocation wrappers: return NULL on failure (never abort).
 *
 * Allocation-failure hook, for tests: lp_mem_fail_nth(n) makes the nth
 * allocation through these wrappers in the calling thread from now on fail
 * (return NULL, as malloc does when memory runs out), once; the hook then
 * turns itself off. Other threads are not affected. Off (the default) it
 * costs one thread-local compare per allocation. A test runs a scenario for
 * n = 1, 2, ... until lp_mem_fail_fired() says the scenario made fewer than n
 * allocations: every allocation of it has then failed once. */
#ifndef LP_UTIL_MEM_H
#define LP_UTIL_MEM_H
#include <stddef.h>

void *lp_malloc(size_t n);
void *lp_calloc(size_t nmemb, size_t size);
void *lp_realloc(void *p, size_t n);
char *lp_strdup(const char *s); /* NULL in -> NULL out */
/* s, or "" for NULL (an optional string compared or printed) */
static inline const char *lp_str_or_empty(const char *s)
{
	return s ? s : "";
}
char *lp_strndup(const char *s, size_t n); /* copies at most n bytes, always NUL-terminated */
void lp_free(void *p);

/* Arms the hook: the nth allocation from now fails (n >= 1); 0 disarms.
 * Clears the fired flag. Returns what was left of the previous countdown (0
 * when it was off or fired): arming with a large n and reading what is left
 * later counts the allocations in between. */
size_t lp_mem_fail_nth(size_t n);
/* 1 when the armed failure happened since lp_mem_fail_nth(). */
int lp_mem_fail_fired(void);

#endif
