/* pkg/render/fb_routing.c: routing by tag: which tags a pipeline selects (namespace, containers)
 * and which tags an output matches. */
#include "fb.h"
#include "../api/rules.h"
#include "../util/mem.h"
#include <stdio.h>
#include <string.h>

void fb_alt(struct fb *f, struct lp_buf *b, const struct lp_strlist *l)
{
	fb_adds(f, b, "(?:");
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			fb_adds(f, b, "|");
		fb_chk(f, lp_render_regex_lit(b, l->v[i]));
	}
	fb_adds(f, b, ")");
}

/* 1 when pi's application selection is one namespace or all of them. */
static int app_simple(const struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_in_application *a = &pi->p->app;
	int control = strcmp(pi->p->meta.ns, f->c->control_ns) == 0;

	return a->container_include.n == 0 && a->container_exclude.n == 0 &&
	       (!control || (a->ns_include.n == 0 && a->ns_exclude.n == 0));
}

/* Appends the regex of the application tags pi selects under the tag prefix
 * pfx (a regex: "kube\\." or "p\\.<h>\\.kube\\."), without the leading ^. */
static void app_regex(struct fb *f, struct lp_buf *b, const struct lp_pinfo *pi, const char *pfx)
{
	const struct lp_in_application *a = &pi->p->app;
	int control = strcmp(pi->p->meta.ns, f->c->control_ns) == 0;

	fb_adds(f, b, pfx);
	if (!control) {
		fb_chk(f, lp_render_regex_lit(b, pi->p->meta.ns));
	} else if (a->ns_include.n) {
		fb_alt(f, b, &a->ns_include);
	} else if (a->ns_exclude.n) {
		fb_adds(f, b, "(?!");
		fb_alt(f, b, &a->ns_exclude);
		fb_adds(f, b, "\\.)[^.]+");
	} else {
		fb_adds(f, b, "[^.]+");
	}
	fb_adds(f, b, "\\..+\\.");
	if (a->container_include.n) {
		fb_alt(f, b, &a->container_include);
	} else if (a->container_exclude.n) {
		fb_adds(f, b, "(?!");
		fb_alt(f, b, &a->container_exclude);
		fb_adds(f, b, "$)[^.]+");
	} else {
		fb_adds(f, b, "[^.]+");
	}
	fb_adds(f, b, "$");
}

/* match or match_regex selecting the application logs of a pipeline by tag. */
void fb_app_match(struct fb *f, const struct lp_pinfo *pi)
{
	struct lp_buf *b;

	if (app_simple(f, pi)) {
		if (strcmp(pi->p->meta.ns, f->c->control_ns) == 0)
			fb_kv(f, "match", "kube.*");
		else
			fb_kv(f, "match", fb_cat(f, "kube.", pi->p->meta.ns, ".*", CAT_END));
		return;
	}
	b = fb_t0(f);
	fb_adds(f, b, "^");
	app_regex(f, b, pi, "kube\\.");
	fb_kv(f, "match_regex", fb_ts(f));
}

/* The match of the output instances of a pipeline on the node: the source
 * tags it selects, as they come from the inputs (no copy): kube.<ns>.* of the
 * shared tail or p.<h>.kube.* of its own, system.* (kube-system containers
 * and the node journal), p.<h>.file.* and p.<h>.http of its own inputs. */
void fb_pipeline_match(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_pipeline *p = pi->p;
	int own = LP_OWN_APP_INPUT(pi), app = LP_APP_ON(p) && !own;
	int n_src = app + own + (p->system != 0) + (p->n_files > 0) + (p->http.enabled != 0);
	struct lp_buf *b;
	char pfx[24], own_pfx[32]; /* p\.<h>\. and p\.<h>\.kube\. */
	int n = 0;

	if (n_src == 1 && app) {
		fb_app_match(f, pi);
		return;
	}
	if (n_src == 1 && own && app_simple(f, pi)) {
		/* its own tail reads only its namespaces' files; the match says so
		 * too (a tenant's output takes no other namespace's tag) */
		if (strcmp(p->meta.ns, f->c->control_ns) == 0)
			fb_kv(f, "match", fb_cat(f, pi->prefix, ".kube.*", CAT_END));
		else
			fb_kv(f, "match",
			      fb_cat(f, pi->prefix, ".kube.", p->meta.ns, ".*", CAT_END));
		return;
	}
	if (n_src == 1 && !own && !app) {
		if (p->system)
			fb_kv(f, "match", "system.*");
		else if (p->n_files)
			fb_kv(f, "match", fb_cat(f, pi->prefix, ".file.*", CAT_END));
		else
			fb_kv(f, "match", fb_cat(f, pi->prefix, ".http", CAT_END));
		return;
	}
	snprintf(pfx, sizeof(pfx), "p\\.%s\\.", pi->h);
	snprintf(own_pfx, sizeof(own_pfx), "%skube\\.", pfx);
	b = fb_t0(f);
	fb_adds(f, b, "^(?:");
	if (app) {
		app_regex(f, b, pi, "kube\\.");
		n++;
	}
	if (own) {
		if (n)
			fb_adds(f, b, "|");
		app_regex(f, b, pi, own_pfx);
		n++;
	}
	if (p->system)
		fb_addf(f, b, "%ssystem\\.", n++ ? "|" : "");
	if (p->n_files)
		fb_addf(f, b, "%s%sfile\\.", n++ ? "|" : "", pfx);
	if (p->http.enabled)
		fb_addf(f, b, "%s%shttp$", n++ ? "|" : "", pfx);
	fb_adds(f, b, ")");
	fb_kv(f, "match_regex", fb_ts(f));
}

