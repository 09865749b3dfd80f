/* pkg/reconcile/controller: the logplane controller on one event loop.
 *
 * Informers on LogPipeline and LogOutput (all namespaces), on the owned kinds
 * (label app.kubernetes.io/managed-by=logplane, namespaced ones in the control
 * namespace) and on the Secrets that outputs reference: one informer per
 * Secret (field selector metadata.name), or one for the whole namespace past
 * eight referenced Secrets in it (ctrl_secrets.c). A work queue; the key "config"
 * (debounced: a lone change at once, a burst merged into one trailing run, see
 * debounce.h) rebuilds the desired objects from every resource
 * and applies only what differs (server-side apply; ConfigMaps and Secrets
 * before the workloads that mount them; then deletes what is no longer
 * desired); per-resource keys write status through /status only when it
 * differs. Leader election on a Lease when asked; only the leader writes.
 *
 * AWS steps (credentials check, provisioning, cleanup) run on a worker thread
 * through the optional hook below, so the loop never blocks.
 * Threading: loop thread only. The implementation is controller.c and its
 * parts ctrl_*.c (see ctrl_int.h). */
#ifndef LP_RECONCILE_CONTROLLER_H
#define LP_RECONCILE_CONTROLLER_H
#include <stddef.h>
#include <stdint.h>
#include "../api/api.h"
#include "../kube/client.h"
#include "../util/log.h"
#include "agents.h"
#include "status.h"

#define LP_FINALIZER "logplane.io/finalizer"

/* Decoded AWS credentials from the output's Secret (NULL members when absent). */
struct lp_ctrl_aws_creds {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
};

#define LP_CTRL_AWS_MAX_EVENTS 8

/* What an AWS step reports for one output: the CredentialsResolved and
 * Provisioned conditions, the
 * changes it made (one Normal Event each), whether the target is still
 * converging (the controller calls again after requeue_after_ms, the worker
 * does not wait), and the target for status.target. */
struct lp_ctrl_aws_result {
	struct lp_cond_report creds; /* CredentialsResolved */
	struct lp_cond_report prov;  /* Provisioned */
	int cleanup_done;            /* deleting: external resources released (or retained) */
	char events[LP_CTRL_AWS_MAX_EVENTS][256]; /* "set retention of x back to 48h" */
	size_t n_events;
	int in_progress;           /* CREATING/UPDATING: check again soon */
	uint64_t requeue_after_ms; /* when in_progress; 0 = the controller's default */
	struct {
		int known;       /* the fields below were filled */
		char type[16];   /* kinesis, firehose, s3, cloudwatch */
		char name[256];  /* stream, delivery stream, bucket or log group */
		char arn[512];   /* "" when unknown */
		char region[32]; /* "" when unknown */
		char state[32];  /* ACTIVE, CREATING, Available, ... "" when unknown */
		int provisioned; /* the operator manages (created and keeps) it */
	} target;
};

struct lp_ctrl_aws_ops {
	/* Runs on the worker thread. o is read-only and stays valid during the
	 * call; deleting = 1: the output is being deleted, apply its deletion
	 * policy and set cleanup_done. */
	void (*reconcile)(void *ctx, const struct lp_output *o,
	                  const struct lp_ctrl_aws_creds *creds, int deleting,
	                  struct lp_ctrl_aws_result *out);
	void *ctx;
};

/* Where the controller publishes its metrics: the operator's metrics server
 * registers one (lp_opmetrics_ctrl_hook in pkg/server/opmetrics.h). Called on
 * the loop thread; every member is required. */
struct lp_ctrl_metrics {
	/* kind "config", "LogPipeline" or "LogOutput"; result "success"|"error" */
	void (*reconcile)(void *ctx, const char *kind, const char *result, double seconds);
	void (*queue_depth)(void *ctx, size_t depth);
	void (*rendered_bytes)(void *ctx, size_t bytes);
	/* LogPipelines whose condition type has status ("True"|"False"|"Unknown") */
	void (*pipelines)(void *ctx, const char *condition, const char *status, size_t count);
	/* LogOutputs likewise (types Ready, Valid, CredentialsResolved, Provisioned) */
	void (*outputs)(void *ctx, const char *condition, const char *status, size_t count);
	/* absolute total of watch restarts for a resource (plural) */
	void (*watch_restarts_total)(void *ctx, const char *resource, uint64_t total);
	void *ctx;
};

