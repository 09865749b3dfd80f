/* Unit tests for pkg/reconcile/worker: jobs run off the loop thread and report
 * back on it, in order; freeing cancels what never ran. */
#include "lp_test.h"
#include "../../pkg/reconcile/worker.h"
#include "../../pkg/util/loop.h"
#include <pthread.h>
#include <unistd.h>

struct rec {
	pthread_t loop_thread;
	int ran_elsewhere;
	int order[8];
	int n_done;
	int cancelled;
	int all_done;
	int want;
};

struct job_arg {
	struct rec *r;
	int id;
	int slow_ms;
};

static void run(void *p)
{
	struct job_arg *a = p;
	if (a->slow_ms)
		usleep((useconds_t)a->slow_ms * 1000);
	if (!pthread_equal(pthread_self(), a->r->loop_thread))
		a->r->ran_elsewhere++;
}

static void done(void *p, int cancelled)
{
	struct job_arg *a = p;
	LP_CHECK(pthread_equal(pthread_self(), a->r->loop_thread));
	if (cancelled)
		a->r->cancelled++;
	else if (a->r->n_done < 8)
		a->r->order[a->r->n_done++] = a->id;
	a->r->all_done = a->r->n_done + a->r->cancelled == a->r->want;
}

static void t_jobs_in_order(void)
{
	struct lp_loop *loop = NULL;
	struct lp_worker *w = NULL;
	struct rec r = {0};
	struct job_arg a[3];

	r.loop_thread = pthread_self();
	r.want = 3;
	LP_CHECK_INT(lp_loop_new(&loop, NULL), LP_OK);
	LP_CHECK_INT(lp_worker_new(&w, loop), LP_OK);
	for (int i = 0; i < 3; i++) {
		a[i] = (struct job_arg){&r, i, i == 0 ? 50 : 0};
		LP_CHECK_INT(lp_worker_submit(w, run, done, &a[i]), LP_OK);
	}
	LP_CHECK_INT(lp_worker_pending(w), 3);
	LP_CHECK_INT(lp_loop_run_until(loop, &r.all_done, 5000), LP_OK);
	LP_CHECK_INT(r.n_done, 3);
	LP_CHECK_INT(r.order[0], 0);
	LP_CHECK_INT(r.order[1], 1);
	LP_CHECK_INT(r.order[2], 2);
	LP_CHECK_INT(r.ran_elsewhere, 3);
	LP_CHECK_INT(lp_worker_pending(w), 0);
	LP_CHECK_INT(lp_worker_submit(w, NULL, done, &a[0]), LP_ERR_INVALID);
	lp_worker_free(w);
	lp_loop_free(loop);
}

static void t_free_cancels(void)
{
	struct lp_loop *loop = NULL;
	struct lp_worker *w = NULL;
	struct rec r = {0};
	struct job_arg a[4];

	r.loop_thread = pthread_self();
	r.want = 4;
	LP_CHECK_INT(lp_loop_new(&loop, NULL), LP_OK);
	LP_CHECK_INT(lp_worker_new(&w, loop), LP_OK);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct job_arg){&r, i, 100};
		LP_CHECK_INT(lp_worker_submit(w, run, done, &a[i]), LP_OK);
	}
	usleep(20 * 1000); /* the first job is running */
	lp_worker_free(w);
	LP_CHECK_INT(r.n_done + r.cancelled, 4);
	LP_CHECK(r.cancelled >= 1);
	LP_CHECK(r.n_done >= 1);
	lp_worker_free(NULL);
	lp_loop_free(loop);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"jobs_in_order", t_jobs_in_order},
	    {"free_cancels", t_free_cancels},
	};
	return lp_test_main("reconcile_worker", tests, LP_TEST_COUNT(tests));
}