void fb_match_own(struct fb *f, const struct lp_pinfo *pi, const char *sub)
{
	if (f->proc)
		return; /* a processor sees only its plugin's records */
	fb_cat(f, pi->prefix, ".", sub ? sub : "", "*", CAT_END);
	fb_kv(f, "match", fb_ts(f));
}

/* The pipelines whose every record goes to oi (route without match). */
void fb_output_match(struct fb *f, const struct lp_oinfo *oi, int agg_side)
{
	struct lp_rctx *c = f->c;
	struct lp_buf *b = fb_t0(f);
	const char *pfx = agg_side ? "a" : "p";
	int n = 0;

	fb_addf(f, b, "^(?:o\\.%s\\.%s\\.", oi->h, pfx);
	for (size_t k = 0; k < oi->n_all_pi; k++) {
		const struct lp_pinfo *pi = &c->pi[oi->all_pi[k]];
		if (!pi->ok || pi->agg != agg_side)
			continue;
		if (n++ == 0) {
			fb_adds(f, b, "|");
			fb_adds(f, b, pfx);
			fb_adds(f, b, "\\.(?:");
		} else {
			fb_adds(f, b, "|");
		}
		fb_chk(f, lp_buf_add(b, pi->h, 12));
	}
	fb_adds(f, b, n ? ")\\.)" : ")");
	fb_kv(f, "match_regex", fb_ts(f));
}

/* The filesystem buffer bound of o on this side: its spec.delivery.bufferLimit,
 * else (on the shipper) the agents' default, else 1G. */

/* The s3_key_format of S3 output oi for the records of pi (docs/aws.md "S3
 * object keys"). Fluent Bit's s3 output replaces $TAG[n] with the n-th
 * '.'-separated part of a chunk's tag (src/aws/flb_aws_util.c
 * flb_get_s3_key, parts 0..9), and the tags of pi's records carry depth parts
 * before the source tag kube.<ns>.<pod>.<container>:
 *   0  the shared tail, on the node
 *   2  p.<h>.kube.* (the pipeline's own tail, on the node) or a.<h>.kube.*
 *      (via the aggregator, a route without match)
 *   4  o.<oh>.a.<h>.kube.* (via the aggregator, a route with a match) or
 *      a.<h>.p.<h>.kube.* (via the aggregator from its own tail)
 *   6  o.<oh>.a.<h>.p.<h>.kube.* (both), parts 7..9 of the 10 s3 reads
 * {namespace} is the pipeline's own namespace outside the control namespace
 * (a tenant reads nothing else), else $TAG[depth+1]; {pod} and {container}
 * are $TAG[depth+2] and $TAG[depth+3]; {pipeline} is the pipeline's name.
 * lp_route_problem allowed the tag placeholders only for a pipeline of
 * application logs, whose every tag has that shape. */
void fb_s3_key(struct fb *f, const struct lp_oinfo *oi, const struct lp_pinfo *pi, int depth)
{
	static const struct {
		const char *name;
		int part; /* tag part after the prefix; 0: a literal */
	} ph[] = {{"{namespace}", 1}, {"{pod}", 2}, {"{container}", 3}, {"{pipeline}", 0}};
	const char *k = lp_s3_key_format(oi->o, pi->p);
	int control = strcmp(pi->p->meta.ns, f->c->control_ns) == 0;
	struct lp_buf *b = fb_t0(f);

	while (*k) {
		const char *e = strchr(k, '{');
		size_t i = 0;
		fb_chk(f, lp_buf_add(b, k, e ? (size_t)(e - k) : strlen(k)));
		if (!e)
			break;
		while (i < sizeof(ph) / sizeof(ph[0]) && strncmp(e, ph[i].name, strlen(ph[i].name)))
			i++;
		if (i == sizeof(ph) / sizeof(ph[0])) { /* refused by lp_s3_key_check */
			fb_chk(f, LP_ERR_INVALID);
			return;
		}
		if (ph[i].part == 0)
			fb_adds(f, b, pi->p->meta.name);
		else if (ph[i].part == 1 && !control)
			fb_adds(f, b, pi->p->meta.ns);
		else
			fb_addf(f, b, "$TAG[%d]", depth + ph[i].part);
		k = e + strlen(ph[i].name);
	}
	lp_yamlw_kvq(&f->w, "s3_key_format", fb_ts(f));
}
