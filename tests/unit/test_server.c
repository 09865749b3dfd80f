/* pkg/server: metrics registry and text format, and the HTTP server driven
 * with a real socket client on 127.0.0.1 (port 0).
 * With LP_METRICS_OUT=FILE set, the metrics case also writes the body it
 * scraped over HTTP to FILE, so tests/server/test_promtext.py can check it
 * with a strict parser. */
#include "lp_test.h"
#include "../../pkg/server/metrics.h"
#include "../../pkg/server/opmetrics.h"
#include "../../pkg/server/server.h"
#include "../../pkg/util/mem.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------- text format ---------- */

static void t_format_double(void)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
	    {0, "0"},
	    {-0.0, "0"},
	    {1, "1"},
	    {-3, "-3"},
	    {0.1, "0.1"},
	    {0.025, "0.025"},
	    {2.5, "2.5"},
	    {1e15, "1e+15"},
	    {1.0 / 3, "0.3333333333333333"},
	    {123456789, "123456789"},
	    {1e-9, "1e-09"},
	};
	struct lp_buf b;

	lp_buf_init(&b, 0);
	for (size_t i = 0; i < LP_TEST_COUNT(cases); i++) {
		lp_buf_reset(&b);
		LP_CHECK_INT(lp_metrics_format_double(&b, cases[i].v), LP_OK);
		LP_CHECK_STR(lp_buf_str(&b), cases[i].want);
	}
	lp_buf_reset(&b);
	LP_CHECK_INT(lp_metrics_format_double(&b, INFINITY), LP_OK);
	LP_CHECK_STR(lp_buf_str(&b), "+Inf");
	lp_buf_reset(&b);
	LP_CHECK_INT(lp_metrics_format_double(&b, -INFINITY), LP_OK);
	LP_CHECK_STR(lp_buf_str(&b), "-Inf");
	lp_buf_reset(&b);
	LP_CHECK_INT(lp_metrics_format_double(&b, NAN), LP_OK);
	LP_CHECK_STR(lp_buf_str(&b), "NaN");
	lp_buf_free(&b);
}

static const char *const kr_labels[] = {"kind", "result", NULL};

static void t_counter_gauge_render(void)
{
	struct lp_metrics *m = NULL;
	struct lp_metric_family *c = NULL, *g = NULL;
	struct lp_metric_desc dc = {LP_METRIC_COUNTER, "x_total", "Things done.\nSecond \\ line.",
	                            kr_labels,         NULL,      0};
	struct lp_metric_desc dg = {LP_METRIC_GAUGE, "x_depth", "Depth.", NULL, NULL, 0};
	const char *v1[] = {"LogPipeline", "success"};
	const char *v2[] = {"LogOutput", "error"};
	const char *v3[] = {"a\"b\\c\nd", NULL};
	struct lp_buf b;

	lp_buf_init(&b, 0);
	LP_CHECK_INT(lp_metrics_new(&m), LP_OK);
	LP_CHECK_INT(lp_metrics_add_family(m, &dc, &c), LP_OK);
	LP_CHECK_INT(lp_metrics_add_family(m, &dg, &g), LP_OK);
	LP_CHECK(lp_metrics_find(m, "x_depth") == g);
	LP_CHECK(lp_metrics_find(m, "nope") == NULL);
	/* before any sample: HELP/TYPE, and the unlabelled gauge shows 0 */
	LP_CHECK_INT(lp_metrics_render(m, &b), LP_OK);
	LP_CHECK_STR(lp_buf_str(&b), "# HELP x_total Things done.\\nSecond \\\\ line.\n"
	                             "# TYPE x_total counter\n"
	                             "# HELP x_depth Depth.\n"
	                             "# TYPE x_depth gauge\n"
	                             "x_depth 0\n");
	LP_CHECK_INT(lp_metric_add(c, v1, 1), LP_OK);
	LP_CHECK_INT(lp_metric_add(c, v1, 2), LP_OK);
	LP_CHECK_INT(lp_metric_add(c, v2, 1), LP_OK);
	LP_CHECK_INT(lp_metric_add(c, v3, 0.5), LP_OK);
	LP_CHECK_INT(lp_metric_set(g, NULL, 7), LP_OK);
	LP_CHECK_INT(lp_metric_add(g, NULL, -2), LP_OK);
	LP_CHECK(lp_metric_value(c, v1) == 3);
	LP_CHECK(lp_metric_value(g, NULL) == 5);
	lp_buf_reset(&b);
	LP_CHECK_INT(lp_metrics_render(m, &b), LP_OK);
	/* series sorted by label values; label values escaped; NULL value is "" */
	LP_CHECK_STR(lp_buf_str(&b), "# HELP x_total Things done.\\nSecond \\\\ line.\n"
	                             "# TYPE x_total counter\n"
	                             "x_total{kind=\"LogOutput\",result=\"error\"} 1\n"
	                             "x_total{kind=\"LogPipeline\",result=\"success\"} 3\n"
	                             "x_total{kind=\"a\\\"b\\\\c\\nd\",result=\"\"} 0.5\n"
	                             "# HELP x_depth Depth.\n"
	                             "# TYPE x_depth gauge\n"
	                             "x_depth 5\n");
	lp_buf_free(&b);
	lp_metrics_free(m);
	lp_metrics_free(NULL);
}

