#include "opmetrics.h"
#include <stdio.h>
#include <string.h>

static const char *const l_kind_result[] = {"kind", "result", NULL};
static const char *const l_kind[] = {"kind", NULL};
static const char *const l_resource[] = {"resource", NULL};
static const char *const l_verb_code[] = {"verb", "code", NULL};
static const char *const l_aws[] = {"service", "operation", "code", NULL};
static const char *const l_cond[] = {"condition", "status", NULL};
static const char *const l_version[] = {"version", NULL};
static const char *const l_kind_verdict[] = {"kind", "verdict", NULL};

/* An admission review is answered in well under a millisecond to a few ms. */
static const double admission_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                           0.01,   0.025,   0.05,   0.1,   0.25,   1};

/* Reconciles take milliseconds when nothing changed and seconds when AWS
 * resources are created. */
static const double duration_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5,   1,     2.5,  5,     10,   30,  60};

enum {
	F_RECONCILE_TOTAL,
	F_RECONCILE_DURATION,
	F_WORKQUEUE_DEPTH,
	F_WATCH_RESTARTS,
	F_API_REQUESTS,
	F_AWS_REQUESTS,
	F_RENDERED_BYTES,
	F_PIPELINES,
	F_OUTPUTS,
	F_BUILD_INFO,
	F_ADMISSIONS,
	F_ADMISSION_DURATION,
	F_COUNT
};

static const struct lp_metric_desc families[F_COUNT] = {
    [F_RECONCILE_TOTAL] = {LP_METRIC_COUNTER, "logplane_reconcile_total",
                           "Reconciles by kind and result (success, error, requeue).",
                           l_kind_result, NULL, 0},
    [F_RECONCILE_DURATION] = {LP_METRIC_HISTOGRAM, "logplane_reconcile_duration_seconds",
                              "Time taken by one reconcile, by kind.", l_kind, duration_buckets,
                              sizeof(duration_buckets) / sizeof(duration_buckets[0])},
    [F_WORKQUEUE_DEPTH] = {LP_METRIC_GAUGE, "logplane_workqueue_depth",
                           "Keys waiting in the work queue.", NULL, NULL, 0},
    [F_WATCH_RESTARTS] = {LP_METRIC_COUNTER, "logplane_watch_restarts_total",
                          "Watches restarted (closed, failed or expired with 410), by resource.",
                          l_resource, NULL, 0},
    [F_API_REQUESTS] = {LP_METRIC_COUNTER, "logplane_api_requests_total",
                        "Kubernetes API requests by verb and HTTP status code.", l_verb_code, NULL,
                        0},
    [F_AWS_REQUESTS] = {LP_METRIC_COUNTER, "logplane_aws_requests_total",
                        "AWS API requests by service, operation and result code.", l_aws, NULL, 0},
    [F_RENDERED_BYTES] = {LP_METRIC_GAUGE, "logplane_rendered_config_bytes",
                          "Size in bytes of the last rendered agent configuration.", NULL, NULL, 0},
    [F_PIPELINES] = {LP_METRIC_GAUGE, "logplane_pipelines",
                     "LogPipelines by condition type and status.", l_cond, NULL, 0},
    [F_OUTPUTS] = {LP_METRIC_GAUGE, "logplane_outputs", "LogOutputs by condition type and status.",
                   l_cond, NULL, 0},
    [F_BUILD_INFO] = {LP_METRIC_GAUGE, "logplane_build_info",
                      "Build information; the value is always 1.", l_version, NULL, 0},
    [F_ADMISSIONS] = {LP_METRIC_COUNTER, "logplane_admission_reviews_total",
                      "Admission reviews answered by the webhook, by kind and verdict "
                      "(allowed, warned, refused, bad_request).",
                      l_kind_verdict, NULL, 0},
    [F_ADMISSION_DURATION] = {LP_METRIC_HISTOGRAM, "logplane_admission_duration_seconds",
                              "Time the webhook took to answer one admission review, by kind.",
                              l_kind, admission_buckets,
                              sizeof(admission_buckets) / sizeof(admission_buckets[0])},
};

lp_err lp_opmetrics_register(struct lp_metrics *m, const char *version, struct lp_opmetrics *out)
{
	struct lp_metric_family *f[F_COUNT] = {0};
	const char *v[1] = {version ? version : "unknown"};
	lp_err err;

	if (!m || !out)
		return LP_ERR_INVALID;
	for (int i = 0; i < F_COUNT; i++) {
		err = lp_metrics_add_family(m, &families[i], &f[i]);
		if (err)
			return err;
	}
	err = lp_metric_set(f[F_BUILD_INFO], v, 1);
	if (err)
		return err;
	out->reconcile_total = f[F_RECONCILE_TOTAL];
	out->reconcile_duration = f[F_RECONCILE_DURATION];
	out->workqueue_depth = f[F_WORKQUEUE_DEPTH];
	out->watch_restarts = f[F_WATCH_RESTARTS];
	out->api_requests = f[F_API_REQUESTS];
	out->aws_requests = f[F_AWS_REQUESTS];
	out->rendered_config_bytes = f[F_RENDERED_BYTES];
	out->pipelines = f[F_PIPELINES];
	out->outputs = f[F_OUTPUTS];
	out->build_info = f[F_BUILD_INFO];
	out->admissions = f[F_ADMISSIONS];
	out->admission_duration = f[F_ADMISSION_DURATION];
	return LP_OK;
}

/* Recording is best effort by contract: errors are dropped on purpose. */
static void drop(lp_err err)
{
	(void)err;
}

