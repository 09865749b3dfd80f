/* pkg/api/rules: the rules the rendered configuration depends on, as part of
 * validation. lp_output_validate and lp_pipeline_validate run them once a
 * resource passes the cross-object checks, and the renderer runs the same
 * functions on what it is given, so whatever it would refuse is already
 * invalid with the field named (one verdict for `logplane validate`, the
 * admission webhook, the operator's Valid condition and the renderer). What
 * only rendering can tell (a pipeline whose text alone exceeds a part, two
 * pipelines choosing different aggregator engines) the callers that render
 * fold back in. */
#ifndef LP_API_RULES_H
#define LP_API_RULES_H
#include "api.h"

/* Fluent Bit's own HTTP server port in the agents: no input may take it. */
#define LP_AGENT_HTTP_PORT    2020
#define LP_AGENT_METRICS_PORT 2021 /* the shipper's prometheus_exporter (spec.metrics) */

/* Appends a problem per broken rule of o to probs. LP_OK when none,
 * LP_ERR_INVALID when some were added, LP_ERR_NOMEM. */
LP_WUR lp_err lp_output_rules(const struct lp_output *o, struct lp_problems *probs);
/* Same for p; control_ns NULL means LP_DEFAULT_CONTROL_NAMESPACE. */
LP_WUR lp_err lp_pipeline_rules(const struct lp_pipeline *p, const char *control_ns,
                                struct lp_problems *probs);

/* 1 when s is valid UTF-8 without NUL. */
int lp_utf8_ok(const char *s);
/* 1 when path is a record key path: parts of [A-Za-z0-9_@/-] joined by '.', <= 256. */
int lp_field_path_ok(const char *path);
/* Fluent Bit duration: "30s", "10m", "1h", "500ms", "1d"; seconds on success (1). */
int lp_fb_duration(const char *s, double *seconds);
/* Splits "http(s)://host[:port][/...]": *host new, *port (default 443, 80 for
 * http). 1 on success, 0 for a malformed URL, -1 on no memory. */
int lp_url_host_port(const char *url, char **host, int *port);

#endif
