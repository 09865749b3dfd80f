/* pkg/reconcile/controller.c: the controller's public API and its spine:
 * creating, starting (informers, queue, Lease, resync timer), shutting down
 * and freeing it; the work queue's dispatch (wq_fn) and the helpers every
 * part uses (logging, queueing, idle-time housekeeping: heap trim and render
 * cache drop). The parts live in ctrl_*.c, their shared state in ctrl_int.h. */
#include "ctrl_int.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../kube/events.h"
#include "../kube/gvr.h"
#include "../kube/lease.h"
#include "../util/buf.h"
#include "../util/mem.h"

const char *const ctrl_res_kind_name[] = {"LogPipeline", "LogOutput"};
static const char res_key_prefix[] = {'p', 'o'};

void ctrl_logf(struct lp_ctrl *c, enum lp_log_level lvl, const char *kind, const char *ns,
               const char *name, const char *fmt, ...)
{
	struct lp_log_obj obj = {kind, ns, name};
	struct lp_buf b;
	va_list ap;
	lp_err err;

	if (!c->log)
		return;
	lp_buf_init(&b, 16 * 1024);
	va_start(ap, fmt);
	err = lp_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (!err)
		lp_log(c->log, lvl, kind ? &obj : NULL, "%s", lp_buf_str(&b));
	lp_buf_free(&b);
}

uint64_t ctrl_now_ms(struct lp_ctrl *c)
{
	return lp_loop_now_ms(c->loop);
}

/* ---------- calls in flight ---------- */

struct call_ctx *ctrl_call_new(struct lp_ctrl *c, int type)
{
	struct call_ctx *x = lp_calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->c = c;
	x->type = type;
	x->next = c->calls;
	if (c->calls)
		c->calls->prev = x;
	c->calls = x;
	return x;
}

void ctrl_call_free(struct call_ctx *x)
{
	if (x->c) {
		if (x->prev)
			x->prev->next = x->next;
		else
			x->c->calls = x->next;
		if (x->next)
			x->next->prev = x->prev;
	}
	lp_free(x->key);
	lp_free(x);
}

/* ---------- queue ---------- */

void ctrl_enqueue(struct lp_ctrl *c, const char *key)
{
	lp_err err = lp_kube_wq_add(c->wq, key);
	if (err)
		ctrl_logf(c, LP_LOG_WARN, NULL, NULL, NULL, "queue %s: %s", key, lp_strerror(err));
}

void ctrl_enqueue_res(struct lp_ctrl *c, enum res_kind kind, const char *key)
{
	char buf[600];
	snprintf(buf, sizeof(buf), "%c/%s", res_key_prefix[kind], key);
	ctrl_enqueue(c, buf);
}

void ctrl_note_change(struct lp_ctrl *c)
{
	lp_debounce_note(&c->deb, ctrl_now_ms(c), c->run != NULL);
	ctrl_enqueue(c, KEY_CONFIG);
}

/* Queues every status check; after a new configuration that is not rolled out
 * yet, STATUS_SETTLE_MS later. */
void ctrl_status_all(struct lp_ctrl *c)
{
	if (c->cur_hash[0] && c->rolled_serial != c->serial) {
		if (lp_kube_wq_add_after(c->wq, KEY_STATUS_ALL, STATUS_SETTLE_MS))
			ctrl_logf(c, LP_LOG_WARN, NULL, NULL, NULL, "cannot queue %s",
			          KEY_STATUS_ALL);
		return;
	}
	ctrl_enqueue(c, KEY_STATUS_ALL);
}

void ctrl_split_key(const char *key, char *ns, size_t nssz, const char **name)
{
	const char *slash = strchr(key, '/');
	if (!slash) {
		ns[0] = '\0';
		*name = key;
		return;
	}
	snprintf(ns, nssz, "%.*s", (int)(slash - key), key);
	*name = slash + 1;
}

/* Gives freed heap pages back: the resident set is what a node's memory limit
 * sees, and glibc keeps what a burst of work freed. */
