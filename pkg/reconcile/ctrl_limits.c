/* pkg/reconcile/ctrl_limits.c: bounds per tenant namespace on what goes into
 * the agents' configuration: LogOutputs, LogPipelines, and the bytes a
 * namespace's pipelines (with the outputs they route to, the control
 * namespace's shared ones too) add to the rendered configs (shipper and
 * aggregator). The control namespace is not bounded.
 *
 * Rule (deterministic): a namespace's valid resources are ordered by
 * metadata.creationTimestamp, then name; the first max_outputs_per_ns outputs
 * and the first max_pipelines_per_ns pipelines are kept, then the longest
 * prefix of those pipelines whose rendered bytes fit max_bytes_per_ns. Every
 * resource left out gets LP_CONFIG_OVER_LIMIT (ConfigGenerated=False reason
 * LimitExceeded, a message naming the limit, its value and the count) and one
 * Warning Event when it goes over; other namespaces are not affected. A new
 * resource therefore never pushes an older one out.
 *
 * The bytes of a namespace are measured by rendering its pipelines and
 * outputs alone, less the text of an empty configuration (the shared
 * sections), only when the whole rendered configuration is larger than the
 * bound (a namespace alone is never larger than the whole); the result is
 * kept per namespace until one of its resources changes (name, uid,
 * generation), so a steady state renders nothing extra. */
#include "ctrl_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../kube/events.h"
#include "../util/hash.h"
#include "../util/mem.h"

struct ns_size { /* one namespace's measured pipelines */
	char *ns;
	uint64_t fp;  /* its pipelines and outputs (name, uid, generation), in order */
	size_t bytes; /* rendered bytes of all of them */
	size_t keep;  /* how many pipelines (a prefix) fit */
};

struct ctrl_limits {
	struct ns_size *v; /* sorted by ns */
	size_t n;
	size_t baseline; /* bytes of a configuration with nothing in it; 0 unknown */
	int have_baseline;
};

void ctrl_limits_free(struct ctrl_limits *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		lp_free(l->v[i].ns);
	lp_free(l->v);
	lp_free(l);
}

static int cmp_pl(const void *a, const void *b)
{
	return lp_meta_cmp_created(&(*(const struct lp_pipeline *const *)a)->meta,
	                           &(*(const struct lp_pipeline *const *)b)->meta);
}

static int cmp_out(const void *a, const void *b)
{
	return lp_meta_cmp_created(&(*(const struct lp_output *const *)a)->meta,
	                           &(*(const struct lp_output *const *)b)->meta);
}

/* Marks resource kind ns/name left out for a limit: its status says msg; a
 * Warning Event and a log line when it was not over a limit before. */
static lp_err mark_over(struct lp_ctrl *c, enum res_kind kind, const struct lp_meta *m,
                        const char *msg)
{
	struct res_kept *k = NULL;
	struct res_facts *f;
	struct res_problems *pr;
	char key[512];
	char *dup;
	int len =
	    snprintf(key, sizeof(key), "%s/%s", lp_str_or_empty(m->ns), lp_str_or_empty(m->name));

	if (len < 0 || (size_t)len >= sizeof(key) ||
	    !lp_kube_informer_get(c->res[kind], key, (void **)&k) || !k)
		return LP_OK;
	f = ctrl_facts_of(k);
	if (!f)
		return LP_ERR_NOMEM;
	f->in_config = 0;
	f->over_limit = 1;
	pr = ctrl_problems_of(f);
	if (!pr)
		return LP_ERR_NOMEM;
	if (f->config == LP_CONFIG_OVER_LIMIT && pr->render_message &&
	    !strcmp(pr->render_message, msg))
		return LP_OK;
	if (!(dup = lp_strdup(msg)))
		return LP_ERR_NOMEM;
	lp_free(pr->render_message);
	pr->render_message = dup;
	lp_free(pr->render_field);
	pr->render_field = NULL;
	if (f->config == LP_CONFIG_OVER_LIMIT)
		return LP_OK; /* still over: the count changed, no new Event */
	f->config = LP_CONFIG_OVER_LIMIT;
	ctrl_logf(c, LP_LOG_WARN, ctrl_res_kind_name[kind], m->ns, m->name, "LimitExceeded: %s",
	          msg);
	if (c->events && c->leading) {
		struct lp_kube_objref ref = {LP_API_GROUP_VERSION,
		                             ctrl_res_kind_name[kind],
		                             m->ns,
		                             m->name,
		                             ctrl_res_uid(k),
		                             NULL};
		if (lp_kube_event(c->events, &ref, "Warning", "LimitExceeded", msg) == LP_OK)
			c->stats.events++;
	}
	return LP_OK;
}

