/* pkg/reconcile/desired: the rendered configuration in, the objects the
 * operator owns out (pure: no I/O).
 *
 * Every object is labelled app.kubernetes.io/managed-by=logplane and carries
 * the annotation logplane.io/applied-hash, the SHA-256 of its own canonical
 * JSON (sorted keys, without that annotation). Deciding "what differs" is then
 * a string compare against the observed object's annotation, so the
 * controller keeps only name, hash and resourceVersion of what it owns.
 */
#ifndef LP_RECONCILE_DESIRED_H
#define LP_RECONCILE_DESIRED_H
#include <stddef.h>
#include "../api/api.h"
#include "../render/render.h"
#include "agents.h"

#define LP_MANAGED_BY_LABEL        "app.kubernetes.io/managed-by"
#define LP_MANAGED_BY_VALUE        "logplane"
#define LP_MANAGED_SELECTOR        LP_MANAGED_BY_LABEL "=" LP_MANAGED_BY_VALUE
#define LP_APPLIED_HASH_ANNOTATION "logplane.io/applied-hash"
#define LP_CONFIG_HASH_ANNOTATION  "logplane.io/config-hash"
/* the open files the shipper config needs (no pod field sets the limit) */
#define LP_OPEN_FILES_ANNOTATION   "logplane.io/open-files"
#define LP_DEFAULT_FLUENTBIT_IMAGE "fluent/fluent-bit:5.1.1"
/* The open-files limit (docs/delivery.md): an init container of the image
 * carrying logplane-nofile (the operator's) copies it into an emptyDir; the
 * Fluent Bit container runs `logplane-nofile N -- fluent-bit ARGS`, which
 * raises its soft RLIMIT_NOFILE to N (at most the hard limit) and execs. */
#define LP_NOFILE_IMAGE_PATH "/usr/local/bin/logplane-nofile" /* in the helper image */
#define LP_NOFILE_DIR        "/logplane-bin"                  /* the emptyDir's mount */
#define LP_NOFILE_PATH       LP_NOFILE_DIR "/logplane-nofile"
/* Fluent Bit shipper: N = twice the config's estimate (the open-files
 * annotation), rounded up to a multiple of this. */
#define LP_NOFILE_ROUND 1024
/* Fluent Bit aggregator: its descriptors grow with the node count (forward
 * connections), which no config says; a soft limit is only a ceiling. */
#define LP_AGGREGATOR_OPEN_FILES 65536
#define LP_DEFAULT_FLUENTD_IMAGE "fluent/fluentd:v1.17-1"

/* Stable names of the owned objects in the control namespace. */
#define LP_SHIPPER_NAME "logplane-fluent-bit"
/* The ConfigMaps and Secrets the agents read are named by their content:
 * <base>-<10 hex digits of the SHA-256 of their data>. A pod's set never
 * changes under it; the operator writes a new set, then moves the workload
 * to it, then deletes what no template refers to any more. */
#define LP_SHIPPER_CONFIG_NAME "logplane-fluent-bit-config" /* -<hash> */
#define LP_CREDENTIALS_NAME    "logplane-credentials"       /* -<hash>, one or more */
/* What a real API server accepts in one Secret is 1 MiB of keys and decoded
 * values; the agents' credentials are split into Secrets of at most this
 * (a margin under it). One credential larger than this is left out. */
#define LP_CREDENTIALS_MAX_BYTES (1024u * 1024u - 16u * 1024u)
/* Key of the AWS shared credentials file (every AWS profile the config names)
 * in LP_CREDENTIALS_NAME; mounted read-only at LP_RENDER_AWS_CREDENTIALS_PATH
 * with LP_RENDER_AWS_CREDENTIALS_ENV set, in the shipper and the aggregator. */
#define LP_AWS_CREDENTIALS_KEY    "aws-credentials"
#define LP_AGGREGATOR_NAME        "logplane-aggregator"
#define LP_AGGREGATOR_CONFIG_NAME "logplane-aggregator-config" /* -<hash> */
#define LP_STATE_HOST_DIR         "/var/lib/logplane"
#define LP_CONFIG_DIR             "/fluent-bit/etc"
/* Both agents' prometheus_exporter (their own metrics and spec.metrics), the
 * probes' endpoint: served on Fluent Bit's engine event loop, it answers once
 * the engine runs and stops answering when that loop is stuck
 * (docs/delivery.md "Probes"). Fluent Bit's built-in HTTP server (2020) is
 * off. */
#define LP_METRICS_PORT 2021
#define LP_PROBE_PATH   "/metrics"

/* The hub's alert targets (alert LogOutputs a rendered route uses, with their
 * webhook URLs): key LP_HUB_ALERTS_KEY, JSON {"targets": [...]} as
 * pkg/hub/alert.h reads it. The hub mounts this Secret (optional); the
 * operator writes it only while some alert output is rendered. */
#define LP_HUB_ALERTS_NAME "logplane-hub-alerts"
#define LP_HUB_ALERTS_KEY  "targets.json"

