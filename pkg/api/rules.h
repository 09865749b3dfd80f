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

/* spec.sharedWith of o: only the control namespace (control_ns NULL: the
 * default) shares outputs. LP_OK, LP_ERR_INVALID (a problem added) or
 * LP_ERR_NOMEM. */
LP_WUR lp_err lp_output_share_rules(const struct lp_output *o, const char *control_ns,
                                    struct lp_problems *probs);
/* Whether a route of p may send to o, the LogOutput it names (found in
 * lp_route_output_ns()): o in another namespace must be a control-namespace
 * output shared with p's namespace, and an S3 keyFormat's {namespace}, {pod}
 * and {container} need a pipeline of application logs only. 0 when it may;
 * 1 with why (size n) written. The caller names the route's outputRef. */
int lp_route_problem(const struct lp_pipeline *p, const struct lp_output *o, const char *control_ns,
                     char *why, size_t n);
/* 1 when p's only source is application logs (so its tags carry namespace,
 * pod and container). */
int lp_pipeline_app_only(const struct lp_pipeline *p);
/* The keyFormat S3 output o uses for p's records: its own, else the default
 * for p's sources. Borrowed or static. */
const char *lp_s3_key_format(const struct lp_output *o, const struct lp_pipeline *p);
/* 1 when an S3 keyFormat is well formed: placeholders {namespace}, {pod},
 * {container}, {pipeline} only, no $TAG, and $UUID or $INDEX; else 0 and why
 * (size n) written. */
int lp_s3_key_check(const char *key, char *why, size_t n);

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
