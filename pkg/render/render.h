/* pkg/render: validated LogPipelines and LogOutputs in, Fluent Bit (and Fluentd)
 * configuration text out. Deterministic: the same input gives byte-identical
 * files in the same order, whatever order the input arrays are in.
 *
 * Credentials never appear in the text: the config refers to ${VAR}s, and
 * lp_rendered.env lists, for each VAR, the Secret key it must be filled from;
 * the controller puts exactly those into the pod spec. Two variables are not
 * in env because the pod always has them from the downward API: NODE_IP
 * (status.hostIP, the kubelet the kubernetes filter asks) and NODE_NAME.
 * AWS keys are never in env (a process-wide AWS_ACCESS_KEY_ID would be used by
 * every AWS output, the platform's own included): each AWS output with
 * credentials.secretRef gets its own `profile: lp-<hash>` (opensearch:
 * `aws_profile`), lp_rendered.aws_profiles lists them, and the controller
 * writes lp_render_aws_credentials_file() into an operator-owned Secret
 * mounted at LP_RENDER_AWS_CREDENTIALS_PATH, with LP_RENDER_AWS_CREDENTIALS_ENV
 * pointing at it. Outputs without secretRef name no profile and use the default
 * chain (IRSA); no profile is ever called "default". LP_FORWARD_SHARED_KEY (Secret
 * <control ns>/logplane-forward, key shared_key) links shipper and aggregator;
 * the operator creates that Secret.
 *
 * Files: all files of one config go into ONE directory (includes and the Lua
 * script path are relative to the entry file): "fluent-bit.yaml" (entry),
 * "part-NNN.yaml" (only when split), "logplane.lua" (shared Lua functions, when
 * any filter uses them); the Fluentd aggregator's entry is "fluent.conf". A
 * config larger than LP_RENDER_SPLIT_BYTES (shipper or aggregator) is split so
 * that no file exceeds it: the entry keeps the service section and lists the
 * parts under `includes`; part-000 holds the shared sections and the first
 * outputs, the next parts the other outputs, then (shipper) the pipelines, all
 * in sorted order. Fluentd: fluent.conf keeps <system>, <source> and the final
 * catch-all, and @includes "part-001.conf", ... in between, in <match> order.
 * A pipeline or output whose own text is too large for a part is left out and
 * listed in problems.
 * lp_rendered.mounts lists Secret keys the config reads as files (CA bundles).
 */
#ifndef LP_RENDER_H
#define LP_RENDER_H
#include <stddef.h>
#include "../api/api.h"
#include "../util/buf.h"

#define LP_RENDER_SPLIT_BYTES (900u * 1024u) /* a file part never exceeds this */
/* How the problem of a pipeline too large for a part alone begins. */
#define LP_RENDER_TOO_LARGE_ALONE "rendered configuration of this pipeline alone is larger"
/* The shared credentials file of the AWS profiles, and the variable naming it. */
#define LP_RENDER_AWS_CREDENTIALS_PATH "/etc/logplane/aws/credentials"
#define LP_RENDER_AWS_CREDENTIALS_ENV  "AWS_SHARED_CREDENTIALS_FILE"

/* Rendered part files kept from one lp_render() to the next, keyed by the
 * SHA-256 of the YAML events that produce them: a part whose events did not
 * change is copied instead of emitted again (the output is the same bytes).
 * Used only for a split shipper config. Holds the parts of the last render
 * only. One lp_render() at a time per cache. */
struct lp_render_cache;
struct lp_render_cache *lp_render_cache_new(void);        /* NULL on no memory */
void lp_render_cache_free(struct lp_render_cache *cache); /* NULL-safe */

/* The hub's ingest token: a Secret in the control namespace the operator
 * creates (random, kept), read by the hub and sent by every livetail output. */
#define LP_RENDER_HUB_TOKEN_SECRET "logplane-hub-token"
#define LP_RENDER_HUB_TOKEN_KEY    "token"

struct lp_render_input {
	const char *control_ns;        /* LP_DEFAULT_CONTROL_NAMESPACE when NULL */
	struct lp_render_cache *cache; /* optional (NULL: every part is emitted) */
	/* Resources that passed lp_*_parse and lp_*_validate. Borrowed. */
	const struct lp_pipeline *const *pipelines;
	size_t n_pipelines;
	const struct lp_output *const *outputs;
	size_t n_outputs;
	/* Deployment facts the config needs (all optional, defaults in render.c). */
	const char *aggregator_host; /* default "logplane-aggregator.<control_ns>.svc" */
	const char *livetail_host;   /* default "logplane-hub.<control_ns>.svc" (the hub Service) */
	int livetail_port;           /* default 8081 */
	/* Secret in control_ns whose key "token" livetail outputs send to the hub
	 * ("Authorization: Bearer"); default "logplane-hub-token" */
	const char *livetail_token_secret;
	/* storage.total_limit_size of the shipper's outputs that set no
	 * spec.delivery.bufferLimit (a size lp_size_parse accepts); default "1G". */
	const char *default_buffer_limit;
	/* 1: no per-pipeline summaries in the result (the operator shows none;
	 * ~6 % of a render at 10,000 pipelines) */
	int no_summaries;
	/* Optional: for a route whose LogOutput is not in outputs, fills buf with
	 * that output's first problem ("field: message") and returns 1 when the
	 * output exists but was left out as invalid; 0 when there is no such
	 * output. The route's problem then reads `LogOutput "x" is invalid: ...`
	 * instead of `... not found ...`. */
	int (*output_problem)(void *ctx, const char *ns, const char *name, char *buf, size_t n);
	void *output_problem_ctx;
};