void ctrl_trim_heap(struct lp_ctrl *c)
{
	c->status_writes_untrimmed = 0;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* Queues key to run idle_ms from now, once (*queued). */
void ctrl_idle_queue(struct lp_ctrl *c, const char *key, int *queued, uint64_t idle_ms)
{
	if (!*queued && lp_kube_wq_add_after(c->wq, key, idle_ms) == LP_OK)
		*queued = 1;
}

/* For a key queued by ctrl_idle_queue(): 1 when the activity last seen at last_ms
 * is idle_ms old (do the work now); else 0, with key queued again for the rest. */
int ctrl_idle_since(struct lp_ctrl *c, const char *key, int *queued, uint64_t last_ms,
                    uint64_t idle_ms)
{
	uint64_t idle = ctrl_now_ms(c) - last_ms;

	*queued = 0;
	if (idle >= idle_ms)
		return 1;
	ctrl_idle_queue(c, key, queued, idle_ms - idle);
	return !*queued; /* cannot wait: now */
}

int ctrl_cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct all_walk {
	struct lp_ctrl *c;
	enum res_kind kind;
};

static int all_fn(void *arg, const char *key, void *kept)
{
	struct all_walk *w = arg;

	ctrl_enqueue_res(w->c, w->kind, key);
	return 0;
}

static void handle_key(struct lp_ctrl *c, struct lp_kube_wq *wq, const char *key)
{
	if (c->o.metrics)
		c->o.metrics->queue_depth(c->o.metrics->ctx, lp_kube_wq_len(wq));
	if (!strcmp(key, KEY_CONFIG)) {
		ctrl_handle_config(c);
	} else if (!strcmp(key, KEY_STATUS_ALL)) {
		for (int i = 0; i < 2 && c->leading; i++) {
			struct all_walk w = {c, (enum res_kind)i};
			lp_kube_informer_foreach(c->res[i], all_fn, &w);
		}
		ctrl_gauges_publish(c);
		lp_kube_wq_done(wq, key, LP_OK);
	} else if ((key[0] == 'p' || key[0] == 'o') && key[1] == '/') {
		ctrl_handle_status(c, key);
	} else if (!strcmp(key, KEY_CACHE_DROP)) {
		if (ctrl_idle_since(c, key, &c->cache_drop_queued, c->last_config_ms,
		                    RENDER_CACHE_IDLE_MS)) {
			/* a new, empty cache: the next run of changes fills it again */
			lp_render_cache_free(c->render_cache);
			c->render_cache = lp_render_cache_new();
			ctrl_trim_heap(c);
			ctrl_logf(c, LP_LOG_DEBUG, NULL, NULL, NULL,
			          "render cache dropped after %u ms without a config change",
			          RENDER_CACHE_IDLE_MS);
		}
		lp_kube_wq_done(wq, key, LP_OK);
	} else if (!strcmp(key, KEY_ROLLOUT)) {
		ctrl_handle_rollout(c);
		lp_kube_wq_done(wq, key, LP_OK);
	} else if (!strcmp(key, KEY_TRIM)) {
		if (ctrl_idle_since(c, key, &c->trim_queued, c->last_status_write_ms, TRIM_IDLE_MS))
			ctrl_trim_heap(c);
		lp_kube_wq_done(wq, key, LP_OK);
	} else {
		lp_kube_wq_done(wq, key, LP_OK);
	}
}

static void wq_fn(void *arg, struct lp_kube_wq *wq, const char *key)
{
	struct lp_ctrl *c = arg;
	char copy[640];

	if (!c->o.on_key) {
		handle_key(c, wq, key);
		return;
	}
	snprintf(copy, sizeof(copy), "%s", key); /* done() inside may free key */
	c->o.on_key(c->o.on_key_arg, copy, 0);
	handle_key(c, wq, key);
	c->o.on_key(c->o.on_key_arg, copy, 1);
}

/* ---------- resync, leadership ---------- */

static int64_t resync_cb(struct lp_loop *loop, void *arg)
{
	struct lp_ctrl *c = arg;
	ctrl_enqueue(c, KEY_CONFIG);
	ctrl_enqueue(c, KEY_STATUS_ALL);
	return (int64_t)c->o.resync_ms;
}

static void lead_started(void *arg)
{
	struct lp_ctrl *c = arg;
	c->leading = 1;
	ctrl_logf(c, LP_LOG_INFO, "Lease", c->control_ns, c->lease_name, "leading as %s",
	          c->identity);
	ctrl_enqueue(c, KEY_CONFIG);
	ctrl_enqueue(c, KEY_STATUS_ALL);
}

static void lead_stopped(void *arg)
{
	struct lp_ctrl *c = arg;
	c->leading = 0;
	ctrl_logf(c, LP_LOG_WARN, "Lease", c->control_ns, c->lease_name, "lost leadership");
}

/* ---------- public API ---------- */

int lp_ctrl_synced(const struct lp_ctrl *c)
{
	if (!c || !lp_kube_informer_synced(c->res[0]) || !lp_kube_informer_synced(c->res[1]))
		return 0;
	for (int i = 0; i < LP_OWNED_KIND_COUNT; i++)
		if (!lp_kube_informer_synced(c->owned[i]))
			return 0;
	return 1;
}

int lp_ctrl_leading(const struct lp_ctrl *c)
{
	return c && c->leading;
}

void lp_ctrl_get_stats(const struct lp_ctrl *c, struct lp_ctrl_stats *out)
{
	*out = c->stats;
}

uint64_t ctrl_restarts_of(const struct lp_kube_informer *inf)
{
	const struct lp_kube_informer_stats *st = inf ? lp_kube_informer_stats(inf) : NULL;
	return st ? st->watch_restarts + st->relists : 0;
}

void lp_ctrl_collect_metrics(const struct lp_ctrl *c)
{
	const struct lp_ctrl_metrics *m = c ? c->o.metrics : NULL;
	uint64_t secrets;

	if (!m)
		return;
	secrets = c->secret_restarts_gone;
	m->watch_restarts_total(m->ctx, "logpipelines", ctrl_restarts_of(c->res[RES_PIPELINE]));
	m->watch_restarts_total(m->ctx, "logoutputs", ctrl_restarts_of(c->res[RES_OUTPUT]));
	for (int k = 0; k < LP_OWNED_KIND_COUNT; k++) {
		if (k == LP_OWNED_SECRET)
			secrets += ctrl_restarts_of(c->owned[k]);
		else
			m->watch_restarts_total(m->ctx,
			                        lp_owned_kind_info((enum lp_owned_kind)k)->plural,
			                        ctrl_restarts_of(c->owned[k]));
	}
	for (size_t i = 0; i < c->n_secrets; i++)
		secrets += ctrl_restarts_of(c->secrets[i]->inf);
	m->watch_restarts_total(m->ctx, "secrets", secrets);
}

lp_err lp_ctrl_new(struct lp_ctrl **out, struct lp_loop *loop, struct lp_kube_client *client,
                   const struct lp_ctrl_opts *opts)
{
	struct lp_ctrl *c;
	char idbuf[300], host[256];

	if (!out || !loop || !client || !opts)
		return LP_ERR_INVALID;
	c = lp_calloc(1, sizeof(*c));
	if (!c)
		return LP_ERR_NOMEM;
	c->loop = loop;
	c->client = client;
	c->o = *opts;
	c->log = opts->log;
	c->debounce_ms = opts->debounce_ms ? opts->debounce_ms : 500;
	lp_debounce_init(&c->deb, c->debounce_ms);
	if (!opts->identity) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "logplane");
		host[sizeof(host) - 1] = '\0';
		snprintf(idbuf, sizeof(idbuf), "%s_%ld", host, (long)getpid());
	}
	c->control_ns =
	    lp_strdup(opts->control_ns ? opts->control_ns : LP_DEFAULT_CONTROL_NAMESPACE);
	c->lease_name = lp_strdup(opts->lease_name ? opts->lease_name : "logplane-operator");
	c->identity = lp_strdup(opts->identity ? opts->identity : idbuf);
	c->fb_image =
	    lp_strdup(opts->fluentbit_image ? opts->fluentbit_image : LP_DEFAULT_FLUENTBIT_IMAGE);
	c->agg_image = opts->aggregator_image ? lp_strdup(opts->aggregator_image) : NULL;
	c->nofile_image = opts->nofile_image ? lp_strdup(opts->nofile_image) : NULL;
	c->render_cache = lp_render_cache_new();
	if (!c->control_ns || !c->lease_name || !c->identity || !c->fb_image ||
	    (opts->aggregator_image && !c->agg_image) || (opts->nofile_image && !c->nofile_image) ||
	    !c->render_cache) {
		lp_ctrl_free(c);
		return LP_ERR_NOMEM;
	}
	c->o.control_ns = c->control_ns;
	c->leading = !opts->leader_elect;
	*out = c;
	return LP_OK;
}

