/* pkg/render/check.c: the renderer's checks are validation's (pkg/api/rules):
 * the same functions decide, so the renderer refuses nothing validation
 * accepted (one verdict). Here they are turned into render problems, plus what
 * only the renderer knows: the AWS endpoint split and the one aggregator
 * engine per cluster. */
#include "internal.h"
#include "../api/rules.h"
#include "../util/mem.h"
#include <string.h>

static lp_err to_render(struct lp_rctx *c, const char *kind, const struct lp_meta *m,
                        struct lp_problems *probs, lp_err err, int *ok)
{
	*ok = err == LP_OK;
	for (size_t i = 0; err != LP_ERR_NOMEM && i < probs->n; i++)
		if (lp_render_problem_add(c, kind, m->ns, m->name, probs->v[i].field, "%s",
		                          probs->v[i].message) != LP_OK)
			err = LP_ERR_NOMEM;
	lp_problems_free(probs);
	return err == LP_ERR_NOMEM ? err : LP_OK;
}

lp_err lp_render_check_output(struct lp_rctx *c, struct lp_oinfo *oi, int *ok)
{
	const struct lp_output *o = oi->o;
	const struct lp_output_type_desc *d = lp_output_type_desc(o->type);
	struct lp_problems probs = {NULL, 0};
	lp_err err = to_render(c, "LogOutput", &o->meta, &probs, lp_output_rules(o, &probs), ok);

	if (!err && *ok) /* only the control namespace shares outputs */
		err = to_render(c, "LogOutput", &o->meta, &probs,
		                lp_output_share_rules(o, c->control_ns, &probs), ok);
	if (err || !*ok || !o->aws.endpoint || !d || d->aws_url_endpoint)
		return err;
	if (d->aws) { /* the endpoint as host and port */
		int r = lp_url_host_port(o->aws.endpoint, &oi->endpoint_host, &oi->endpoint_port);
		if (r < 0)
			return LP_ERR_NOMEM;
		*ok = r == 1; /* the rules checked it: always 1 */
	}
	return LP_OK;
}

lp_err lp_render_check_pipeline(struct lp_rctx *c, struct lp_pinfo *pi, int *ok)
{
	const struct lp_pipeline *p = pi->p;
	struct lp_problems probs = {NULL, 0};
	lp_err err = to_render(c, "LogPipeline", &p->meta, &probs,
	                       lp_pipeline_rules(p, c->control_ns, &probs), ok);

	if (err || !*ok)
		return err;
	/* tenants cannot set the engine (lp_pipeline_validate); among the control
	 * namespace's pipelines the first by name decides */
	if (p->aggregator.enabled && c->engine_chosen && p->meta.ns &&
	    !strcmp(p->meta.ns, c->control_ns) && p->aggregator.engine != c->engine) {
		*ok = 0;
		return lp_render_problem_add(
		    c, "LogPipeline", p->meta.ns, p->meta.name, "spec.aggregator.engine",
		    "another pipeline already chose a different aggregator engine (one aggregator "
		    "per cluster; the first pipeline of the control namespace by name decides)");
	}
	return LP_OK;
}
