/* pkg/reconcile/controller.c: informers -> work queue -> desired state ->
 * server-side apply and status (see controller.h). */
#include "controller.h"
#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../kube/apply.h"
#include "../kube/events.h"
#include "../kube/gvr.h"
#include "../kube/informer.h"
#include "../kube/lease.h"
#include "../kube/workqueue.h"
#include "../render/render.h"
#include "../server/opmetrics.h"
#include "../util/b64.h"
#include "../util/buf.h"
#include "../util/clock.h"
#include "../util/mem.h"
#include "debounce.h"
#include "desired.h"
#include "worker.h"

/* a Secret is at most 1 MiB: its base64 text at most 4/3 of that */
#define LP_SECRET_VALUE_MAX ((size_t)1400 * 1024)

#define KEY_CONFIG          "config"
#define KEY_STATUS_ALL      "status-all"
#define KEY_TRIM            "trim-heap"
#define KEY_CACHE_DROP      "render-cache-drop"
#define AWS_RECHECK_MS      (10u * 60u * 1000u) /* re-verify a target that is fine */
#define AWS_RETRY_MS        30000u              /* retry one that is not (yet) */
#define AWS_CONVERGE_MS     5000u               /* check a converging one again (no hint given) */
#define CONFIG_FAILED_AFTER 3                   /* consecutive failures before statuses say so */
/* Every key's own queue debounce: enough to take the events of one watch read
 * together; the config key has its own debounce (debounce.h) on top. */
#define QUEUE_DEBOUNCE_MS 2u
/* Statuses that would say "rolling out" wait this long: a rollout that is done
 * by then supersedes them, so each resource gets one status write, not two. */
#define STATUS_SETTLE_MS 100u
/* After this many status writes, the heap is trimmed once none came for
 * TRIM_IDLE_MS: each write and its watch event allocate and free a few KiB,
 * and glibc keeps the pages. */
#define TRIM_AFTER_STATUS_WRITES 1000u
#define TRIM_IDLE_MS             1000u
/* The render cache holds the text of every config part (6 MiB at 10,000
 * pipelines): it speeds up a run of changes and is dropped once no config was
 * computed for this long, so an idle operator does not keep it. */
#define RENDER_CACHE_IDLE_MS 3000u

enum res_kind { RES_PIPELINE = 0, RES_OUTPUT = 1 };
static const char *const res_kind_name[] = {"LogPipeline", "LogOutput"};
static const char res_key_prefix[] = {'p', 'o'};

/* ---------- what the caches keep ---------- */

/* Facts from the last config computation; carried from one cached version
 * of a resource to the next (see res_upsert). */
struct res_facts {
	int64_t generation; /* the generation these facts describe; -1 none */
	size_t n_problems;
	char *problem_field;
	char *problem_message;
	uint64_t problems_fp; /* to send an Event only when the problems change */
	enum lp_config_state config;
	char *render_field;
	char *render_message;
	uint64_t fingerprint; /* generation + referenced Secret values */
	uint64_t serial_in;   /* first config serial with this fingerprint */
	int in_config;
	int unused; /* an output no valid pipeline routes to */
	/* AWS outputs */
	struct lp_ctrl_aws_result *aws; /* last result, NULL until one came */
	uint64_t aws_fp;                /* fingerprint it was computed for */
	uint64_t aws_checked_ms;
	int aws_inflight;
	int cleanup_done;
	uint64_t cleanup_tried_ms; /* last cleanup attempt (deleting) */
	int finalizer_inflight;
};

struct res_kept {
	int refs; /* the cache holds one; an AWS job may hold another */
	enum res_kind kind;
	struct lp_pipeline *p;
	struct lp_output *o;
	struct lp_problems parse_probs;
	int64_t generation;
	int deleting;
	json_t *finalizers; /* copy of metadata.finalizers or NULL */
	struct lp_status_seen seen;
	char written[33]; /* digest (128 bits) of a status we wrote, until the next event */
	struct res_facts *facts;
};

struct owned_kept {
	char hash[65];           /* logplane.io/applied-hash, "" when absent */
	struct lp_rollout *roll; /* DaemonSet / StatefulSet only */
};

/* ---------- controller state ---------- */

struct inf_ctx { /* the arg of one informer's ops */
	struct lp_ctrl *c;
	int which; /* 0 pipelines, 1 outputs, 2 owned (kind in owned_kind), 3 secret */
	enum lp_owned_kind owned_kind;
};

/* Referenced Secrets are watched one by one (field selector metadata.name);
 * past this many in one namespace, one informer for that namespace replaces
 * them, so a namespace with hundreds of outputs does not cost hundreds of
 * watches (connections, on an API server without HTTP/2).
 * Measured (release build, kubesim over TLS/HTTP 1.1, idle, smaps_rollup):
 * 10 pipelines + 10 outputs with 10 Secrets in 10 namespaces (10 watches)
 * 4284 KiB anonymous; the same in one namespace (one watch) 3584 KiB: about
 * 78 KiB per watch. A GET of each referenced Secret on change and on resync
 * would save that but notice a rotated key only at the next resync (5 min by
 * default) instead of within a second, so watches stay. */
#define SECRET_WATCHES_PER_NS 8

struct secret_watch {
	char *ns;
	char *name; /* NULL: the whole namespace */
	struct lp_kube_informer *inf;
	int mark;
};

struct wrote { /* a write whose watch event may not have arrived yet */
	enum lp_owned_kind kind;
	char *name;
	char hash[65];
	char *pre_rv; /* resourceVersion in the cache when we wrote; NULL if absent */
	int deleted;
};

struct call_ctx; /* one asynchronous write in flight */
struct run;      /* one config application in flight */

struct lp_ctrl {
	struct lp_loop *loop;
	struct lp_kube_client *client;
	struct lp_ctrl_opts o;
	char *control_ns, *lease_name, *identity, *fb_image, *agg_image;
	uint64_t debounce_ms;
	const struct lp_log *log;
	struct inf_ctx res_ctx[2];
	struct lp_kube_informer *res[2];
	struct inf_ctx owned_ctx[LP_OWNED_KIND_COUNT];
	struct lp_kube_informer *owned[LP_OWNED_KIND_COUNT];
	struct secret_watch *secrets;
	size_t n_secrets;
	/* open-addressing index of secrets by (ns, name): slot = position + 1,
	 * 0 empty; rebuilt on the next lookup after a removal (secret_index_ok 0) */
	size_t *secret_index;
	size_t secret_index_cap; /* a power of two, more than twice n_secrets */
	int secret_index_ok;
	uint64_t secret_restarts_gone; /* watch restarts of removed Secret watches */
	struct lp_kube_wq *wq;
	struct lp_kube_events *events;
	struct lp_kube_lease *lease;
	struct lp_worker *worker;
	struct lp_loop_timer *resync;
	int leading;
	int shutting_down;
	struct lp_debounce deb; /* of the config key */
	/* the configuration */
	char cur_hash[65];      /* config hash of the last desired state computed */
	uint64_t serial;        /* bumps when cur_hash changes */
	uint64_t rolled_serial; /* serial the Fluent Bit pods run completely */
	int want_aggregator;
	/* the part files of the last render, so that a change re-emits only the
	 * parts it touches; config_compute() only (loop thread) */
	struct lp_render_cache *render_cache;
	unsigned config_failures;
	char config_error[256];
	struct wrote *wrote;
	size_t n_wrote;
	struct run *run;        /* in flight, or NULL */
	struct call_ctx *calls; /* every call in flight (detached on free) */
	struct lp_ctrl_stats stats;
	size_t gauges[4][3]; /* pipelines by gauge_types x True, False, Unknown (or absent) */
	unsigned status_writes_untrimmed;
	uint64_t last_status_write_ms;
	int trim_queued;
	int cache_drop_queued;
	uint64_t last_config_ms; /* when the last config computation finished */
	void (*shutdown_done)(void *arg);
	void *shutdown_arg;
};

struct call_ctx {
	struct lp_ctrl *c; /* NULL once the controller is gone */
	struct call_ctx *prev, *next;
	int type; /* CALL_* */
	struct run *run;
	size_t op;
	char *key;
	char digest[65];
	uint64_t started_ms;
};

enum { CALL_APPLY = 1, CALL_DELETE, CALL_STATUS, CALL_FINALIZER };

struct op {
	enum lp_owned_kind kind;
	char *name;
	char hash[65];
	char *pre_rv;
	int is_delete;
	int phase;
	const json_t *obj; /* borrowed from run->d */
};

struct run {
	struct lp_ctrl *c; /* NULL once detached */
	struct lp_desired d;
	struct op *ops;
	size_t n_ops;
	int phase;
	size_t inflight;
	size_t writes;
	lp_err err;
	char errmsg[256];
};

static const struct lp_kube_gvr *owned_gvr(enum lp_owned_kind k)
{
	switch (k) {
	case LP_OWNED_SECRET:
		return &lp_kube_gvr_secrets;
	case LP_OWNED_CONFIGMAP:
		return &lp_kube_gvr_configmaps;
	case LP_OWNED_SERVICEACCOUNT:
		return &lp_kube_gvr_serviceaccounts;
	case LP_OWNED_CLUSTERROLE:
		return &lp_kube_gvr_clusterroles;
	case LP_OWNED_CLUSTERROLEBINDING:
		return &lp_kube_gvr_clusterrolebindings;
	case LP_OWNED_SERVICE:
		return &lp_kube_gvr_services;
	case LP_OWNED_PDB:
		return &lp_kube_gvr_pdbs;
	case LP_OWNED_STATEFULSET:
		return &lp_kube_gvr_statefulsets;
	case LP_OWNED_DAEMONSET:
		return &lp_kube_gvr_daemonsets;
	default:
		return NULL;
	}
}

