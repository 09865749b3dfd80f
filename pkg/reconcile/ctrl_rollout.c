/* pkg/reconcile/ctrl_rollout.c: the rollout guard. A configuration whose
 * agent pods are not all updated and ready --rollout-timeout after it was
 * applied is taken as one the agents cannot run (Fluent Bit exits at start on
 * a value it cannot parse): every resource whose current spec (fingerprint:
 * generation and referenced Secret values) first came in with a configuration
 * after the last one that ran is marked (LP_CONFIG_ROLLED_BACK, condition
 * ConfigGenerated=False reason RolledBack, a Warning Event) until it changes,
 * and the configuration is computed again with the version of each that ran
 * before (res_facts.good_k, kept while a newer version has not run yet) or
 * without it when it is new: that is the last configuration that ran, so the
 * agents roll back to it. Secret values are not kept: a resource whose change was
 * a referenced Secret's value has no previous version to go back to, so it is
 * left out (its message says so) until the Secret or the resource changes. The
 * message names the workloads (DaemonSet, aggregator StatefulSet) not ready. A configuration equal
 * to the last one that ran is never rolled back; nor is anything when no configuration ran yet
 * (there is nothing to go back to). */
#include "ctrl_int.h"
#include <stdio.h>
#include <string.h>
#include "../kube/events.h"
#include "../util/hash.h"
#include "../util/mem.h"

uint64_t ctrl_res_fingerprint(struct lp_ctrl *c, const struct res_kept *k, const char *ns,
                              lp_err *err)
{
	struct ref_walk rw = {c, ns, LP_OK, 0, 0};

	rw.fp = lp_hash_bytes(0, &k->generation, sizeof(k->generation));
	if (k->kind == RES_OUTPUT && k->o)
		ctrl_output_secret_refs(k->o, ctrl_ref_fingerprint, &rw);
	if (rw.err && err)
		*err = rw.err;
	return rw.fp;
}

static uint64_t timeout_ms(const struct lp_ctrl *c)
{
	return c->o.rollout_timeout_ms ? c->o.rollout_timeout_ms : ROLLOUT_TIMEOUT_MS;
}

void ctrl_rollout_watch(struct lp_ctrl *c)
{
	if (c->rolled_serial == c->serial || !c->good_hash[0] ||
	    !strcmp(c->cur_hash, c->good_hash) || c->watch_serial == c->serial)
		return;
	c->watch_serial = c->serial;
	c->watch_ms = ctrl_now_ms(c);
	if (lp_kube_wq_add_after(c->wq, KEY_ROLLOUT, timeout_ms(c)))
		ctrl_logf(c, LP_LOG_WARN, NULL, NULL, NULL, "cannot queue the rollout check");
}

struct guard_walk {
	struct lp_ctrl *c;
	enum res_kind kind;
	const char *bad_hash;
	const char *which; /* the workloads that did not become ready */
	size_t n;
};

static int rolled(const struct lp_rollout *r, const char *hash)
{
	return r && r->known && r->done && !strcmp(r->config_hash, hash);
}

/* "DaemonSet ns/name", "StatefulSet ns/name" or both: the agents' workloads
 * not rolled out with configuration hash. */
static void not_ready_names(struct lp_ctrl *c, const char *hash, char *buf, size_t n)
{
	int ds = !rolled(ctrl_rollout_of(c, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME), hash);
	int sts = c->want_aggregator &&
	          !rolled(ctrl_rollout_of(c, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME), hash);

	if (ds && sts)
		snprintf(buf, n, "DaemonSet %s/%s and StatefulSet %s/%s", c->control_ns,
		         LP_SHIPPER_NAME, c->control_ns, LP_AGGREGATOR_NAME);
	else if (sts)
		snprintf(buf, n, "StatefulSet %s/%s", c->control_ns, LP_AGGREGATOR_NAME);
	else
		snprintf(buf, n, "DaemonSet %s/%s", c->control_ns, LP_SHIPPER_NAME);
}

/* Marks a resource whose change came in after the last configuration that
 * ran, and says so on it. */
