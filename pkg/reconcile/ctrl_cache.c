/* pkg/reconcile/ctrl_cache.c: what the informers keep and how their events
 * reach the queue: LogPipeline and LogOutput (parsed, with the facts of the
 * last config computation), the owned objects (applied hash, rollout state),
 * and the logplane_pipelines{condition,status} gauges kept as the cache
 * changes. */
#include "ctrl_int.h"
#include <stdio.h>
#include <string.h>
#include "../util/mem.h"

/* ---------- resource cache (LogPipeline, LogOutput) ---------- */

static void facts_free(struct res_facts *f, enum res_kind kind)
{
	if (!f)
		return;
	ctrl_res_unref(f->good_k); /* its own facts were moved on: no recursion */
	if (f->pr) {
		lp_free(f->pr->problem_field);
		lp_free(f->pr->problem_message);
		lp_free(f->pr->render_field);
		lp_free(f->pr->render_message);
		json_decref(f->pr->problems);
		lp_free(f->pr);
	}
	lp_free(f->aws);
	if (kind == RES_OUTPUT)
		lp_free(f->feeders);
	lp_free(f);
}

void ctrl_res_unref(struct res_kept *k)
{
	if (!k || --k->refs > 0)
		return;
	lp_pipeline_free(k->p);
	lp_output_free(k->o);
	lp_problems_free(&k->parse_probs);
	json_decref(k->finalizers);
	facts_free(k->facts, k->kind);
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
		ctrl_res_unref(k);
		return NULL;
	}
	if (perr == LP_ERR_INVALID && k->parse_probs.n == 0 &&
	    lp_problems_add(&k->parse_probs, "spec", "could not be parsed")) {
		*err = LP_ERR_NOMEM;
		ctrl_res_unref(k);
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
const char *ctrl_res_uid(const struct res_kept *k)
{
	const struct lp_meta *m = k->p ? &k->p->meta : k->o ? &k->o->meta : NULL;
	return m ? m->uid : NULL;
}

static void res_free_kept(void *arg, void *kept)
{
	struct inf_ctx *ix = arg;

	ix->c->res_epoch++; /* borrowed pointers to it (the webhook's world) are stale */
	ctrl_res_unref(kept);
}

/* ---------- logplane_pipelines, logplane_outputs{condition,status}: kept as the cache changes */

static const char *const gauge_types[2][4] = {
    [RES_PIPELINE] = {"Ready", "Valid", "ConfigGenerated", "AgentsReady"},
    [RES_OUTPUT] = {"Ready", "Valid", "CredentialsResolved", "Provisioned"},
};

void ctrl_gauges_publish(struct lp_ctrl *c)
{
	static const char *const names[] = {"True", "False", "Unknown"};
	const struct lp_ctrl_metrics *m = c->o.metrics;

	for (int t = 0; m && t < 4; t++)
		for (int s = 0; s < 3; s++) {
			m->pipelines(m->ctx, gauge_types[RES_PIPELINE][t], names[s],
			             c->gauges[RES_PIPELINE][t][s]);
			m->outputs(m->ctx, gauge_types[RES_OUTPUT][t], names[s],
			           c->gauges[RES_OUTPUT][t][s]);
		}
}

/* Column of gauges[which][t] a cached resource counts in; -1 for none. */
static int gauge_col(const struct res_kept *k, int which, int t)
{
	int st;

	if (!k)
		return -1;
	st = lp_status_seen_get(&k->seen, gauge_types[which][t]);
	return st == LP_COND_TRUE ? 0 : st == LP_COND_FALSE ? 1 : 2;
}

/* A cached resource of kind which changed from old to k (either NULL: appeared, went). */
static void gauges_update(struct lp_ctrl *c, int which, const struct res_kept *old,
                          const struct res_kept *k)
{
	size_t(*g)[3] = c->gauges[which];
	int changed = 0;

	for (int t = 0; t < 4; t++) {
		int a = gauge_col(old, which, t), b = gauge_col(k, which, t);
		if (a == b)
			continue;
		if (a >= 0 && g[t][a])
			g[t][a]--;
		if (b >= 0)
			g[t][b]++;
		changed = 1;
	}
	if (changed)
		ctrl_gauges_publish(c);
}

static void res_upsert(void *arg, const char *key, json_t *obj, void *kept, void *old_kept)
{
	struct inf_ctx *ix = arg;
	struct res_kept *k = kept, *old = old_kept;
	int spec_changed = 1;

	ix->c->res_epoch++;
	if (k && old) {
		if (k->generation != old->generation)
			ctrl_rollout_keep(ix->c, old);
		k->facts = old->facts; /* carried; checked against the generation */
		old->facts = NULL;
		spec_changed = k->generation != old->generation || k->deleting != old->deleting;
	}
	gauges_update(ix->c, (int)ix->which, old, k); /* pipelines or outputs */
	if (spec_changed && !lp_kube_informer_synced(ix->c->res[ix->which]))
		ctrl_enqueue(ix->c,
		             KEY_CONFIG); /* the first list: a start, not a burst of changes */
	else if (spec_changed)
		ctrl_note_change(ix->c);
	else if (k)
		ctrl_enqueue_res(ix->c, k->kind, key); /* e.g. someone edited our status */
}

/* Also the Secret watches' on_delete (they share the outputs' ctx; kept is no res_kept). */
void ctrl_res_delete(void *arg, const char *key, void *kept)
{
	struct inf_ctx *ix = arg;
	(void)key;
	(void)kept;
	ctrl_note_change(ix->c);
}

static void res_delete(void *arg, const char *key, void *kept)
{
	struct inf_ctx *ix = arg;
	gauges_update(ix->c, (int)ix->which, kept, NULL);
	ctrl_res_delete(arg, key, kept);
}

void ctrl_any_synced(void *arg)
{
	struct inf_ctx *ix = arg;
	ctrl_enqueue(ix->c, KEY_CONFIG);
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

static void owned_upsert(void *arg, const char *key, json_t *obj, void *kept, void *old_kept)
{
	struct inf_ctx *ix = arg;
	struct owned_kept *k = kept, *old = old_kept;

	/* Someone else changed our object: put it back. The watch bringing back
	 * our own write (the hash we applied) needs no new computation. */
	if ((!old || strcmp(k->hash, old->hash) != 0) &&
	    !ctrl_our_write(ix->c, ix->owned_kind, key, k->hash))
		ctrl_enqueue(ix->c, KEY_CONFIG);
	if (k->roll)
		ctrl_update_rolled(ix->c);
}

static void owned_delete(void *arg, const char *key, void *kept)
{
	struct inf_ctx *ix = arg;
	/* the watch bringing back our own delete (an old config part) needs no
	 * new computation; someone else's does */
	if (!ctrl_our_delete(ix->c, ix->owned_kind, key))
		ctrl_enqueue(ix->c, KEY_CONFIG);
	if (ix->owned_kind == LP_OWNED_DAEMONSET || ix->owned_kind == LP_OWNED_STATEFULSET)
		ctrl_enqueue(ix->c, KEY_STATUS_ALL);
}

int ctrl_collect_fn(void *arg, const char *key, void *kept)
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

const struct lp_kube_informer_ops ctrl_res_ops = {
    .transform = res_transform,
    .free_kept = res_free_kept,
    .on_upsert = res_upsert,
    .on_delete = res_delete,
    .on_synced = ctrl_any_synced,
};

const struct lp_kube_informer_ops ctrl_owned_ops = {
    .transform = owned_transform,
    .free_kept = owned_free_kept,
    .on_upsert = owned_upsert,
    .on_delete = owned_delete,
    .on_synced = ctrl_any_synced,
};