static void logf_(struct lp_ctrl *c, enum lp_log_level lvl, const char *kind, const char *ns,
                  const char *name, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void logf_(struct lp_ctrl *c, enum lp_log_level lvl, const char *kind, const char *ns,
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

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	if (!h)
		h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return fnv(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

static uint64_t now_ms(struct lp_ctrl *c)
{
	return lp_loop_now_ms(c->loop);
}

/* ---------- calls in flight ---------- */

static struct call_ctx *call_new(struct lp_ctrl *c, int type)
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

static void call_free(struct call_ctx *x)
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

/* ---------- resource cache (LogPipeline, LogOutput) ---------- */

static void facts_free(struct res_facts *f)
{
	if (!f)
		return;
	lp_free(f->problem_field);
	lp_free(f->problem_message);
	lp_free(f->render_field);
	lp_free(f->render_message);
	lp_free(f->aws);
	lp_free(f);
}

static void res_unref(struct res_kept *k)
{
	if (!k || --k->refs > 0)
		return;
	lp_pipeline_free(k->p);
	lp_output_free(k->o);
	lp_problems_free(&k->parse_probs);
	json_decref(k->finalizers);
	facts_free(k->facts);
	lp_free(k);
}

static void *res_transform(void *arg, const char *key, json_t *obj, lp_err *err)
{
	struct inf_ctx *ix = arg;
	struct res_kept *k = lp_calloc(1, sizeof(*k));
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *fin;
	lp_err perr;

	if (!k) {
		*err = LP_ERR_NOMEM;
		return NULL;
	}
	k->refs = 1;
	k->kind = ix->which == 0 ? RES_PIPELINE : RES_OUTPUT;
	if (k->kind == RES_PIPELINE)
		perr = lp_pipeline_parse(&k->p, obj, &k->parse_probs);
	else
		perr = lp_output_parse(&k->o, obj, &k->parse_probs);
	if (perr && perr != LP_ERR_INVALID) {
		*err = perr;
		res_unref(k);
		return NULL;
	}
	if (perr == LP_ERR_INVALID && k->parse_probs.n == 0 &&
	    lp_problems_add(&k->parse_probs, "spec", "could not be parsed")) {
		*err = LP_ERR_NOMEM;
		res_unref(k);
		return NULL;
	}
	k->generation = json_integer_value(json_object_get(meta, "generation"));
	/* the informer keeps the resourceVersion: 20,000 copies less at scale */
	if (k->p) {
		lp_free(k->p->meta.resource_version);
		k->p->meta.resource_version = NULL;
	}
	if (k->o) {
		lp_free(k->o->meta.resource_version);
		k->o->meta.resource_version = NULL;
	}
	k->deleting = json_object_get(meta, "deletionTimestamp") != NULL &&
	              !json_is_null(json_object_get(meta, "deletionTimestamp"));
	fin = json_object_get(meta, "finalizers");
	if (json_is_array(fin) && json_array_size(fin))
		k->finalizers = json_deep_copy(fin);
	lp_status_seen_parse(&k->seen, json_object_get(obj, "status"));
	(void)key;
	return k;
}

/* metadata.uid (borrowed from the parsed object), or NULL. */
static const char *res_uid(const struct res_kept *k)
{
	const struct lp_meta *m = k->p ? &k->p->meta : k->o ? &k->o->meta : NULL;
	return m ? m->uid : NULL;
}

static void res_free_kept(void *arg, void *kept)
{
	res_unref(kept);
}

static void note_change(struct lp_ctrl *c);
static void enqueue(struct lp_ctrl *c, const char *key);
static void enqueue_res(struct lp_ctrl *c, enum res_kind kind, const char *key);

/* ---------- logplane_pipelines{condition,status}, kept as the cache changes ---------- */

static const char *const gauge_types[] = {"Ready", "Valid", "ConfigGenerated", "AgentsReady"};

static void gauges_publish(struct lp_ctrl *c)
{
	static const char *const names[] = {"True", "False", "Unknown"};

	for (int t = 0; c->o.metrics && t < 4; t++)
		for (int s = 0; s < 3; s++)
			lp_opmetrics_pipelines(c->o.metrics, gauge_types[t], names[s],
			                       c->gauges[t][s]);
}

/* Column of gauges[t] a cached pipeline counts in; -1 for none. */
static int gauge_col(const struct res_kept *k, int t)
{
	int st;

	if (!k)
		return -1;
	st = lp_status_seen_get(&k->seen, gauge_types[t]);
	return st == LP_COND_TRUE ? 0 : st == LP_COND_FALSE ? 1 : 2;
}

/* A cached pipeline changed from old to k (either NULL: appeared, went). */
static void gauges_update(struct lp_ctrl *c, const struct res_kept *old, const struct res_kept *k)
{
	int changed = 0;

	for (int t = 0; t < 4; t++) {
		int a = gauge_col(old, t), b = gauge_col(k, t);
		if (a == b)
			continue;
		if (a >= 0 && c->gauges[t][a])
			c->gauges[t][a]--;
		if (b >= 0)
			c->gauges[t][b]++;
		changed = 1;
	}
	if (changed)
		gauges_publish(c);
}

static void res_upsert(void *arg, const char *key, json_t *obj, void *kept, void *old_kept)
{
	struct inf_ctx *ix = arg;
	struct res_kept *k = kept, *old = old_kept;
	int spec_changed = 1;

	if (k && old) {
		k->facts = old->facts; /* carried; checked against the generation */
		old->facts = NULL;
		spec_changed = k->generation != old->generation || k->deleting != old->deleting;
	}
	if (ix->which == RES_PIPELINE)
		gauges_update(ix->c, old, k);
	if (spec_changed && !lp_kube_informer_synced(ix->c->res[ix->which]))
		enqueue(ix->c, KEY_CONFIG); /* the first list: a start, not a burst of changes */
	else if (spec_changed)
		note_change(ix->c);
	else if (k)
		enqueue_res(ix->c, k->kind, key); /* e.g. someone edited our status */
}

static void res_delete(void *arg, const char *key, void *kept)
{
	struct inf_ctx *ix = arg;
	if (ix->which == RES_PIPELINE) /* (Secret watches share the outputs' ctx) */
		gauges_update(ix->c, kept, NULL);
	note_change(ix->c);
}

static void any_synced(void *arg)
{
	struct inf_ctx *ix = arg;
	enqueue(ix->c, KEY_CONFIG);
}

/* ---------- owned objects cache ---------- */

static void *owned_transform(void *arg, const char *key, json_t *obj, lp_err *err)
{
	struct inf_ctx *ix = arg;
	struct owned_kept *k = lp_calloc(1, sizeof(*k));
	const char *h;

	if (!k) {
		*err = LP_ERR_NOMEM;
		return NULL;
	}
	h = json_string_value(
	    json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"),
	                    LP_APPLIED_HASH_ANNOTATION));
	snprintf(k->hash, sizeof(k->hash), "%s", h ? h : "");
	if (ix->owned_kind == LP_OWNED_DAEMONSET || ix->owned_kind == LP_OWNED_STATEFULSET) {
		k->roll = lp_calloc(1, sizeof(*k->roll));
		if (!k->roll) {
			lp_free(k);
			*err = LP_ERR_NOMEM;
			return NULL;
		}
		lp_rollout_parse(k->roll, obj);
	}
	(void)key;
	return k;
}

static void owned_free_kept(void *arg, void *kept)
{
	struct owned_kept *k = kept;
	lp_free(k->roll);
	lp_free(k);
}

static void update_rolled(struct lp_ctrl *c);
static int our_write(struct lp_ctrl *c, enum lp_owned_kind kind, const char *key, const char *hash);

static void owned_upsert(void *arg, const char *key, json_t *obj, void *kept, void *old_kept)
{
	struct inf_ctx *ix = arg;
	struct owned_kept *k = kept, *old = old_kept;

	/* Someone else changed our object: put it back. The watch bringing back
	 * our own write (the hash we applied) needs no new computation. */
	if ((!old || strcmp(k->hash, old->hash) != 0) &&
	    !our_write(ix->c, ix->owned_kind, key, k->hash))
		enqueue(ix->c, KEY_CONFIG);
	if (k->roll)
		update_rolled(ix->c);
}

static void owned_delete(void *arg, const char *key, void *kept)
{
	struct inf_ctx *ix = arg;
	enqueue(ix->c, KEY_CONFIG);
	if (ix->owned_kind == LP_OWNED_DAEMONSET || ix->owned_kind == LP_OWNED_STATEFULSET)
		enqueue(ix->c, KEY_STATUS_ALL);
}

/* ---------- referenced Secrets ---------- */

static void *secret_transform(void *arg, const char *key, json_t *obj, lp_err *err)
{
	const json_t *data = json_object_get(obj, "data");
	const char *type = json_string_value(json_object_get(obj, "type"));
	json_t *copy;

	/* never credentials for outputs, and large: keep key and version only */
	if (type && (!strcmp(type, "helm.sh/release.v1") ||
	             !strcmp(type, "kubernetes.io/service-account-token")))
		return NULL;
	copy = json_is_object(data) ? json_deep_copy(data) : json_object();
	if (!copy)
		*err = LP_ERR_NOMEM;
	return copy;
}

static void secret_free_kept(void *arg, void *kept)
{
	json_decref(kept);
}

static void secret_upsert(void *arg, const char *key, json_t *obj, void *kept, void *old_kept)
{
	struct inf_ctx *ix = arg;
	if (!kept && !old_kept)
		return; /* a Secret a namespace-wide watch does not keep */
	if (!old_kept || !kept || !json_equal(kept, old_kept))
		note_change(ix->c);
}

static uint64_t secret_hash(const char *ns, const char *name)
{
	uint64_t h = fnv_str(0, ns);
	return name ? fnv_str(fnv(h, "/", 1), name) : fnv(h, "*", 1);
}

static int secret_is(const struct secret_watch *w, const char *ns, const char *name)
{
	return !strcmp(w->ns, ns) && (name ? (w->name && !strcmp(w->name, name)) : !w->name);
}

/* Puts c->secrets[i] into the index (which has a free slot). */
static void secret_index_put(struct lp_ctrl *c, size_t i)
{
	size_t mask = c->secret_index_cap - 1;
	size_t h = (size_t)secret_hash(c->secrets[i].ns, c->secrets[i].name) & mask;

	while (c->secret_index[h])
		h = (h + 1) & mask;
	c->secret_index[h] = i + 1;
}

/* Indexes every watch, in a table at least four times their number. Returns
 * 0, or -1 on no memory (the index stays unusable). */
static int secret_index_build(struct lp_ctrl *c)
{
	size_t cap = 16;

	while (cap < 4 * (c->n_secrets + 1))
		cap *= 2;
	if (cap != c->secret_index_cap) {
		size_t *t = lp_calloc(cap, sizeof(*t));
		if (!t)
			return -1;
		lp_free(c->secret_index);
		c->secret_index = t;
		c->secret_index_cap = cap;
	} else {
		memset(c->secret_index, 0, cap * sizeof(*c->secret_index));
	}
	for (size_t i = 0; i < c->n_secrets; i++)
		secret_index_put(c, i);
	c->secret_index_ok = 1;
	return 0;
}

/* The watch of exactly ns/name (name NULL: the namespace-wide one). A hash
 * lookup: it runs for every Secret reference of every output at each config
 * computation. */
static struct secret_watch *secret_watch_find(struct lp_ctrl *c, const char *ns, const char *name)
{
	size_t mask, h;

	if (!c->secret_index_ok && secret_index_build(c) != 0) {
		for (size_t i = 0; i < c->n_secrets; i++) /* no memory for the index */
			if (secret_is(&c->secrets[i], ns, name))
				return &c->secrets[i];
		return NULL;
	}
	mask = c->secret_index_cap - 1;
	for (h = (size_t)secret_hash(ns, name) & mask; c->secret_index[h]; h = (h + 1) & mask)
		if (secret_is(&c->secrets[c->secret_index[h] - 1], ns, name))
			return &c->secrets[c->secret_index[h] - 1];
	return NULL;
}

/* The watch that sees ns/name: its own, else its namespace's. */
static struct secret_watch *secret_find(struct lp_ctrl *c, const char *ns, const char *name)
{
	struct secret_watch *w = secret_watch_find(c, ns, name);
	return w ? w : secret_watch_find(c, ns, NULL);
}

static const json_t *secret_data(struct lp_ctrl *c, const char *ns, const char *name)
{
	struct secret_watch *w = secret_find(c, ns, name);
	void *kept = NULL;
	char key[512];

	if (!w)
		return NULL;
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (!lp_kube_informer_get(w->inf, key, &kept))
		return NULL;
	return kept; /* NULL for a Secret a namespace-wide watch does not keep */
}

static int secret_has_key(void *ctx, const char *ns, const char *name, const char *key)
{
	const json_t *d = secret_data(ctx, ns, name);
	if (!d)
		return 0;
	return key ? json_object_get(d, key) != NULL : 1;
}

static const char *secret_value(void *ctx, const char *ns, const char *name, const char *key)
{
	return json_string_value(json_object_get(secret_data(ctx, ns, name), key));
}

static lp_err secret_watch_start(struct lp_ctrl *c, const char *ns, const char *name)
{
	static const struct lp_kube_informer_ops ops = {
	    .transform = secret_transform,
	    .free_kept = secret_free_kept,
	    .on_upsert = secret_upsert,
	    .on_delete = res_delete,
	    .on_synced = any_synced,
	};
	struct lp_kube_informer_opts io = {0};
	struct secret_watch *nv, *w;
	struct lp_buf path, sel;
	lp_err err;

	nv = lp_realloc(c->secrets, (c->n_secrets + 1) * sizeof(*nv));
	if (!nv)
		return LP_ERR_NOMEM;
	c->secrets = nv;
	w = &c->secrets[c->n_secrets];
	memset(w, 0, sizeof(*w));
	lp_buf_init(&path, 0);
	lp_buf_init(&sel, 0);
	err = lp_kube_path(&path, &lp_kube_gvr_secrets, ns, NULL, NULL);
	if (!err && name)
		err = lp_buf_addf(&sel, "metadata.name=%s", name);
	if (err)
		goto out;
	err = LP_ERR_NOMEM;
	w->ns = lp_strdup(ns);
	w->name = name ? lp_strdup(name) : NULL;
	if (!w->ns || (name && !w->name))
		goto out;
	io.path = lp_buf_str(&path);
	io.field_selector = name ? lp_buf_str(&sel) : NULL;
	io.page_limit = 100;
	err = lp_kube_informer_new(&w->inf, c->client, &io, &ops, &c->res_ctx[RES_OUTPUT]);
	if (err)
		goto out;
	err = lp_kube_informer_start(w->inf);
	if (err)
		goto out;
	c->n_secrets++;
	if (c->secret_index_ok && 2 * c->n_secrets < c->secret_index_cap)
		secret_index_put(c, c->n_secrets - 1);
	else
		c->secret_index_ok = 0; /* grown at the next lookup */
	logf_(c, LP_LOG_DEBUG, "Secret", ns, name ? name : "*",
	      name ? "watching referenced Secret" : "watching the namespace's Secrets");
out:
	if (err) {
		lp_kube_informer_free(w->inf);
		lp_free(w->ns);
		lp_free(w->name);
	}
	lp_buf_free(&path);
	lp_buf_free(&sel);
	return err;
}

static uint64_t restarts_of(const struct lp_kube_informer *inf);

static void secret_watch_remove(struct lp_ctrl *c, size_t i)
{
	c->secret_restarts_gone += restarts_of(c->secrets[i].inf); /* counters never go down */
	lp_kube_informer_free(c->secrets[i].inf);
	lp_free(c->secrets[i].ns);
	lp_free(c->secrets[i].name);
	c->secrets[i] = c->secrets[--c->n_secrets];
	c->secret_index_ok = 0; /* positions moved */
}

/* Calls fn for each Secret name an output references (its own namespace). */
static void output_secret_refs(const struct lp_output *o, void (*fn)(void *, const char *),
                               void *arg)
{
	const struct lp_tls *tls = NULL;
	const struct lp_basic_auth *auth = NULL;

	if (!o)
		return;
	if (lp_output_type_is_aws(o->type) && o->aws.credentials.secret_name)
		fn(arg, o->aws.credentials.secret_name);
	switch (o->type) {
	case LP_OUT_OPENSEARCH:
	case LP_OUT_ELASTICSEARCH:
		tls = &o->u.search.tls;
		auth = &o->u.search.auth;
		break;
	case LP_OUT_LOKI:
		tls = &o->u.loki.tls;
		auth = &o->u.loki.auth;
		break;
	case LP_OUT_HTTP:
		tls = &o->u.http.tls;
		auth = &o->u.http.auth;
		for (size_t i = 0; i < o->u.http.n_headers; i++)
			if (o->u.http.headers[i].value_from.name)
				fn(arg, o->u.http.headers[i].value_from.name);
		break;
	case LP_OUT_SLACK:
		if (o->u.slack.webhook.name)
			fn(arg, o->u.slack.webhook.name);
		break;
	case LP_OUT_FORWARD:
		tls = &o->u.forward.tls;
		if (o->u.forward.shared_key.name)
			fn(arg, o->u.forward.shared_key.name);
		break;
	default:
		break;
	}
	if (tls && tls->ca_secret_name)
		fn(arg, tls->ca_secret_name);
	if (auth && auth->secret_name)
		fn(arg, auth->secret_name);
}

struct ref_walk {
	struct lp_ctrl *c;
	const char *ns;
	lp_err err;
	int unsynced;
	uint64_t fp; /* fingerprint of the referenced values */
};

struct collect {
	struct lp_ctrl *c;
	struct res_kept **v;
	char **keys;
	size_t n, cap;
	lp_err err;
};

struct ref_list { /* "namespace/name" of referenced Secrets */
	struct lp_strlist l;
	size_t cap;
	const char *ns;
	lp_err err;
};

static void ref_collect(void *arg, const char *name)
{
	struct ref_list *rl = arg;
	struct lp_buf b;
	char *s;

	if (rl->err)
		return;
	if (rl->l.n == rl->cap) {
		size_t ncap = rl->cap ? rl->cap * 2 : 16;
		char **nv = lp_realloc(rl->l.v, ncap * sizeof(*nv));
		if (!nv) {
			rl->err = LP_ERR_NOMEM;
			return;
		}
		rl->l.v = nv;
		rl->cap = ncap;
	}
	lp_buf_init(&b, 0);
	if (lp_buf_addf(&b, "%s/%s", rl->ns, name) || !(s = lp_buf_take(&b))) {
		rl->err = LP_ERR_NOMEM;
		return;
	}
	rl->l.v[rl->l.n++] = s;
}

static int cmp_strp(const void *a, const void *b);

/* Marks (starting when needed) the watches that cover every Secret an
 * output references: one per Secret, or one per namespace past
 * SECRET_WATCHES_PER_NS. *unsynced counts those not synced yet. Unmarked
 * watches are for the caller to remove. */
static lp_err secret_watches_update(struct lp_ctrl *c, const struct collect *out, int *unsynced)
{
	struct ref_list rl = {{NULL, 0}, 0, NULL, LP_OK};
	size_t i, j, k, n = 0;
	lp_err err = LP_OK;

	for (i = 0; i < c->n_secrets; i++)
		c->secrets[i].mark = 0;
	for (i = 0; i < out->n && !rl.err; i++) {
		const struct res_kept *o = out->v[i];
		if (!o->o || !o->o->meta.ns || o->deleting)
			continue;
		rl.ns = o->o->meta.ns;
		output_secret_refs(o->o, ref_collect, &rl);
	}
	err = rl.err;
	if (rl.l.n > 1)
		qsort(rl.l.v, rl.l.n, sizeof(*rl.l.v), cmp_strp);
	for (i = 0; i < rl.l.n; i++) /* unique */
		if (n == 0 || strcmp(rl.l.v[i], rl.l.v[n - 1]) != 0)
			rl.l.v[n++] = rl.l.v[i];
		else
			lp_free(rl.l.v[i]);
	rl.l.n = n;
	for (i = 0; !err && i < n; i = j) {
		size_t nslen = strcspn(rl.l.v[i], "/");
		char ns[256];
		snprintf(ns, sizeof(ns), "%.*s", (int)nslen, rl.l.v[i]);
		for (j = i; j < n && !strncmp(rl.l.v[j], rl.l.v[i], nslen + 1); j++)
			;
		for (k = (j - i > SECRET_WATCHES_PER_NS) ? j - 1 : i; !err && k < j; k++) {
			const char *name =
			    j - i > SECRET_WATCHES_PER_NS ? NULL : rl.l.v[k] + nslen + 1;
			struct secret_watch *w = secret_watch_find(c, ns, name);
			if (!w) {
				err = secret_watch_start(c, ns, name);
				w = err ? NULL : secret_watch_find(c, ns, name);
			}
			if (w) {
				w->mark = 1;
				*unsynced += !lp_kube_informer_synced(w->inf);
			}
		}
	}
	for (i = 0; i < rl.l.n; i++)
		lp_free(rl.l.v[i]);
	lp_free(rl.l.v);
	return err;
}

static void ref_fingerprint(void *arg, const char *name)
{
	struct ref_walk *rw = arg;
	const json_t *d = secret_data(rw->c, rw->ns, name);
	char *s = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	rw->fp = fnv_str(rw->fp, name);
	rw->fp = fnv_str(rw->fp, s ? s : "-");
	free(s);
}

/* ---------- queue ---------- */

static void enqueue(struct lp_ctrl *c, const char *key)
{
	lp_err err = lp_kube_wq_add(c->wq, key);
	if (err)
		logf_(c, LP_LOG_WARN, NULL, NULL, NULL, "queue %s: %s", key, lp_strerror(err));
}

static void enqueue_res(struct lp_ctrl *c, enum res_kind kind, const char *key)
{
	char buf[600];
	snprintf(buf, sizeof(buf), "%c/%s", res_key_prefix[kind], key);
	enqueue(c, buf);
}

static void note_change(struct lp_ctrl *c)
{
	lp_debounce_note(&c->deb, now_ms(c), c->run != NULL);
	enqueue(c, KEY_CONFIG);
}

/* Queues every status check; after a new configuration that is not rolled out
 * yet, STATUS_SETTLE_MS later. */
static void status_all(struct lp_ctrl *c)
{
	if (c->cur_hash[0] && c->rolled_serial != c->serial) {
		if (lp_kube_wq_add_after(c->wq, KEY_STATUS_ALL, STATUS_SETTLE_MS))
			logf_(c, LP_LOG_WARN, NULL, NULL, NULL, "cannot queue %s", KEY_STATUS_ALL);
		return;
	}
	enqueue(c, KEY_STATUS_ALL);
}

/* ---------- write tracking (our writes not yet seen by the watch) ---------- */

static const char *owned_key(struct lp_ctrl *c, enum lp_owned_kind k, const char *name, char *buf,
                             size_t bufsz)
{
	if (lp_owned_kind_info(k)->namespaced)
		snprintf(buf, bufsz, "%s/%s", c->control_ns, name);
	else
		snprintf(buf, bufsz, "%s", name);
	return buf;
}

static struct wrote *wrote_find(struct lp_ctrl *c, enum lp_owned_kind k, const char *name)
{
	for (size_t i = 0; i < c->n_wrote; i++)
		if (c->wrote[i].kind == k && !strcmp(c->wrote[i].name, name))
			return &c->wrote[i];
	return NULL;
}

static void wrote_drop(struct lp_ctrl *c, struct wrote *w)
{
	lp_free(w->name);
	lp_free(w->pre_rv);
	*w = c->wrote[--c->n_wrote];
}

static void wrote_record(struct lp_ctrl *c, enum lp_owned_kind k, const char *name,
                         const char *hash, const char *pre_rv, int deleted)
{
	struct wrote *w = wrote_find(c, k, name), *nv;

	if (w)
		wrote_drop(c, w);
	nv = lp_realloc(c->wrote, (c->n_wrote + 1) * sizeof(*nv));
	if (!nv)
		return; /* only an optimisation: a later run may write once more */
	c->wrote = nv;
	w = &c->wrote[c->n_wrote];
	w->kind = k;
	w->name = lp_strdup(name);
	w->pre_rv = lp_strdup(pre_rv);
	w->deleted = deleted;
	snprintf(w->hash, sizeof(w->hash), "%s", hash ? hash : "");
	if (!w->name || (pre_rv && !w->pre_rv)) {
		lp_free(w->name);
		lp_free(w->pre_rv);
		return;
	}
	c->n_wrote++;
}

static void split_key(const char *key, char *ns, size_t nssz, const char **name);

/* 1 when hash is what we wrote, or are writing, to the owned object at key
 * (informer key: "ns/name", or "name" for a cluster-scoped kind). */
static int our_write(struct lp_ctrl *c, enum lp_owned_kind kind, const char *key, const char *hash)
{
	char ns[256];
	const char *name;
	const struct wrote *w;

	if (!hash || !hash[0])
		return 0;
	split_key(key, ns, sizeof(ns), &name);
	w = wrote_find(c, kind, name);
	if (w && !w->deleted && !strcmp(w->hash, hash))
		return 1;
	for (size_t i = 0; c->run && i < c->run->n_ops; i++) {
		const struct op *op = &c->run->ops[i];
		if (op->kind == kind && !op->is_delete && !strcmp(op->name, name) &&
		    !strcmp(op->hash, hash))
			return 1;
	}
	return 0;
}

/* What is there, as far as we know: 1 and *hash when the object exists. A
 * write of ours whose event has not come yet counts as done. */
static int observed(struct lp_ctrl *c, enum lp_owned_kind k, const char *name, const char **hash,
                    const char **rv)
{
	char key[512];
	void *kept = NULL;
	struct wrote *w;
	int has;
	const char *crv;

	owned_key(c, k, name, key, sizeof(key));
	has = lp_kube_informer_get(c->owned[k], key, &kept);
	crv = has ? lp_kube_informer_rv(c->owned[k], key) : NULL;
	w = wrote_find(c, k, name);
	if (rv)
		*rv = crv;
	if (w) {
		int stale = w->pre_rv ? (crv && !strcmp(crv, w->pre_rv)) : !has;
		if (stale) {
			if (hash)
				*hash = w->hash;
			return !w->deleted;
		}
		wrote_drop(c, w);
	}
	if (hash)
		*hash = has && kept ? ((struct owned_kept *)kept)->hash : "";
	return has;
}

/* ---------- rollout tracking ---------- */

static const struct lp_rollout *rollout_of(struct lp_ctrl *c, enum lp_owned_kind k,
                                           const char *name)
{
	char key[512];
	void *kept = NULL;

	owned_key(c, k, name, key, sizeof(key));
	if (!lp_kube_informer_get(c->owned[k], key, &kept) || !kept)
		return NULL;
	return ((struct owned_kept *)kept)->roll;
}

static int rolled_with(const struct lp_rollout *r, const char *hash)
{
	return r && r->known && r->done && !strcmp(r->config_hash, hash);
}

static void update_rolled(struct lp_ctrl *c)
{
	const struct lp_rollout *ds, *sts;

	if (!c->cur_hash[0] || c->rolled_serial == c->serial) {
		status_all(c);
		return;
	}
	ds = rollout_of(c, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
	sts = rollout_of(c, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME);
	if (!rolled_with(ds, c->cur_hash) ||
	    (c->want_aggregator && !rolled_with(sts, c->cur_hash))) {
		status_all(c);
		return;
	}
	c->rolled_serial = c->serial;
	status_all(c);
	logf_(c, LP_LOG_INFO, "DaemonSet", c->control_ns, LP_SHIPPER_NAME,
	      "configuration %.12s rolled out", c->cur_hash);
	if (c->events && c->leading) {
		struct lp_kube_objref ref = {"apps/v1",       "DaemonSet", c->control_ns,
		                             LP_SHIPPER_NAME, NULL,        NULL};
		char msg[160];
		snprintf(msg, sizeof(msg), "configuration %.12s rolled out", c->cur_hash);
		if (lp_kube_event(c->events, &ref, "Normal", "RolledOut", msg) == LP_OK)
			c->stats.events++;
	}
}

/* ---------- the config key ---------- */

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n_ops; i++) {
		lp_free(r->ops[i].name);
		lp_free(r->ops[i].pre_rv);
	}
	lp_free(r->ops);
	lp_desired_free(&r->d);
	lp_free(r);
}

static int collect_fn(void *arg, const char *key, void *kept)
{
	struct collect *col = arg;
	if (!kept)
		return 0;
	if (col->n == col->cap) {
		size_t ncap = col->cap ? col->cap * 2 : 64;
		struct res_kept **nv = lp_realloc(col->v, ncap * sizeof(*nv));
		char **nk;
		if (!nv) {
			col->err = LP_ERR_NOMEM;
			return 1;
		}
		col->v = nv;
		nk = lp_realloc(col->keys, ncap * sizeof(*nk));
		if (!nk) {
			col->err = LP_ERR_NOMEM;
			return 1;
		}
		col->keys = nk;
		col->cap = ncap;
	}
	col->v[col->n] = kept;
	col->keys[col->n] = (char *)key; /* borrowed: valid until the cache changes */
	col->n++;
	return 0;
}

static struct res_facts *facts_of(struct res_kept *k)
{
	if (!k->facts) {
		k->facts = lp_calloc(1, sizeof(*k->facts));
		if (k->facts)
			k->facts->generation = -1;
	}
	return k->facts;
}

static int set_str(char **dst, const char *src)
{
	char *n = NULL;
	if (*dst && src && !strcmp(*dst, src))
		return 0;
	if (src && !(n = lp_strdup(src)))
		return -1;
	lp_free(*dst);
	*dst = n;
	return 0;
}

static int output_needs_finalizer(struct lp_ctrl *c, const struct res_kept *k, size_t n_refs)
{
	const struct lp_output *o = k->o;
	int prov = 0;

	if (!o)
		return 0;
	switch (o->type) {
	case LP_OUT_KINESIS:
		prov = o->u.kinesis.provision.present;
		break;
	case LP_OUT_FIREHOSE:
		prov = o->u.firehose.provision.present;
		break;
	case LP_OUT_S3:
		prov = o->u.s3.provision.present;
		break;
	case LP_OUT_CLOUDWATCH:
		prov = o->u.cloudwatch.provision.present;
		break;
	default:
		break;
	}
	if (prov && c->o.aws)
		return 1;
	/* its Secrets are mirrored into the control namespace */
	return n_refs > 0 && o->meta.ns && strcmp(o->meta.ns, c->control_ns) != 0;
}

static int has_finalizer(const struct res_kept *k)
{
	size_t i;
	const json_t *v;
	json_array_foreach(k->finalizers, i, v)
	{
		if (json_is_string(v) && !strcmp(json_string_value(v), LP_FINALIZER))
			return 1;
	}
	return 0;
}

static void count_ref(void *arg, const char *name)
{
	(*(size_t *)arg)++;
}

static void problems_event(struct lp_ctrl *c, struct res_kept *k, const char *ns, const char *name,
                           const char *reason, const char *field, const char *message)
{
	struct lp_kube_objref ref = {
	    LP_API_GROUP_VERSION, res_kind_name[k->kind], ns, name, res_uid(k), NULL};
	char msg[1024];

	if (field && *field)
		snprintf(msg, sizeof(msg), "%s: %s", field, message ? message : "");
	else
		snprintf(msg, sizeof(msg), "%s", message ? message : "");
	logf_(c, LP_LOG_WARN, res_kind_name[k->kind], ns, name, "%s: %s", reason, msg);
	if (c->events && c->leading &&
	    lp_kube_event(c->events, &ref, "Warning", reason, msg) == LP_OK)
		c->stats.events++;
}

static void split_key(const char *key, char *ns, size_t nssz, const char **name)
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

static void run_next(struct run *r);
static void config_finished(struct lp_ctrl *c, struct run *r);

/* Gives freed heap pages back: the resident set is what a node's memory limit
 * sees, and glibc keeps what a burst of work freed. */
static void trim_heap(struct lp_ctrl *c)
{
	c->status_writes_untrimmed = 0;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* Queues key to run idle_ms from now, once (*queued). */
static void idle_queue(struct lp_ctrl *c, const char *key, int *queued, uint64_t idle_ms)
{
	if (!*queued && lp_kube_wq_add_after(c->wq, key, idle_ms) == LP_OK)
		*queued = 1;
}

/* For a key queued by idle_queue(): 1 when the activity last seen at last_ms
 * is idle_ms old (do the work now); else 0, with key queued again for the rest. */
static int idle_since(struct lp_ctrl *c, const char *key, int *queued, uint64_t last_ms,
                      uint64_t idle_ms)
{
	uint64_t idle = now_ms(c) - last_ms;

	*queued = 0;
	if (idle >= idle_ms)
		return 1;
	idle_queue(c, key, queued, idle_ms - idle);
	return !*queued; /* cannot wait: now */
}

static void op_done(void *arg, struct lp_kube_resp *resp)
{
	struct call_ctx *x = arg;
	struct run *r = x->run;
	struct op *op = &r->ops[x->op];
	struct lp_ctrl *c = r->c;
	lp_err err = resp->err;

	if (op->is_delete && err == LP_ERR_NOTFOUND)
		err = LP_OK;
	r->inflight--;
	if (c) {
		if (err) {
			if (!r->err) {
				r->err = err;
				snprintf(r->errmsg, sizeof(r->errmsg), "%s %s %s: %s",
				         op->is_delete ? "delete" : "apply",
				         lp_owned_kind_info(op->kind)->kind, op->name,
				         resp->message && *resp->message ? resp->message
				                                         : lp_strerror(err));
			}
			logf_(c, LP_LOG_WARN, lp_owned_kind_info(op->kind)->kind,
			      lp_owned_kind_info(op->kind)->namespaced ? c->control_ns : NULL,
			      op->name, "%s failed: %s", op->is_delete ? "delete" : "apply",
			      resp->message && *resp->message ? resp->message : lp_strerror(err));
		} else {
			wrote_record(c, op->kind, op->name, op->hash, op->pre_rv, op->is_delete);
			if (op->is_delete)
				c->stats.deletes++;
			else
				c->stats.applies++;
		}
	}
	call_free(x);
	if (r->inflight == 0) {
		if (!r->c) {
			run_free(r);
			return;
		}
		run_next(r);
	}
}

/* Starts every op of the next phase that has any; finishes the run at the end. */
static void run_next(struct run *r)
{
	struct lp_ctrl *c = r->c;

	while (r->inflight == 0) {
		if (r->err || r->phase > 3 || !c->leading) {
			config_finished(c, r);
			return;
		}
		for (size_t i = 0; i < r->n_ops; i++) {
			struct op *op = &r->ops[i];
			const struct lp_owned_kind_info *ki = lp_owned_kind_info(op->kind);
			struct call_ctx *x;
			lp_err err;
			if (op->phase != r->phase)
				continue;
			x = call_new(c, op->is_delete ? CALL_DELETE : CALL_APPLY);
			if (!x) {
				r->err = LP_ERR_NOMEM;
				break;
			}
			x->run = r;
			x->op = i;
			if (op->is_delete)
				err = lp_kube_delete(c->client, owned_gvr(op->kind),
				                     ki->namespaced ? c->control_ns : NULL,
				                     op->name, NULL, op_done, x);
			else
				err = lp_kube_apply(c->client, owned_gvr(op->kind),
				                    ki->namespaced ? c->control_ns : NULL, op->obj,
				                    op_done, x);
			if (err) {
				call_free(x);
				r->err = err;
				snprintf(r->errmsg, sizeof(r->errmsg), "%s %s: %s", ki->kind,
				         op->name, lp_strerror(err));
				break;
			}
			r->inflight++;
			r->writes++;
			logf_(c, LP_LOG_INFO, ki->kind, ki->namespaced ? c->control_ns : NULL,
			      op->name, "%s", op->is_delete ? "deleting" : "applying");
		}
		r->phase++;
	}
}

static lp_err run_add_op(struct run *r, enum lp_owned_kind kind, const char *name, const char *hash,
                         const char *pre_rv, int is_delete, const json_t *obj)
{
	struct op *nv = lp_realloc(r->ops, (r->n_ops + 1) * sizeof(*nv)), *op;
	int workload = kind == LP_OWNED_DAEMONSET || kind == LP_OWNED_STATEFULSET;

	if (!nv)
		return LP_ERR_NOMEM;
	r->ops = nv;
	op = &r->ops[r->n_ops];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->is_delete = is_delete;
	op->obj = obj;
	/* 0: configs and RBAC, 1: workloads, 2: delete workloads, 3: delete the rest */
	op->phase = is_delete ? (workload ? 2 : 3) : (workload ? 1 : 0);
	snprintf(op->hash, sizeof(op->hash), "%s", hash ? hash : "");
	op->name = lp_strdup(name);
	op->pre_rv = lp_strdup(pre_rv);
	if (!op->name || (pre_rv && !op->pre_rv)) {
		lp_free(op->name);
		lp_free(op->pre_rv);
		return LP_ERR_NOMEM;
	}
	r->n_ops++;
	return LP_OK;
}

struct del_walk {
	struct lp_ctrl *c;
	struct run *r;
	enum lp_owned_kind kind;
	lp_err err;
};

static int desired_has(const struct lp_desired *d, enum lp_owned_kind k, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].kind == k && !strcmp(d->v[i].name, name))
			return 1;
	return 0;
}

