#include "lease.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../util/mem.h"
#include "gvr.h"

enum lease_state { L_IDLE = 0, L_ACQUIRING, L_LEADING, L_RELEASING, L_RELEASED };

struct lp_kube_lease {
	struct lp_kube_client *c;
	struct lp_kube_lease_opts o;
	char *ns, *name, *identity;
	enum lease_state state;
	int leading;
	struct lp_kube_call *call;
	struct lp_loop_timer *timer;
	/* what we last observed of the Lease */
	char *observed_rv;
	uint64_t observed_ms;   /* when observed_rv first seen (our clock) */
	char *acquire_time;     /* spec.acquireTime while we hold it */
	long transitions;       /* spec.leaseTransitions */
	uint64_t last_renew_ok; /* our clock */
	uint64_t nstarted;
	void (*release_done)(void *arg, lp_err err);
	void *release_arg;
};

static uint64_t now_ms(const struct lp_kube_lease *l)
{
	return lp_loop_now_ms(lp_kube_client_loop(l->c));
}

/* MicroTime: "2026-11-23T18:25:17.123456Z". */
static void micro_time(char out[32])
{
	struct timespec ts;
	struct tm tm;
	char base[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%.19s.%06uZ", base, (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

static lp_err set_str(char **dst, const char *s)
{
	char *d = s ? lp_strdup(s) : NULL;

	if (s && !d)
		return LP_ERR_NOMEM;
	lp_free(*dst);
	*dst = d;
	return LP_OK;
}

static void schedule(struct lp_kube_lease *l, uint64_t delay_ms);

static lp_err lease_path(struct lp_kube_lease *l, struct lp_buf *b, int item)
{
	return lp_kube_path(b, &lp_kube_gvr_leases, l->ns, item ? l->name : NULL, NULL);
}

static void become_follower(struct lp_kube_lease *l)
{
	if (l->leading) {
		l->leading = 0;
		if (l->o.on_stopped)
			l->o.on_stopped(l->o.arg);
	}
}

static void become_leader(struct lp_kube_lease *l)
{
	l->last_renew_ok = now_ms(l);
	if (!l->leading) {
		l->leading = 1;
		l->nstarted++;
		if (l->o.on_started)
			l->o.on_started(l->o.arg);
	}
}

/* The Lease body we write: holder = us (or "" on release). */
static json_t *lease_body(struct lp_kube_lease *l, const char *rv, int release)
{
	char now[32];
	json_t *spec, *md, *o;

	micro_time(now);
	if (!l->acquire_time && !release && set_str(&l->acquire_time, now) != LP_OK)
		return NULL;
	spec = json_pack("{s:s, s:i, s:s, s:i}", "holderIdentity", release ? "" : l->identity,
	                 "leaseDurationSeconds",
	                 (json_int_t)(release ? 1 : (l->o.duration_ms + 999) / 1000), "renewTime",
	                 now, "leaseTransitions", (json_int_t)l->transitions);
	if (spec && l->acquire_time)
		json_object_set_new(spec, "acquireTime", json_string(l->acquire_time));
	md = json_pack("{s:s, s:s}", "name", l->name, "namespace", l->ns);
	if (md && rv)
		json_object_set_new(md, "resourceVersion", json_string(rv));
	o = json_pack("{s:s, s:s, s:o*, s:o*}", "apiVersion", "coordination.k8s.io/v1", "kind",
	              "Lease", "metadata", md, "spec", spec);
	return o;
}

static lp_err send(struct lp_kube_lease *l, const char *method, int item, json_t *body,
                   lp_kube_done_cb cb)
{
	struct lp_buf path;
	struct lp_kube_req req = {0};
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	lp_err err;

	if (body && !text)
		return LP_ERR_NOMEM;
	lp_buf_init(&path, 4096);
	err = lease_path(l, &path, item);
	if (!err) {
		req.method = method;
		req.path = lp_buf_str(&path);
		req.body = text;
		req.body_len = text ? strlen(text) : 0;
		req.max_attempts = 1; /* the lease has its own rhythm */
		req.timeout_ms = (long)(l->o.renew_ms < 10000 ? 10000 : l->o.renew_ms);
		err = lp_kube_call_start(l->c, &req, cb, l, &l->call);
	}
	lp_buf_free(&path);
	free(text);
	return err;
}

static void on_write(void *arg, struct lp_kube_resp *r);

/* Decides from a GET of the Lease whether we may take it, and writes if so. */
static void on_get(void *arg, struct lp_kube_resp *r)
{
	struct lp_kube_lease *l = arg;
	json_t *o = NULL, *spec;
	const char *rv, *holder;
	uint64_t now = now_ms(l);
	lp_err err = LP_OK;

	l->call = NULL;
	if (r->err == LP_ERR_NOTFOUND) {
		json_t *body;
		lp_free(l->acquire_time);
		l->acquire_time = NULL;
		l->transitions = 0;
		body = lease_body(l, NULL, 0);
		err = body ? send(l, "POST", 0, body, on_write) : LP_ERR_NOMEM;
		json_decref(body);
		if (err)
			schedule(l, l->o.retry_ms);
		return;
	}
	if (r->err)
		goto later;
	o = json_loadb(lp_buf_str(&r->body), r->body.len, 0, NULL);
	rv = json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
	spec = json_object_get(o, "spec");
	holder = json_string_value(json_object_get(spec, "holderIdentity"));
	if (!rv)
		goto later;
	if (!l->observed_rv || strcmp(l->observed_rv, rv) != 0) {
		if (set_str(&l->observed_rv, rv) != LP_OK)
			goto later;
		l->observed_ms = now;
	}
	if (holder && *holder && strcmp(holder, l->identity) != 0 &&
	    now - l->observed_ms < l->o.duration_ms) {
		/* held by someone else and still fresh */
		become_follower(l);
		json_decref(o);
		schedule(l, l->o.retry_ms);
		return;
	}
	{
		json_t *body;
		int ours = holder && strcmp(holder, l->identity) == 0;
		l->transitions =
		    (long)json_integer_value(json_object_get(spec, "leaseTransitions"));
		if (!ours) {
			l->transitions++; /* as client-go: any change of holder, "" included */
			lp_free(l->acquire_time);
			l->acquire_time = NULL;
		} else if (!l->acquire_time) {
			(void)set_str(&l->acquire_time,
			              json_string_value(json_object_get(spec, "acquireTime")));
		}
		body = lease_body(l, rv, 0);
		err = body ? send(l, "PUT", 1, body, on_write) : LP_ERR_NOMEM;
		json_decref(body);
		json_decref(o);
		if (err)
			schedule(l, l->o.retry_ms);
		return;
	}
later:
	json_decref(o);
	if (l->leading && now - l->last_renew_ok >= l->o.duration_ms * 2 / 3)
		become_follower(l); /* could not renew in time: assume someone else will */
	schedule(l, l->o.retry_ms);
}

static void on_write(void *arg, struct lp_kube_resp *r)
{
	struct lp_kube_lease *l = arg;
	uint64_t now = now_ms(l);
	json_t *o;
	const char *rv;

	l->call = NULL;
	if (r->err) {
		if (l->leading && now - l->last_renew_ok >= l->o.duration_ms * 2 / 3)
			become_follower(l);
		/* 409: someone else wrote: re-read now; other errors: retry soon */
		schedule(l, r->err == LP_ERR_CONFLICT ? 0 : l->o.retry_ms);
		return;
	}
	o = json_loadb(lp_buf_str(&r->body), r->body.len, 0, NULL);
	rv = json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
	if (rv && set_str(&l->observed_rv, rv) == LP_OK)
		l->observed_ms = now;
	json_decref(o);
	become_leader(l);
	schedule(l, l->o.renew_ms);
}

static int64_t on_timer(struct lp_loop *loop, void *arg)
{
	struct lp_kube_lease *l = arg;

	(void)loop;
	l->timer = NULL;
	if (l->state != L_ACQUIRING)
		return -1;
	if (send(l, "GET", 1, NULL, on_get) != LP_OK)
		schedule(l, l->o.retry_ms);
	return -1;
}

static void schedule(struct lp_kube_lease *l, uint64_t delay_ms)
{
	struct lp_loop *loop = lp_kube_client_loop(l->c);

	if (l->state != L_ACQUIRING)
		return;
	lp_loop_timer_del(loop, l->timer);
	l->timer = NULL;
	if (lp_loop_timer_add(loop, (int64_t)delay_ms, on_timer, l, &l->timer) != LP_OK)
		l->timer = NULL;
}

lp_err lp_kube_lease_new(struct lp_kube_lease **out, struct lp_kube_client *c,
                         const struct lp_kube_lease_opts *opts)
{
	struct lp_kube_lease *l;

	if (!c || !opts || !opts->ns || !opts->name || !opts->identity || !*opts->identity)
		return LP_ERR_INVALID;
	l = lp_calloc(1, sizeof(*l));
	if (!l)
		return LP_ERR_NOMEM;
	l->c = c;
	l->o = *opts;
	if (!l->o.duration_ms)
		l->o.duration_ms = 15000;
	if (!l->o.renew_ms)
		l->o.renew_ms = 5000;
	if (!l->o.retry_ms)
		l->o.retry_ms = 2000;
	l->ns = lp_strdup(opts->ns);
	l->name = lp_strdup(opts->name);
	l->identity = lp_strdup(opts->identity);
	if (!l->ns || !l->name || !l->identity) {
		lp_kube_lease_free(l);
		return LP_ERR_NOMEM;
	}
	*out = l;
	return LP_OK;
}

lp_err lp_kube_lease_start(struct lp_kube_lease *l)
{
	if (l->state != L_IDLE)
		return LP_ERR_INVALID;
	l->state = L_ACQUIRING;
	schedule(l, 0);
	return l->timer ? LP_OK : LP_ERR_NOMEM;
}

int lp_kube_lease_leading(const struct lp_kube_lease *l)
{
	return l->leading;
}

uint64_t lp_kube_lease_transitions(const struct lp_kube_lease *l)
{
	return l->nstarted;
}

static void on_released(void *arg, struct lp_kube_resp *r)
{
	struct lp_kube_lease *l = arg;

	l->call = NULL;
	l->state = L_RELEASED;
	if (l->release_done)
		l->release_done(l->release_arg, r->err);
}

static int64_t on_release_now(struct lp_loop *loop, void *arg)
{
	struct lp_kube_lease *l = arg;

	(void)loop;
	l->timer = NULL;
	l->state = L_RELEASED;
	if (l->release_done)
		l->release_done(l->release_arg, LP_OK);
	return -1;
}

lp_err lp_kube_lease_release(struct lp_kube_lease *l, void (*done)(void *arg, lp_err err),
                             void *arg)
{
	struct lp_loop *loop = lp_kube_client_loop(l->c);
	int was_leading = l->leading;
	json_t *body;
	lp_err err;

	if (l->state == L_RELEASING || l->state == L_RELEASED)
		return LP_ERR_INVALID;
	lp_kube_call_cancel(l->c, l->call);
	l->call = NULL;
	lp_loop_timer_del(loop, l->timer);
	l->timer = NULL;
	l->state = L_RELEASING;
	l->leading = 0;
	l->release_done = done;
	l->release_arg = arg;
	if (!was_leading || !l->observed_rv)
		return lp_loop_timer_add(loop, 0, on_release_now, l, &l->timer);
	body = lease_body(l, l->observed_rv, 1);
	if (!body)
		return LP_ERR_NOMEM;
	err = send(l, "PUT", 1, body, on_released);
	json_decref(body);
	return err;
}

void lp_kube_lease_free(struct lp_kube_lease *l)
{
	if (!l)
		return;
	lp_kube_call_cancel(l->c, l->call);
	lp_loop_timer_del(lp_kube_client_loop(l->c), l->timer);
	lp_free(l->ns);
	lp_free(l->name);
	lp_free(l->identity);
	lp_free(l->observed_rv);
	lp_free(l->acquire_time);
	lp_free(l);
}