static int guard_fn(void *arg, const char *key, void *kept)
{
	struct guard_walk *w = arg;
	struct lp_ctrl *c = w->c;
	struct res_kept *k = kept;
	struct res_facts *f = k ? k->facts : NULL;
	struct res_problems *pr;
	char ns[256], msg[768];
	const char *name;

	if (!f || !f->in_config || f->bad || f->serial_in <= c->rolled_serial || k->deleting)
		return 0;
	ctrl_split_key(key, ns, sizeof(ns), &name);
	if (f->secret_changed && !f->good_k)
		/* a Secret value: not kept, so not restorable; the resource goes */
		snprintf(msg, sizeof(msg),
		         "the agent pods (%s) did not become ready within %llu s with "
		         "configuration %.12s, which a changed value of a Secret this resource "
		         "references started; Secret values are not kept and cannot be rolled "
		         "back, so the agents were rolled back to configuration %.12s, the last "
		         "that ran, without this resource, until the Secret or the resource "
		         "changes again",
		         w->which, (unsigned long long)(timeout_ms(c) / 1000), w->bad_hash,
		         c->good_hash);
	else
		snprintf(msg, sizeof(msg),
		         "the agent pods (%s) did not become ready within %llu s with "
		         "configuration %.12s, which this change started; the agents were rolled "
		         "back to configuration %.12s, the last that ran, %s until the resource "
		         "changes again",
		         w->which, (unsigned long long)(timeout_ms(c) / 1000), w->bad_hash,
		         c->good_hash,
		         f->good_k ? "which keeps the previous version of this resource"
		                   : "without this resource");
	f->bad = 1;
	f->bad_fp = f->fingerprint;
	f->in_config = 0;
	f->config = LP_CONFIG_ROLLED_BACK;
	if ((pr = ctrl_problems_of(f))) { /* else (no memory) the status says "left out" */
		lp_free(pr->render_message);
		pr->render_message = lp_strdup(msg);
		lp_free(pr->render_field);
		pr->render_field = NULL;
	}
	w->n++;
	ctrl_logf(c, LP_LOG_ERROR, ctrl_res_kind_name[w->kind], ns, name, "%s", msg);
	if (c->events && c->leading) {
		struct lp_kube_objref ref = {LP_API_GROUP_VERSION,
		                             ctrl_res_kind_name[w->kind],
		                             ns,
		                             name,
		                             ctrl_res_uid(k),
		                             NULL};
		if (lp_kube_event(c->events, &ref, "Warning", "RolledBack", msg) == LP_OK)
			c->stats.events++;
	}
	return 0;
}

void ctrl_handle_rollout(struct lp_ctrl *c)
{
	char bad_hash[65], which[256];
	struct guard_walk w = {c, RES_PIPELINE, bad_hash, which, 0};
	uint64_t now = ctrl_now_ms(c);

	if (!c->leading || c->shutting_down || !c->watch_serial)
		return;
	if (c->watch_serial != c->serial || c->rolled_serial == c->watch_serial) {
		c->watch_serial = 0; /* superseded, or it ran */
		return;
	}
	if (now - c->watch_ms < timeout_ms(c)) {
		if (lp_kube_wq_add_after(c->wq, KEY_ROLLOUT, timeout_ms(c) - (now - c->watch_ms)))
			ctrl_logf(c, LP_LOG_WARN, NULL, NULL, NULL,
			          "cannot queue the rollout check");
		return;
	}
	c->watch_serial = 0;
	memcpy(bad_hash, c->cur_hash, sizeof(bad_hash));
	not_ready_names(c, bad_hash, which, sizeof(which));
	for (int i = 0; i < 2; i++) {
		w.kind = (enum res_kind)i;
		lp_kube_informer_foreach(c->res[i], guard_fn, &w);
	}
	if (!w.n) {
		ctrl_logf(
		    c, LP_LOG_ERROR, NULL, NULL, NULL,
		    "%s: configuration %.12s is not ready after %llu s and no resource change "
		    "came with it: not rolled back",
		    which, bad_hash, (unsigned long long)(timeout_ms(c) / 1000));
		return;
	}
	ctrl_logf(c, LP_LOG_ERROR, NULL, NULL, NULL,
	          "%s: configuration %.12s is not ready after %llu s: rolling back to %.12s "
	          "without the %zu change(s) that came with it",
	          which, bad_hash, (unsigned long long)(timeout_ms(c) / 1000), c->good_hash, w.n);
	ctrl_note_change(c);
	ctrl_status_all(c);
}

void ctrl_rollout_keep(struct lp_ctrl *c, struct res_kept *old)
{
	struct res_facts *f = old ? old->facts : NULL;

	/* old runs on the agents (it was in the configuration that rolled out)
	 * and is being replaced: keep it until its successor has run */
	if (!f || f->good_k || f->bad || !f->in_config || f->generation != old->generation ||
	    !c->rolled_serial || f->serial_in > c->rolled_serial)
		return;
	old->refs++;
	f->good_k = old;
}

static int ran_fn(void *arg, const char *key, void *kept)
{
	struct lp_ctrl *c = arg;
	struct res_kept *k = kept;
	struct res_facts *f = k ? k->facts : NULL;

	(void)key;
	if (f && f->good_k && !f->bad && f->in_config && f->serial_in <= c->rolled_serial) {
		ctrl_res_unref(f->good_k);
		f->good_k = NULL;
	}
	return 0;
}

void ctrl_rollout_ran(struct lp_ctrl *c)
{
	for (int i = 0; i < 2; i++)
		lp_kube_informer_foreach(c->res[i], ran_fn, c);
}
