#include "loop.h"
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "mem.h"

#define LOOP_MAX_EVENTS 64
#define NOT_IN_HEAP     SIZE_MAX

struct lp_loop_fd {
	int fd;
	unsigned events;
	lp_loop_fd_cb cb;
	void *arg;
	int dead;
	struct lp_loop_fd *prev, *next;
};

struct lp_loop_timer {
	uint64_t due;
	uint64_t seq; /* push order: FIFO among equal due times */
	lp_loop_timer_cb cb;
	void *arg;
	size_t idx; /* heap position or NOT_IN_HEAP */
	int running;
	int deleted;
};

struct lp_loop {
	int epfd;
	const struct lp_clock *clock;
	struct lp_loop_timer **heap;
	size_t nheap, capheap;
	struct lp_loop_fd *fds;  /* live watches */
	struct lp_loop_fd *dead; /* removed during dispatch, freed after the batch */
	size_t nfds;
	uint64_t seq;
	int stop;
};

lp_err lp_loop_new(struct lp_loop **out, const struct lp_clock *clock)
{
	struct lp_loop *l = lp_calloc(1, sizeof(*l));

	if (!l)
		return LP_ERR_NOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		lp_free(l);
		return LP_ERR_IO;
	}
	l->clock = clock ? clock : &lp_clock_system;
	*out = l;
	return LP_OK;
}

static void free_dead(struct lp_loop *l)
{
	while (l->dead) {
		struct lp_loop_fd *w = l->dead;
		l->dead = w->next;
		lp_free(w);
	}
}

void lp_loop_free(struct lp_loop *l)
{
	if (!l)
		return;
	while (l->fds) {
		struct lp_loop_fd *w = l->fds;
		l->fds = w->next;
		lp_free(w);
	}
	free_dead(l);
	for (size_t i = 0; i < l->nheap; i++)
		lp_free(l->heap[i]);
	lp_free(l->heap);
	close(l->epfd);
	lp_free(l);
}

uint64_t lp_loop_now_ms(const struct lp_loop *l)
{
	return l->clock->now_ms(l->clock->ctx);
}

/* ---- fd watches ---- */

static uint32_t to_epoll(unsigned events)
{
	uint32_t e = 0;

	if (events & LP_LOOP_READ)
		e |= EPOLLIN;
	if (events & LP_LOOP_WRITE)
		e |= EPOLLOUT;
	return e;
}

lp_err lp_loop_fd_add(struct lp_loop *l, int fd, unsigned events, lp_loop_fd_cb cb, void *arg,
                      struct lp_loop_fd **out)
{
	struct lp_loop_fd *w;
	struct epoll_event ev = {0};

	if (fd < 0 || !cb)
		return LP_ERR_INVALID;
	w = lp_calloc(1, sizeof(*w));
	if (!w)
		return LP_ERR_NOMEM;
	w->fd = fd;
	w->events = events;
	w->cb = cb;
	w->arg = arg;
	ev.events = to_epoll(events);
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		int e = errno;
		lp_free(w);
		return e == EEXIST ? LP_ERR_INVALID : e == ENOMEM ? LP_ERR_NOMEM : LP_ERR_IO;
	}
	w->next = l->fds;
	if (l->fds)
		l->fds->prev = w;
	l->fds = w;
	l->nfds++;
	if (out)
		*out = w;
	return LP_OK;
}

lp_err lp_loop_fd_set(struct lp_loop *l, struct lp_loop_fd *w, unsigned events)
{
	struct epoll_event ev = {0};

	if (!w || w->dead)
		return LP_ERR_INVALID;
	if (w->events == events)
		return LP_OK;
	ev.events = to_epoll(events);
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) != 0)
		return LP_ERR_IO;
	w->events = events;
	return LP_OK;
}

void lp_loop_fd_del(struct lp_loop *l, struct lp_loop_fd *w)
{
	if (!w || w->dead)
		return;
	/* the fd may already be closed: then the kernel dropped it itself */
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (w->prev)
		w->prev->next = w->next;
	else
		l->fds = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->dead = 1;
	w->prev = NULL;
	w->next = l->dead;
	l->dead = w;
	l->nfds--;
}

/* ---- timers: a binary min-heap on (due, seq) ---- */

static int t_less(const struct lp_loop_timer *a, const struct lp_loop_timer *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_swap(struct lp_loop *l, size_t i, size_t j)
{
	struct lp_loop_timer *t = l->heap[i];

	l->heap[i] = l->heap[j];
	l->heap[j] = t;
	l->heap[i]->idx = i;
	l->heap[j]->idx = j;
}

static void heap_up(struct lp_loop *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!t_less(l->heap[i], l->heap[p]))
			break;
		heap_swap(l, i, p);
		i = p;
	}
}

static void heap_down(struct lp_loop *l, size_t i)
{
	for (;;) {
		size_t a = 2 * i + 1, b = a + 1, m = i;
		if (a < l->nheap && t_less(l->heap[a], l->heap[m]))
			m = a;
		if (b < l->nheap && t_less(l->heap[b], l->heap[m]))
			m = b;
		if (m == i)
			break;
		heap_swap(l, i, m);
		i = m;
	}
}

