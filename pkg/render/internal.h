/* pkg/render internals shared by render.c, fluentbit.c, fluentd.c, check.c.
 * Not part of the public contract (render.h). */
#ifndef LP_RENDER_INTERNAL_H
#define LP_RENDER_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "render.h"
#include "yamlw.h"
#include "../util/buf.h"

#define LP_RENDER_STORAGE_PATH   "/var/lib/logplane/storage"
#define LP_RENDER_STATE_DIR      "/var/lib/logplane"
#define LP_RENDER_CA_DIR         "/etc/logplane/ca"
#define LP_RENDER_FORWARD_PORT   24224
#define LP_RENDER_FWD_KEY_VAR    "LP_FORWARD_SHARED_KEY"
#define LP_RENDER_FWD_SECRET     "logplane-forward"
#define LP_RENDER_FWD_SECRET_KEY "shared_key"
/* Parts are packed to this estimate; each part is then checked against the hard limit. */
/* spec.metrics: the tag log_to_metrics emits under and the port of the
 * shipper's one prometheus_exporter output (docs/metrics.md). */
#define LP_RENDER_METRICS_TAG  "lp_metrics"
#define LP_RENDER_METRICS_PORT 2021
/* The agents' own metrics (fluentbit_metrics input, same tag and exporter):
 * seconds between scrapes, the Prometheus scrape interval of the chart. */
#define LP_RENDER_AGENT_SCRAPE_S 30
#define LP_RENDER_PACK_BYTES     (800u * 1024u)
#define LP_RENDER_LUA_FILE       "logplane.lua"
#define LP_RENDER_SAMPLE_FROM    512 /* above this many pipelines, size a sample first */
#define LP_RENDER_SAMPLE_SIZE    128
#define LP_RENDER_LUA_MAX_FNS    256 /* more distinct variants are inlined */
#define LP_RENDER_THREADS        2   /* part files of a split config rendered at once */

/* input.application given and not disabled */
#define LP_APP_ON(p) ((p)->has_app && (p)->app.enabled)

/* A pipeline with a buffered multiline stage (java, python, go or its own
 * rules). */
#define LP_ML_BUFFERED(p)                                                                          \
	((p)->multiline.present &&                                                                 \
	 (((p)->multiline.builtin & (LP_ML_JAVA | LP_ML_PYTHON | LP_ML_GO)) ||                     \
	  (p)->multiline.n_rules > 0))
/* A pipeline whose application logs need a buffered multiline stage reads
 * them with its own tail input, the multiline filter a processor of that
 * input (see docs/delivery.md); on the node or via the aggregator alike. */
#define LP_OWN_APP_INPUT(pi) (LP_APP_ON((pi)->p) && LP_ML_BUFFERED((pi)->p))

/* Everything the renderer knows about one output that will be rendered. */
struct lp_oinfo {
	const struct lp_output *o;
	char h[13];          /* 12 hex chars of SHA-256("ns/name") */
	int ok;              /* passed the renderer's checks */
	int used_direct;     /* a rendered direct pipeline routes here */
	int used_agg;        /* a rendered aggregator pipeline routes here */
	char *endpoint_host; /* AWS endpoint split for kinesis/firehose/cloudwatch */
	int endpoint_port;
	char *user_var, *pass_var; /* basic auth env vars (or NULL) */
	/* AWS keys as env vars, for Fluentd plugins that read no credentials file
	 * (cloudwatch_logs, opensearch <endpoint>), or NULL */
	char *aws_key_var, *aws_secret_var;
	char *secret_var;        /* slack webhook / forward shared key */
	char **header_vars;      /* http headers from Secrets, per header (or NULL) */
	char *ca_path;           /* tls.ca_file (or NULL) */
	const char *aws_profile; /* AWS profile of its secretRef (borrowed from out), or NULL */
	size_t *all_pi;          /* pipelines (index into ctx->pi) routing every record here */
	size_t n_all_pi, cap_all_pi;
	/* bytes this output (and its livetail filters) adds to the config being
	 * split (estimate, for packing) */
	size_t est_bytes;
};

struct lp_route_info {
	size_t out; /* index into ctx->oi */
	int ok;     /* resolved */
};

struct lp_pinfo {
	const struct lp_pipeline *p;
	char h[13];
	int ok;
	int agg;                      /* ships through the aggregator */
	char prefix[16];              /* "p.<h>": the tags of its own inputs on the node */
	struct lp_route_info *routes; /* n_routes */
	int any_at_least_once;        /* some routed output is atLeastOnce */
	const char *mbl;              /* largest memBufLimit of its outputs, or NULL (borrowed) */
	/* bytes this pipeline adds to the shipper config (estimate, for splitting) */
	size_t est_bytes;
};

struct lp_rctx {
	const struct lp_render_input *in;
	const char *control_ns;
	const char *agg_host;
	const char *lt_host;
	int lt_port;
	const char *lt_token_secret; /* Secret (control_ns) of the hub's ingest token */
	struct lp_pinfo *pi;
	size_t npi;
	struct lp_oinfo *oi;
	size_t noi;
	struct lp_rendered *out;
	size_t cap_env, cap_problems, cap_mounts, cap_profiles, cap_alerts;
	/* shared input facts */
	int any_app, any_system, any_kube_labels, any_kube_annotations, any_kube;
	int app_fs, system_fs;         /* filesystem storage on the shared inputs */
	const char *app_mem_buf_limit; /* borrowed */
	enum lp_aggregator_engine engine;
	int engine_chosen; /* a control-namespace pipeline chose engine */
	int any_agg;
	int any_files_meta;
	int any_own_app; /* some pipeline reads its application logs itself (LP_OWN_APP_INPUT) */
	int any_json_parser, any_logfmt_parser; /* the shared lp-json / lp-logfmt parsers */
	struct lp_buf scratch;                  /* reusable small buffer */
	struct evp_md_st *sha;                  /* SHA-256 fetched once (EVP_MD), or NULL */
	struct evp_md_ctx_st *sha_ctx; /* reused by the short hashes (main thread), or NULL */
	struct lp_buf agg_host_buf, lt_host_buf; /* default host names */
	/* the shared Lua script (logplane.lua): one constructor call per distinct
	 * parameter set, lp_fn_<i> = ctor_i */
	char **lua_ctor;
	size_t n_lua, cap_lua;
};

