/* pkg/reconcile/ctrl_writes.c: writing the owned objects: one run of
 * server-side applies and deletes in phases (configs and RBAC, workloads,
 * deletes), the record of our writes whose watch event has not come yet, and
 * rollout tracking of the DaemonSet and StatefulSet. */
#include "ctrl_int.h"
#include <stdio.h>
#include <string.h>
#include "../kube/apply.h"
#include "../kube/events.h"
#include "../kube/gvr.h"
#include "../util/mem.h"

const struct lp_kube_gvr *ctrl_owned_gvr(enum lp_owned_kind k)
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

/* ---------- write tracking (our writes not yet seen by the watch) ---------- */

const char *ctrl_owned_key(struct lp_ctrl *c, enum lp_owned_kind k, const char *name, char *buf,
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

/* 1 when hash is what we wrote, or are writing, to the owned object at key
 * (informer key: "ns/name", or "name" for a cluster-scoped kind). */
int ctrl_our_write(struct lp_ctrl *c, enum lp_owned_kind kind, const char *key, const char *hash)
{
	char ns[256];
	const char *name;
	const struct wrote *w;

	if (!hash || !hash[0])
		return 0;
	ctrl_split_key(key, ns, sizeof(ns), &name);
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

int ctrl_our_delete(struct lp_ctrl *c, enum lp_owned_kind kind, const char *key)
{
	char ns[256];
	const char *name;
	const struct wrote *w;

	ctrl_split_key(key, ns, sizeof(ns), &name);
	w = wrote_find(c, kind, name);
	if (w && w->deleted)
		return 1;
	for (size_t i = 0; c->run && i < c->run->n_ops; i++) {
		const struct op *op = &c->run->ops[i];
		if (op->kind == kind && op->is_delete && !strcmp(op->name, name))
			return 1;
	}
	return 0;
}

/* What is there, as far as we know: 1 and *hash when the object exists. A
 * write of ours whose event has not come yet counts as done. */
int ctrl_observed(struct lp_ctrl *c, enum lp_owned_kind k, const char *name, const char **hash,
                  const char **rv)
{
	char key[512];
	void *kept = NULL;
	struct wrote *w;
	int has;
	const char *crv;

	ctrl_owned_key(c, k, name, key, sizeof(key));
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

const struct lp_rollout *ctrl_rollout_of(struct lp_ctrl *c, enum lp_owned_kind k, const char *name)
{
	char key[512];
	void *kept = NULL;

	ctrl_owned_key(c, k, name, key, sizeof(key));
	if (!lp_kube_informer_get(c->owned[k], key, &kept) || !kept)
		return NULL;
	return ((struct owned_kept *)kept)->roll;
}

static int rolled_with(const struct lp_rollout *r, const char *hash)
{
	return r && r->known && r->done && !strcmp(r->config_hash, hash);
}

void ctrl_update_rolled(struct lp_ctrl *c)
{
	const struct lp_rollout *ds, *sts;

	if (!c->cur_hash[0] || c->rolled_serial == c->serial) {
		ctrl_status_all(c);
		return;
	}
	ds = ctrl_rollout_of(c, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
	sts = ctrl_rollout_of(c, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME);
	if (!rolled_with(ds, c->cur_hash) ||
	    (c->want_aggregator && !rolled_with(sts, c->cur_hash))) {
		ctrl_status_all(c);
		return;
	}
	c->rolled_serial = c->serial;
	memcpy(c->good_hash, c->cur_hash, sizeof(c->good_hash));
	ctrl_rollout_ran(c);
	ctrl_status_all(c);
	ctrl_logf(c, LP_LOG_INFO, "DaemonSet", c->control_ns, LP_SHIPPER_NAME,
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

void ctrl_run_free(struct run *r)
{
	for (size_t i = 0; i < r->n_ops; i++) {
		lp_free(r->ops[i].name);
		lp_free(r->ops[i].pre_rv);
	}
	lp_free(r->ops);
	lp_desired_free(&r->d);
	lp_free(r);
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
			ctrl_logf(c, LP_LOG_WARN, lp_owned_kind_info(op->kind)->kind,
			          lp_owned_kind_info(op->kind)->namespaced ? c->control_ns : NULL,
			          op->name, "%s failed: %s", op->is_delete ? "delete" : "apply",
			          resp->message && *resp->message ? resp->message
			                                          : lp_strerror(err));
		} else {
			wrote_record(c, op->kind, op->name, op->hash, op->pre_rv, op->is_delete);
			if (op->is_delete)
				c->stats.deletes++;
			else
				c->stats.applies++;
		}
	}
	ctrl_call_free(x);
	if (r->inflight == 0) {
		if (!r->c) {
			ctrl_run_free(r);
			return;
		}
		ctrl_run_next(r);
	}
}

/* Starts every op of the next phase that has any; finishes the run at the end. */
void ctrl_run_next(struct run *r)
{
	struct lp_ctrl *c = r->c;

	while (r->inflight == 0) {
		if (r->err || r->phase > 3 || !c->leading) {
			ctrl_config_finished(c, r);
			return;
		}
		for (size_t i = 0; i < r->n_ops; i++) {
			struct op *op = &r->ops[i];
			const struct lp_owned_kind_info *ki = lp_owned_kind_info(op->kind);
			struct call_ctx *x;
			lp_err err;
			if (op->phase != r->phase)
				continue;
			x = ctrl_call_new(c, op->is_delete ? CALL_DELETE : CALL_APPLY);
			if (!x) {
				r->err = LP_ERR_NOMEM;
				snprintf(r->errmsg, sizeof(r->errmsg), "%s %s: %s", ki->kind,
				         op->name, lp_strerror(r->err));
				break;
			}
			x->run = r;
			x->op = i;
			if (op->is_delete)
				err = lp_kube_delete(c->client, ctrl_owned_gvr(op->kind),
				                     ki->namespaced ? c->control_ns : NULL,
				                     op->name, NULL, op_done, x);
			else
				err = lp_kube_apply(c->client, ctrl_owned_gvr(op->kind),
				                    ki->namespaced ? c->control_ns : NULL, op->obj,
				                    op_done, x);
			if (err) {
				ctrl_call_free(x);
				r->err = err;
				snprintf(r->errmsg, sizeof(r->errmsg), "%s %s: %s", ki->kind,
				         op->name, lp_strerror(err));
				break;
			}
			r->inflight++;
			r->writes++;
			ctrl_logf(c, LP_LOG_INFO, ki->kind, ki->namespaced ? c->control_ns : NULL,
			          op->name, "%s", op->is_delete ? "deleting" : "applying");
		}
		r->phase++;
	}
}

lp_err ctrl_run_add_op(struct run *r, enum lp_owned_kind kind, const char *name, const char *hash,
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

	ctrl_split_key(key, ns, sizeof(ns), &name);
	if (desired_has(&dw->r->d, dw->kind, name))
		return 0;
	if (!ctrl_observed(dw->c, dw->kind, name, NULL, &rv))
		return 0; /* our delete is already on its way */
	dw->err = ctrl_run_add_op(dw->r, dw->kind, name, NULL, rv, 1, NULL);
	return dw->err != LP_OK;
}

/* Adds a delete to r for every owned object that exists and r->d does not
 * want. */
lp_err ctrl_run_add_deletes(struct lp_ctrl *c, struct run *r)
{
	for (int k = 0; k < LP_OWNED_KIND_COUNT; k++) {
		struct del_walk dw = {c, r, (enum lp_owned_kind)k, LP_OK};
		lp_kube_informer_foreach(c->owned[k], del_fn, &dw);
		if (dw.err)
			return dw.err;
	}
	return LP_OK;
}

/* Rollout events: a workload whose template hash changes is rolling. */
void ctrl_rollout_event(struct lp_ctrl *c, enum lp_owned_kind k, const char *name, const char *hash)
{
	const struct lp_rollout *r = ctrl_rollout_of(c, k, name);
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
