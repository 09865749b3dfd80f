/* pkg/render/fb.h: what the parts of the Fluent Bit renderer share (fluentbit.c
 * and fb_*.c): the writer state and its helpers, and each part's entry points.
 * Private to pkg/render. Every function here writes into f->w and records the
 * first error in f->err (callers check f->err once at the end of a document). */
#ifndef LP_RENDER_FB_H
#define LP_RENDER_FB_H
#include <stdarg.h>
#include "internal.h"

#define FB_TAG_REGEX                                                                               \
	"(?<pod_name>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)_"       \
	"(?<namespace_name>[^_]+)_(?<container_name>.+)-(?<container_id>[a-z0-9]{64})\\.log$"
#define FB_KUBE_TAG_PARSER "lp-kube-tag"
#define FB_KUBE_TAG_PARSER_REGEX                                                                   \
	"^(?<namespace_name>[^.]+)\\.(?<pod_name>.+)\\.(?<container_name>[^.]+)$"
/* the file path a files input with a metadata regex adds, parsed into fields */
#define FB_PATH_KEY "_lp_path"
/* terminates fb_cat()'s list */
#define CAT_END ((const char *)NULL)

/* The state of one document being written. */
struct fb {
	struct lp_rctx *c;
	struct lp_yamlw w;
	struct lp_buf *out;
	struct lp_buf t;  /* scratch for one value */
	struct lp_buf t2; /* scratch for Lua code */
	int aggregator;   /* rendering the aggregator config */
	int lua_frozen;   /* Lua variants are registered already: look up only (threads) */
	int sec_open;     /* lazily opened sequence in the current section */
	const char *sec_key;
	/* writing a processors block of one plugin (fb_proc_begin): items go to
	 * processors.logs and carry no match (a processor sees only its
	 * plugin's records) */
	int proc;
	int proc_saved_open;
	const char *proc_saved_key;
	/* the processors last written: a pipeline's work (units, copied for its
	 * other routes and for the next pipelines doing the same) and a route's
	 * match (route); cap holds a block's events (fb_pipeline_processors) */
	const struct lp_pinfo *units_pi;
	int units_open;
	struct lp_yamlw_memo units, route;
	struct lp_buf cap;
	/* a few outputs' keys as written in a pipeline's route, copied for the
	 * next routes to the same output (fb_outputs.c route_keys) */
	struct {
		const struct lp_oinfo *oi;
		struct lp_yamlw_mark m;
	} okeys[8];
	lp_err err;
};

/* ---- fb_write.c: sections, items, scratch ---- */
void fb_sec_begin(struct fb *f, const char *key);
void fb_item(struct fb *f); /* opens the section's sequence before its first item */
void fb_sec_end(struct fb *f);
/* Items between these go to the current plugin's processors.logs (opened
 * lazily: nothing is written when no item comes). */
