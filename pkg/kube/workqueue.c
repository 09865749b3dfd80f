#include "workqueue.h"
#include <string.h>
#include "../util/heap.h"
#include "../util/htab.h"
#include "../util/mem.h"

#define NO_DUE UINT64_MAX

struct item {
	struct lp_heap_node hn; /* first: due (when queued), seq, heap position */
	char *key;
	uint64_t dirty_due; /* added while in flight: when to run again, else NO_DUE */
	unsigned failures;
	int inflight;
	struct lp_htab_node hl; /* in the key table */
};

struct lp_kube_wq {
	struct lp_loop *loop;
	const struct lp_clock *clock;
	struct lp_kube_wq_opts o;
	lp_kube_wq_fn fn;
	void *arg;
	struct lp_htab keys; /* of struct item */
	struct lp_heap heap; /* of struct item */
	size_t inflight;
	struct lp_loop_timer *timer;
	int in_timer;
};

static uint64_t now_ms(const struct lp_kube_wq *wq)
{
	if (wq->clock)
		return wq->clock->now_ms(wq->clock->ctx);
	if (wq->loop)
		return lp_loop_now_ms(wq->loop);
	return lp_clock_mono_ms();
}

/* ---- the key table ---- */

static const char *item_key(const struct lp_htab_node *n)
{
	return LP_HTAB_ENTRY(n, const struct item, hl)->key;
}

static struct item *find(const struct lp_kube_wq *wq, const char *key)
{
	struct lp_htab_node *n = lp_htab_find(&wq->keys, key);

	return n ? LP_HTAB_ENTRY(n, struct item, hl) : NULL;
}

/* ---- the queue: a min-heap on (due, seq) ---- */

static struct item *first_item(const struct lp_kube_wq *wq)
{
	return (struct item *)lp_heap_top(&wq->heap);
}

/* Moves a queued item to an earlier due time (never later). */
static void move_earlier(struct lp_kube_wq *wq, struct item *it, uint64_t due)
{
	if (due >= it->hn.due)
		return;
	it->hn.due = due;
	lp_heap_fix(&wq->heap, &it->hn);
}

static void item_drop(struct lp_kube_wq *wq, struct item *it)
{
	struct lp_htab_node **slot = lp_htab_slot(&wq->keys, it->key);

	lp_heap_remove(&wq->heap, &it->hn);
	if (*slot == &it->hl)
		lp_htab_unlink(&wq->keys, slot);
	lp_free(it->key);
	lp_free(it);
}

/* ---- loop integration ---- */

static int64_t next_delay(const struct lp_kube_wq *wq)
{
	uint64_t now;

	if (wq->heap.n == 0 || wq->inflight >= wq->o.max_inflight)
		return -1;
	now = now_ms(wq);
	return first_item(wq)->hn.due > now ? (int64_t)(first_item(wq)->hn.due - now) : 0;
}

static int64_t on_timer(struct lp_loop *loop, void *arg)
{
	struct lp_kube_wq *wq = arg;
	int64_t next;

	(void)loop;
	wq->in_timer = 1;
	next = lp_kube_wq_poll(wq);
	wq->in_timer = 0;
	if (next < 0)
		wq->timer = NULL;
	return next;
}

/* Re-arms the timer after the queue changed outside of the timer callback. */
static void kick(struct lp_kube_wq *wq)
{
	int64_t d;

	if (!wq->loop || wq->in_timer)
		return;
	d = next_delay(wq);
	if (d < 0) {
		lp_loop_timer_del(wq->loop, wq->timer);
		wq->timer = NULL;
	} else if (wq->timer) {
		lp_loop_timer_set(wq->loop, wq->timer, d);
	} else if (lp_loop_timer_add(wq->loop, d, on_timer, wq, &wq->timer) != LP_OK) {
		wq->timer = NULL; /* retried at the next add/done */
	}
}

/* ---- public ---- */

lp_err lp_kube_wq_new(struct lp_kube_wq **out, struct lp_loop *loop,
                      const struct lp_kube_wq_opts *opts, lp_kube_wq_fn fn, void *arg)
{
	struct lp_kube_wq *wq;

	if (!fn)
		return LP_ERR_INVALID;
	wq = lp_calloc(1, sizeof(*wq));
	if (!wq)
		return LP_ERR_NOMEM;
	if (opts)
		wq->o = *opts;
	if (!wq->o.debounce_ms)
		wq->o.debounce_ms = 100;
	if (!wq->o.backoff_base_ms)
		wq->o.backoff_base_ms = 200;
	if (!wq->o.backoff_cap_ms)
		wq->o.backoff_cap_ms = 60000;
	if (!wq->o.max_keys)
		wq->o.max_keys = 100000;
	if (!wq->o.max_inflight)
		wq->o.max_inflight = 1;
	wq->loop = loop;
	wq->clock = wq->o.clock;
	wq->fn = fn;
	wq->arg = arg;
	lp_htab_init(&wq->keys, item_key);
	if (lp_htab_reserve(&wq->keys) != LP_OK) {
		lp_free(wq);
		return LP_ERR_NOMEM;
	}
	*out = wq;
	return LP_OK;
}