static lp_err heap_push(struct lp_loop *l, struct lp_loop_timer *t)
{
	if (l->nheap == l->capheap) {
		size_t ncap = l->capheap ? l->capheap * 2 : 16;
		struct lp_loop_timer **h = lp_realloc(l->heap, ncap * sizeof(*h));
		if (!h)
			return LP_ERR_NOMEM;
		l->heap = h;
		l->capheap = ncap;
	}
	t->seq = l->seq++;
	t->idx = l->nheap;
	l->heap[l->nheap++] = t;
	heap_up(l, t->idx);
	return LP_OK;
}

static void heap_remove(struct lp_loop *l, struct lp_loop_timer *t)
{
	size_t i = t->idx;

	if (i == NOT_IN_HEAP)
		return;
	l->nheap--;
	if (i != l->nheap) {
		l->heap[i] = l->heap[l->nheap];
		l->heap[i]->idx = i;
		heap_down(l, i);
		heap_up(l, l->heap[i]->idx);
	}
	t->idx = NOT_IN_HEAP;
}

static uint64_t due_in(struct lp_loop *l, int64_t delay_ms)
{
	return lp_loop_now_ms(l) + (uint64_t)(delay_ms < 0 ? 0 : delay_ms);
}

lp_err lp_loop_timer_add(struct lp_loop *l, int64_t delay_ms, lp_loop_timer_cb cb, void *arg,
                         struct lp_loop_timer **out)
{
	struct lp_loop_timer *t;
	lp_err err;

	if (!cb)
		return LP_ERR_INVALID;
	t = lp_calloc(1, sizeof(*t));
	if (!t)
		return LP_ERR_NOMEM;
	t->cb = cb;
	t->arg = arg;
	t->due = due_in(l, delay_ms);
	err = heap_push(l, t);
	if (err) {
		lp_free(t);
		return err;
	}
	if (out)
		*out = t;
	return LP_OK;
}

void lp_loop_timer_set(struct lp_loop *l, struct lp_loop_timer *t, int64_t delay_ms)
{
	if (!t || t->running || t->deleted || t->idx == NOT_IN_HEAP)
		return;
	heap_remove(l, t);
	t->due = due_in(l, delay_ms);
	/* cannot fail: the slot we just freed is reused */
	(void)heap_push(l, t);
}

void lp_loop_timer_del(struct lp_loop *l, struct lp_loop_timer *t)
{
	if (!t || t->deleted)
		return;
	if (t->running) {
		t->deleted = 1; /* freed when its callback returns */
		return;
	}
	heap_remove(l, t);
	lp_free(t);
}

static void run_timers(struct lp_loop *l)
{
	uint64_t now = lp_loop_now_ms(l), limit = l->seq;

	while (l->nheap > 0 && l->heap[0]->due <= now && l->heap[0]->seq < limit) {
		struct lp_loop_timer *t = l->heap[0];
		int64_t next;

		heap_remove(l, t);
		t->running = 1;
		next = t->cb(l, t->arg);
		t->running = 0;
		if (t->deleted || next < 0) {
			lp_free(t);
			continue;
		}
		t->due = due_in(l, next);
		if (heap_push(l, t) != LP_OK)
			lp_free(t); /* cannot happen: the slot was just freed */
	}
}

/* ---- running ---- */

lp_err lp_loop_run_once(struct lp_loop *l, int64_t timeout_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int64_t wait = timeout_ms;
	int n;

	if (l->nheap > 0) {
		uint64_t now = lp_loop_now_ms(l), due = l->heap[0]->due;
		int64_t d = due > now ? (int64_t)(due - now) : 0;
		if (wait < 0 || d < wait)
			wait = d;
	}
	if (wait > INT32_MAX)
		wait = INT32_MAX;
	n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, (int)wait);
	if (n < 0 && errno != EINTR)
		return LP_ERR_IO;
	for (int i = 0; i < n; i++) {
		struct lp_loop_fd *w = evs[i].data.ptr;
		unsigned ev = 0;

		if (w->dead)
			continue;
		if (evs[i].events & EPOLLIN)
			ev |= LP_LOOP_READ;
		if (evs[i].events & EPOLLOUT)
			ev |= LP_LOOP_WRITE;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			ev |= LP_LOOP_ERROR;
		w->cb(l, w->fd, ev, w->arg);
	}
	free_dead(l);
	run_timers(l);
	free_dead(l);
	return LP_OK;
}

lp_err lp_loop_run(struct lp_loop *l)
{
	l->stop = 0;
	while (!l->stop && (l->nfds > 0 || l->nheap > 0)) {
		lp_err err = lp_loop_run_once(l, -1);
		if (err)
			return err;
	}
	l->stop = 0;
	return LP_OK;
}

lp_err lp_loop_run_until(struct lp_loop *l, const int *flag, int64_t timeout_ms)
{
	uint64_t deadline = lp_loop_now_ms(l) + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);

	l->stop = 0;
	while (!*flag && !l->stop) {
		uint64_t now = lp_loop_now_ms(l);
		lp_err err;

		if (now >= deadline)
			return LP_ERR_TIMEOUT;
		err = lp_loop_run_once(l, (int64_t)(deadline - now));
		if (err)
			return err;
	}
	l->stop = 0;
	return LP_OK;
}

void lp_loop_stop(struct lp_loop *l)
{
	l->stop = 1;
}
