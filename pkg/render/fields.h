/* pkg/render/fields: the declarative table of CRD field -> Fluent Bit / Fluentd
 * setting. docs/fields.md is generated from it (`logplane render --fields-table`)
 * and a unit test checks every Fluent Bit key named here against the 5.1.1
 * property schema and finds it in rendered configs. */
#ifndef LP_RENDER_FIELDS_H
#define LP_RENDER_FIELDS_H
#include <stddef.h>

struct lp_render_field {
	const char *kind;      /* "LogPipeline" | "LogOutput" */
	const char *field;     /* CRD path: "spec.s3.totalFileSize" */
	const char *fb_plugin; /* Fluent Bit plugin ("s3"), "service", "parser", "multiline_parser"
	                          or NULL */
	const char *fb_keys;   /* comma-separated keys set on that plugin, or NULL */
	const char *fluentd;   /* Fluentd (aggregator) setting, or NULL */
	const char *note;      /* how the value is used */
};

/* Row i of the table into *row (1), or 0 past the last. The rows of the
 * output types' own keys come from their descriptors' key tables
 * (pkg/api/out_*.c), the rest from pkg/render/fields.c. */
int lp_render_field_at(size_t i, struct lp_render_field *row);
size_t lp_render_fields_count(void);

#endif
