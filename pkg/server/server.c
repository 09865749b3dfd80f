#include "server.h"
#include "../util/mem.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPTS_PER_EVENT 64

struct route {
	char *path;
	lp_server_handler fn;
	void *ctx;
};

struct conn {
	int fd;
	struct lp_loop_fd *w; /* with opts.loop */
	int writing;          /* 0: reading the request head, 1: sending the response */
	char in[LP_SERVER_MAX_HEAD];
	size_t in_len;
	struct lp_buf out;
	size_t out_off;
	uint64_t last_ms;
};

struct lp_server {
	int fd;
	int port;
	int ready;
	char not_ready_why[512]; /* "" when none given */
	int healthy;
	struct lp_metrics *metrics;
	const struct lp_server_io *io;
	struct lp_loop *loop;
	struct lp_loop_fd *listen_w;
	struct lp_loop_timer *tick_timer;
	const struct lp_clock *clock;
	size_t max_conns;
	uint64_t idle_ms;
	struct conn **conns;
	size_t n_conns;
	struct route routes[LP_SERVER_MAX_ROUTES];
	size_t n_routes;
};

static uint64_t now_ms(const struct lp_server *s)
{
	return s->clock->now_ms(s->clock->ctx);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL, 0);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ? -1 : 0;
}

static void loop_cb(struct lp_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	lp_server_on_event(arg, fd, events & LP_LOOP_WRITE ? LP_SERVER_WRITE : LP_SERVER_READ);
}

static int64_t tick_cb(struct lp_loop *loop, void *arg)
{
	(void)loop;
	lp_server_tick(arg);
	return 1000;
}

/* The lp_loop handle slot of fd (listener or connection), or NULL. */
static struct lp_loop_fd **loop_slot(struct lp_server *s, int fd)
{
	if (fd == s->fd)
		return &s->listen_w;
	for (size_t i = 0; i < s->n_conns; i++)
		if (s->conns[i]->fd == fd)
			return &s->conns[i]->w;
	return NULL;
}

static int io_watch(struct lp_server *s, int fd, unsigned ev)
{
	if (s->loop) {
		struct lp_loop_fd **w = loop_slot(s, fd);
		unsigned lev = (ev & LP_SERVER_READ ? LP_LOOP_READ : 0) |
		               (ev & LP_SERVER_WRITE ? LP_LOOP_WRITE : 0);
		if (!w)
			return -1;
		if (*w)
			return lp_loop_fd_set(s->loop, *w, lev) == LP_OK ? 0 : -1;
		return lp_loop_fd_add(s->loop, fd, lev, loop_cb, s, w) == LP_OK ? 0 : -1;
	}
	return s->io && s->io->watch ? s->io->watch(s->io->ctx, fd, ev) : 0;
}

static void io_unwatch(struct lp_server *s, int fd)
{
	if (s->loop) {
		struct lp_loop_fd **w = loop_slot(s, fd);
		if (w && *w) {
			lp_loop_fd_del(s->loop, *w);
			*w = NULL;
		}
		return;
	}
	if (s->io && s->io->unwatch)
		s->io->unwatch(s->io->ctx, fd);
}

lp_err lp_server_listen(const char *host, int port, int *fd_out, int *port_out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = -1, one = 1;
	lp_err err = LP_ERR_INVALID;

	memset(&ss, 0, sizeof(ss));
	if (port < 0 || port > 65535)
		goto fail;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		len = sizeof(*a);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		len = sizeof(*a);
	} else {
		goto fail;
	}
	err = LP_ERR_IO;
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0 || set_nonblock(fd) < 0)
		goto fail;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto fail;
	*port_out = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
	                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
	*fd_out = fd;
	return LP_OK;
fail:
	if (fd >= 0)
		close(fd);
	return err;
}