static int del_fn(void *arg, const char *key, void *kept)
{
	struct del_walk *dw = arg;
	char ns[256];
	const char *name, *rv = NULL;

	split_key(key, ns, sizeof(ns), &name);
	if (desired_has(&dw->r->d, dw->kind, name))
		return 0;
	if (!observed(dw->c, dw->kind, name, NULL, &rv))
		return 0; /* our delete is already on its way */
	dw->err = run_add_op(dw->r, dw->kind, name, NULL, rv, 1, NULL);
	return dw->err != LP_OK;
}

/* Rollout events: a workload whose template hash changes is rolling. */
static void rollout_event(struct lp_ctrl *c, enum lp_owned_kind k, const char *name,
                          const char *hash)
{
	const struct lp_rollout *r = rollout_of(c, k, name);
	struct lp_kube_objref ref = {
	    "apps/v1", lp_owned_kind_info(k)->kind, c->control_ns, name, NULL, NULL};
	char msg[200];

	if (!r || !strcmp(r->config_hash, hash) || !c->events)
		return;
	snprintf(msg, sizeof(msg), "rolling out configuration %.12s (was %.12s)", hash,
	         r->config_hash[0] ? r->config_hash : "none");
	if (lp_kube_event(c->events, &ref, "Normal", "RolloutStarted", msg) == LP_OK)
		c->stats.events++;
}

