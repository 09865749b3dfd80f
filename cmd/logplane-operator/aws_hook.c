/* cmd/logplane-operator/aws_hook.c: see aws_hook.h. */
#include "aws_hook.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

static void nap(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The AWS target of o: its type name, the resource name, and whether the
 * output asks the operator to provision it. */
static void target_of(const struct lp_output *o, const char **name, int *provision)
{
	*name = lp_output_aws_target(o);
	*provision = lp_output_provision(o);
}

/* Every text of the result reaches status, Events and logs: the output's own
 * credentials are masked there whatever path the text took (an error body is
 * scrubbed already; a success answer's fields, an ARN or state an endpoint
 * made up, are not). */
static void scrub_result(struct lp_ctrl_aws_result *out, const struct lp_ctrl_aws_creds *creds)
{
	const char *known[3] = {NULL, NULL, NULL};

	if (!creds)
		return;
	known[0] = creds->access_key_id;
	known[1] = creds->secret_access_key;
	known[2] = creds->session_token;
	lp_aws_scrub_text(out->creds.message, sizeof(out->creds.message), known, 3);
	lp_aws_scrub_text(out->prov.message, sizeof(out->prov.message), known, 3);
	for (size_t i = 0; i < out->n_events; i++)
		lp_aws_scrub_text(out->events[i], sizeof(out->events[i]), known, 3);
	lp_aws_scrub_text(out->target.arn, sizeof(out->target.arn), known, 3);
	lp_aws_scrub_text(out->target.state, sizeof(out->target.state), known, 3);
	lp_aws_scrub_text(out->target.region, sizeof(out->target.region), known, 3);
}

void lp_aws_hook_reconcile(void *hook, const struct lp_output *o,
                           const struct lp_ctrl_aws_creds *creds, int deleting,
                           struct lp_ctrl_aws_result *out)
{
	struct lp_aws_hook *h = hook;
	struct lp_aws_secret_creds sc = {0};
	const struct lp_aws_secret_creds *scp = NULL;
	struct lp_aws_result res;
	int polls = h->max_polls > 0 ? h->max_polls : 1;
	uint64_t poll_ms = h->poll_ms ? h->poll_ms : 2000;
	const char *tname;
	int provision;
	lp_err err;

	memset(out, 0, sizeof(*out));
	if (creds && creds->access_key_id) {
		sc.access_key_id = creds->access_key_id;
		sc.secret_access_key = creds->secret_access_key;
		sc.session_token = creds->session_token;
		scp = &sc;
	}
	for (int i = 0;; i++) {
		if (deleting)
			err = lp_aws_finalize_output(h->ctx, o, scp, &res);
		else
			err = lp_aws_reconcile_output(h->ctx, o, scp, &res);
		for (size_t k = 0; k < res.n_events && out->n_events < LP_CTRL_AWS_MAX_EVENTS; k++)
			snprintf(out->events[out->n_events++], sizeof(out->events[0]), "%s",
			         res.events[k]);
		if (deleting || err || !res.in_progress || i + 1 >= polls)
			break;
		nap(res.requeue_after_ms && res.requeue_after_ms < poll_ms ? res.requeue_after_ms
		                                                           : poll_ms);
	}
	out->creds = res.credentials;
	out->prov = res.provisioned;
	if (!out->creds.reason[0])
		snprintf(out->creds.reason, sizeof(out->creds.reason), "NotChecked");
	if (!out->prov.reason[0])
		snprintf(out->prov.reason, sizeof(out->prov.reason), "NotChecked");
	out->cleanup_done = deleting && err == LP_OK;
	out->in_progress = !deleting && !err && res.in_progress;
	out->requeue_after_ms = out->in_progress ? res.requeue_after_ms : 0;
	target_of(o, &tname, &provision);
	if (!deleting && tname) {
		out->target.known = 1;
		snprintf(out->target.type, sizeof(out->target.type), "%s",
		         lp_output_type_name(o->type));
		snprintf(out->target.name, sizeof(out->target.name), "%s", tname);
		snprintf(out->target.arn, sizeof(out->target.arn), "%s", res.arn);
		snprintf(out->target.region, sizeof(out->target.region), "%s",
		         res.region[0] ? res.region : res.bucket_region);
		snprintf(out->target.state, sizeof(out->target.state), "%s", res.state);
		out->target.provisioned = provision && res.provisioned.status == LP_COND_TRUE;
	}
	scrub_result(out, creds);
}