static lp_err informer_for(struct lp_ctrl *c, struct lp_kube_informer **out,
                           const struct lp_kube_gvr *gvr, const char *ns, const char *label_sel,
                           const struct lp_kube_informer_ops *ops, struct inf_ctx *ix)
{
	struct lp_kube_informer_opts io = {0};
	struct lp_buf path;
	lp_err err;

	lp_buf_init(&path, 0);
	err = lp_kube_path(&path, gvr, ns, NULL, NULL);
	if (err)
		return err;
	io.path = lp_buf_str(&path);
	io.label_selector = label_sel;
	err = lp_kube_informer_new(out, c->client, &io, ops, ix);
	if (!err)
		err = lp_kube_informer_start(*out);
	lp_buf_free(&path);
	return err;
}

lp_err lp_ctrl_start(struct lp_ctrl *c)
{
	struct lp_kube_wq_opts wo = {0};
	lp_err err;

	wo.debounce_ms = c->debounce_ms < QUEUE_DEBOUNCE_MS ? c->debounce_ms : QUEUE_DEBOUNCE_MS;
	wo.max_inflight = 16;
	wo.backoff_base_ms = c->o.retry_base_ms ? c->o.retry_base_ms : 500;
	wo.backoff_cap_ms = 30000;
	err = lp_kube_wq_new(&c->wq, c->loop, &wo, wq_fn, c);
	if (err)
		return err;
	err = lp_kube_events_new(&c->events, c->client, "logplane-operator", c->control_ns,
	                         c->o.event_window_ms);
	if (err)
		return err;
	if (c->o.aws) {
		err = lp_worker_new(&c->worker, c->loop);
		if (err)
			return err;
	}
	for (int i = 0; i < 2; i++) {
		c->res_ctx[i] = (struct inf_ctx){c, i, LP_OWNED_KIND_COUNT};
		err = informer_for(c, &c->res[i],
		                   i == 0 ? &lp_kube_gvr_logpipelines : &lp_kube_gvr_logoutputs,
		                   NULL, NULL, &ctrl_res_ops, &c->res_ctx[i]);
		if (err)
			return err;
	}
	for (int k = 0; k < LP_OWNED_KIND_COUNT; k++) {
		const struct lp_owned_kind_info *ki = lp_owned_kind_info((enum lp_owned_kind)k);
		c->owned_ctx[k] = (struct inf_ctx){c, 2, (enum lp_owned_kind)k};
		err = informer_for(c, &c->owned[k], ctrl_owned_gvr((enum lp_owned_kind)k),
		                   ki->namespaced ? c->control_ns : NULL, LP_MANAGED_SELECTOR,
		                   &ctrl_owned_ops, &c->owned_ctx[k]);
		if (err)
			return err;
	}
	if (c->o.leader_elect) {
		struct lp_kube_lease_opts lo = {0};
		lo.ns = c->control_ns;
		lo.name = c->lease_name;
		lo.identity = c->identity;
		lo.duration_ms = c->o.lease_duration_ms;
		if (lo.duration_ms)
			lo.renew_ms = lo.duration_ms / 3;
		if (lo.duration_ms)
			lo.retry_ms = lo.duration_ms / 7 + 1;
		lo.on_started = lead_started;
		lo.on_stopped = lead_stopped;
		lo.arg = c;
		err = lp_kube_lease_new(&c->lease, c->client, &lo);
		if (!err)
			err = lp_kube_lease_start(c->lease);
		if (err)
			return err;
	}
	if (c->o.resync_ms) {
		err = lp_loop_timer_add(c->loop, (int64_t)c->o.resync_ms, resync_cb, c, &c->resync);
		if (err)
			return err;
	}
	ctrl_logf(c, LP_LOG_INFO, NULL, NULL, NULL,
	          "controller started: control namespace %s, leader election %s, resync %llu ms, "
	          "debounce %llu ms",
	          c->control_ns, c->o.leader_elect ? "on" : "off",
	          (unsigned long long)c->o.resync_ms, (unsigned long long)c->debounce_ms);
	return LP_OK;
}