struct world_ctx {
	struct lp_ctrl *c;
	struct collect pl, out;
};

static const struct lp_render_problem *
render_problem_for(const struct lp_rendered *r, const char *kind, const char *ns, const char *name)
{
	for (size_t i = 0; i < r->n_problems; i++) {
		const struct lp_render_problem *p = &r->problems[i];
		if (p->kind && p->ns && p->name && !strcmp(p->kind, kind) && !strcmp(p->ns, ns) &&
		    !strcmp(p->name, name))
			return p;
	}
	return NULL;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The "namespace/name" of every output a valid pipeline routes to (a pipeline
 * references outputs of its own namespace), sorted. */
static lp_err used_outputs(struct lp_strlist *out, const struct lp_pipeline **pls, size_t n)
{
	size_t total = 0, k = 0;

	for (size_t i = 0; i < n; i++)
		total += pls[i]->n_routes;
	out->v = lp_calloc(total + 1, sizeof(*out->v));
	if (!out->v)
		return LP_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < pls[i]->n_routes; j++) {
			struct lp_buf b;
			const char *ref = pls[i]->routes[j].output_ref;
			if (!ref || !pls[i]->meta.ns)
				continue;
			lp_buf_init(&b, 0);
			if (lp_buf_addf(&b, "%s/%s", pls[i]->meta.ns, ref))
				return LP_ERR_NOMEM;
			out->v[k] = lp_buf_take(&b);
			if (!out->v[k])
				return LP_ERR_NOMEM;
			out->n = ++k;
		}
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_strp);
	return LP_OK;
}