static void t_histogram(void)
{
	static const double buckets[] = {0.1, 1, 10};
	static const char *const lk[] = {"kind", NULL};
	struct lp_metric_desc d = {LP_METRIC_HISTOGRAM, "d_seconds", "Durations.", lk, buckets, 3};
	struct lp_metrics *m = NULL;
	struct lp_metric_family *h = NULL;
	const char *k[] = {"LogPipeline"};
	struct lp_buf b;

	lp_buf_init(&b, 0);
	LP_CHECK_INT(lp_metrics_new(&m), LP_OK);
	LP_CHECK_INT(lp_metrics_add_family(m, &d, &h), LP_OK);
	LP_CHECK_INT(lp_metric_observe(h, k, 0.05), LP_OK);
	LP_CHECK_INT(lp_metric_observe(h, k, 0.1), LP_OK); /* le is inclusive */
	LP_CHECK_INT(lp_metric_observe(h, k, 0.5), LP_OK);
	LP_CHECK_INT(lp_metric_observe(h, k, 20), LP_OK);
	LP_CHECK(lp_metric_value(h, k) == 4);
	LP_CHECK_INT(lp_metrics_render(m, &b), LP_OK);
	LP_CHECK_STR(lp_buf_str(&b), "# HELP d_seconds Durations.\n"
	                             "# TYPE d_seconds histogram\n"
	                             "d_seconds_bucket{kind=\"LogPipeline\",le=\"0.1\"} 2\n"
	                             "d_seconds_bucket{kind=\"LogPipeline\",le=\"1\"} 3\n"
	                             "d_seconds_bucket{kind=\"LogPipeline\",le=\"10\"} 3\n"
	                             "d_seconds_bucket{kind=\"LogPipeline\",le=\"+Inf\"} 4\n"
	                             "d_seconds_sum{kind=\"LogPipeline\"} 20.65\n"
	                             "d_seconds_count{kind=\"LogPipeline\"} 4\n");
	lp_buf_free(&b);
	lp_metrics_free(m);
}

