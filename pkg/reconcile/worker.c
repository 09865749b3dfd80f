/* pkg/reconcile/worker.c: a job thread reporting back through an eventfd. */
#include "worker.h"
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "../util/mem.h"

struct job {
	lp_worker_run_fn run;
	lp_worker_done_fn done;
	void *arg;
	struct job *next;
};

struct lp_worker {
	struct lp_loop *loop;
	struct lp_loop_fd *watch;
	int efd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *todo, *todo_tail; /* guarded by mu */
	struct job *done, *done_tail; /* guarded by mu */
	int stop;                     /* guarded by mu */
	size_t pending;               /* loop thread only */
};

static void push(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *worker_main(void *p)
{
	struct lp_worker *w = p;
	struct job *j;
	uint64_t one = 1;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->todo && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop)
			break;
		j = w->todo;
		w->todo = j->next;
		if (!w->todo)
			w->todo_tail = NULL;
		pthread_mutex_unlock(&w->mu);
		j->run(j->arg);
		pthread_mutex_lock(&w->mu);
		push(&w->done, &w->done_tail, j);
		if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
			/* the loop will still find the job at free time */
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Reports finished jobs (loop thread). */
static void drain(struct lp_worker *w)
{
	struct job *list, *j;

	pthread_mutex_lock(&w->mu);
	list = w->done;
	w->done = w->done_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while ((j = list)) {
		list = j->next;
		w->pending--;
		j->done(j->arg, 0);
		lp_free(j);
	}
}

static void on_efd(struct lp_loop *loop, int fd, unsigned events, void *arg)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN) {
		/* nothing to do: the list is the source of truth */
	}
	drain(arg);
}

lp_err lp_worker_new(struct lp_worker **out, struct lp_loop *loop)
{
	struct lp_worker *w = lp_calloc(1, sizeof(*w));
	lp_err err = LP_ERR_NOMEM;

	if (!w)
		return LP_ERR_NOMEM;
	w->loop = loop;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		lp_free(w);
		return LP_ERR_IO;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	err = lp_loop_fd_add(loop, w->efd, LP_LOOP_READ, on_efd, w, &w->watch);
	if (err)
		goto fail;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		lp_loop_fd_del(loop, w->watch);
		err = LP_ERR_IO;
		goto fail;
	}
	*out = w;
	return LP_OK;
fail:
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	close(w->efd);
	lp_free(w);
	return err;
}

lp_err lp_worker_submit(struct lp_worker *w, lp_worker_run_fn run, lp_worker_done_fn done,
                        void *arg)
{
	struct job *j;

	if (!w || !run || !done)
		return LP_ERR_INVALID;
	j = lp_calloc(1, sizeof(*j));
	if (!j)
		return LP_ERR_NOMEM;
	j->run = run;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->mu);
	push(&w->todo, &w->todo_tail, j);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	w->pending++;
	return LP_OK;
}

size_t lp_worker_pending(const struct lp_worker *w)
{
	return w ? w->pending : 0;
}

void lp_worker_free(struct lp_worker *w)
{
	struct job *j;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	drain(w);
	while ((j = w->todo)) {
		w->todo = j->next;
		j->done(j->arg, 1);
		lp_free(j);
	}
	lp_loop_fd_del(w->loop, w->watch);
	close(w->efd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	lp_free(w);
}