lp_err lp_server_new(struct lp_server **out, const struct lp_server_opts *o)
{
	struct lp_server *s = NULL;
	lp_err err;

	if (!out || !o)
		return LP_ERR_INVALID;
	s = lp_calloc(1, sizeof(*s));
	if (!s)
		return LP_ERR_NOMEM;
	s->fd = -1;
	s->healthy = 1;
	s->metrics = o->metrics;
	s->io = o->io;
	s->loop = o->loop;
	s->clock = o->clock ? o->clock : &lp_clock_system;
	s->max_conns = o->max_conns ? o->max_conns : 64;
	s->idle_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 10000;
	err = LP_ERR_NOMEM;
	s->conns = lp_calloc(s->max_conns, sizeof(*s->conns));
	if (!s->conns)
		goto fail;
	err = lp_server_listen(o->host ? o->host : "0.0.0.0", o->port, &s->fd, &s->port);
	if (err)
		goto fail;
	err = LP_ERR_IO;
	if (io_watch(s, s->fd, LP_SERVER_READ) != 0)
		goto fail;
	if (s->loop && lp_loop_timer_add(s->loop, 1000, tick_cb, s, &s->tick_timer) != LP_OK)
		goto fail;
	*out = s;
	return LP_OK;
fail:
	if (s->fd >= 0) {
		io_unwatch(s, s->fd);
		close(s->fd);
	}
	lp_free(s->conns);
	lp_free(s);
	return err;
}

static void conn_close(struct lp_server *s, size_t i)
{
	struct conn *c = s->conns[i];

	io_unwatch(s, c->fd);
	close(c->fd);
	lp_buf_free(&c->out);
	lp_free(c);
	s->conns[i] = s->conns[--s->n_conns];
	s->conns[s->n_conns] = NULL;
}

void lp_server_free(struct lp_server *s)
{
	if (!s)
		return;
	if (s->tick_timer)
		lp_loop_timer_del(s->loop, s->tick_timer);
	while (s->n_conns)
		conn_close(s, s->n_conns - 1);
	if (s->fd >= 0) {
		io_unwatch(s, s->fd);
		close(s->fd);
	}
	for (size_t i = 0; i < s->n_routes; i++)
		lp_free(s->routes[i].path);
	lp_free(s->conns);
	lp_free(s);
}

int lp_server_port(const struct lp_server *s)
{
	return s ? s->port : -1;
}

int lp_server_fd(const struct lp_server *s)
{
	return s ? s->fd : -1;
}

void lp_server_set_ready(struct lp_server *s, int ready)
{
	if (s)
		s->ready = ready != 0;
}

void lp_server_set_not_ready_reason(struct lp_server *s, const char *why)
{
	if (s)
		snprintf(s->not_ready_why, sizeof(s->not_ready_why), "%s", why ? why : "");
}

void lp_server_set_healthy(struct lp_server *s, int healthy)
{
	if (s)
		s->healthy = healthy != 0;
}

size_t lp_server_conns(const struct lp_server *s)
{
	return s ? s->n_conns : 0;
}

lp_err lp_server_route(struct lp_server *s, const char *path, lp_server_handler fn, void *ctx)
{
	if (!s || !path || path[0] != '/' || !fn)
		return LP_ERR_INVALID;
	for (size_t i = 0; i < s->n_routes; i++)
		if (strcmp(s->routes[i].path, path) == 0)
			return LP_ERR_INVALID;
	if (s->n_routes == LP_SERVER_MAX_ROUTES)
		return LP_ERR_LIMIT;
	s->routes[s->n_routes].path = lp_strdup(path);
	if (!s->routes[s->n_routes].path)
		return LP_ERR_NOMEM;
	s->routes[s->n_routes].fn = fn;
	s->routes[s->n_routes].ctx = ctx;
	s->n_routes++;
	return LP_OK;
}

const char *lp_server_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}

