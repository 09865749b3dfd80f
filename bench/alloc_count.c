/* bench/alloc_count.c: an LD_PRELOAD shim that counts malloc-family calls.
 *
 * Every successful malloc, calloc, realloc (except realloc(p, 0)) and
 * posix_memalign in the process counts once, whichever library makes it
 * (libyaml, jansson, libc's strdup). At exit it writes one line to stderr:
 *   alloc_count allocs=N frees=N
 * The allocator itself is glibc's (__libc_malloc and friends), so the counts
 * do not change what is measured. bench/bench.py runs a program with 1 and
 * with 3 rounds of work and takes the difference, so start-up and set-up
 * allocations cancel out.
 *
 * Build (bench/run.sh does it):
 *   cc -std=c17 -O2 -fPIC -shared -o build/bench/alloc_count.so bench/alloc_count.c
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static atomic_ulong n_allocs;
static atomic_ulong n_frees;

void *malloc(size_t n)
{
	void *p = __libc_malloc(n);

	if (p)
		atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
	return p;
}

void *calloc(size_t nmemb, size_t size)
{
	void *p = __libc_calloc(nmemb, size);

	if (p)
		atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = __libc_realloc(old, n);

	if (p)
		atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
	return p;
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)) != 0)
		return EINVAL;
	p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
	*out = p;
	return 0;
}

void free(void *p)
{
	if (p)
		atomic_fetch_add_explicit(&n_frees, 1, memory_order_relaxed);
	__libc_free(p);
}

__attribute__((destructor)) static void report(void)
{
	char line[96];
	int n = snprintf(line, sizeof(line), "alloc_count allocs=%lu frees=%lu\n",
	                 atomic_load(&n_allocs), atomic_load(&n_frees));

	if (n > 0 && (size_t)n < sizeof(line) && write(2, line, (size_t)n) < 0)
		return;
}
