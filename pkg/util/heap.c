/* pkg/util/heap.c: see heap.h. */
#include "heap.h"
#include "mem.h"

static int less(const struct lp_heap_node *a, const struct lp_heap_node *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void swap(struct lp_heap *h, size_t i, size_t j)
{
	struct lp_heap_node *t = h->v[i];

	h->v[i] = h->v[j];
	h->v[j] = t;
	h->v[i]->idx = i;
	h->v[j]->idx = j;
}

static void up(struct lp_heap *h, size_t i)
{
	while (i > 0 && less(h->v[i], h->v[(i - 1) / 2])) {
		swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void down(struct lp_heap *h, size_t i)
{
	for (;;) {
		size_t a = 2 * i + 1, b = a + 1, m = i;
		if (a < h->n && less(h->v[a], h->v[m]))
			m = a;
		if (b < h->n && less(h->v[b], h->v[m]))
			m = b;
		if (m == i)
			return;
		swap(h, i, m);
		i = m;
	}
}

lp_err lp_heap_reserve(struct lp_heap *h, size_t n)
{
	size_t ncap = h->cap ? h->cap : 16;
	struct lp_heap_node **nv;

	if (n <= h->cap)
		return LP_OK;
	while (ncap < n)
		ncap *= 2;
	nv = lp_realloc(h->v, ncap * sizeof(*nv));
	if (!nv)
		return LP_ERR_NOMEM;
	h->v = nv;
	h->cap = ncap;
	return LP_OK;
}

lp_err lp_heap_push(struct lp_heap *h, struct lp_heap_node *x)
{
	if (h->n == h->cap && lp_heap_reserve(h, h->n + 1) != LP_OK)
		return LP_ERR_NOMEM;
	x->seq = h->seq++;
	x->idx = h->n;
	h->v[h->n++] = x;
	up(h, x->idx);
	return LP_OK;
}

void lp_heap_remove(struct lp_heap *h, struct lp_heap_node *x)
{
	size_t i = x->idx;

	if (i == LP_HEAP_NONE)
		return;
	h->n--;
	if (i != h->n) {
		h->v[i] = h->v[h->n];
		h->v[i]->idx = i;
		down(h, i);
		up(h, h->v[i]->idx);
	}
	x->idx = LP_HEAP_NONE;
}

void lp_heap_fix(struct lp_heap *h, struct lp_heap_node *x)
{
	if (x->idx == LP_HEAP_NONE)
		return;
	down(h, x->idx);
	up(h, x->idx);
}

void lp_heap_free(struct lp_heap *h)
{
	lp_free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