static int strlist_has(const struct lp_strlist *l, const char *s)
{
	return l->n && bsearch(&s, l->v, l->n, sizeof(*l->v), cmp_strp) != NULL;
}

/* Validates everything, renders, builds the desired objects and starts the
 * writes. Returns LP_OK with *started = 0 when there was nothing to wait for. */
static lp_err config_compute(struct lp_ctrl *c, int *started)
{
	struct collect pl = {c, NULL, NULL, 0, 0, LP_OK}, out = {c, NULL, NULL, 0, 0, LP_OK};
	const struct lp_output **all_outs = NULL, **ok_outs = NULL;
	const struct lp_pipeline **ok_pls = NULL;
	size_t n_all_outs = 0, n_ok_outs = 0, n_ok_pls = 0;
	struct lp_rendered rendered;
	struct lp_render_input rin = {0};
	struct lp_desired_input din = {0};
	struct lp_world world = {0};
	struct lp_problems vprobs = {0};
	struct run *r = NULL;
	struct lp_strlist used = {0};
	int have_rendered = 0, unsynced = 0;
	lp_err err = LP_ERR_NOMEM;

	*started = 0;
	memset(&rendered, 0, sizeof(rendered));
	lp_kube_informer_foreach(c->res[RES_PIPELINE], collect_fn, &pl);
	lp_kube_informer_foreach(c->res[RES_OUTPUT], collect_fn, &out);
	if (pl.err || out.err)
		goto out;
	/* 1. the Secrets outputs reference: watch exactly those */
	err = secret_watches_update(c, &out, &unsynced);
	if (err)
		goto out;
	for (size_t i = c->n_secrets; i-- > 0;)
		if (!c->secrets[i].mark)
			secret_watch_remove(c, i);
	c->stats.secrets_watched = c->n_secrets;
	if (unsynced) { /* their on_synced queues us again */
		err = LP_OK;
		goto out;
	}
	/* 2. validate */
	all_outs = lp_calloc(out.n + 1, sizeof(*all_outs));
	ok_outs = lp_calloc(out.n + 1, sizeof(*ok_outs));
	ok_pls = lp_calloc(pl.n + 1, sizeof(*ok_pls));
	if (!all_outs || !ok_outs || !ok_pls)
		goto out;
	for (size_t i = 0; i < out.n; i++)
		if (out.v[i]->o && !out.v[i]->deleting)
			all_outs[n_all_outs++] = out.v[i]->o;
	lp_outputs_sort(all_outs, n_all_outs);
	world.control_ns = c->control_ns;
	world.outputs = all_outs;
	world.n_outputs = n_all_outs;
	world.outputs_sorted = 1;
	world.secret_has_key = secret_has_key;
	world.secret_ctx = c;
	for (int pass = 0; pass < 2; pass++) {
		struct collect *col = pass == 0 ? &out : &pl;
		for (size_t i = 0; i < col->n; i++) {
			struct res_kept *k = col->v[i];
			struct res_facts *f = facts_of(k);
			const struct lp_problems *probs = &k->parse_probs;
			char ns[256];
			const char *name;
			uint64_t pfp = 0;
			lp_err verr;

			if (!f)
				goto out;
			split_key(col->keys[i], ns, sizeof(ns), &name);
			lp_problems_free(&vprobs);
			if (k->parse_probs.n == 0 && !k->deleting) {
				if (k->kind == RES_OUTPUT)
					verr = lp_output_validate(k->o, &world, &vprobs);
				else
					verr = lp_pipeline_validate(k->p, &world, &vprobs);
				if (verr == LP_ERR_NOMEM)
					goto out;
				probs = &vprobs;
			}
			if (f->generation != k->generation)
				f->in_config = 0;
			f->generation = k->generation;
			f->n_problems = k->deleting ? 0 : probs->n;
			if (probs->n) {
				if (set_str(&f->problem_field, probs->v[0].field) ||
				    set_str(&f->problem_message, probs->v[0].message))
					goto out;
				for (size_t j = 0; j < probs->n; j++) {
					pfp = fnv_str(pfp, probs->v[j].field);
					pfp = fnv_str(pfp, probs->v[j].message);
				}
			}
			if (pfp && pfp != f->problems_fp && !k->deleting)
				problems_event(c, k, ns, name, "InvalidSpec", f->problem_field,
				               f->problem_message);
			f->problems_fp = pfp;
			if (probs->n || k->deleting) {
				f->in_config = 0;
				continue;
			}
			if (k->kind == RES_OUTPUT)
				ok_outs[n_ok_outs++] = k->o;
			else
				ok_pls[n_ok_pls++] = k->p;
		}
	}
	/* 3. render (nothing at all without a pipeline: then every owned object goes) */
	err = used_outputs(&used, ok_pls, n_ok_pls);
	if (err)
		goto out;
	rin.control_ns = c->control_ns;
	rin.default_buffer_limit = c->o.agents ? c->o.agents->fluent_bit.total_limit_size : NULL;
	rin.pipelines = ok_pls;
	rin.n_pipelines = n_ok_pls;
	rin.outputs = ok_outs;
	rin.n_outputs = n_ok_outs;
	rin.cache = c->render_cache;
	rin.no_summaries = 1; /* nothing here reads them */
	if (n_ok_pls) {
		err = lp_render(&rendered, &rin);
		if (err)
			goto out;
		have_rendered = 1;
	}
	if (c->o.metrics)
		lp_opmetrics_rendered_bytes(c->o.metrics, rendered.shipper.total_bytes);
	/* 4. desired objects */
	r = lp_calloc(1, sizeof(*r));
	if (!r) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	r->c = c;
	din.control_ns = c->control_ns;
	din.fluentbit_image = c->fb_image;
	din.aggregator_image = c->agg_image;
	din.rendered = &rendered;
	din.pipelines = ok_pls;
	din.n_pipelines = n_ok_pls;
	din.secret_value = secret_value;
	din.secret_ctx = c;
	din.agents = c->o.agents;
	if (n_ok_pls) {
		err = lp_desired_build(&r->d, &din);
		if (err)
			goto out;
	}
	if (strcmp(c->cur_hash, r->d.config_hash) != 0) {
		memcpy(c->cur_hash, r->d.config_hash, sizeof(c->cur_hash));
		c->serial++;
		logf_(c, LP_LOG_INFO, NULL, NULL, NULL,
		      "configuration %.12s: %zu pipelines, %zu outputs, %zu bytes", c->cur_hash,
		      n_ok_pls, n_ok_outs, rendered.shipper.total_bytes);
	}
	c->want_aggregator = rendered.has_aggregator;
	/* 5. per-resource facts: in the config or left out by the renderer */
	for (int pass = 0; pass < 2; pass++) {
		struct collect *col = pass == 0 ? &out : &pl;
		for (size_t i = 0; i < col->n; i++) {
			struct res_kept *k = col->v[i];
			struct res_facts *f = k->facts;
			const struct lp_render_problem *rp;
			char ns[256];
			const char *name;
			struct ref_walk rw = {c, NULL, LP_OK, 0, 0};
			if (!f || f->n_problems || k->deleting)
				continue;
			split_key(col->keys[i], ns, sizeof(ns), &name);
			if (k->kind == RES_OUTPUT && !strlist_has(&used, col->keys[i])) {
				f->unused = 1;
				f->in_config = 0;
				f->config = LP_CONFIG_APPLIED;
				continue;
			}
			if (f->unused) {
				f->unused = 0;
				f->config = LP_CONFIG_PENDING;
			}
			rp = render_problem_for(&rendered, res_kind_name[k->kind], ns, name);
			if (rp) {
				if ((f->config != LP_CONFIG_LEFT_OUT || !f->render_message ||
				     strcmp(f->render_message, rp->message ? rp->message : "")) &&
				    rp->message)
					problems_event(c, k, ns, name, "RenderFailed", rp->field,
					               rp->message);
				if (set_str(&f->render_field, rp->field) ||
				    set_str(&f->render_message, rp->message)) {
					err = LP_ERR_NOMEM;
					goto out;
				}
				f->config = LP_CONFIG_LEFT_OUT;
				f->in_config = 0;
				continue;
			}
			rw.ns = ns;
			rw.fp = fnv(0, &k->generation, sizeof(k->generation));
			if (k->kind == RES_OUTPUT)
				output_secret_refs(k->o, ref_fingerprint, &rw);
			if (!f->in_config || rw.fp != f->fingerprint) {
				f->serial_in = c->serial;
				f->fingerprint = rw.fp;
				f->in_config = 1;
				f->config = LP_CONFIG_PENDING; /* until this config is written */
			}
			if (f->config != LP_CONFIG_APPLIED && f->config != LP_CONFIG_FAILED)
				f->config = LP_CONFIG_PENDING;
		}
	}
	/* 6. what differs, in order */
	for (size_t i = 0; i < r->d.n; i++) {
		const struct lp_desired_obj *d = &r->d.v[i];
		const char *hash = NULL, *rv = NULL;
		int has = observed(c, d->kind, d->name, &hash, &rv);
		if (has && hash && !strcmp(hash, d->hash))
			continue;
		err = run_add_op(r, d->kind, d->name, d->hash, rv, 0, d->obj);
		if (err)
			goto out;
		if (d->kind == LP_OWNED_DAEMONSET || d->kind == LP_OWNED_STATEFULSET)
			rollout_event(c, d->kind, d->name, r->d.config_hash);
	}
	for (int k = 0; k < LP_OWNED_KIND_COUNT; k++) {
		struct del_walk dw = {c, r, (enum lp_owned_kind)k, LP_OK};
		lp_kube_informer_foreach(c->owned[k], del_fn, &dw);
		if (dw.err) {
			err = dw.err;
			goto out;
		}
	}
	c->stats.pipelines = pl.n;
	c->stats.outputs = out.n;
	c->run = r;
	r = NULL;
	*started = 1;
	err = LP_OK;
out:
	if (r)
		run_free(r);
	if (have_rendered)
		lp_rendered_free(&rendered);
	lp_problems_free(&vprobs);
	for (size_t i = 0; i < used.n; i++)
		lp_free(used.v[i]);
	lp_free(used.v);
	lp_free(all_outs);
	lp_free(ok_outs);
	lp_free(ok_pls);
	lp_free(pl.v);
	lp_free(pl.keys);
	lp_free(out.v);
	lp_free(out.keys);
	return err;
}