static void released(void *arg, lp_err err)
{
	struct lp_ctrl *c = arg;
	if (err)
		ctrl_logf(c, LP_LOG_WARN, "Lease", c->control_ns, c->lease_name, "release: %s",
		          lp_strerror(err));
	else
		ctrl_logf(c, LP_LOG_INFO, "Lease", c->control_ns, c->lease_name, "released");
	if (c->shutdown_done)
		c->shutdown_done(c->shutdown_arg);
}

static int64_t shutdown_now(struct lp_loop *loop, void *arg)
{
	struct lp_ctrl *c = arg;
	if (c->shutdown_done)
		c->shutdown_done(c->shutdown_arg);
	return -1;
}

lp_err lp_ctrl_shutdown(struct lp_ctrl *c, void (*done)(void *arg), void *arg)
{
	int had_lease = c->lease && lp_kube_lease_leading(c->lease);

	c->shutting_down = 1;
	c->leading = 0;
	c->shutdown_done = done;
	c->shutdown_arg = arg;
	if (c->resync) {
		lp_loop_timer_del(c->loop, c->resync);
		c->resync = NULL;
	}
	if (had_lease)
		return lp_kube_lease_release(c->lease, released, c);
	return lp_loop_timer_add(c->loop, 0, shutdown_now, c, NULL);
}

