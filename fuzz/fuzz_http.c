/* libFuzzer target: the HTTP request handling of pkg/server. One server on
 * 127.0.0.1 (any port) with a metrics registry and an extra route lives for
 * the process; each input is sent as the raw bytes of one request over a new
 * loopback connection, the server is polled until it answers or closes, and
 * an answer must be a well-formed HTTP/1.1 status line with Connection: close.
 * The client resets its end afterwards so no TIME_WAIT piles up. */
#include "../pkg/server/metrics.h"
#include "../pkg/server/server.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static lp_err echo_route(void *ctx, const char *path, const char *query, struct lp_buf *body,
                         int *status, const char **content_type)
{
	(void)ctx;
	*status = query && *query ? 202 : 200;
	*content_type = "text/plain";
	if (lp_buf_addf(body, "%s?%s\n", path, query ? query : "") != LP_OK)
		return LP_ERR_NOMEM;
	return LP_OK;
}

static struct lp_server *setup(void)
{
	static const char *const labels[] = {"code", NULL};
	static const struct lp_metric_desc d = {
	    LP_METRIC_COUNTER, "lp_fuzz_total", "fuzz help", labels, NULL, 0};
	static const char *const v200[] = {"200", NULL};
	struct lp_metrics *m = NULL;
	struct lp_metric_family *f = NULL;
	struct lp_server *s = NULL;
	struct lp_server_opts o;

	if (lp_metrics_new(&m) != LP_OK || lp_metrics_add_family(m, &d, &f) != LP_OK ||
	    lp_metric_add(f, v200, 3) != LP_OK)
		abort();
	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.metrics = m; /* lives as long as the process */
	if (lp_server_new(&s, &o) != LP_OK || lp_server_route(s, "/echo", echo_route, NULL))
		abort();
	lp_server_set_ready(s, 1);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lp_server *s;
	struct sockaddr_in a;
	struct linger lg = {1, 0};
	char resp[65536];
	size_t got = 0, sent = 0;
	int fd, eof = 0;

	if (size > 16384)
		return 0;
	if (!s)
		s = setup();
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)lp_server_port(s));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		abort();
	/* at thousands of connections a second loopback runs out of ports or
	 * backlog now and then: let the server drain and skip the input */
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		for (int i = 0; i < 20 && lp_server_conns(s) > 0; i++)
			if (lp_server_poll(s, 1) != LP_OK)
				abort();
		return 0;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* bounded: the server answers or closes within a few hundred polls */
	for (int round = 0; round < 400 && !eof; round++) {
		ssize_t n;
		if (sent < size) {
			n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				sent = size; /* the server closed on us: fine */
			if (sent == size)
				shutdown(fd, SHUT_WR);
		} else if (round == 0) {
			shutdown(fd, SHUT_WR);
		}
		if (lp_server_poll(s, 5) != LP_OK)
			abort();
		while (got < sizeof(resp) - 1) {
			n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
			if (n > 0) {
				got += (size_t)n;
				continue;
			}
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				eof = 1;
			break;
		}
	}
	resp[got] = '\0';
	if (got && (strncmp(resp, "HTTP/1.1 ", 9) != 0 ||
	            !strstr(resp, "\r\nConnection: close\r\n") || !strstr(resp, "\r\n\r\n")))
		abort(); /* an answer that is not HTTP */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	/* let the server notice the reset and drop the connection */
	for (int i = 0; i < 10 && lp_server_conns(s) > 0; i++)
		if (lp_server_poll(s, 1) != LP_OK)
			abort();
	return 0;
}
