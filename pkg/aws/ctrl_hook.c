#include "ctrl_hook.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum lp_cond_status cond_status(int s)
{
	return s == 1 ? LP_COND_TRUE : s == 0 ? LP_COND_FALSE : LP_COND_UNKNOWN;
}

static void nap(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Appends "; changed: a; b" to msg[len], truncating. */
static void add_changes(char *msg, size_t len, char changes[][256], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(msg);
		if (l + 4 >= len)
			return;
		snprintf(msg + l, len - l, "%s%s", i ? "; " : "; changed: ", changes[i]);
	}
}

void lp_aws_hook_reconcile(void *hook, const struct lp_output *o,
                           const struct lp_ctrl_aws_creds *creds, int deleting,
                           struct lp_ctrl_aws_result *out)
{
	struct lp_aws_hook *h = hook;
	struct lp_aws_secret_creds sc = {0};
	const struct lp_aws_secret_creds *scp = NULL;
	struct lp_aws_result res;
	char changes[LP_AWS_MAX_EVENTS][256];
	size_t n_changes = 0;
	int polls = h->max_polls > 0 ? h->max_polls : 30;
	uint64_t poll_ms = h->poll_ms ? h->poll_ms : 2000;
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
		for (size_t k = 0; k < res.n_events && n_changes < LP_AWS_MAX_EVENTS; k++)
			memcpy(changes[n_changes++], res.events[k], sizeof(changes[0]));
		if (deleting || err || !res.in_progress || i + 1 >= polls)
			break;
		nap(res.requeue_after_ms && res.requeue_after_ms < poll_ms ? res.requeue_after_ms
		                                                           : poll_ms);
	}
	out->creds_status = cond_status(res.credentials.status);
	snprintf(out->creds_reason, sizeof(out->creds_reason), "%s",
	         res.credentials.reason[0] ? res.credentials.reason : "NotChecked");
	snprintf(out->creds_message, sizeof(out->creds_message), "%.*s",
	         (int)sizeof(out->creds_message) - 1, res.credentials.message);
	out->prov_status = cond_status(res.provisioned.status);
	snprintf(out->prov_reason, sizeof(out->prov_reason), "%s",
	         res.provisioned.reason[0] ? res.provisioned.reason : "NotChecked");
	snprintf(out->prov_message, sizeof(out->prov_message), "%.*s",
	         (int)sizeof(out->prov_message) - 1, res.provisioned.message);
	add_changes(out->prov_message, sizeof(out->prov_message), changes, n_changes);
	out->cleanup_done = deleting && err == LP_OK;
}