/* The kinds the operator owns, in apply order (a config exists before the
 * workload that mounts it; workloads last). */
enum lp_owned_kind {
	LP_OWNED_SECRET = 0,
	LP_OWNED_CONFIGMAP,
	LP_OWNED_SERVICEACCOUNT,
	LP_OWNED_CLUSTERROLE,
	LP_OWNED_CLUSTERROLEBINDING,
	LP_OWNED_SERVICE,
	LP_OWNED_PDB,
	LP_OWNED_STATEFULSET,
	LP_OWNED_DAEMONSET,
	LP_OWNED_KIND_COUNT
};

struct lp_owned_kind_info {
	const char *kind;        /* "ConfigMap" */
	const char *api_version; /* "v1", "apps/v1" */
	const char *plural;      /* "configmaps" */
	int namespaced;
};

/* Static description of k; NULL when out of range. */
const struct lp_owned_kind_info *lp_owned_kind_info(enum lp_owned_kind k);
/* LP_OWNED_KIND_COUNT when kind is not one of ours. */
enum lp_owned_kind lp_owned_kind_parse(const char *kind);

/* Looks up a Secret's value: returns the base64 text of data[key] of Secret
 * ns/name (borrowed, valid during the call), or NULL when absent. */
typedef const char *(*lp_secret_value_fn)(void *ctx, const char *ns, const char *name,
                                          const char *key);

struct lp_desired_input {
	const char *control_ns;       /* LP_DEFAULT_CONTROL_NAMESPACE when NULL */
	const char *fluentbit_image;  /* LP_DEFAULT_FLUENTBIT_IMAGE when NULL */
	const char *aggregator_image; /* engine default when NULL */
	/* image with logplane-nofile at LP_NOFILE_IMAGE_PATH (the operator's);
	 * NULL or "": no init container, Fluent Bit starts directly */
	const char *nofile_image;
	const struct lp_rendered *rendered; /* required, borrowed */
	/* The pipelines that were rendered (borrowed): host paths to mount,
	 * http input ports, aggregator replicas and storage. */
	const struct lp_pipeline *const *pipelines;
	size_t n_pipelines;
	lp_secret_value_fn secret_value; /* NULL: no secret values (hash of names only) */
	void *secret_ctx;
	/* Deployment settings of the agents (the chart's agents file); NULL: the
	 * built-in defaults. Its images win over fluentbit_image/aggregator_image. */
	const struct lp_agent_config *agents;
	/* the hub's Secret of alert targets (the operator's --hub-service +
	 * "-alerts"); NULL: LP_HUB_ALERTS_NAME */
	const char *hub_alerts_name;
};

struct lp_desired_obj {
	enum lp_owned_kind kind;
	char *name;
	char *ns;      /* NULL for cluster-scoped kinds */
	char hash[65]; /* the logplane.io/applied-hash value */
	json_t *obj;   /* owned: the full object, annotation included */
};

struct lp_desired {
	struct lp_desired_obj *v; /* in apply order (lp_owned_kind, then name) */
	size_t n;
	char config_hash[65];     /* rendered configs + referenced Secret values (AWS keys too) */
	size_t n_missing_secrets; /* env vars, files and AWS profiles whose Secret key was not
	                             found (or, for a profile, could not be written safely),
	                             or too large for a Secret: left out, not referenced */
	size_t n_creds_too_large; /* of those: larger than LP_CREDENTIALS_MAX_BYTES alone */
	char shipper_config[96];  /* name of the ConfigMap with the shipper's entry file */
};

/* Builds every desired object. On LP_OK *out is filled (free with
 * lp_desired_free); on failure *out is untouched. Errors: LP_ERR_INVALID
 * (NULL input or rendered), LP_ERR_NOMEM. */
LP_WUR lp_err lp_desired_build(struct lp_desired *out, const struct lp_desired_input *in);
void lp_desired_free(struct lp_desired *d); /* NULL-safe */

/* Hex SHA-256 of obj's canonical JSON (sorted keys, compact), ignoring
 * metadata.annotations["logplane.io/applied-hash"]. LP_ERR_NOMEM on failure. */
LP_WUR lp_err lp_desired_hash(char out[65], const json_t *obj);

/* The hub's Secret name (NULL: LP_HUB_ALERTS_NAME) in namespace ns (pkg/reconcile/hub_alerts.c):
 * r's alert targets with their webhook URLs read through secret_value (a target
 * whose Secret or key is missing is left out and counted in *missing). *out is
 * new, or NULL when r has no alert output (the Secret is then not wanted).
 * Errors: LP_ERR_NOMEM. */
LP_WUR lp_err lp_desired_hub_alerts(json_t **out, const struct lp_rendered *r,
                                    lp_secret_value_fn secret_value, void *ctx, const char *ns,
                                    const char *name, size_t *missing);

/* Hex SHA-256 of len bytes. */
void lp_sha256_hex(char out[65], const void *data, size_t len);

#endif
