/* libFuzzer target: the Prometheus exposition of pkg/server/metrics. The input
 * is split at 0xFF bytes into a family name, label values and samples; the
 * registry is rendered and every line must be a HELP/TYPE comment or a sample
 * of a registered family: a label value can never start a line of its own. */
#include "../pkg/server/metrics.h"
#include "../pkg/util/buf.h"
#include "../pkg/util/mem.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARTS 16

static int line_ok(const char *l, size_t n, const char *const *names, size_t nn)
{
	if (n >= 7 && (!strncmp(l, "# HELP ", 7) || !strncmp(l, "# TYPE ", 7)))
		return 1;
	for (size_t i = 0; i < nn; i++) {
		size_t k = strlen(names[i]);
		if (n > k && !strncmp(l, names[i], k) &&
		    (l[k] == '{' || l[k] == ' ' || l[k] == '_'))
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const labels[] = {"a", "b", NULL};
	static const double buckets[] = {0.5, 1, 10};
	char *parts[MAX_PARTS];
	size_t np = 0, start = 0;
	struct lp_metrics *m = NULL;
	struct lp_metric_family *g = NULL, *h = NULL, *x = NULL;
	const char *names[3];
	size_t nn = 0;
	struct lp_buf out;

	if (size > 8192)
		return 0;
	for (size_t i = 0; i <= size && np < MAX_PARTS; i++)
		if (i == size || data[i] == 0xFF) {
			parts[np] = lp_strndup((const char *)data + start, i - start);
			if (!parts[np])
				goto out;
			np++;
			start = i + 1;
		}
	if (lp_metrics_new(&m) != LP_OK)
		goto out;
	{
		struct lp_metric_desc dg = {LP_METRIC_GAUGE, "lp_g", "gauge \\ help\nwith newline",
		                            labels,          NULL,   0};
		struct lp_metric_desc dh = {LP_METRIC_HISTOGRAM, "lp_h", "h", labels, buckets, 3};
		struct lp_metric_desc dx = {
		    LP_METRIC_COUNTER, parts[0], np > 1 ? parts[1] : "x", NULL, NULL, 0};
		if (lp_metrics_add_family(m, &dg, &g) != LP_OK ||
		    lp_metrics_add_family(m, &dh, &h) != LP_OK)
			goto out;
		names[nn++] = "lp_g";
		names[nn++] = "lp_h";
		if (lp_metrics_add_family(m, &dx, &x) == LP_OK)
			names[nn++] = parts[0];
	}
	for (size_t i = 1; i + 1 < np; i += 2) {
		const char *vals[2] = {parts[i], parts[i + 1]};
		double v = (double)(unsigned char)parts[i][0] - 64.0;
		if (strlen(parts[i + 1]) > 0 && parts[i + 1][0] == 'n')
			v = NAN;
		(void)lp_metric_set(g, vals, v);
		(void)lp_metric_observe(h, vals, v / 8);
		(void)lp_metric_add(x, NULL, v);
	}
	lp_buf_init(&out, 0);
	if (lp_metrics_render(m, &out) == LP_OK) {
		const char *p = lp_buf_str(&out), *e = p + out.len;
		if (out.len && p[out.len - 1] != '\n')
			abort();
		while (p < e) {
			const char *nl = memchr(p, '\n', (size_t)(e - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(e - p);
			if (!line_ok(p, n, names, nn))
				abort(); /* a line that is neither a comment nor a sample */
			p += n + 1;
		}
	}
	lp_buf_free(&out);
out:
	lp_metrics_free(m);
	for (size_t i = 0; i < np; i++)
		lp_free(parts[i]);
	return 0;
}