void fb_proc_begin(struct fb *f);
void fb_proc_end(struct fb *f);
struct lp_buf *fb_t0(struct fb *f); /* the reset scratch buffer f->t */
const char *fb_ts(struct fb *f);    /* f->t's text (borrowed) */
void fb_chk(struct fb *f, lp_err err);
void fb_addf(struct fb *f, struct lp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fb_adds(struct fb *f, struct lp_buf *b, const char *s);
/* f->t = the concatenation of the strings up to CAT_END; returns it (borrowed) */
const char *fb_cat(struct fb *f, ...);
void fb_kv(struct fb *f, const char *k, const char *v);
void fb_plugin(struct fb *f, const char *name); /* a list item {name: ...} */
void fb_plugin_end(struct fb *f);
void fb_kv_size(struct fb *f, const char *k, const char *v); /* "1Gi" -> bytes */
const char *fb_storage_type(int fs);

/* ---- fb_service.c: service, parsers ---- */
void fb_service(struct fb *f);
int fb_pipeline_has_parser(const struct lp_pinfo *pi);
int fb_pipeline_has_ml_rules(const struct lp_pinfo *pi);
int fb_pipeline_files_meta(const struct lp_pinfo *pi);
int fb_parser_shared(const struct lp_pinfo *pi);
const char *fb_parser_name(struct fb *f, const struct lp_pinfo *pi); /* in f->t */
void fb_shared_parsers(struct fb *f);
void fb_pipeline_parsers(struct fb *f, const struct lp_pinfo *pi);
void fb_pipeline_ml_parsers(struct fb *f, const struct lp_pinfo *pi);

/* ---- fb_inputs.c ---- */
const char *fb_mem_buf_limit(const struct lp_rctx *c, const struct lp_pinfo *pi);
void fb_input_storage(struct fb *f, int fs, const char *mbl);
void fb_shared_inputs(struct fb *f);
void fb_pipeline_inputs(struct fb *f, const struct lp_pinfo *pi);
void fb_aggregator_input(struct fb *f);
/* The agent's own metrics: a fluentbit_metrics input (tag
 * LP_RENDER_METRICS_TAG) and the prometheus_exporter on
 * LP_RENDER_METRICS_PORT; both sides, once, in the shared document. */
void fb_agent_metrics_input(struct fb *f);
void fb_metrics_output(struct fb *f);

/* ---- fb_filters.c ---- */
extern const char fb_lua_lib[];
void fb_kube_filter(struct fb *f, const char *match, const char *prefix, int labels,
                    int annotations);
void fb_livetail_filters(struct fb *f, size_t from, size_t to, int track);
void fb_shared_filters(struct fb *f);
void fb_pipeline_lua(struct fb *f, const struct lp_pinfo *pi);
/* pi's buffered multiline stage (nothing when it has none); what names its emitter */
void fb_multiline_unit(struct fb *f, const struct lp_pinfo *pi, const char *what);
/* The processors block of the output instance of pi's route: the pipeline's
 * work, then the route's match (and a livetail rate limit on the node).
 * route FB_NO_ROUTE: the pipeline's work only (the forward output carrying
 * every record of a pipeline via the aggregator). */
#define FB_NO_ROUTE ((size_t)-1)
/* the shipper's output carrying chunks held under the copy tags of earlier
 * versions to the aggregator at an upgrade (fb_outputs.c upgrade_carry_output) */
#define FB_UPGRADE_CARRY       "lp_aggregator"
#define FB_UPGRADE_CARRY_MATCH "^(?:o\\.[0-9a-f]{12}\\.)?a\\."
void fb_pipeline_processors(struct fb *f, const struct lp_pinfo *pi, size_t route);

/* ---- fb_routing.c ---- */
void fb_alt(struct fb *f, struct lp_buf *b, const struct lp_strlist *l);
void fb_app_match(struct fb *f, const struct lp_pinfo *pi);
void fb_pipeline_match(struct fb *f, const struct lp_pinfo *pi);
void fb_match_own(struct fb *f, const struct lp_pinfo *pi, const char *sub);
void fb_output_match(struct fb *f, const struct lp_oinfo *oi, int agg_side);
/* s3_key_format of S3 output oi for pi's records, whose tags carry depth
 * parts before the source tag (0, 2 or 4: see fb_routing.c). */
void fb_s3_key(struct fb *f, const struct lp_oinfo *oi, const struct lp_pinfo *pi, int depth);

/* ---- fb_outputs.c ---- */
void fb_outputs(struct fb *f, size_t from, size_t to, int tail, int track);
/* The output instances of pipeline pi on the node (nothing via the aggregator). */
void fb_pipeline_outputs(struct fb *f, const struct lp_pinfo *pi);
/* The worker threads a pipeline route's output instance of type t gets: 0
 * (its flushes run as coroutines on the engine's event loop) where the plugin
 * does only non-blocking I/O, 1 where it blocks or needs a worker's timers. */
int fb_route_workers(enum lp_output_type t);
#endif
