#include "loop.h"
#include "heap.h"
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "mem.h"

#define LOOP_MAX_EVENTS 64

struct lp_loop_fd {
	int fd;
	unsigned events;
	lp_loop_fd_cb cb;
	void *arg;
	int dead;
	struct lp_loop_fd *prev, *next;
};

struct lp_loop_timer {
	struct lp_heap_node hn; /* first: due, seq (FIFO among equal due), heap position */
	lp_loop_timer_cb cb;
	void *arg;
	int running;
	int deleted;
};

struct lp_loop {
	int epfd;
	const struct lp_clock *clock;
	struct lp_heap timers;   /* of struct lp_loop_timer */
	struct lp_loop_fd *fds;  /* live watches */
	struct lp_loop_fd *dead; /* removed during dispatch, freed after the batch */
	size_t nfds;
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
	for (size_t i = 0; i < l->timers.n; i++)
		lp_free(l->timers.v[i]); /* (the node is the timer's first member) */
	lp_heap_free(&l->timers);
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

/* ---- timers: in a min-heap on (due, seq) ---- */

static struct lp_loop_timer *first_timer(const struct lp_loop *l)
{
	return (struct lp_loop_timer *)lp_heap_top(&l->timers);
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
	t->hn.due = due_in(l, delay_ms);
	err = lp_heap_push(&l->timers, &t->hn);
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
	if (!t || t->running || t->deleted || t->hn.idx == LP_HEAP_NONE)
		return;
	lp_heap_remove(&l->timers, &t->hn);
	t->hn.due = due_in(l, delay_ms);
	/* cannot fail: the slot we just freed is reused */
	lp_err err = lp_heap_push(&l->timers, &t->hn);
	(void)err;
}

void lp_loop_timer_del(struct lp_loop *l, struct lp_loop_timer *t)
{
	if (!t || t->deleted)
		return;
	if (t->running) {
		t->deleted = 1; /* freed when its callback returns */
		return;
	}
	lp_heap_remove(&l->timers, &t->hn);
	lp_free(t);
}

static void run_timers(struct lp_loop *l)
{
	uint64_t now = lp_loop_now_ms(l), limit = l->timers.seq;
	struct lp_loop_timer *t;

	while ((t = first_timer(l)) && t->hn.due <= now && t->hn.seq < limit) {
		int64_t next;

		lp_heap_remove(&l->timers, &t->hn);
		t->running = 1;
		next = t->cb(l, t->arg);
		t->running = 0;
		if (t->deleted || next < 0) {
			lp_free(t);
			continue;
		}
		t->hn.due = due_in(l, next);
		if (lp_heap_push(&l->timers, &t->hn) != LP_OK)
			lp_free(t); /* cannot happen: the slot was just freed */
	}
}

/* ---- running ---- */

lp_err lp_loop_run_once(struct lp_loop *l, int64_t timeout_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int64_t wait = timeout_ms;
	int n;

	if (l->timers.n > 0) {
		uint64_t now = lp_loop_now_ms(l), due = first_timer(l)->hn.due;
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
	while (!l->stop && (l->nfds > 0 || l->timers.n > 0)) {
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