void lp_kube_wq_free(struct lp_kube_wq *wq)
{
	if (!wq)
		return;
	if (wq->loop)
		lp_loop_timer_del(wq->loop, wq->timer);
	for (size_t i = 0; i < wq->keys.nb; i++) {
		struct lp_htab_node *n = wq->keys.b[i];
		while (n) {
			struct item *it = LP_HTAB_ENTRY(n, struct item, hl);
			n = n->next;
			lp_free(it->key);
			lp_free(it);
		}
	}
	lp_htab_free(&wq->keys);
	lp_heap_free(&wq->heap);
	lp_free(wq);
}

static lp_err add_at(struct lp_kube_wq *wq, const char *key, uint64_t due)
{
	struct item *it;
	lp_err err;

	if (!key)
		return LP_ERR_INVALID;
	it = find(wq, key);
	if (it) {
		if (it->inflight) {
			if (due < it->dirty_due)
				it->dirty_due = due;
		} else {
			move_earlier(wq, it, due);
		}
		kick(wq);
		return LP_OK;
	}
	if (wq->keys.n >= wq->o.max_keys)
		return LP_ERR_LIMIT;
	/* a heap slot for every key, queued or in flight: done() re-queues a key
	 * without allocating, so a retry is never lost for memory */
	if (lp_heap_reserve(&wq->heap, wq->keys.n + 1) != LP_OK)
		return LP_ERR_NOMEM;
	if (lp_htab_reserve(&wq->keys) != LP_OK) {
		/* no memory to grow: longer chains, as before */
	}
	it = lp_calloc(1, sizeof(*it));
	if (!it)
		return LP_ERR_NOMEM;
	it->key = lp_strdup(key);
	if (!it->key) {
		lp_free(it);
		return LP_ERR_NOMEM;
	}
	it->hn.due = due;
	it->dirty_due = NO_DUE;
	it->hn.idx = LP_HEAP_NONE;
	err = lp_heap_push(&wq->heap, &it->hn);
	if (err) {
		lp_free(it->key);
		lp_free(it);
		return err;
	}
	lp_htab_insert(&wq->keys, &it->hl);
	kick(wq);
	return LP_OK;
}

lp_err lp_kube_wq_add(struct lp_kube_wq *wq, const char *key)
{
	return add_at(wq, key, now_ms(wq) + wq->o.debounce_ms);
}

lp_err lp_kube_wq_add_after(struct lp_kube_wq *wq, const char *key, uint64_t delay_ms)
{
	return add_at(wq, key, now_ms(wq) + delay_ms);
}

uint64_t lp_kube_wq_backoff_ms(const struct lp_kube_wq *wq, unsigned n)
{
	uint64_t d = wq->o.backoff_base_ms;

	for (unsigned i = 1; i < n && d < wq->o.backoff_cap_ms; i++)
		d *= 2;
	return d < wq->o.backoff_cap_ms ? d : wq->o.backoff_cap_ms;
}

void lp_kube_wq_done(struct lp_kube_wq *wq, const char *key, lp_err err)
{
	struct item *it = key ? find(wq, key) : NULL;
	uint64_t due;

	if (!it || !it->inflight)
		return;
	it->inflight = 0;
	wq->inflight--;
	if (err) {
		if (it->failures < 64)
			it->failures++;
		due = now_ms(wq) + lp_kube_wq_backoff_ms(wq, it->failures);
		if (it->dirty_due < due)
			due = it->dirty_due;
	} else {
		it->failures = 0;
		due = it->dirty_due;
	}
	it->dirty_due = NO_DUE;
	if (due == NO_DUE) {
		item_drop(wq, it);
	} else {
		it->hn.due = due;
		/* never fails: add_at() reserved a slot for every key */
		if (lp_heap_push(&wq->heap, &it->hn) != LP_OK)
			item_drop(wq, it);
	}
	kick(wq);
}

void lp_kube_wq_forget(struct lp_kube_wq *wq, const char *key)
{
	struct item *it = key ? find(wq, key) : NULL;

	if (!it)
		return;
	if (it->inflight) {
		it->failures = 0;
		it->dirty_due = NO_DUE;
		return;
	}
	item_drop(wq, it);
	kick(wq);
}

int64_t lp_kube_wq_poll(struct lp_kube_wq *wq)
{
	uint64_t now = now_ms(wq), limit = wq->heap.seq;
	struct item *it;

	while (wq->inflight < wq->o.max_inflight && (it = first_item(wq)) && it->hn.due <= now &&
	       it->hn.seq < limit) {
		lp_heap_remove(&wq->heap, &it->hn);
		it->inflight = 1;
		wq->inflight++;
		wq->fn(wq->arg, wq, it->key); /* may call done(): it may be gone now */
	}
	return next_delay(wq);
}

size_t lp_kube_wq_len(const struct lp_kube_wq *wq)
{
	return wq->heap.n;
}

size_t lp_kube_wq_inflight(const struct lp_kube_wq *wq)
{
	return wq->inflight;
}

unsigned lp_kube_wq_failures(const struct lp_kube_wq *wq, const char *key)
{
	struct item *it = find(wq, key);

	return it ? it->failures : 0;
}