lp_err ctrl_limits_mark(struct lp_ctrl *c, enum res_kind kind, const struct lp_meta *m,
                        const char *msg)
{
	return mark_over(c, kind, m, msg);
}

/* Count limit over one kind: v (n entries, sorted by lp_meta_cmp_created) keeps the
 * first max of each tenant namespace; drop[i] set for the others. */
static lp_err count_limit(struct lp_ctrl *c, enum res_kind kind, const struct lp_meta *const *m,
                          size_t n, size_t max, const char *flag, char *drop)
{
	char msg[512];
	size_t i = 0, j;
	lp_err err = LP_OK;

	while (i < n && !err) {
		for (j = i; j < n && !strcmp(lp_str_or_empty(m[j]->ns), lp_str_or_empty(m[i]->ns));
		     j++)
			;
		if (max && j - i > max && strcmp(lp_str_or_empty(m[i]->ns), c->control_ns) != 0) {
			for (size_t x = i + max; x < j && !err; x++) {
				snprintf(msg, sizeof(msg),
				         "namespace \"%s\" has %zu %ss, over the limit of %zu per "
				         "namespace "
				         "(%s): the first %zu by creation time, then name, are "
				         "kept; this "
				         "one is number %zu and is left out of the configuration",
				         lp_str_or_empty(m[i]->ns), j - i, ctrl_res_kind_name[kind],
				         max, flag, max, x - i + 1);
				drop[x] = 1;
				err = mark_over(c, kind, m[x], msg);
			}
		}
		i = j;
	}
	return err;
}

/* Rendered bytes (shipper and aggregator) of pipelines pls[0..np) with
 * outputs outs[0..no), less l->baseline. */
static lp_err measure(struct lp_ctrl *c, const struct lp_pipeline *const *pls, size_t np,
                      const struct lp_output *const *outs, size_t no, size_t *bytes)
{
	struct lp_render_input rin = {0};
	struct lp_rendered r;
	size_t total;
	lp_err err;

	rin.control_ns = c->control_ns;
	rin.livetail_host = c->o.hub_host;
	rin.livetail_token_secret = c->o.hub_token_secret;
	rin.default_buffer_limit = c->o.agents ? c->o.agents->fluent_bit.total_limit_size : NULL;
	rin.pipelines = pls;
	rin.n_pipelines = np;
	rin.outputs = outs;
	rin.n_outputs = no;
	rin.no_summaries = 1;
	err = lp_render(&r, &rin);
	if (err)
		return err;
	total = r.shipper.total_bytes + (r.has_aggregator ? r.aggregator.total_bytes : 0);
	lp_rendered_free(&r);
	*bytes = total > c->limits->baseline ? total - c->limits->baseline : 0;
	return LP_OK;
}

/* The namespace's size entry, from the old cache when its fingerprint is the
 * same, else measured: bytes of all np pipelines and the longest prefix that
 * fits max (rendered bytes grow with the prefix). */
