/* pkg/render/fb_routing.c: routing by tag: which tags a pipeline selects (namespace, containers)
 * and which tags an output matches. */
#include "fb.h"
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

/* match or match_regex selecting the application logs of a pipeline by tag. */
void fb_app_match(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_in_application *a = &pi->p->app;
	int control = strcmp(pi->p->meta.ns, f->c->control_ns) == 0;
	struct lp_buf *b;

	if (a->container_include.n == 0 && a->container_exclude.n == 0 &&
	    (!control || (a->ns_include.n == 0 && a->ns_exclude.n == 0))) {
		if (control)
			fb_kv(f, "match", "kube.*");
		else {
			fb_cat(f, "kube.", pi->p->meta.ns, ".*", CAT_END);
			fb_kv(f, "match", fb_ts(f));
		}
		return;
	}
	b = fb_t0(f);
	fb_adds(f, b, "^kube\\.");
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
	fb_kv(f, "match_regex", fb_ts(f));
}

void fb_match_own(struct fb *f, const struct lp_pinfo *pi, const char *sub)
{
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