/* ---------- finalizers and AWS ---------- */

static void finalizer_done(void *arg, struct lp_kube_resp *resp)
{
	struct call_ctx *x = arg;
	struct lp_ctrl *c = x->c;

	if (c) {
		void *kept = NULL;
		if (lp_kube_informer_get(c->res[RES_OUTPUT], x->key, &kept) && kept &&
		    ((struct res_kept *)kept)->facts)
			((struct res_kept *)kept)->facts->finalizer_inflight = 0;
		if (resp->err && resp->err != LP_ERR_NOTFOUND) {
			logf_(c, LP_LOG_WARN, "LogOutput", NULL, x->key, "finalizer update: %s",
			      resp->message && *resp->message ? resp->message
			                                      : lp_strerror(resp->err));
			enqueue(c, KEY_CONFIG);
		}
	}
	call_free(x);
}

static void finalizer_change(struct lp_ctrl *c, const char *key, struct res_kept *k, int add)
{
	char ns[256];
	const char *name, *rv = lp_kube_informer_rv(c->res[RES_OUTPUT], key);
	struct call_ctx *x;
	lp_err err;

	if (k->facts->finalizer_inflight || !rv)
		return;
	split_key(key, ns, sizeof(ns), &name);
	x = call_new(c, CALL_FINALIZER);
	if (!x || !(x->key = lp_strdup(key))) {
		if (x)
			call_free(x);
		return;
	}
	if (add)
		err = lp_kube_finalizer_add(c->client, &lp_kube_gvr_logoutputs, ns, name,
		                            k->finalizers, rv, LP_FINALIZER, finalizer_done, x);
	else
		err = lp_kube_finalizer_remove(c->client, &lp_kube_gvr_logoutputs, ns, name,
		                               k->finalizers, rv, LP_FINALIZER, finalizer_done, x);
	if (err) {
		call_free(x);
		return;
	}
	k->facts->finalizer_inflight = 1;
	logf_(c, LP_LOG_INFO, "LogOutput", ns, name, "%s finalizer %s", add ? "adding" : "removing",
	      LP_FINALIZER);
}

struct aws_job {
	struct lp_ctrl *c;
	const struct lp_ctrl_aws_ops *ops; /* the only thing the worker thread reads */
	struct res_kept *k;                /* referenced */
	char *key;
	int deleting;
	uint64_t fp;
	char *ak, *sk, *st; /* decoded credentials */
	struct lp_ctrl_aws_result res;
	struct aws_job *next;
};

static void aws_run(void *arg)
{
	struct aws_job *j = arg;
	struct lp_ctrl_aws_creds creds = {j->ak, j->sk, j->st};
	j->ops->reconcile(j->ops->ctx, j->k->o, &creds, j->deleting, &j->res);
}

static void aws_job_free(struct aws_job *j)
{
	res_unref(j->k);
	lp_free(j->key);
	lp_free(j->ak);
	lp_free(j->sk);
	lp_free(j->st);
	lp_free(j);
}

/* Nothing left to wait for: credentials resolved and target provisioned. */
static int aws_final(const struct lp_ctrl_aws_result *r)
{
	return r->creds_status == LP_COND_TRUE && r->prov_status == LP_COND_TRUE;
}

/* When to run the AWS step of an output again after result r. */
static uint64_t aws_retry_ms(const struct lp_ctrl_aws_result *r)
{
	if (r->in_progress) /* converging: as soon as the target may be ready */
		return r->requeue_after_ms ? r->requeue_after_ms : AWS_CONVERGE_MS;
	return aws_final(r) ? AWS_RECHECK_MS : AWS_RETRY_MS;
}

/* One Normal Event on the LogOutput per change the AWS step made. */
static void aws_events(struct lp_ctrl *c, const char *key, const struct res_kept *k,
                       const struct lp_ctrl_aws_result *r)
{
	char ns[256];
	const char *name;

	split_key(key, ns, sizeof(ns), &name);
	for (size_t i = 0; i < r->n_events && i < LP_CTRL_AWS_MAX_EVENTS; i++) {
		struct lp_kube_objref ref = {LP_API_GROUP_VERSION, "LogOutput", ns, name,
		                             res_uid(k),           NULL};
		const char *ev = r->events[i];
		const char *reason = !strncmp(ev, "created", 7)   ? "Provisioned"
		                     : !strncmp(ev, "deleted", 7) ? "Deprovisioned"
		                                                  : "DriftCorrected";
		logf_(c, LP_LOG_INFO, "LogOutput", ns, name, "%s: %s", reason, ev);
		if (c->events && c->leading &&
		    lp_kube_event(c->events, &ref, "Normal", reason, ev) == LP_OK)
			c->stats.events++;
	}
}

static void aws_done(void *arg, int cancelled)
{
	struct aws_job *j = arg;
	struct lp_ctrl *c = j->c;
	void *kept = NULL;

	if (!cancelled && c && lp_kube_informer_get(c->res[RES_OUTPUT], j->key, &kept) && kept) {
		struct res_kept *k = kept;
		struct res_facts *f = facts_of(k);
		if (f) {
			f->aws_inflight = 0;
			if (!f->aws)
				f->aws = lp_calloc(1, sizeof(*f->aws));
			if (f->aws) {
				*f->aws = j->res;
				f->aws_fp = j->fp;
				f->aws_checked_ms = now_ms(c);
			}
			if (j->deleting) {
				f->cleanup_tried_ms = now_ms(c);
				f->cleanup_done = j->res.cleanup_done;
			}
			aws_events(c, j->key, k, &j->res);
			enqueue_res(c, RES_OUTPUT, j->key);
			if (j->deleting && j->res.cleanup_done)
				enqueue(c, KEY_CONFIG); /* the finalizer can go */
			else if (!aws_final(&j->res) &&
			         lp_kube_wq_add_after(c->wq, KEY_CONFIG, aws_retry_ms(&j->res)) !=
			             LP_OK)
				logf_(c, LP_LOG_WARN, "LogOutput", NULL, j->key,
				      "cannot schedule a retry");
		}
	}
	aws_job_free(j);
}

static void aws_submit(struct lp_ctrl *c, const char *key, struct res_kept *k, int deleting)
{
	struct res_facts *f = k->facts;
	struct aws_job *j;
	const struct lp_aws_credentials *cr = &k->o->aws.credentials;

	if (!c->worker || f->aws_inflight)
		return;
	j = lp_calloc(1, sizeof(*j));
	if (!j)
		return;
	j->c = c;
	j->ops = c->o.aws;
	j->k = k;
	k->refs++;
	j->key = lp_strdup(key);
	j->deleting = deleting;
	j->fp = f->fingerprint;
	if (cr->secret_name) {
		j->ak = lp_b64_decode(secret_value(c, k->o->meta.ns, cr->secret_name,
		                                   cr->access_key_id_key ? cr->access_key_id_key
		                                                         : "AWS_ACCESS_KEY_ID"),
		                      LP_SECRET_VALUE_MAX, NULL);
		j->sk =
		    lp_b64_decode(secret_value(c, k->o->meta.ns, cr->secret_name,
		                               cr->secret_access_key_key ? cr->secret_access_key_key
		                                                         : "AWS_SECRET_ACCESS_KEY"),
		                  LP_SECRET_VALUE_MAX, NULL);
		if (cr->session_token_key)
			j->st = lp_b64_decode(
			    secret_value(c, k->o->meta.ns, cr->secret_name, cr->session_token_key),
			    LP_SECRET_VALUE_MAX, NULL);
	}
	if (!j->key || lp_worker_submit(c->worker, aws_run, aws_done, j)) {
		aws_job_free(j);
		return;
	}
	f->aws_inflight = 1;
}