void lp_opmetrics_reconcile(const struct lp_opmetrics *om, const char *kind, const char *result,
                            double seconds)
{
	const char *kr[2] = {kind, result};
	const char *k[1] = {kind};

	if (!om)
		return;
	drop(lp_metric_add(om->reconcile_total, kr, 1));
	drop(lp_metric_observe(om->reconcile_duration, k, seconds < 0 ? 0 : seconds));
}

void lp_opmetrics_queue_depth(const struct lp_opmetrics *om, size_t depth)
{
	if (om)
		drop(lp_metric_set(om->workqueue_depth, NULL, (double)depth));
}

void lp_opmetrics_watch_restart(const struct lp_opmetrics *om, const char *resource)
{
	const char *r[1] = {resource};

	if (om)
		drop(lp_metric_add(om->watch_restarts, r, 1));
}

void lp_opmetrics_api_request(const struct lp_opmetrics *om, const char *verb, int code)
{
	char c[16];
	const char *vc[2] = {verb, c};

	if (!om)
		return;
	if (code > 0 && code < 1000)
		snprintf(c, sizeof(c), "%d", code);
	else
		snprintf(c, sizeof(c), "error");
	drop(lp_metric_add(om->api_requests, vc, 1));
}

void lp_opmetrics_aws_request(const struct lp_opmetrics *om, const char *service,
                              const char *operation, const char *code)
{
	const char *v[3] = {service, operation, code ? code : "error"};

	if (om)
		drop(lp_metric_add(om->aws_requests, v, 1));
}

void lp_opmetrics_rendered_bytes(const struct lp_opmetrics *om, size_t bytes)
{
	if (om)
		drop(lp_metric_set(om->rendered_config_bytes, NULL, (double)bytes));
}

void lp_opmetrics_pipelines(const struct lp_opmetrics *om, const char *condition,
                            const char *status, size_t count)
{
	const char *v[2] = {condition, status};

	if (om)
		drop(lp_metric_set(om->pipelines, v, (double)count));
}

void lp_opmetrics_outputs(const struct lp_opmetrics *om, const char *condition, const char *status,
                          size_t count)
{
	const char *v[2] = {condition, status};

	if (om)
		drop(lp_metric_set(om->outputs, v, (double)count));
}

/* "GET" -> "get", "POST" -> "create", ...; other strings are kept. */
static const char *kube_verb(const char *v)
{
	static const char *const map[][2] = {
	    {"GET", "get"},    {"LIST", "list"},   {"WATCH", "watch"},   {"POST", "create"},
	    {"PUT", "update"}, {"PATCH", "patch"}, {"DELETE", "delete"},
	};

	for (size_t i = 0; v && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(v, map[i][0]) == 0)
			return map[i][1];
	return v;
}

void lp_opmetrics_api_total(const struct lp_opmetrics *om, const char *verb, int code,
                            uint64_t total)
{
	char c[16];
	const char *vc[2] = {kube_verb(verb), c};

	if (!om)
		return;
	if (code > 0 && code < 1000)
		snprintf(c, sizeof(c), "%d", code);
	else
		snprintf(c, sizeof(c), "error");
	drop(lp_metric_set_total(om->api_requests, vc, (double)total));
}

void lp_opmetrics_watch_restarts_total(const struct lp_opmetrics *om, const char *resource,
                                       uint64_t total)
{
	const char *r[1] = {resource};

	if (om)
		drop(lp_metric_set_total(om->watch_restarts, r, (double)total));
}

void lp_opmetrics_aws_total(const struct lp_opmetrics *om, const char *service,
                            const char *operation, const char *code, uint64_t total)
{
	const char *v[3] = {service, operation, code ? code : "error"};

	if (om)
		drop(lp_metric_set_total(om->aws_requests, v, (double)total));
}

void lp_opmetrics_admission(const struct lp_opmetrics *om, const char *kind, const char *verdict,
                            double seconds)
{
	const char *kv[2] = {kind && *kind ? kind : "other", verdict ? verdict : "error"};
	const char *k[1] = {kv[0]};

	if (!om || !om->admissions)
		return;
	drop(lp_metric_add(om->admissions, kv, 1));
	drop(lp_metric_observe(om->admission_duration, k, seconds < 0 ? 0 : seconds));
}

/* ---------- the controller's hook ---------- */

static void ctrl_reconcile(void *ctx, const char *kind, const char *result, double seconds)
{
	lp_opmetrics_reconcile(ctx, kind, result, seconds);
}

static void ctrl_queue_depth(void *ctx, size_t depth)
{
	lp_opmetrics_queue_depth(ctx, depth);
}

static void ctrl_rendered_bytes(void *ctx, size_t bytes)
{
	lp_opmetrics_rendered_bytes(ctx, bytes);
}

static void ctrl_pipelines(void *ctx, const char *condition, const char *status, size_t count)
{
	lp_opmetrics_pipelines(ctx, condition, status, count);
}

static void ctrl_outputs(void *ctx, const char *condition, const char *status, size_t count)
{
	lp_opmetrics_outputs(ctx, condition, status, count);
}

static void ctrl_watch_restarts(void *ctx, const char *resource, uint64_t total)
{
	lp_opmetrics_watch_restarts_total(ctx, resource, total);
}

void lp_opmetrics_ctrl_hook(const struct lp_opmetrics *om, struct lp_ctrl_metrics *out)
{
	out->reconcile = ctrl_reconcile;
	out->queue_depth = ctrl_queue_depth;
	out->rendered_bytes = ctrl_rendered_bytes;
	out->pipelines = ctrl_pipelines;
	out->outputs = ctrl_outputs;
	out->watch_restarts_total = ctrl_watch_restarts;
	out->ctx = (void *)(uintptr_t)om; /* read-only: the recorders take it const */
}