void lp_ctrl_free(struct lp_ctrl *c)
{
	if (!c)
		return;
	if (c->resync)
		lp_loop_timer_del(c->loop, c->resync);
	lp_kube_lease_free(c->lease);
	/* AWS jobs report into the caches and the queue: let them finish first */
	lp_worker_free(c->worker);
	lp_kube_wq_free(c->wq);
	for (struct call_ctx *x = c->calls; x; x = x->next)
		x->c = NULL;
	if (c->run)
		c->run->c = NULL; /* freed by its last callback */
	for (size_t i = 0; i < c->n_secrets; i++)
		ctrl_secret_watch_free(c->secrets[i]);
	lp_free(c->secrets);
	lp_htab_free(&c->secret_index);
	for (int i = 0; i < 2; i++)
		lp_kube_informer_free(c->res[i]);
	for (int k = 0; k < LP_OWNED_KIND_COUNT; k++)
		lp_kube_informer_free(c->owned[k]);
	lp_kube_events_free(c->events);
	for (size_t i = 0; i < c->n_wrote; i++) {
		lp_free(c->wrote[i].name);
		lp_free(c->wrote[i].pre_rv);
	}
	lp_free(c->wrote);
	lp_free(c->control_ns);
	lp_free(c->lease_name);
	lp_free(c->identity);
	lp_free(c->fb_image);
	lp_free(c->agg_image);
	lp_free(c->nofile_image);
	lp_render_cache_free(c->render_cache);
	ctrl_limits_free(c->limits);
	lp_free(c);
}

struct foreach_ctx {
	void (*fn)(void *arg, const struct lp_pipeline *p, const struct lp_output *o);
	void *arg;
};

static int foreach_fn(void *arg, const char *key, void *kept)
{
	struct foreach_ctx *fc = arg;
	struct res_kept *k = kept;
	(void)key;
	if (k && !k->deleting && (k->p || k->o))
		fc->fn(fc->arg, k->p, k->o);
	return 0;
}

void lp_ctrl_foreach_object(const struct lp_ctrl *c,
                            void (*fn)(void *arg, const struct lp_pipeline *p,
                                       const struct lp_output *o),
                            void *arg)
{
	struct foreach_ctx fc = {fn, arg};

	if (!c || !fn)
		return;
	for (int i = 0; i < 2; i++)
		if (c->res[i])
			lp_kube_informer_foreach(c->res[i], foreach_fn, &fc);
}

uint64_t lp_ctrl_res_epoch(const struct lp_ctrl *c)
{
	return c ? c->res_epoch : 0;
}
