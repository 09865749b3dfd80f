/* Allocation wrappers: return NULL on failure (never abort) and count calls, so
 * benchmarks can report allocations per operation. */
#ifndef LP_UTIL_MEM_H
#define LP_UTIL_MEM_H
#include <stddef.h>

void *lp_malloc(size_t n);
void *lp_calloc(size_t nmemb, size_t size);
void *lp_realloc(void *p, size_t n);
char *lp_strdup(const char *s);            /* NULL in -> NULL out */
char *lp_strndup(const char *s, size_t n); /* copies at most n bytes, always NUL-terminated */
void lp_free(void *p);

/* Number of successful lp_malloc/lp_calloc/lp_realloc/lp_strdup calls in this thread. */
size_t lp_mem_allocs(void);

#endif