struct lp_render_file {
	char *name; /* "fluent-bit.yaml" (entry point), "parsers.yaml", "part-001.yaml", ... */
	char *data;
	size_t len;
};

struct lp_render_env {   /* one environment variable the config uses */
	char *var;       /* "LP_SECRET_3F2A..." */
	char *secret_ns; /* Secret the value comes from */
	char *secret_name;
	char *secret_key;
};

struct lp_render_mount { /* a Secret key the config reads as a file (tls.ca_file) */
	char *path; /* absolute path in the container, e.g. /etc/logplane/ca/<ns>.<name>/ca.crt */
	char *secret_ns;
	char *secret_name;
	char *secret_key; /* "ca.crt" */
};

/* One AWS profile: the keys of one Secret (ns/name and the key names). Outputs
 * using the same Secret with the same keys share it. */
struct lp_render_aws_profile {
	char *profile; /* "lp-" + 12 hex chars */
	char *secret_ns;
	char *secret_name;
	char *access_key_id_key;     /* "AWS_ACCESS_KEY_ID" by default */
	char *secret_access_key_key; /* "AWS_SECRET_ACCESS_KEY" by default */
	char *session_token_key;     /* NULL when the output names none */
};

/* An alert output a rendered route uses: what the hub needs. The operator
 * writes it, with the webhook URL's value, into the hub's Secret
 * (docs/alerts.md); the agents' config names no webhook. */
struct lp_render_alert {
	char *ns;   /* the LogOutput's namespace (also the Secret's) */
	char *name; /* the LogOutput */
	char *secret_name;
	char *secret_key; /* the https webhook URL */
	int window_seconds, max_per_minute;
};

struct lp_render_problem { /* a resource left out of the config, and why */
	char *kind;        /* "LogPipeline" | "LogOutput" */
	char *ns;
	char *name;
	char *field;
	char *message;
};

struct lp_render_summary { /* one line per pipeline for `logplane render` */
	char *ns;
	char *name;
	char *text; /* "inputs: app(team-a); filters: kubernetes, multiline(java), ...; routes: ..."
	             */
};

struct lp_rendered_config {
	struct lp_render_file *files; /* files[0] is the entry point */
	size_t n_files;
	char hash[65]; /* hex SHA-256 over all files' names and contents */
	size_t total_bytes;
};

struct lp_rendered {
	struct lp_rendered_config shipper;
	int has_aggregator;
	enum lp_aggregator_engine aggregator_engine;
	struct lp_rendered_config aggregator; /* empty unless has_aggregator */
	struct lp_render_env *env;            /* sorted by var, no duplicates */
	size_t n_env;
	struct lp_render_problem *problems;
	size_t n_problems;
	struct lp_render_summary *summaries;
	size_t n_summaries;
	struct lp_render_mount *mounts; /* sorted by path, no duplicates */
	size_t n_mounts;
	struct lp_render_aws_profile *aws_profiles; /* sorted by profile, no duplicates */
	size_t n_aws_profiles;
	struct lp_render_alert *alerts; /* sorted by ns, name, no duplicates */
	size_t n_alerts;
	/* What the shipper config implies on every node (docs/delivery.md): its
	 * output instances, the threads they and its filters start, and the open
	 * files it needs (an estimate from Fluent Bit's per-instance descriptors,
	 * with room for the log files a node holds). */
	size_t shipper_outputs, shipper_threads, shipper_open_files;
};

/* Renders everything. On LP_OK *out is filled (free with lp_rendered_free). A
 * pipeline or output that cannot be rendered is left out and listed in
 * out->problems; that is not an error. Errors: LP_ERR_NOMEM, LP_ERR_INVALID
 * (NULL arguments). The part files of a split config are rendered on up to
 * two threads started and joined inside the call; the result does not depend
 * on it. in (and in->cache) must not be used by another call meanwhile. */
LP_WUR lp_err lp_render(struct lp_rendered *out, const struct lp_render_input *in);
void lp_rendered_free(struct lp_rendered *r); /* NULL-safe */

/* Returns the value of key `key` of Secret ns/name (borrowed, NUL-terminated),
 * or NULL when the Secret or the key does not exist. */
typedef const char *(*lp_render_secret_lookup)(void *ctx, const char *ns, const char *name,
                                               const char *key);

/* Appends to *out the text of the AWS shared credentials file for r's
 * aws_profiles (in their order): "[lp-...]" then aws_access_key_id,
 * aws_secret_access_key and, when named, aws_session_token, each as "key = value".
 * Pure: values come from lookup(ctx, ...). Nothing is appended on failure.
 * Errors: LP_ERR_INVALID (NULL r/lookup/out), LP_ERR_NOTFOUND (a Secret or key is
 * missing), LP_ERR_PARSE (a value is empty or has a byte outside printable ASCII,
 * or one of "[]#;" , so it cannot start another profile or a comment),
 * LP_ERR_NOMEM. The values never appear in any message. */
LP_WUR lp_err lp_render_aws_credentials_file(const struct lp_rendered *r,
                                             lp_render_secret_lookup lookup, void *ctx,
                                             struct lp_buf *out);

/* The delivery pipeline p gets where its config's shape gives less than its
 * outputs' delivery modes (docs/delivery.md "Delivery by shape"), as a
 * phrase, or NULL when it gets each output's mode: only a buffered multiline
 * stage (its open group is in memory after the file offset moved). Static
 * text; for the pipeline's status and its summary. */
const char *lp_render_weaker_delivery(const struct lp_pipeline *p);

#endif