struct lp_ctrl_opts {
	const char *control_ns;       /* default LP_DEFAULT_CONTROL_NAMESPACE */
	const char *fluentbit_image;  /* default fluent/fluent-bit:5.1.1 */
	const char *aggregator_image; /* default per engine */
	/* image carrying logplane-nofile (docs/delivery.md, the open-files
	 * limit); NULL or "": the agents start Fluent Bit without it */
	const char *nofile_image;
	/* the live-tail hub's Service host and its ingest token Secret (in
	 * control_ns); borrowed; NULL: lp_render_input's defaults */
	const char *hub_host;
	const char *hub_token_secret;
	const char *hub_alerts_secret; /* its Secret of alert targets; NULL: LP_HUB_ALERTS_NAME */
	uint64_t resync_ms;            /* 0 = no periodic resync */
	uint64_t debounce_ms;          /* quiet time ending a burst of changes; 0 = 500 */
	int leader_elect;
	const char *lease_name;                /* default "logplane-operator" */
	const char *identity;                  /* lease holder identity; default host_pid */
	uint64_t lease_duration_ms;            /* default 15000 */
	const struct lp_log *log;              /* borrowed, may be NULL */
	const struct lp_ctrl_aws_ops *aws;     /* borrowed, may be NULL (no AWS conditions) */
	const struct lp_ctrl_metrics *metrics; /* borrowed, may be NULL */
	/* deployment settings of the agents (the chart's agents file); borrowed,
	 * must outlive the controller; NULL: built-in defaults */
	const struct lp_agent_config *agents;
	/* first retry delay of a key that failed (a config computation that ran
	 * out of memory, a write the API server refused), doubling up to 30 s;
	 * 0 = 500 ms */
	uint64_t retry_base_ms;
	/* Called on the loop thread just before (end 0) and just after (end 1)
	 * the controller handles a due work-queue key ("config", "status-all",
	 * "p/<ns>/<name>", ...): for tracing and for tests that need to act on
	 * one key's handling. NULL: none. */
	void (*on_key)(void *arg, const char *key, int end);
	void *on_key_arg;
	uint64_t event_window_ms; /* Event de-duplication window; 0 = 60 s (tests shorten it) */
	/* rollout guard: agent pods not ready this long after a configuration
	 * was applied roll the agents back to the last one that ran; 0 = 2 min */
	uint64_t rollout_timeout_ms;
	/* 1: plain http to any host for outputs that carry credentials (else
	 * loopback only); see lp_world.allow_plain_http */
	int allow_plain_http;
	/* bounds per namespace other than the control namespace (0 = none): the
	 * first max_*_per_ns LogPipelines / LogOutputs by creation time, then
	 * name, go into the configuration, and the pipelines' rendered bytes
	 * (shipper and aggregator) up to max_bytes_per_ns; the others get
	 * ConfigGenerated=False reason LimitExceeded */
	size_t max_pipelines_per_ns;
	size_t max_outputs_per_ns;
	/* alert LogOutputs in use per namespace other than the control
	 * namespace (0 = none); then every namespace's alert outputs share the
	 * hub's targets, and all of them the agents' AWS credentials file
	 * (ctrl_shares.c) */
	size_t max_alerts_per_ns;
	uint64_t max_bytes_per_ns;
};

struct lp_ctrl;

/* New controller (nothing started). loop and client borrowed, must outlive it;
 * opts copied. */
LP_WUR lp_err lp_ctrl_new(struct lp_ctrl **out, struct lp_loop *loop, struct lp_kube_client *client,
                          const struct lp_ctrl_opts *opts);
/* Starts informers, queue, resync timer and, with leader election, the Lease. */
LP_WUR lp_err lp_ctrl_start(struct lp_ctrl *c);
/* 1 once the LogPipeline, LogOutput and owned-object caches are synced. */
int lp_ctrl_synced(const struct lp_ctrl *c);
/* 1 while this replica may write (always 1 without leader election). */
int lp_ctrl_leading(const struct lp_ctrl *c);
/* Stops writing and releases the Lease (when held); done(arg) runs on the loop
 * once the release finished (at once without a Lease). */
LP_WUR lp_err lp_ctrl_shutdown(struct lp_ctrl *c, void (*done)(void *arg), void *arg);
/* Cancels everything and frees. NULL-safe. */
void lp_ctrl_free(struct lp_ctrl *c);

struct lp_ctrl_stats {
	uint64_t config_runs;   /* "config" keys processed to the end */
	uint64_t config_errors; /* config computations or runs that failed (each retried) */
	uint64_t applies;       /* owned-object writes */
	uint64_t deletes;       /* owned-object deletes */
	uint64_t status_writes;
	uint64_t events;
	size_t pipelines, outputs, secrets_watched;
};
void lp_ctrl_get_stats(const struct lp_ctrl *c, struct lp_ctrl_stats *out);

/* Publishes what the controller's informers count (watch restarts per
 * resource) through opts.metrics. For a metrics collector on the loop thread. */
void lp_ctrl_collect_metrics(const struct lp_ctrl *c);

/* Calls fn for every LogPipeline (o NULL) and LogOutput (p NULL) in the caches
 * that is not being deleted, parsed (possibly with problems); the pointers are
 * borrowed until the loop next runs. For the admission webhook's world. */
void lp_ctrl_foreach_object(const struct lp_ctrl *c,
                            void (*fn)(void *arg, const struct lp_pipeline *p,
                                       const struct lp_output *o),
                            void *arg);
/* Changes whenever a cached LogPipeline or LogOutput is added, replaced or freed:
 * pointers lp_ctrl_foreach_object gave stay valid while it returns the same value. */
uint64_t lp_ctrl_res_epoch(const struct lp_ctrl *c);

#endif
