/* pkg/server/metrics: a metrics registry (counters, gauges, histograms with
 * labels) rendered in the Prometheus text exposition format 0.0.4.
 *
 * A registry owns its families; a family owns its series. Family pointers
 * returned by lp_metrics_add_family() are borrowed and live as long as the
 * registry. Every function is safe to call from any thread (one mutex per
 * registry). Series are created on first use; each family holds at most
 * LP_METRICS_MAX_SERIES series (more gives LP_ERR_LIMIT), so a label with an
 * unbounded value set cannot eat the process's memory.
 *
 * Output is deterministic: families in registration order, series sorted by
 * label values, so two scrapes of the same state are byte-equal.
 */
#ifndef LP_SERVER_METRICS_H
#define LP_SERVER_METRICS_H
#include <stddef.h>
#include "../util/buf.h"
#include "../util/err.h"

#define LP_METRICS_MAX_LABELS   8
#define LP_METRICS_MAX_BUCKETS  32
#define LP_METRICS_MAX_SERIES   4096
#define LP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum lp_metric_type { LP_METRIC_COUNTER = 0, LP_METRIC_GAUGE, LP_METRIC_HISTOGRAM };

struct lp_metrics;
struct lp_metric_family;

/* The description of one family, as used in declarative tables. label_names
 * is NULL-terminated (NULL for none); buckets (histograms only) are strictly
 * increasing finite upper bounds, n_buckets of them (+Inf is implicit). */
struct lp_metric_desc {
	enum lp_metric_type type;
	const char *name;
	const char *help;
	const char *const *label_names;
	const double *buckets;
	size_t n_buckets;
};

/* New empty registry into *out. LP_ERR_NOMEM on failure (*out untouched). */
LP_WUR lp_err lp_metrics_new(struct lp_metrics **out);
/* Frees the registry and all its families. NULL-safe. */
void lp_metrics_free(struct lp_metrics *m);

/* Registers a family (strings are copied). LP_ERR_INVALID when a name is not
 * a valid Prometheus metric/label name, a label is repeated or reserved ("le"
 * on histograms, "__" prefix), buckets are not increasing, or the family name
 * is already registered; LP_ERR_NOMEM. On success *out (may be NULL) is the
 * borrowed family. */
LP_WUR lp_err lp_metrics_add_family(struct lp_metrics *m, const struct lp_metric_desc *d,
                                    struct lp_metric_family **out);
/* The registered family called name, or NULL. Borrowed. */
struct lp_metric_family *lp_metrics_find(struct lp_metrics *m, const char *name);

/* Sample updates. values holds one label value per label name (any UTF-8
 * string, escaped on output; NULL means ""). values may be NULL for a family
 * without labels.
 * - lp_metric_add: counters (v >= 0, finite) and gauges (any finite v).
 * - lp_metric_set: gauges only.
 * - lp_metric_observe: histograms only (finite v).
 * LP_ERR_INVALID for a wrong type or value, LP_ERR_LIMIT when the family's
 * series cap is reached, LP_ERR_NOMEM. f NULL gives LP_ERR_INVALID. */
LP_WUR lp_err lp_metric_add(struct lp_metric_family *f, const char *const *values, double v);
LP_WUR lp_err lp_metric_set(struct lp_metric_family *f, const char *const *values, double v);
LP_WUR lp_err lp_metric_observe(struct lp_metric_family *f, const char *const *values, double v);
/* Counters kept elsewhere (a client's request stats): sets the series to the
 * absolute total. LP_ERR_INVALID for a non-counter, a negative or non-finite
 * total, or a total below the current value (counters never go down). */
LP_WUR lp_err lp_metric_set_total(struct lp_metric_family *f, const char *const *values,
                                  double total);

/* A collector runs at the start of every lp_metrics_render, on the rendering
 * thread and without the registry lock held, to copy values kept elsewhere
 * into families (with lp_metric_set / lp_metric_set_total). ctx is borrowed.
 * LP_ERR_LIMIT past LP_METRICS_MAX_COLLECTORS, LP_ERR_INVALID for NULL fn. */
#define LP_METRICS_MAX_COLLECTORS 8
typedef void (*lp_metrics_collect_fn)(void *ctx);
LP_WUR lp_err lp_metrics_add_collector(struct lp_metrics *m, lp_metrics_collect_fn fn, void *ctx);

/* Current value of a counter or gauge series (0 when it does not exist yet);
 * for a histogram, its _count. For tests and for status. */
double lp_metric_value(struct lp_metric_family *f, const char *const *values);

/* Appends the whole registry in text format 0.0.4 to out. A family with no
 * series yet gets its HELP and TYPE lines only (an unlabelled family shows 0).
 * Errors of out (LP_ERR_NOMEM, LP_ERR_TOO_LARGE) are returned as is. */
LP_WUR lp_err lp_metrics_render(struct lp_metrics *m, struct lp_buf *out);

/* Appends v as Prometheus writes floats: integers without a fraction, the
 * shortest form that reads back equal, "+Inf", "-Inf", "NaN". */
LP_WUR lp_err lp_metrics_format_double(struct lp_buf *out, double v);

#endif