static lp_err ns_size_of(struct lp_ctrl *c, const struct ns_size *old, size_t n_old, size_t *pos,
                         const struct lp_pipeline *const *pls, size_t np,
                         const struct lp_output *const *outs, size_t no, struct ns_size *out)
{
	size_t max = (size_t)c->o.max_bytes_per_ns, lo = 0, hi = np, mid, b;
	uint64_t fp = 0;
	lp_err err;

	for (size_t i = 0; i < np; i++) {
		fp = lp_hash_str(fp, pls[i]->meta.name);
		fp = lp_hash_str(fp, pls[i]->meta.uid);
		fp = lp_hash_bytes(fp, &pls[i]->meta.generation, sizeof(pls[i]->meta.generation));
	}
	fp = lp_hash_str(fp, "/");
	for (size_t i = 0; i < no; i++) {
		fp = lp_hash_str(fp, outs[i]->meta.name);
		fp = lp_hash_str(fp, outs[i]->meta.uid);
		fp = lp_hash_bytes(fp, &outs[i]->meta.generation, sizeof(outs[i]->meta.generation));
	}
	out->fp = fp;
	while (*pos < n_old && strcmp(old[*pos].ns, out->ns) < 0)
		(*pos)++;
	if (*pos < n_old && !strcmp(old[*pos].ns, out->ns) && old[*pos].fp == fp) {
		out->bytes = old[*pos].bytes;
		out->keep = old[*pos].keep;
		return LP_OK;
	}
	err = measure(c, pls, np, outs, no, &out->bytes);
	if (err)
		return err;
	if (out->bytes <= max) {
		out->keep = np;
		return LP_OK;
	}
	/* the longest prefix that fits: lo fits (none fits when nothing does), hi does not */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		err = measure(c, pls, mid, outs, no, &b);
		if (err)
			return err;
		if (b <= max)
			lo = mid;
		else
			hi = mid;
	}
	out->keep = lo;
	return LP_OK;
}

/* Into mine (room for no): the outputs a namespace's pipelines may route to,
 * its own (outs[oi..oj)) and the control namespace's shared with it, so a
 * route to a shared output is measured (alone it would be left out as
 * missing, and such a tenant's bytes would never count). */
static size_t ns_outputs(const struct lp_ctrl *c, const struct lp_output **outs, size_t no,
                         size_t oi, size_t oj, const char *ns, const struct lp_output **mine)
{
	size_t k = 0;

	for (size_t x = oi; x < oj; x++)
		mine[k++] = outs[x];
	for (size_t x = 0; x < no; x++)
		if (!strcmp(lp_str_or_empty(outs[x]->meta.ns), c->control_ns) &&
		    lp_output_shared_with(outs[x], ns))
			mine[k++] = outs[x];
	return k;
}

/* The bytes limit over pls (n, sorted by lp_meta_cmp_created, count limit applied) with
 * the kept outputs outs (no, sorted likewise); drop[i] set for pipelines left
 * out. Rebuilds c->limits' per-namespace cache. */
static lp_err bytes_limit(struct lp_ctrl *c, const struct lp_pipeline **pls, size_t n,
                          const struct lp_output **outs, size_t no, char *drop)
{
	struct ctrl_limits *l = c->limits;
	struct ns_size *nv = NULL;
	size_t nn = 0, pos = 0, i = 0, j, oi = 0, oj;
	char msg[512];
	const struct lp_output **mine = NULL;
	size_t n_mine = 0;
	lp_err err = LP_OK;

	nv = lp_calloc(n + 1, sizeof(*nv));
	mine = lp_calloc(no + 1, sizeof(*mine));
	if (!nv || !mine) {
		lp_free(nv);
		lp_free(mine);
		return LP_ERR_NOMEM;
	}
	while (i < n && !err) {
		const char *ns = lp_str_or_empty(pls[i]->meta.ns);
		struct ns_size *e;
		for (j = i; j < n && !strcmp(lp_str_or_empty(pls[j]->meta.ns), ns); j++)
			;
		if (!strcmp(ns, c->control_ns)) {
			i = j;
			continue;
		}
		while (oi < no && strcmp(lp_str_or_empty(outs[oi]->meta.ns), ns) < 0)
			oi++;
		for (oj = oi; oj < no && !strcmp(lp_str_or_empty(outs[oj]->meta.ns), ns); oj++)
			;
		e = &nv[nn];
		if (!(e->ns = lp_strdup(ns))) {
			err = LP_ERR_NOMEM;
			break;
		}
		nn++;
		n_mine = ns_outputs(c, outs, no, oi, oj, ns, mine);
		err = ns_size_of(c, l->v, l->n, &pos, pls + i, j - i, mine, n_mine, e);
		for (size_t x = i + e->keep; x < j && !err; x++) {
			snprintf(
			    msg, sizeof(msg),
			    "the pipelines of namespace \"%s\" add %zu bytes to the agents' "
			    "configuration, over the limit of %llu bytes per namespace "
			    "(--max-config-bytes-per-namespace): the first %zu of %zu by creation "
			    "time, then name, fit and are kept; this one is left out",
			    ns, e->bytes, (unsigned long long)c->o.max_bytes_per_ns, e->keep,
			    j - i);
			drop[x] = 1;
			err = mark_over(c, RES_PIPELINE, &pls[x]->meta, msg);
		}
		i = j;
	}
	lp_free(mine);
	for (size_t x = 0; x < l->n; x++)
		lp_free(l->v[x].ns);
	lp_free(l->v);
	l->v = nv;
	l->n = nn;
	return err;
}

