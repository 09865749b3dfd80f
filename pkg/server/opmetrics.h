/* pkg/server/opmetrics: the logplane operator's metric families, declared in
 * one table, and small recording helpers for the controller, the Kubernetes
 * client and the AWS wiring.
 *
 * Families (all prefixed logplane_):
 *   reconcile_total{kind,result}            counter  result: success|error|requeue
 *   reconcile_duration_seconds{kind}        histogram
 *   workqueue_depth                         gauge
 *   watch_restarts_total{resource}          counter
 *   api_requests_total{verb,code}           counter  Kubernetes API calls
 *   aws_requests_total{service,operation,code} counter
 *   rendered_config_bytes                   gauge    size of the last rendered config
 *   pipelines{condition,status}             gauge    LogPipelines per condition type/status
 *   outputs{condition,status}               gauge    LogOutputs per condition type/status
 *   build_info{version}                     gauge    always 1
 *   admission_reviews_total{kind,verdict}   counter  webhook answers:
 * allowed|warned|refused|bad_request admission_duration_seconds{kind}        histogram
 *
 * The recording helpers never fail the caller: a sample that cannot be
 * recorded (no memory, series cap) is dropped. A NULL om makes them no-ops,
 * so code paths without metrics need no checks.
 */
#ifndef LP_SERVER_OPMETRICS_H
#define LP_SERVER_OPMETRICS_H
#include <stddef.h>
#include <stdint.h>
#include "../reconcile/controller.h"
#include "metrics.h"

struct lp_opmetrics { /* borrowed families of the registry they were added to */
	struct lp_metric_family *reconcile_total;
	struct lp_metric_family *reconcile_duration;
	struct lp_metric_family *workqueue_depth;
	struct lp_metric_family *watch_restarts;
	struct lp_metric_family *api_requests;
	struct lp_metric_family *aws_requests;
	struct lp_metric_family *rendered_config_bytes;
	struct lp_metric_family *pipelines;
	struct lp_metric_family *outputs;
	struct lp_metric_family *build_info;
	struct lp_metric_family *admissions;
	struct lp_metric_family *admission_duration;
};

/* Registers every family into m and sets build_info{version} to 1. *out is
 * written only on success. LP_ERR_INVALID if m already has one of them,
 * LP_ERR_NOMEM. version NULL is "unknown". */
LP_WUR lp_err lp_opmetrics_register(struct lp_metrics *m, const char *version,
                                    struct lp_opmetrics *out);

/* kind: "LogPipeline"|"LogOutput"; result: "success"|"error"|"requeue". */
void lp_opmetrics_reconcile(const struct lp_opmetrics *om, const char *kind, const char *result,
                            double seconds);
void lp_opmetrics_queue_depth(const struct lp_opmetrics *om, size_t depth);
/* resource: plural, e.g. "logpipelines". */
void lp_opmetrics_watch_restart(const struct lp_opmetrics *om, const char *resource);
/* verb: "get"|"list"|"watch"|"create"|"update"|"patch"|"delete"; code: HTTP status,
 * 0 for a transport failure (recorded as "error"). */
void lp_opmetrics_api_request(const struct lp_opmetrics *om, const char *verb, int code);
/* service: "kinesis"|"firehose"|"s3"|"logs"|"sts"; operation: "CreateStream"...;
 * code: "200", or the AWS error code ("ResourceNotFoundException"), NULL = "error". */
void lp_opmetrics_aws_request(const struct lp_opmetrics *om, const char *service,
                              const char *operation, const char *code);
void lp_opmetrics_rendered_bytes(const struct lp_opmetrics *om, size_t bytes);
/* Sets the number of LogPipelines whose condition `condition` has `status`
 * ("True"|"False"|"Unknown"). */
void lp_opmetrics_pipelines(const struct lp_opmetrics *om, const char *condition,
                            const char *status, size_t count);
/* The same for LogOutputs. */
void lp_opmetrics_outputs(const struct lp_opmetrics *om, const char *condition, const char *status,
                          size_t count);

/* One admission review answered: kind "LogPipeline"|"LogOutput" ("" = other),
 * verdict as lp_admission_verdict_name(). */
void lp_opmetrics_admission(const struct lp_opmetrics *om, const char *kind, const char *verdict,
                            double seconds);

/* Totals kept elsewhere, copied from a collector (lp_metrics_add_collector):
 * each sets the series to the absolute total (never lower than before).
 * lp_opmetrics_api_total accepts HTTP methods or client verbs ("GET", "LIST",
 * "WATCH", "POST", "PUT", "PATCH", "DELETE") and records the Kubernetes verb
 * (get, list, watch, create, update, patch, delete). */
void lp_opmetrics_api_total(const struct lp_opmetrics *om, const char *verb, int code,
                            uint64_t total);
void lp_opmetrics_watch_restarts_total(const struct lp_opmetrics *om, const char *resource,
                                       uint64_t total);
void lp_opmetrics_aws_total(const struct lp_opmetrics *om, const char *service,
                            const char *operation, const char *code, uint64_t total);

/* The controller's metrics hook (lp_ctrl_opts.metrics) recording into om,
 * which must outlive the controller. */
void lp_opmetrics_ctrl_hook(const struct lp_opmetrics *om, struct lp_ctrl_metrics *out);

#endif