static void t_unlabelled_histogram_zero(void)
{
	static const double buckets[] = {1, 2};
	struct lp_metric_desc d = {LP_METRIC_HISTOGRAM, "h", "H.", NULL, buckets, 2};
	struct lp_metrics *m = NULL;
	struct lp_buf b;

	lp_buf_init(&b, 0);
	LP_CHECK_INT(lp_metrics_new(&m), LP_OK);
	LP_CHECK_INT(lp_metrics_add_family(m, &d, NULL), LP_OK);
	LP_CHECK_INT(lp_metrics_render(m, &b), LP_OK);
	LP_CHECK_STR(lp_buf_str(&b), "# HELP h H.\n# TYPE h histogram\n"
	                             "h_bucket{le=\"1\"} 0\nh_bucket{le=\"2\"} 0\n"
	                             "h_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
	lp_buf_free(&b);
	lp_metrics_free(m);
}

static void t_register_errors(void)
{
	static const double good[] = {1, 2};
	static const double unsorted[] = {2, 1};
	static const double inf[] = {1, INFINITY};
	static const char *const le[] = {"le", NULL};
	static const char *const dup[] = {"a", "a", NULL};
	static const char *const reserved[] = {"__x", NULL};
	static const char *const bad[] = {"a-b", NULL};
	static const char *const colon[] = {"a:b", NULL};
	static const struct lp_metric_desc cases[] = {
	    {LP_METRIC_COUNTER, "1abc", "h", NULL, NULL, 0},
	    {LP_METRIC_COUNTER, "a-b", "h", NULL, NULL, 0},
	    {LP_METRIC_COUNTER, "", "h", NULL, NULL, 0},
	    {LP_METRIC_COUNTER, NULL, "h", NULL, NULL, 0},
	    {LP_METRIC_COUNTER, "ok", NULL, NULL, NULL, 0},
	    {LP_METRIC_COUNTER, "ok", "h", dup, NULL, 0},
	    {LP_METRIC_COUNTER, "ok", "h", reserved, NULL, 0},
	    {LP_METRIC_COUNTER, "ok", "h", bad, NULL, 0},
	    {LP_METRIC_COUNTER, "ok", "h", colon, NULL, 0},
	    {LP_METRIC_COUNTER, "ok", "h", NULL, good, 2},
	    {LP_METRIC_HISTOGRAM, "ok", "h", le, good, 2},
	    {LP_METRIC_HISTOGRAM, "ok", "h", NULL, unsorted, 2},
	    {LP_METRIC_HISTOGRAM, "ok", "h", NULL, inf, 2},
	    {LP_METRIC_HISTOGRAM, "ok", "h", NULL, NULL, 0},
	    {(enum lp_metric_type)9, "ok", "h", NULL, NULL, 0},
	};
	struct lp_metric_desc okd = {LP_METRIC_GAUGE, "ns:ok", "h", le, NULL, 0};
	struct lp_metrics *m = NULL;
	struct lp_metric_family *f = (struct lp_metric_family *)&okd; /* must stay untouched */

	LP_CHECK_INT(lp_metrics_new(&m), LP_OK);
	for (size_t i = 0; i < LP_TEST_COUNT(cases); i++) {
		if (lp_metrics_add_family(m, &cases[i], &f) != LP_ERR_INVALID)
			lp_test_fail(__FILE__, __LINE__, "case %zu accepted", i);
	}
	LP_CHECK(f == (struct lp_metric_family *)&okd);
	/* "le" is fine on a gauge; colons in metric names are fine */
	LP_CHECK_INT(lp_metrics_add_family(m, &okd, &f), LP_OK);
	LP_CHECK_INT(lp_metrics_add_family(m, &okd, NULL), LP_ERR_INVALID); /* duplicate */
	LP_CHECK_INT(lp_metrics_add_family(NULL, &okd, NULL), LP_ERR_INVALID);
	lp_metrics_free(m);
}

static void t_update_errors(void)
{
	static const double buckets[] = {1};
	struct lp_metric_desc dc = {LP_METRIC_COUNTER, "c", "h", kr_labels, NULL, 0};
	struct lp_metric_desc dh = {LP_METRIC_HISTOGRAM, "hh", "h", NULL, buckets, 1};
	struct lp_metrics *m = NULL;
	struct lp_metric_family *c = NULL, *h = NULL;
	const char *v[] = {"a", "b"};
	char name[32];
	const char *cap[] = {name, "x"};
	lp_err err = LP_OK;
	int i;

	LP_CHECK_INT(lp_metrics_new(&m), LP_OK);
	LP_CHECK_INT(lp_metrics_add_family(m, &dc, &c), LP_OK);
	LP_CHECK_INT(lp_metrics_add_family(m, &dh, &h), LP_OK);
	LP_CHECK_INT(lp_metric_add(c, v, -1), LP_ERR_INVALID);
	LP_CHECK_INT(lp_metric_add(c, v, NAN), LP_ERR_INVALID);
	LP_CHECK_INT(lp_metric_add(c, v, INFINITY), LP_ERR_INVALID);
	LP_CHECK_INT(lp_metric_set(c, v, 1), LP_ERR_INVALID);
	LP_CHECK_INT(lp_metric_observe(c, v, 1), LP_ERR_INVALID);
	LP_CHECK_INT(lp_metric_add(c, NULL, 1), LP_ERR_INVALID); /* labels missing */
	LP_CHECK_INT(lp_metric_add(h, NULL, 1), LP_ERR_INVALID);
	LP_CHECK_INT(lp_metric_observe(h, NULL, NAN), LP_ERR_INVALID);
	LP_CHECK_INT(lp_metric_add(NULL, v, 1), LP_ERR_INVALID);
	LP_CHECK(lp_metric_value(c, v) == 0);
	/* cardinality is bounded */
	for (i = 0; i <= LP_METRICS_MAX_SERIES && !err; i++) {
		snprintf(name, sizeof(name), "s%06d", i);
		err = lp_metric_add(c, cap, 1);
	}
	LP_CHECK_INT(err, LP_ERR_LIMIT);
	LP_CHECK_INT(i, LP_METRICS_MAX_SERIES + 1);
	snprintf(name, sizeof(name), "s%06d", 5); /* existing series still update */
	LP_CHECK_INT(lp_metric_add(c, cap, 1), LP_OK);
	LP_CHECK(lp_metric_value(c, cap) == 2);
	lp_metrics_free(m);
}

static void t_opmetrics(void)
{
	static const char *const fams[] = {
	    "logplane_reconcile_total",
	    "logplane_reconcile_duration_seconds",
	    "logplane_workqueue_depth",
	    "logplane_watch_restarts_total",
	    "logplane_api_requests_total",
	    "logplane_aws_requests_total",
	    "logplane_rendered_config_bytes",
	    "logplane_pipelines",
	    "logplane_outputs",
	    "logplane_build_info",
	};
	struct lp_metrics *m = NULL;
	struct lp_opmetrics om, om2;
	struct lp_buf b;
	char line[160];

	lp_buf_init(&b, 0);
	LP_CHECK_INT(lp_metrics_new(&m), LP_OK);
	LP_CHECK_INT(lp_opmetrics_register(m, "1.2.3", &om), LP_OK);
	LP_CHECK_INT(lp_opmetrics_register(m, "1.2.3", &om2), LP_ERR_INVALID);
	lp_opmetrics_reconcile(&om, "LogPipeline", "success", 0.003);
	lp_opmetrics_reconcile(&om, "LogPipeline", "error", 2);
	lp_opmetrics_queue_depth(&om, 4);
	lp_opmetrics_watch_restart(&om, "logpipelines");
	lp_opmetrics_api_request(&om, "patch", 200);
	lp_opmetrics_api_request(&om, "get", 0);
	lp_opmetrics_aws_request(&om, "kinesis", "DescribeStreamSummary",
	                         "ResourceNotFoundException");
	lp_opmetrics_aws_request(&om, "s3", "HeadBucket", NULL);
	lp_opmetrics_rendered_bytes(&om, 12345);
	lp_opmetrics_pipelines(&om, "Ready", "True", 3);
	lp_opmetrics_outputs(&om, "Provisioned", "False", 2);
	lp_opmetrics_reconcile(NULL, "x", "y", 1); /* no-op */
	LP_CHECK_INT(lp_metrics_render(m, &b), LP_OK);
	for (size_t i = 0; i < LP_TEST_COUNT(fams); i++) {
		snprintf(line, sizeof(line), "# TYPE %s ", fams[i]);
		LP_CHECK_HAS(lp_buf_str(&b), line);
	}
	LP_CHECK_HAS(lp_buf_str(&b), "logplane_build_info{version=\"1.2.3\"} 1\n");
	LP_CHECK_HAS(lp_buf_str(&b),
	             "logplane_reconcile_total{kind=\"LogPipeline\",result=\"error\"} 1\n");
	LP_CHECK_HAS(
	    lp_buf_str(&b),
	    "logplane_reconcile_duration_seconds_bucket{kind=\"LogPipeline\",le=\"0.005\"} 1\n");
	LP_CHECK_HAS(lp_buf_str(&b),
	             "logplane_reconcile_duration_seconds_count{kind=\"LogPipeline\"} 2\n");
	LP_CHECK_HAS(lp_buf_str(&b), "logplane_workqueue_depth 4\n");
	LP_CHECK_HAS(lp_buf_str(&b),
	             "logplane_api_requests_total{verb=\"get\",code=\"error\"} 1\n");
	LP_CHECK_HAS(lp_buf_str(&b), "logplane_aws_requests_total{service=\"s3\","
	                             "operation=\"HeadBucket\",code=\"error\"} 1\n");
	LP_CHECK_HAS(lp_buf_str(&b), "logplane_rendered_config_bytes 12345\n");
	LP_CHECK_HAS(lp_buf_str(&b), "logplane_pipelines{condition=\"Ready\",status=\"True\"} 3\n");
	LP_CHECK_HAS(lp_buf_str(&b),
	             "logplane_outputs{condition=\"Provisioned\",status=\"False\"} 2\n");
	lp_buf_free(&b);
	lp_metrics_free(m);
}

struct stats_src { /* counters kept elsewhere, as a client keeps them */
	uint64_t get_200, list_200, restarts;
	int calls;
	struct lp_opmetrics *om;
};

static void collect(void *ctx)
{
	struct stats_src *st = ctx;

	st->calls++;
	lp_opmetrics_api_total(st->om, "GET", 200, st->get_200);
	lp_opmetrics_api_total(st->om, "LIST", 200, st->list_200);
	lp_opmetrics_api_total(st->om, "PATCH", 0, 1);
	lp_opmetrics_watch_restarts_total(st->om, "logpipelines", st->restarts);
	lp_opmetrics_aws_total(st->om, "kinesis", "PutRecords", NULL, 2);
}

static void t_collector_and_totals(void)
{
	struct lp_metrics *m = NULL;
	struct lp_opmetrics om;
	struct stats_src st = {.get_200 = 5, .list_200 = 2, .restarts = 1};
	struct lp_buf b;
	const char *v[] = {"get", "200"};
	const char *kr[] = {"x", "y"};

	lp_buf_init(&b, 0);
	LP_CHECK_INT(lp_metrics_new(&m), LP_OK);
	LP_CHECK_INT(lp_opmetrics_register(m, "1", &om), LP_OK);
	st.om = &om;
	LP_CHECK_INT(lp_metrics_add_collector(m, NULL, NULL), LP_ERR_INVALID);
	LP_CHECK_INT(lp_metrics_add_collector(m, collect, &st), LP_OK);
	LP_CHECK_INT(lp_metrics_render(m, &b), LP_OK);
	LP_CHECK_INT(st.calls, 1);
	LP_CHECK_HAS(lp_buf_str(&b), "logplane_api_requests_total{verb=\"get\",code=\"200\"} 5\n");
	LP_CHECK_HAS(lp_buf_str(&b), "logplane_api_requests_total{verb=\"list\",code=\"200\"} 2\n");
	LP_CHECK_HAS(lp_buf_str(&b),
	             "logplane_api_requests_total{verb=\"patch\",code=\"error\"} 1\n");
	LP_CHECK_HAS(lp_buf_str(&b),
	             "logplane_watch_restarts_total{resource=\"logpipelines\"} 1\n");
	LP_CHECK_HAS(lp_buf_str(&b), "logplane_aws_requests_total{service=\"kinesis\","
	                             "operation=\"PutRecords\",code=\"error\"} 2\n");
	st.get_200 = 9;
	lp_buf_reset(&b);
	LP_CHECK_INT(lp_metrics_render(m, &b), LP_OK);
	LP_CHECK_INT(st.calls, 2);
	LP_CHECK_HAS(lp_buf_str(&b), "logplane_api_requests_total{verb=\"get\",code=\"200\"} 9\n");
	/* totals never go down, and only counters take them */
	LP_CHECK_INT(lp_metric_set_total(om.api_requests, v, 3), LP_ERR_INVALID);
	LP_CHECK(lp_metric_value(om.api_requests, v) == 9);
	LP_CHECK_INT(lp_metric_set_total(om.workqueue_depth, NULL, 3), LP_ERR_INVALID);
	LP_CHECK_INT(lp_metric_set_total(om.reconcile_total, kr, -1), LP_ERR_INVALID);
	for (int i = 1; i < LP_METRICS_MAX_COLLECTORS; i++)
		LP_CHECK_INT(lp_metrics_add_collector(m, collect, &st), LP_OK);
	LP_CHECK_INT(lp_metrics_add_collector(m, collect, &st), LP_ERR_LIMIT);
	lp_buf_free(&b);
	lp_metrics_free(m);
}

/* ---------- HTTP server ---------- */

struct fake_clock {
	uint64_t ms;
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fake_clock *)ctx)->ms;
}