/* Builds the whole response into c->out. */
static lp_err respond(struct conn *c, int status, const char *ctype, const struct lp_buf *body,
                      int head_only, int allow_hdr)
{
	lp_err err;

	lp_buf_reset(&c->out);
	err = lp_buf_addf(&c->out,
	                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                  "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
	                  status, lp_server_reason(status), ctype, body->len,
	                  allow_hdr ? "Allow: GET, HEAD\r\n" : "");
	if (!err && !head_only && body->len)
		err = lp_buf_add(&c->out, body->ptr, body->len);
	c->out_off = 0;
	c->writing = 1;
	return err;
}

static lp_err simple(struct conn *c, int status, const char *text, int head_only, int allow)
{
	struct lp_buf b;
	lp_err err;

	lp_buf_init(&b, 4096);
	err = lp_buf_adds(&b, text);
	if (!err)
		err = respond(c, status, "text/plain; charset=utf-8", &b, head_only, allow);
	lp_buf_free(&b);
	return err;
}

/* Routes one request; the target is split into path and query here. */
static lp_err dispatch(struct lp_server *s, struct conn *c, const char *method, char *target)
{
	int head = strcmp(method, "HEAD") == 0;
	char *query = strchr(target, '?');
	struct lp_buf body;
	lp_err err = LP_OK;

	if (query)
		*query++ = '\0';
	if (!head && strcmp(method, "GET") != 0)
		return simple(c, 405, "method not allowed\n", 0, 1);
	if (strcmp(target, "/healthz") == 0 || strcmp(target, "/livez") == 0)
		return s->healthy ? simple(c, 200, "ok\n", head, 0)
		                  : simple(c, 503, "unhealthy\n", head, 0);
	if (strcmp(target, "/readyz") == 0 && !s->ready && s->not_ready_why[0]) {
		char text[sizeof(s->not_ready_why) + 16];
		snprintf(text, sizeof(text), "not ready: %s\n", s->not_ready_why);
		return simple(c, 503, text, head, 0);
	}
	if (strcmp(target, "/readyz") == 0)
		return s->ready ? simple(c, 200, "ok\n", head, 0)
		                : simple(c, 503, "not ready\n", head, 0);
	lp_buf_init(&body, 0);
	if (strcmp(target, "/metrics") == 0 && s->metrics) {
		err = lp_metrics_render(s->metrics, &body);
		err = err ? simple(c, 500, "metrics unavailable\n", head, 0)
		          : respond(c, 200, LP_METRICS_CONTENT_TYPE, &body, head, 0);
		goto out;
	}
	for (size_t i = 0; i < s->n_routes; i++) {
		int status = 200;
		const char *ctype = "text/plain; charset=utf-8";
		if (strcmp(s->routes[i].path, target) != 0)
			continue;
		err = s->routes[i].fn(s->routes[i].ctx, target, query ? query : "", &body, &status,
		                      &ctype);
		err = err ? simple(c, 500, "internal error\n", head, 0)
		          : respond(c, status, ctype, &body, head, 0);
		goto out;
	}
	err = simple(c, 404, "not found\n", head, 0);
out:
	lp_buf_free(&body);
	return err;
}

/* Parses "METHOD SP target SP HTTP/1.x" once the head is complete. */
static lp_err handle_request(struct lp_server *s, struct conn *c)
{
	char *line = c->in, *eol, *sp1, *sp2;

	eol = strpbrk(line, "\r\n");
	if (!eol)
		return simple(c, 400, "bad request\n", 0, 0);
	*eol = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    sp1[1] != '/')
		return simple(c, 400, "bad request\n", 0, 0);
	*sp1 = '\0';
	*sp2 = '\0';
	return dispatch(s, c, line, sp1 + 1);
}

/* 1 when the request head (ending in an empty line) is complete. */
static int head_complete(const struct conn *c)
{
	return strstr(c->in, "\r\n\r\n") != NULL || strstr(c->in, "\n\n") != NULL;
}