/* After a successful config application: finalizers, AWS checks. */
static void outputs_after_config(struct lp_ctrl *c)
{
	struct collect out = {c, NULL, NULL, 0, 0, LP_OK};

	lp_kube_informer_foreach(c->res[RES_OUTPUT], collect_fn, &out);
	for (size_t i = 0; i < out.n && !out.err; i++) {
		struct res_kept *k = out.v[i];
		size_t n_refs = 0;
		int aws;
		if (!k->o || !k->facts)
			continue;
		output_secret_refs(k->o, count_ref, &n_refs);
		aws = lp_output_type_is_aws(k->o->type) && c->o.aws;
		if (k->deleting) {
			if (!has_finalizer(k))
				continue;
			if (aws && output_needs_finalizer(c, k, 0) && !k->facts->cleanup_done) {
				if (!k->facts->cleanup_tried_ms ||
				    now_ms(c) - k->facts->cleanup_tried_ms >= AWS_RETRY_MS)
					aws_submit(c, out.keys[i], k, 1);
				continue;
			}
			finalizer_change(c, out.keys[i], k, 0);
			continue;
		}
		if (k->facts->n_problems)
			continue;
		if (output_needs_finalizer(c, k, n_refs) && !has_finalizer(k))
			finalizer_change(c, out.keys[i], k, 1);
		if (aws && (!k->facts->aws || k->facts->aws_fp != k->facts->fingerprint ||
		            now_ms(c) - k->facts->aws_checked_ms >= aws_retry_ms(k->facts->aws)))
			aws_submit(c, out.keys[i], k, 0);
	}
	lp_free(out.v);
	lp_free(out.keys);
}

struct mark_walk {
	struct lp_ctrl *c;
};

static int mark_applied(void *arg, const char *key, void *kept)
{
	struct res_kept *k = kept;
	(void)arg;
	if (k && k->facts && k->facts->in_config && k->facts->generation == k->generation)
		k->facts->config = LP_CONFIG_APPLIED;
	return 0;
}

/* Every valid resource that is (or would be) in the configuration. */
static int mark_failed(void *arg, const char *key, void *kept)
{
	struct res_kept *k = kept;
	struct res_facts *f = k ? k->facts : NULL;
	(void)arg;
	if (f && f->generation == k->generation && !f->n_problems && !k->deleting && !f->unused &&
	    f->config != LP_CONFIG_LEFT_OUT)
		f->config = LP_CONFIG_FAILED;
	return 0;
}

/* After CONFIG_FAILED_AFTER failures in a row, statuses say why. */
static void config_failed(struct lp_ctrl *c, const char *why)
{
	c->config_failures++;
	snprintf(c->config_error, sizeof(c->config_error), "%s", why);
	if (c->config_failures >= CONFIG_FAILED_AFTER) {
		for (int i = 0; i < 2; i++)
			lp_kube_informer_foreach(c->res[i], mark_failed, NULL);
		enqueue(c, KEY_STATUS_ALL);
	}
}

static void config_finished(struct lp_ctrl *c, struct run *r)
{
	lp_err err = r->err;

	c->run = NULL;
	if (!err && c->leading) {
		c->config_failures = 0;
		c->config_error[0] = '\0';
		for (int i = 0; i < 2; i++)
			lp_kube_informer_foreach(c->res[i], mark_applied, NULL);
		c->stats.config_runs++;
		if (r->writes)
			logf_(c, LP_LOG_INFO, NULL, NULL, NULL,
			      "configuration %.12s applied (%zu writes)", c->cur_hash, r->writes);
		outputs_after_config(c);
		update_rolled(c);
	} else if (err) {
		config_failed(c, r->errmsg);
		status_all(c); /* the new generations, pending while we retry */
	}
	if (c->o.metrics)
		lp_opmetrics_reconcile(c->o.metrics, "config", err ? "error" : "success", 0);
	run_free(r);
	/* a rebuild allocates a few MiB for a moment (rendered text, JSON) */
	trim_heap(c);
	c->last_config_ms = now_ms(c);
	if (c->render_cache)
		idle_queue(c, KEY_CACHE_DROP, &c->cache_drop_queued, RENDER_CACHE_IDLE_MS);
	lp_kube_wq_done(c->wq, KEY_CONFIG, err);
}

/* CPU time of the process (the render's second thread included), in ms. */
static double cpu_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void handle_config(struct lp_ctrl *c)
{
	uint64_t wait, t0;
	double c0;
	int started = 0;
	lp_err err;

	if (!c->leading || c->shutting_down || !lp_ctrl_synced(c)) {
		lp_kube_wq_done(c->wq, KEY_CONFIG, LP_OK);
		return;
	}
	/* a lone change at once; a burst once it is quiet, but not forever */
	wait = lp_debounce_wait(&c->deb, now_ms(c));
	if (wait) {
		if (lp_kube_wq_add_after(c->wq, KEY_CONFIG, wait))
			logf_(c, LP_LOG_WARN, NULL, NULL, NULL, "cannot requeue the config key");
		lp_kube_wq_done(c->wq, KEY_CONFIG, LP_OK);
		return;
	}
	lp_debounce_ran(&c->deb);
	t0 = lp_clock_mono_ms();
	c0 = cpu_ms();
	err = config_compute(c, &started);
	logf_(c, LP_LOG_DEBUG, NULL, NULL, NULL,
	      "configuration computed in %llu ms (%.0f ms CPU), %zu writes",
	      (unsigned long long)(lp_clock_mono_ms() - t0), cpu_ms() - c0,
	      c->run ? c->run->n_ops : 0);
	if (err) {
		char why[200];
		snprintf(why, sizeof(why), "could not build it: %s", lp_strerror(err));
		logf_(c, LP_LOG_ERROR, NULL, NULL, NULL, "%s", why);
		config_failed(c, why);
		lp_kube_wq_done(c->wq, KEY_CONFIG, err);
		return;
	}
	if (!started) {
		lp_kube_wq_done(c->wq, KEY_CONFIG, LP_OK);
		return;
	}
	run_next(c->run); /* its end queues the status checks (update_rolled) */
}

/* ---------- status keys ---------- */

static void status_done(void *arg, struct lp_kube_resp *resp)
{
	struct call_ctx *x = arg;
	struct lp_ctrl *c = x->c;

	if (c) {
		enum res_kind kind = x->key[0] == 'p' ? RES_PIPELINE : RES_OUTPUT;
		void *kept = NULL;
		if (c->o.metrics)
			lp_opmetrics_reconcile(
			    c->o.metrics, res_kind_name[kind], resp->err ? "error" : "success",
			    (double)(lp_clock_mono_ms() - x->started_ms) / 1000.0);
		if (!resp->err) {
			c->stats.status_writes++;
			c->status_writes_untrimmed++;
			if (lp_kube_informer_get(c->res[kind], x->key + 2, &kept) && kept)
				memcpy(((struct res_kept *)kept)->written, x->digest, 32);
		} else if (resp->err != LP_ERR_NOTFOUND) {
			logf_(c, LP_LOG_WARN, res_kind_name[kind], NULL, x->key + 2,
			      "status write failed: %s",
			      resp->message && *resp->message ? resp->message
			                                      : lp_strerror(resp->err));
		}
		lp_kube_wq_done(c->wq, x->key, resp->err == LP_ERR_NOTFOUND ? LP_OK : resp->err);
		c->last_status_write_ms = now_ms(c);
		if (c->status_writes_untrimmed >= TRIM_AFTER_STATUS_WRITES)
			idle_queue(c, KEY_TRIM, &c->trim_queued, TRIM_IDLE_MS);
	}
	call_free(x);
}