static int connect_to(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
	return fd;
}

/* Reads from fd until EOF while driving the server; bounded (about 5 s).
 * Returns 1 on EOF, 0 on timeout. */
static int drain(struct lp_server *s, int fd, struct lp_buf *resp)
{
	char tmp[4096];

	for (int i = 0; i < 500; i++) {
		ssize_t n;
		if (lp_server_poll(s, 10) != LP_OK)
			return 0;
		for (;;) {
			n = recv(fd, tmp, sizeof(tmp), 0);
			if (n > 0) {
				if (lp_buf_add(resp, tmp, (size_t)n) != LP_OK)
					return 0;
				continue;
			}
			if (n == 0)
				return 1;
			if (errno == ECONNRESET)
				return 1;
			break; /* EAGAIN */
		}
	}
	return 0;
}

/* One request over a fresh connection; the raw response into resp. */
static int request(struct lp_server *s, const char *raw, struct lp_buf *resp)
{
	int fd = connect_to(lp_server_port(s)), ok;
	size_t len = strlen(raw), off = 0;

	lp_buf_reset(resp);
	if (fd < 0)
		return 0;
	while (off < len) {
		ssize_t n = send(fd, raw + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN) {
			close(fd);
			return 0;
		}
		if (lp_server_poll(s, 10) != LP_OK)
			break;
	}
	ok = drain(s, fd, resp);
	close(fd);
	return ok;
}