/* Returns -1 when the connection must be closed. */
static int conn_write(struct lp_server *s, struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n =
		    send(c->fd, c->out.ptr + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return io_watch(s, c->fd, LP_SERVER_WRITE) == 0 ? 0 : -1;
		if (n <= 0)
			return -1;
		c->out_off += (size_t)n;
		c->last_ms = now_ms(s);
	}
	return -1; /* all sent: Connection: close */
}

static int conn_read(struct lp_server *s, struct conn *c)
{
	for (;;) {
		size_t room = sizeof(c->in) - 1 - c->in_len;
		ssize_t n;
		if (room == 0) {
			if (simple(c, 431, "request head too large\n", 0, 0) != LP_OK)
				return -1;
			return conn_write(s, c);
		}
		n = recv(c->fd, c->in + c->in_len, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1; /* peer closed before a full request, or error */
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		c->last_ms = now_ms(s);
		if (memchr(c->in, '\0', c->in_len)) /* NUL bytes: not HTTP */
			return -1;
		if (head_complete(c)) {
			if (handle_request(s, c) != LP_OK)
				return -1;
			return conn_write(s, c);
		}
	}
}

static void accept_some(struct lp_server *s)
{
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct conn *c;
		int fd = accept(s->fd, NULL, NULL);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			return; /* EAGAIN, or a transient error (EMFILE...): retry on next event */
		if (s->n_conns >= s->max_conns || set_nonblock(fd) < 0) {
			close(fd);
			continue;
		}
		c = lp_calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		lp_buf_init(&c->out, 0);
		c->last_ms = now_ms(s);
		s->conns[s->n_conns++] = c;
		if (io_watch(s, fd, LP_SERVER_READ) != 0 || conn_read(s, c) < 0)
			conn_close(s, s->n_conns - 1);
	}
}

void lp_server_on_event(struct lp_server *s, int fd, unsigned events)
{
	if (!s || fd < 0)
		return;
	if (fd == s->fd) {
		accept_some(s);
		return;
	}
	for (size_t i = 0; i < s->n_conns; i++) {
		struct conn *c = s->conns[i];
		int rc;
		if (c->fd != fd)
			continue;
		rc = c->writing ? conn_write(s, c) : conn_read(s, c);
		if (rc < 0)
			conn_close(s, i);
		return;
	}
}

void lp_server_tick(struct lp_server *s)
{
	uint64_t now;
	size_t i = 0;

	if (!s)
		return;
	now = now_ms(s);
	while (i < s->n_conns) {
		if (now - s->conns[i]->last_ms > s->idle_ms)
			conn_close(s, i); /* moves the last one into i */
		else
			i++;
	}
}

lp_err lp_server_poll(struct lp_server *s, int timeout_ms)
{
	struct pollfd *p;
	size_t n;
	int rc;

	if (!s)
		return LP_ERR_INVALID;
	n = s->n_conns + 1;
	p = lp_calloc(n, sizeof(*p));
	if (!p)
		return LP_ERR_NOMEM;
	p[0].fd = s->fd;
	p[0].events = POLLIN;
	for (size_t i = 0; i < s->n_conns; i++) {
		p[i + 1].fd = s->conns[i]->fd;
		p[i + 1].events = s->conns[i]->writing ? POLLOUT : POLLIN;
	}
	rc = poll(p, (nfds_t)n, timeout_ms);
	if (rc < 0 && errno != EINTR) {
		lp_free(p);
		return LP_ERR_IO;
	}
	/* connections first (by fd: handlers may close and reorder), then accept */
	for (size_t i = 1; rc > 0 && i < n; i++)
		if (p[i].revents)
			lp_server_on_event(s, p[i].fd,
			                   (p[i].revents & POLLOUT) ? LP_SERVER_WRITE
			                                            : LP_SERVER_READ);
	if (rc > 0 && p[0].revents)
		lp_server_on_event(s, s->fd, LP_SERVER_READ);
	lp_free(p);
	lp_server_tick(s);
	return LP_OK;
}