/* Remove the entries with drop[i] set, keeping the order. */
static size_t compact_pls(const struct lp_pipeline **v, size_t n, const char *drop)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!drop[i])
			v[k++] = v[i];
	return k;
}

static size_t compact_outs(const struct lp_output **v, size_t n, const char *drop)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!drop[i])
			v[k++] = v[i];
	return k;
}

lp_err ctrl_limits_apply(struct lp_ctrl *c, const struct lp_pipeline **pls, size_t *n_pls,
                         const struct lp_output **outs, size_t *n_outs)
{
	const struct lp_meta **m = NULL;
	char *drop = NULL;
	size_t n = *n_pls > *n_outs ? *n_pls : *n_outs;
	lp_err err = LP_OK;

	if (!c->o.max_pipelines_per_ns && !c->o.max_outputs_per_ns && !c->o.max_bytes_per_ns)
		return LP_OK;
	if (!c->limits && !(c->limits = lp_calloc(1, sizeof(*c->limits))))
		return LP_ERR_NOMEM;
	m = lp_calloc(n + 1, sizeof(*m));
	drop = lp_calloc(n + 1, 1);
	if (!m || !drop) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	qsort(outs, *n_outs, sizeof(*outs), cmp_out);
	for (size_t i = 0; i < *n_outs; i++)
		m[i] = &outs[i]->meta;
	err = count_limit(c, RES_OUTPUT, m, *n_outs, c->o.max_outputs_per_ns,
	                  "--max-outputs-per-namespace", drop);
	if (err)
		goto out;
	*n_outs = compact_outs(outs, *n_outs, drop);
	memset(drop, 0, n + 1);
	qsort(pls, *n_pls, sizeof(*pls), cmp_pl);
	for (size_t i = 0; i < *n_pls; i++)
		m[i] = &pls[i]->meta;
	err = count_limit(c, RES_PIPELINE, m, *n_pls, c->o.max_pipelines_per_ns,
	                  "--max-pipelines-per-namespace", drop);
	if (err)
		goto out;
	*n_pls = compact_pls(pls, *n_pls, drop);
out:
	lp_free(m);
	lp_free(drop);
	return err;
}

lp_err ctrl_limits_bytes(struct lp_ctrl *c, const struct lp_rendered *full,
                         const struct lp_pipeline **pls, size_t *n_pls,
                         const struct lp_output **outs, size_t n_outs, int *dropped)
{
	char *drop = NULL;
	size_t total, before = *n_pls;
	lp_err err;

	*dropped = 0;
	if (!c->o.max_bytes_per_ns || !*n_pls)
		return LP_OK;
	if (!c->limits && !(c->limits = lp_calloc(1, sizeof(*c->limits))))
		return LP_ERR_NOMEM;
	if (!c->limits->have_baseline) {
		err = measure(c, NULL, 0, NULL, 0, &c->limits->baseline);
		if (err)
			return err;
		c->limits->have_baseline = 1;
	}
	/* a namespace alone renders no more than the whole: nothing to measure */
	total =
	    full->shipper.total_bytes + (full->has_aggregator ? full->aggregator.total_bytes : 0);
	if (total <= c->limits->baseline + (size_t)c->o.max_bytes_per_ns)
		return LP_OK;
	if (!(drop = lp_calloc(*n_pls + 1, 1)))
		return LP_ERR_NOMEM;
	qsort(pls, *n_pls, sizeof(*pls), cmp_pl);
	qsort(outs, n_outs, sizeof(*outs), cmp_out);
	err = bytes_limit(c, pls, *n_pls, outs, n_outs, drop);
	if (!err)
		*n_pls = compact_pls(pls, *n_pls, drop);
	*dropped = *n_pls != before;
	lp_free(drop);
	return err;
}
