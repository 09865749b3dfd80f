/* pkg/render/bundle: files in, rendered config out — the offline path used by
 * `logplane render` and by the golden-file tests. Loads YAML files (a file, or
 * every *.yaml / *.yml in a directory tree, in sorted order), parses every
 * logplane.io LogPipeline and LogOutput (other kinds are skipped), validates them
 * against each other (Secrets are not checked offline), and renders the valid
 * ones. Every resource left out is a problem; the rest still render. */
#ifndef LP_RENDER_BUNDLE_H
#define LP_RENDER_BUNDLE_H
#include <stddef.h>
#include "render.h"
#include "../util/buf.h"

struct lp_render_bundle {
	struct lp_pipeline **pipelines; /* every LogPipeline parsed (owned) */
	size_t n_pipelines, cap_pipelines;
	struct lp_output **outputs; /* every LogOutput parsed (owned) */
	size_t n_outputs, cap_outputs;
	unsigned char *pipeline_ok; /* per pipeline: passed parse + validate */
	unsigned char *output_ok;
	struct lp_render_problem *problems; /* load, parse and validation problems */
	size_t n_problems;
	size_t cap_problems;
};

/* Loads and checks paths[0..n). On LP_OK b is filled (free with
 * lp_render_bundle_free) — unreadable files and bad YAML are problems, not
 * errors. LP_ERR_NOMEM on allocation failure (b is then freed). */
LP_WUR lp_err lp_render_bundle_load(struct lp_render_bundle *b, const char *const *paths, size_t n,
                                    const char *control_ns);
/* Renders the valid resources of b; out->problems lists b's problems first,
 * then the renderer's. Same contract as lp_render(). in may be NULL (defaults);
 * its pipelines/outputs members are ignored. */
LP_WUR lp_err lp_render_bundle_render(struct lp_rendered *out, const struct lp_render_bundle *b,
                                      const struct lp_render_input *in);
void lp_render_bundle_free(struct lp_render_bundle *b); /* NULL-safe */

/* Writes the Markdown table of every CRD field and the Fluent Bit / Fluentd
 * setting it becomes (docs/fields.md) into out. */
LP_WUR lp_err lp_render_fields_markdown(struct lp_buf *out);

#endif