static int get(struct lp_server *s, const char *method, const char *path, struct lp_buf *resp)
{
	char raw[512];

	snprintf(raw, sizeof(raw), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t\r\n\r\n",
	         method, path);
	return request(s, raw, resp);
}

static const char *body_of(const struct lp_buf *resp)
{
	const char *p = strstr(lp_buf_str(resp), "\r\n\r\n");
	return p ? p + 4 : "";
}

static void write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		lp_test_fail(__FILE__, __LINE__, "cannot write %s", path);
		return;
	}
	fputs(data, f);
	fclose(f);
}

static void t_http_probes(void)
{
	struct lp_server_opts o = {.host = "127.0.0.1", .port = 0};
	struct lp_server *s = NULL;
	struct lp_buf r;

	lp_buf_init(&r, 0);
	LP_CHECK_INT(lp_server_new(&s, &o), LP_OK);
	if (!s)
		return;
	LP_CHECK(lp_server_port(s) > 0);
	LP_CHECK(get(s, "GET", "/healthz", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 200 OK\r\n");
	LP_CHECK_HAS(lp_buf_str(&r), "Content-Length: 3\r\n");
	LP_CHECK_STR(body_of(&r), "ok\n");
	LP_CHECK(get(s, "GET", "/readyz", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 503 Service Unavailable\r\n");
	LP_CHECK_STR(body_of(&r), "not ready\n");
	lp_server_set_ready(s, 1);
	LP_CHECK(get(s, "GET", "/readyz?verbose", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 200 OK\r\n");
	lp_server_set_healthy(s, 0);
	LP_CHECK(get(s, "GET", "/healthz", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 503 ");
	/* no registry: /metrics is not found */
	LP_CHECK(get(s, "GET", "/metrics", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 404 ");
	LP_CHECK(get(s, "GET", "/nope", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 404 Not Found\r\n");
	LP_CHECK(get(s, "POST", "/healthz", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 405 Method Not Allowed\r\n");
	LP_CHECK_HAS(lp_buf_str(&r), "Allow: GET, HEAD\r\n");
	lp_server_set_healthy(s, 1);
	LP_CHECK(get(s, "HEAD", "/healthz", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "Content-Length: 3\r\n");
	LP_CHECK_STR(body_of(&r), ""); /* HEAD: no body */
	LP_CHECK_INT(lp_server_conns(s), 0);
	lp_server_free(s);
	lp_buf_free(&r);
}

static void t_http_metrics(void)
{
	struct lp_metrics *m = NULL;
	struct lp_opmetrics om;
	struct lp_server *s = NULL;
	struct lp_server_opts o = {.host = "127.0.0.1", .port = 0};
	const char *dump = getenv("LP_METRICS_OUT");
	struct lp_buf r;

	lp_buf_init(&r, 0);
	LP_CHECK_INT(lp_metrics_new(&m), LP_OK);
	LP_CHECK_INT(lp_opmetrics_register(m, "0.1.0-test", &om), LP_OK);
	lp_opmetrics_reconcile(&om, "LogPipeline", "success", 0.004);
	lp_opmetrics_reconcile(&om, "LogPipeline", "success", 0.2);
	lp_opmetrics_reconcile(&om, "LogOutput", "requeue", 1.5);
	lp_opmetrics_queue_depth(&om, 2);
	lp_opmetrics_watch_restart(&om, "logoutputs");
	lp_opmetrics_api_request(&om, "list", 200);
	lp_opmetrics_api_request(&om, "patch", 409);
	lp_opmetrics_aws_request(&om, "kinesis", "CreateStream", "200");
	lp_opmetrics_rendered_bytes(&om, 2048);
	lp_opmetrics_pipelines(&om, "Ready", "True", 2);
	lp_opmetrics_pipelines(&om, "Ready", "False", 1);
	lp_opmetrics_outputs(&om, "Ready", "True", 1);
	o.metrics = m;
	LP_CHECK_INT(lp_server_new(&s, &o), LP_OK);
	if (!s)
		goto out;
	LP_CHECK(get(s, "GET", "/metrics", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 200 OK\r\n");
	LP_CHECK_HAS(lp_buf_str(&r), "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
	LP_CHECK_HAS(body_of(&r), "# TYPE logplane_reconcile_duration_seconds histogram\n");
	LP_CHECK_HAS(body_of(&r), "logplane_pipelines{condition=\"Ready\",status=\"False\"} 1\n");
	LP_CHECK_HAS(body_of(&r), "logplane_build_info{version=\"0.1.0-test\"} 1\n");
	if (dump)
		write_file(dump, body_of(&r));
out:
	lp_server_free(s);
	lp_metrics_free(m);
	lp_buf_free(&r);
}

static lp_err hello_route(void *ctx, const char *path, const char *query, struct lp_buf *body,
                          int *status, const char **ctype)
{
	int *calls = ctx;

	(*calls)++;
	if (strcmp(query, "fail") == 0)
		return LP_ERR_INVALID;
	*status = 200;
	*ctype = "application/json";
	return lp_buf_addf(body, "{\"path\":\"%s\",\"q\":\"%s\"}", path, query);
}

static void t_http_route_and_bad_requests(void)
{
	struct lp_server_opts o = {.host = "127.0.0.1", .port = 0};
	struct lp_server *s = NULL;
	struct lp_buf r;
	char *big = NULL;
	int calls = 0;

	lp_buf_init(&r, 0);
	LP_CHECK_INT(lp_server_new(&s, &o), LP_OK);
	if (!s)
		return;
	LP_CHECK_INT(lp_server_route(s, "/hello", hello_route, &calls), LP_OK);
	LP_CHECK_INT(lp_server_route(s, "/hello", hello_route, &calls), LP_ERR_INVALID);
	LP_CHECK_INT(lp_server_route(s, "nope", hello_route, &calls), LP_ERR_INVALID);
	LP_CHECK(get(s, "GET", "/hello?x=1", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "Content-Type: application/json\r\n");
	LP_CHECK_STR(body_of(&r), "{\"path\":\"/hello\",\"q\":\"x=1\"}");
	LP_CHECK(get(s, "GET", "/hello?fail", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 500 ");
	LP_CHECK_INT(calls, 2);
	/* malformed request lines */
	LP_CHECK(request(s, "GARBAGE\r\n\r\n", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 400 ");
	LP_CHECK(request(s, "GET /healthz SPDY/3\r\n\r\n", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 400 ");
	LP_CHECK(request(s, "GET healthz HTTP/1.1\r\n\r\n", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 400 ");
	/* bare LF line ends are tolerated */
	LP_CHECK(request(s, "GET /healthz HTTP/1.0\n\n", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 200 ");
	/* a head larger than the limit gets 431, not a crash or a hang */
	big = lp_malloc(LP_SERVER_MAX_HEAD * 2);
	if (big) {
		memset(big, 'a', LP_SERVER_MAX_HEAD * 2 - 1);
		memcpy(big, "GET /healthz HTTP/1.1\r\nX: ", 26);
		big[LP_SERVER_MAX_HEAD * 2 - 1] = '\0';
		LP_CHECK(request(s, big, &r));
		LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 431 ");
	}
	LP_CHECK_INT(lp_server_conns(s), 0);
	lp_free(big);
	lp_server_free(s);
	lp_buf_free(&r);
}

/* An event-loop stand-in that records the server's watch/unwatch calls. */
struct fake_loop {
	int fds[80];
	unsigned ev[80];
	int n;
	int unwatched;
	int fail_conn_watch;
	int listen_fd;
};

static int fl_watch(void *ctx, int fd, unsigned events)
{
	struct fake_loop *l = ctx;

	if (l->fail_conn_watch && l->n > 0)
		return -1;
	for (int i = 0; i < l->n; i++) {
		if (l->fds[i] == fd) {
			l->ev[i] = events;
			return 0;
		}
	}
	if (l->n == 80)
		return -1;
	l->fds[l->n] = fd;
	l->ev[l->n++] = events;
	return 0;
}

static void fl_unwatch(void *ctx, int fd)
{
	struct fake_loop *l = ctx;

	for (int i = 0; i < l->n; i++) {
		if (l->fds[i] == fd) {
			l->fds[i] = l->fds[--l->n];
			l->ev[i] = l->ev[l->n];
			l->unwatched++;
			return;
		}
	}
}

static void t_http_loop_vtable_idle_and_limits(void)
{
	struct fake_clock clk = {1000};
	struct lp_clock c = {fake_now, &clk};
	struct fake_loop loop = {.n = 0};
	struct lp_server_io io = {fl_watch, fl_unwatch, &loop};
	struct lp_server_opts o = {.host = "127.0.0.1",
	                           .port = 0,
	                           .io = &io,
	                           .clock = &c,
	                           .max_conns = 2,
	                           .idle_timeout_ms = 500};
	struct lp_server *s = NULL;
	struct lp_buf r;
	int a, b, x;
	char tmp[64];

	lp_buf_init(&r, 0);
	LP_CHECK_INT(lp_server_new(&s, &o), LP_OK);
	if (!s)
		return;
	LP_CHECK_INT(loop.n, 1);
	LP_CHECK_INT(loop.fds[0], lp_server_fd(s));
	LP_CHECK_INT(loop.ev[0], LP_SERVER_READ);
	/* two silent clients fill the connection table; a third is turned away */
	a = connect_to(lp_server_port(s));
	b = connect_to(lp_server_port(s));
	for (int i = 0; i < 50 && lp_server_conns(s) < 2; i++)
		LP_CHECK_INT(lp_server_poll(s, 10), LP_OK);
	LP_CHECK_INT(lp_server_conns(s), 2);
	LP_CHECK_INT(loop.n, 3); /* listener + 2 connections watched for reading */
	x = connect_to(lp_server_port(s));
	LP_CHECK(x >= 0);
	for (int i = 0; i < 20; i++)
		LP_CHECK_INT(lp_server_poll(s, 10), LP_OK);
	LP_CHECK_INT(lp_server_conns(s), 2);
	LP_CHECK(recv(x, tmp, sizeof(tmp), 0) <= 0); /* closed without an answer */
	/* idle connections are closed by the tick, and unwatched first */
	clk.ms += 501;
	lp_server_tick(s);
	LP_CHECK_INT(lp_server_conns(s), 0);
	LP_CHECK_INT(loop.n, 1);
	LP_CHECK_INT(loop.unwatched, 2);
	/* driving through the vtable path: on_event for the listener */
	LP_CHECK(get(s, "GET", "/healthz", &r));
	LP_CHECK_HAS(lp_buf_str(&r), "200 OK");
	lp_server_on_event(s, 12345, LP_SERVER_READ); /* unknown fd: ignored */
	/* a loop that refuses a connection's fd: the connection is dropped */
	loop.fail_conn_watch = 1;
	LP_CHECK(!get(s, "GET", "/healthz", &r) || r.len == 0);
	LP_CHECK_INT(lp_server_conns(s), 0);
	loop.fail_conn_watch = 0;
	close(a);
	close(b);
	close(x);
	lp_server_free(s);
	LP_CHECK_INT(loop.n, 0); /* listener unwatched too */
	lp_buf_free(&r);
}

/* The server registered in a real lp_loop: requests are served by running
 * the loop, and freeing the server leaves the loop with nothing to wait for. */
static void t_http_on_lp_loop(void)
{
	struct lp_loop *loop = NULL;
	struct lp_server *s = NULL;
	struct lp_server_opts o = {.host = "127.0.0.1", .port = 0};
	static const char req[] = "GET /readyz HTTP/1.1\r\n\r\n";
	struct lp_buf r;
	char tmp[1024];
	int fd = -1, done = 0;

	lp_buf_init(&r, 0);
	LP_CHECK_INT(lp_loop_new(&loop, NULL), LP_OK);
	if (!loop)
		return;
	o.loop = loop;
	LP_CHECK_INT(lp_server_new(&s, &o), LP_OK);
	if (!s)
		goto out;
	lp_server_set_ready(s, 1);
	for (int round = 0; round < 3; round++) {
		fd = connect_to(lp_server_port(s));
		LP_CHECK(fd >= 0);
		if (fd < 0)
			break;
		LP_CHECK(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
		lp_buf_reset(&r);
		done = 0;
		for (int i = 0; i < 500 && !done; i++) {
			ssize_t n;
			LP_CHECK_INT(lp_loop_run_once(loop, 10), LP_OK);
			while ((n = recv(fd, tmp, sizeof(tmp), 0)) > 0)
				LP_CHECK_INT(lp_buf_add(&r, tmp, (size_t)n), LP_OK);
			done = n == 0;
		}
		LP_CHECK(done);
		LP_CHECK_HAS(lp_buf_str(&r), "HTTP/1.1 200 OK\r\n");
		close(fd);
	}
	for (int i = 0; i < 10 && lp_server_conns(s); i++)
		LP_CHECK_INT(lp_loop_run_once(loop, 10), LP_OK);
	LP_CHECK_INT(lp_server_conns(s), 0);
out:
	lp_server_free(s);
	/* nothing left: the listener watch and the tick timer are gone */
	LP_CHECK_INT(lp_loop_run(loop), LP_OK);
	lp_loop_free(loop);
	lp_buf_free(&r);
}

static void t_server_errors(void)
{
	struct lp_server *s = NULL, *s2 = NULL;
	struct lp_server_opts o = {.host = "not-an-ip", .port = 0};

	LP_CHECK_INT(lp_server_new(&s, &o), LP_ERR_INVALID);
	LP_CHECK(s == NULL);
	o.host = "127.0.0.1";
	o.port = 70000;
	LP_CHECK_INT(lp_server_new(&s, &o), LP_ERR_INVALID);
	o.port = 0;
	LP_CHECK_INT(lp_server_new(&s, &o), LP_OK);
	if (!s)
		return;
	o.port = lp_server_port(s); /* address in use */
	LP_CHECK_INT(lp_server_new(&s2, &o), LP_ERR_IO);
	LP_CHECK(s2 == NULL);
	o.host = "::1";
	o.port = 0;
	if (lp_server_new(&s2, &o) == LP_OK) /* IPv6 may be off on the host */
		LP_CHECK(lp_server_port(s2) > 0);
	lp_server_free(s2);
	lp_server_free(s);
	lp_server_free(NULL);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"format_double", t_format_double},
	    {"counter_gauge_render", t_counter_gauge_render},
	    {"histogram", t_histogram},
	    {"unlabelled_histogram_zero", t_unlabelled_histogram_zero},
	    {"register_errors", t_register_errors},
	    {"update_errors", t_update_errors},
	    {"opmetrics", t_opmetrics},
	    {"collector_and_totals", t_collector_and_totals},
	    {"http_probes", t_http_probes},
	    {"http_metrics", t_http_metrics},
	    {"http_route_and_bad_requests", t_http_route_and_bad_requests},
	    {"http_loop_vtable_idle_and_limits", t_http_loop_vtable_idle_and_limits},
	    {"http_on_lp_loop", t_http_on_lp_loop},
	    {"server_errors", t_server_errors},
	};
	return lp_test_main("server", tests, LP_TEST_COUNT(tests));
}