static void agents_facts(struct lp_ctrl *c, const struct res_facts *f, int *agents, char *msg,
                         size_t msgsz)
{
	const struct lp_rollout *ds = rollout_of(c, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
	const struct lp_rollout *sts = rollout_of(c, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME);

	if (c->rolled_serial && c->rolled_serial >= f->serial_in) {
		/* stable text: a later rollout of other changes must not rewrite it */
		*agents = 1;
		snprintf(msg, msgsz, "DaemonSet %s/%s%s runs this spec", c->control_ns,
		         LP_SHIPPER_NAME,
		         c->want_aggregator ? " and StatefulSet " LP_AGGREGATOR_NAME : "");
		return;
	}
	if (!ds) {
		*agents = -1;
		snprintf(msg, msgsz, "waiting for DaemonSet %s/%s", c->control_ns, LP_SHIPPER_NAME);
		return;
	}
	*agents = 0;
	if (ds->done && strcmp(ds->config_hash, c->cur_hash) != 0)
		snprintf(msg, msgsz, "DaemonSet %s/%s: waiting for pods with configuration %.12s",
		         c->control_ns, LP_SHIPPER_NAME, c->cur_hash);
	else if (!ds->done)
		snprintf(msg, msgsz, "%s", ds->message);
	else if (c->want_aggregator)
		snprintf(msg, msgsz, "%s", sts ? sts->message : "waiting for the aggregator");
	else
		snprintf(msg, msgsz, "%s", ds->message);
}

/* status.target of an AWS output: empty strings left out. NULL on no memory. */
static json_t *target_new(const struct lp_ctrl_aws_result *r)
{
	json_t *t = json_pack("{s:s, s:s, s:b}", "type", r->target.type, "name", r->target.name,
	                      "provisioned", r->target.provisioned);
	int bad = 0;

	if (!t)
		return NULL;
	if (r->target.arn[0])
		bad |= json_object_set_new(t, "arn", json_string(r->target.arn));
	if (r->target.region[0])
		bad |= json_object_set_new(t, "region", json_string(r->target.region));
	if (r->target.state[0])
		bad |= json_object_set_new(t, "state", json_string(r->target.state));
	if (bad) {
		json_decref(t);
		return NULL;
	}
	return t;
}

static void handle_status(struct lp_ctrl *c, const char *wqkey)
{
	enum res_kind kind = wqkey[0] == 'p' ? RES_PIPELINE : RES_OUTPUT;
	const char *key = wqkey + 2;
	void *kept = NULL;
	struct res_kept *k;
	struct res_facts *f;
	struct lp_status_facts sf = {0};
	struct lp_status_conds conds;
	struct lp_cond extra[2];
	char agents_msg[512], cfg_msg[300], ns[256], digest[65], tdigest[17], now[21];
	const char *name;
	json_t *st = NULL, *target = NULL;
	struct call_ctx *x = NULL;
	lp_err err;

	if (!c->leading || c->shutting_down || !lp_kube_informer_get(c->res[kind], key, &kept) ||
	    !kept) {
		lp_kube_wq_done(c->wq, wqkey, LP_OK);
		return;
	}
	k = kept;
	f = k->facts;
	if (!f || f->generation != k->generation || k->deleting) {
		lp_kube_wq_done(c->wq, wqkey, LP_OK); /* the config key will come back */
		return;
	}
	split_key(key, ns, sizeof(ns), &name);
	sf.generation = k->generation;
	sf.n_problems = f->n_problems;
	sf.problem_field = f->problem_field;
	sf.problem_message = f->problem_message;
	sf.config = f->config;
	sf.render_field = f->render_field;
	sf.render_message = f->render_message;
	snprintf(cfg_msg, sizeof(cfg_msg), "%s",
	         f->config == LP_CONFIG_FAILED ? c->config_error : "");
	if (f->config == LP_CONFIG_APPLIED)
		snprintf(cfg_msg, sizeof(cfg_msg), "included in ConfigMap %s/%s", c->control_ns,
		         LP_SHIPPER_CONFIG_NAME);
	sf.config_message = cfg_msg;
	agents_facts(c, f, &sf.agents, agents_msg, sizeof(agents_msg));
	if (f->unused) {
		snprintf(cfg_msg, sizeof(cfg_msg),
		         "not referenced by any valid LogPipeline: nothing to render");
		snprintf(agents_msg, sizeof(agents_msg),
		         "no Fluent Bit pod sends to it until a LogPipeline routes to it");
		sf.agents = 1;
	}
	sf.agents_message = agents_msg;
	if (kind == RES_OUTPUT && k->o && lp_output_type_is_aws(k->o->type) && c->o.aws &&
	    !f->n_problems) {
		if (f->aws) {
			extra[0] = (struct lp_cond){"CredentialsResolved", f->aws->creds_status,
			                            f->aws->creds_reason, f->aws->creds_message};
			extra[1] = (struct lp_cond){"Provisioned", f->aws->prov_status,
			                            f->aws->prov_reason, f->aws->prov_message};
		} else {
			extra[0] = (struct lp_cond){"CredentialsResolved", LP_COND_UNKNOWN,
			                            "Pending", "credentials not checked yet"};
			extra[1] = (struct lp_cond){"Provisioned", LP_COND_UNKNOWN, "Pending",
			                            "AWS resources not checked yet"};
		}
		sf.extra = extra;
		sf.n_extra = 2;
	}
	lp_status_conditions(&conds, &sf);
	lp_status_digest(digest, k->generation, conds.c, conds.n);
	if (kind == RES_OUTPUT && f->aws && f->aws->target.known && !f->n_problems) {
		target = target_new(f->aws);
		if (!target) {
			err = LP_ERR_NOMEM;
			goto fail;
		}
	}
	lp_status_target_digest(tdigest, target);
	if (tdigest[0]) { /* what we write covers the target too */
		char both[100];
		snprintf(both, sizeof(both), "%.64s/%s", digest, tdigest);
		lp_sha256_hex(digest, both, strlen(both));
	}
	if (!strncmp(digest, k->written, 32) ||
	    (!lp_status_differs(&k->seen, k->generation, conds.c, conds.n) &&
	     !strcmp(tdigest, k->seen.target_digest))) {
		json_decref(target);
		lp_kube_wq_done(c->wq, wqkey, LP_OK);
		return;
	}
	lp_clock_rfc3339(now);
	st = lp_status_new(&k->seen, k->generation, conds.c, conds.n, now);
	if (st && (target ? json_object_set(st, "target", target)
	                  : (k->seen.target_digest[0] &&
	                     json_object_set_new(st, "target", json_null())))) {
		json_decref(st);
		st = NULL;
	}
	x = call_new(c, CALL_STATUS);
	if (!st || !x || !(x->key = lp_strdup(wqkey))) {
		err = LP_ERR_NOMEM;
		goto fail;
	}
	memcpy(x->digest, digest, sizeof(digest));
	x->started_ms = lp_clock_mono_ms();
	err = lp_kube_status_patch(
	    c->client, kind == RES_PIPELINE ? &lp_kube_gvr_logpipelines : &lp_kube_gvr_logoutputs,
	    ns, name, st, status_done, x);
	if (err)
		goto fail;
	json_decref(st);
	json_decref(target);
	return;
fail:
	if (x)
		call_free(x);
	json_decref(st);
	json_decref(target);
	lp_kube_wq_done(c->wq, wqkey, err);
}

struct all_walk {
	struct lp_ctrl *c;
	enum res_kind kind;
};

static int all_fn(void *arg, const char *key, void *kept)
{
	struct all_walk *w = arg;

	enqueue_res(w->c, w->kind, key);
	return 0;
}

static void wq_fn(void *arg, struct lp_kube_wq *wq, const char *key)
{
	struct lp_ctrl *c = arg;

	if (c->o.metrics)
		lp_opmetrics_queue_depth(c->o.metrics, lp_kube_wq_len(wq));
	if (!strcmp(key, KEY_CONFIG)) {
		handle_config(c);
	} else if (!strcmp(key, KEY_STATUS_ALL)) {
		for (int i = 0; i < 2 && c->leading; i++) {
			struct all_walk w = {c, (enum res_kind)i};
			lp_kube_informer_foreach(c->res[i], all_fn, &w);
		}
		gauges_publish(c);
		lp_kube_wq_done(wq, key, LP_OK);
	} else if ((key[0] == 'p' || key[0] == 'o') && key[1] == '/') {
		handle_status(c, key);
	} else if (!strcmp(key, KEY_CACHE_DROP)) {
		if (idle_since(c, key, &c->cache_drop_queued, c->last_config_ms,
		               RENDER_CACHE_IDLE_MS)) {
			/* a new, empty cache: the next run of changes fills it again */
			lp_render_cache_free(c->render_cache);
			c->render_cache = lp_render_cache_new();
			trim_heap(c);
			logf_(c, LP_LOG_DEBUG, NULL, NULL, NULL,
			      "render cache dropped after %u ms without a config change",
			      RENDER_CACHE_IDLE_MS);
		}
		lp_kube_wq_done(wq, key, LP_OK);
	} else if (!strcmp(key, KEY_TRIM)) {
		if (idle_since(c, key, &c->trim_queued, c->last_status_write_ms, TRIM_IDLE_MS))
			trim_heap(c);
		lp_kube_wq_done(wq, key, LP_OK);
	} else {
		lp_kube_wq_done(wq, key, LP_OK);
	}
}

/* ---------- resync, leadership ---------- */

static int64_t resync_cb(struct lp_loop *loop, void *arg)
{
	struct lp_ctrl *c = arg;
	enqueue(c, KEY_CONFIG);
	enqueue(c, KEY_STATUS_ALL);
	return (int64_t)c->o.resync_ms;
}

static void lead_started(void *arg)
{
	struct lp_ctrl *c = arg;
	c->leading = 1;
	logf_(c, LP_LOG_INFO, "Lease", c->control_ns, c->lease_name, "leading as %s", c->identity);
	enqueue(c, KEY_CONFIG);
	enqueue(c, KEY_STATUS_ALL);
}

static void lead_stopped(void *arg)
{
	struct lp_ctrl *c = arg;
	c->leading = 0;
	logf_(c, LP_LOG_WARN, "Lease", c->control_ns, c->lease_name, "lost leadership");
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

static uint64_t restarts_of(const struct lp_kube_informer *inf)
{
	const struct lp_kube_informer_stats *st = inf ? lp_kube_informer_stats(inf) : NULL;
	return st ? st->watch_restarts + st->relists : 0;
}

void lp_ctrl_collect_metrics(const struct lp_ctrl *c, const struct lp_opmetrics *om)
{
	uint64_t secrets;

	if (!c || !om)
		return;
	secrets = c->secret_restarts_gone;
	lp_opmetrics_watch_restarts_total(om, "logpipelines", restarts_of(c->res[RES_PIPELINE]));
	lp_opmetrics_watch_restarts_total(om, "logoutputs", restarts_of(c->res[RES_OUTPUT]));
	for (int k = 0; k < LP_OWNED_KIND_COUNT; k++) {
		if (k == LP_OWNED_SECRET)
			secrets += restarts_of(c->owned[k]);
		else
			lp_opmetrics_watch_restarts_total(
			    om, lp_owned_kind_info((enum lp_owned_kind)k)->plural,
			    restarts_of(c->owned[k]));
	}
	for (size_t i = 0; i < c->n_secrets; i++)
		secrets += restarts_of(c->secrets[i].inf);
	lp_opmetrics_watch_restarts_total(om, "secrets", secrets);
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
	c->render_cache = lp_render_cache_new();
	if (!c->control_ns || !c->lease_name || !c->identity || !c->fb_image ||
	    (opts->aggregator_image && !c->agg_image) || !c->render_cache) {
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
	static const struct lp_kube_informer_ops res_ops = {
	    .transform = res_transform,
	    .free_kept = res_free_kept,
	    .on_upsert = res_upsert,
	    .on_delete = res_delete,
	    .on_synced = any_synced,
	};
	static const struct lp_kube_informer_ops owned_ops = {
	    .transform = owned_transform,
	    .free_kept = owned_free_kept,
	    .on_upsert = owned_upsert,
	    .on_delete = owned_delete,
	    .on_synced = any_synced,
	};
	struct lp_kube_wq_opts wo = {0};
	lp_err err;

	wo.debounce_ms = c->debounce_ms < QUEUE_DEBOUNCE_MS ? c->debounce_ms : QUEUE_DEBOUNCE_MS;
	wo.max_inflight = 16;
	wo.backoff_base_ms = 500;
	wo.backoff_cap_ms = 30000;
	err = lp_kube_wq_new(&c->wq, c->loop, &wo, wq_fn, c);
	if (err)
		return err;
	err = lp_kube_events_new(&c->events, c->client, "logplane-operator", c->control_ns, 0);
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
		                   NULL, NULL, &res_ops, &c->res_ctx[i]);
		if (err)
			return err;
	}
	for (int k = 0; k < LP_OWNED_KIND_COUNT; k++) {
		const struct lp_owned_kind_info *ki = lp_owned_kind_info((enum lp_owned_kind)k);
		c->owned_ctx[k] = (struct inf_ctx){c, 2, (enum lp_owned_kind)k};
		err = informer_for(c, &c->owned[k], owned_gvr((enum lp_owned_kind)k),
		                   ki->namespaced ? c->control_ns : NULL, LP_MANAGED_SELECTOR,
		                   &owned_ops, &c->owned_ctx[k]);
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
	logf_(c, LP_LOG_INFO, NULL, NULL, NULL,
	      "controller started: control namespace %s, leader election %s, resync %llu ms, "
	      "debounce %llu ms",
	      c->control_ns, c->o.leader_elect ? "on" : "off", (unsigned long long)c->o.resync_ms,
	      (unsigned long long)c->debounce_ms);
	return LP_OK;
}

static void released(void *arg, lp_err err)
{
	struct lp_ctrl *c = arg;
	if (err)
		logf_(c, LP_LOG_WARN, "Lease", c->control_ns, c->lease_name, "release: %s",
		      lp_strerror(err));
	else
		logf_(c, LP_LOG_INFO, "Lease", c->control_ns, c->lease_name, "released");
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
	for (size_t i = 0; i < c->n_secrets; i++) {
		lp_kube_informer_free(c->secrets[i].inf);
		lp_free(c->secrets[i].ns);
		lp_free(c->secrets[i].name);
	}
	lp_free(c->secrets);
	lp_free(c->secret_index);
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
	lp_render_cache_free(c->render_cache);
	lp_free(c);
}