struct lp_cache_entry {
	unsigned char key[32]; /* SHA-256 of the part's event record */
	char *data;
	size_t len;
	int used; /* by the current render */
};

struct lp_render_cache {
	struct lp_cache_entry *e;
	size_t n, cap;
};

/* ---- render.c: shared utilities ---- */
LP_WUR lp_err lp_render_problem_add(struct lp_rctx *c, const char *kind, const char *ns,
                                    const char *name, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Leaves a pipeline or an output out of the config (ok = 0) because its text
 * alone is larger than limit bytes, and reports it on that object. */
LP_WUR lp_err lp_render_pipeline_too_large(struct lp_rctx *c, struct lp_pinfo *pi, unsigned limit);
LP_WUR lp_err lp_render_output_too_large(struct lp_rctx *c, struct lp_oinfo *oi, unsigned limit);
/* Adds (or finds) the env var for Secret ns/name/key; *var borrowed from c->out. */
LP_WUR lp_err lp_render_env_var(struct lp_rctx *c, const char *ns, const char *name,
                                const char *key, const char **var);
LP_WUR lp_err lp_render_env_named(struct lp_rctx *c, const char *var, const char *ns,
                                  const char *name, const char *key);
LP_WUR lp_err lp_render_mount_add(struct lp_rctx *c, const char *ns, const char *name,
                                  const char *key, const char **path);
/* SHA-256 of data (c->sha when fetched). LP_ERR_NOMEM when OpenSSL fails. */
LP_WUR lp_err lp_render_sha256(const struct lp_rctx *c, unsigned char out[32], const void *data,
                               size_t len);
/* 12 hex chars of SHA-256 over a and b joined by '/'. */
void lp_render_short_hash(const struct lp_rctx *c, char out[13], const char *a, const char *b);

/* The delivery a pipeline gets from the shape of its config (docs/delivery.md),
 * as "; delivery: ..." for its summary. Static text. */
const char *lp_render_delivery_text(const struct lp_pinfo *pi);

/* ---- check.c: per-resource checks; add problems and return 0 when not renderable ---- */
LP_WUR lp_err lp_render_check_output(struct lp_rctx *c, struct lp_oinfo *oi, int *ok);
LP_WUR lp_err lp_render_check_pipeline(struct lp_rctx *c, struct lp_pinfo *pi, int *ok);

/* ---- text.c: escaping and parsing ---- */
/* Appends a regex with whitespace turned into \xHH, "${" into \x24{ and a
 * leading quote into \x22 or \x27 so it
 * survives Fluent Bit's space-separated rules and ${VAR} expansion. */
LP_WUR lp_err lp_render_regex_safe(struct lp_buf *b, const char *re);
/* Appends s escaped for an Oniguruma regex (a literal). */
LP_WUR lp_err lp_render_regex_lit(struct lp_buf *b, const char *s);
/* Appends a Lua string literal "..." with every byte outside [A-Za-z0-9_.-] as \ddd. */
LP_WUR lp_err lp_render_lua_str(struct lp_buf *b, const char *s);
/* Appends a record accessor for a dotted field path: level -> $level,
 * kubernetes.labels.app -> $kubernetes['labels']['app']. */
LP_WUR lp_err lp_render_accessor(struct lp_buf *b, const char *path);
/* Writes pre + decimal i + post into out (size n, truncated, NUL-terminated):
 * field paths like "spec.routes[3].match" without printf on the hot path. */
void lp_render_field_idx(char *out, size_t n, const char *pre, size_t i, const char *post);
/* 1 when s is a usable field path for lp_render_accessor. */
int lp_render_field_ok(const char *path);
/* 1 when s is valid UTF-8 without NUL (length-limited by the caller). */
int lp_render_utf8_ok(const char *s);
/* Fluent Bit duration: "30s", "10m", "1h", "500ms"; writes seconds (fraction) on success. */
int lp_render_duration(const char *s, double *seconds);
/* Sizes are read with lp_size_parse (pkg/api), the parser that validated them. */

/* ---- fluentbit.c ---- */
/* Shipper config into c->out->shipper; aggregator (Fluent Bit) into c->out->aggregator. */
LP_WUR lp_err lp_render_fb_shipper(struct lp_rctx *c);
LP_WUR lp_err lp_render_fb_aggregator(struct lp_rctx *c);
/* ---- fluentd.c ---- */
LP_WUR lp_err lp_render_fluentd_aggregator(struct lp_rctx *c);
/* 1 when the aggregator's Fluentd plugin for o's type reads the operator's AWS
 * credentials file (a profile), 0 when its keys must come as variables. */
int lp_render_fluentd_creds_file(const struct lp_output *o);

/* Adds a file to a rendered config (copies name, takes data from buf). */
LP_WUR lp_err lp_render_config_add(struct lp_rendered_config *cfg, const char *name,
                                   struct lp_buf *data);
#endif
