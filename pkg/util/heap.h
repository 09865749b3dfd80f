/* pkg/util/heap: the one binary min-heap, intrusive, ordered by (due, seq):
 * the loop's timers and the work queue's keys. An element embeds a struct
 * lp_heap_node as its FIRST member (so a node pointer converts back to the
 * element) and keeps its position there, so removing or moving an element is
 * O(log n) without a search. seq is assigned at push: FIFO among equal due
 * times. Not thread-safe. */
#ifndef LP_UTIL_HEAP_H
#define LP_UTIL_HEAP_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define LP_HEAP_NONE SIZE_MAX /* lp_heap_node.idx of an element not in a heap */

struct lp_heap_node {
	uint64_t due;
	uint64_t seq;
	size_t idx; /* position, or LP_HEAP_NONE */
};

struct lp_heap {
	struct lp_heap_node **v;
	size_t n, cap;
	uint64_t seq;
};

/* Makes room for n elements: pushes up to n then allocate nothing.
 * LP_ERR_NOMEM leaves the heap as it was. */
LP_WUR lp_err lp_heap_reserve(struct lp_heap *h, size_t n);
/* Adds x (x->due set; x not in a heap). LP_ERR_NOMEM leaves the heap as it was. */
LP_WUR lp_err lp_heap_push(struct lp_heap *h, struct lp_heap_node *x);
/* Takes x out; nothing when it is not in. */
void lp_heap_remove(struct lp_heap *h, struct lp_heap_node *x);
/* Restores the order after x->due changed (x in the heap). */
void lp_heap_fix(struct lp_heap *h, struct lp_heap_node *x);
/* The first element (smallest due, then seq), or NULL when empty. */
static inline struct lp_heap_node *lp_heap_top(const struct lp_heap *h)
{
	return h->n ? h->v[0] : NULL;
}
/* Frees the array (not the elements). */
void lp_heap_free(struct lp_heap *h);

#endif
