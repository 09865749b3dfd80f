/* pkg/server/server: a tiny non-blocking HTTP/1.1 server for /healthz,
 * /readyz and /metrics (and any extra GET routes), meant to live inside the
 * operator's one event loop.
 *
 * It never blocks and owns no thread. It plugs into an event loop through a
 * small vtable (struct lp_server_io): the server asks the loop to watch a file
 * descriptor for reading or writing, and the loop calls lp_server_on_event()
 * when it is ready. With opts.loop set, the server registers itself in that
 * lp_loop (pkg/util/loop.h), fds and a 1 s idle-check timer included, and
 * nothing else is needed. Without a loop, lp_server_poll() drives it with
 * poll(2) (tests, tools).
 *
 * Every response carries "Connection: close": one request per connection,
 * which probes and Prometheus handle. Requests are bounded (8 KiB of head),
 * connections are bounded (max_conns) and idle ones are closed by
 * lp_server_tick().
 *
 * Built-in routes:
 *   GET /healthz  200 "ok" while healthy (lp_server_set_healthy), else 503
 *   GET /readyz   503 "not ready" until lp_server_set_ready(s, 1), then 200 "ok"
 *   GET /metrics  the registry in Prometheus text format 0.0.4 (404 without one)
 * HEAD is accepted wherever GET is; other methods get 405, unknown paths 404.
 */
#ifndef LP_SERVER_SERVER_H
#define LP_SERVER_SERVER_H
#include <stddef.h>
#include <stdint.h>
#include "../util/buf.h"
#include "../util/clock.h"
#include "../util/err.h"
#include "../util/loop.h"
#include "metrics.h"

#define LP_SERVER_READ       1u
#define LP_SERVER_WRITE      2u
#define LP_SERVER_MAX_HEAD   8192
#define LP_SERVER_MAX_ROUTES 16

struct lp_server;

/* How the server tells an event loop which fds it wants to hear about.
 * watch(): start or change interest in fd (LP_SERVER_READ / LP_SERVER_WRITE);
 * returns 0, or -1 on failure (the server then closes that connection).
 * unwatch(): forget fd; called before the server closes it. */
struct lp_server_io {
	int (*watch)(void *ctx, int fd, unsigned events);
	void (*unwatch)(void *ctx, int fd);
	void *ctx;
};

struct lp_server_opts {
	const char *host;              /* numeric IPv4/IPv6 address; NULL = "0.0.0.0" */
	int port;                      /* 0 = any free port (see lp_server_port) */
	struct lp_metrics *metrics;    /* borrowed, may be NULL; must outlive the server */
	struct lp_loop *loop;          /* borrowed, may be NULL; must outlive the server */
	const struct lp_server_io *io; /* borrowed, may be NULL; ignored when loop is set */
	const struct lp_clock *clock;  /* borrowed, NULL = lp_clock_system */
	size_t max_conns;              /* 0 = 64 */
	uint64_t idle_timeout_ms;      /* 0 = 10000 */
};

/* A GET route. Writes the body into body (empty on entry) and may set *status
 * (default 200) and *content_type (static string; default text/plain). A
 * non-LP_OK return answers 500. ctx is the route's borrowed pointer. */
typedef lp_err (*lp_server_handler)(void *ctx, const char *path, const char *query,
                                    struct lp_buf *body, int *status, const char **content_type);

/* Binds and listens (non-blocking, close-on-exec), then watches the listening
 * socket through o->io. *out written only on success. LP_ERR_INVALID for a bad
 * host or port, LP_ERR_IO when bind/listen fails (address in use),
 * LP_ERR_NOMEM. */
LP_WUR lp_err lp_server_new(struct lp_server **out, const struct lp_server_opts *o);
/* Closes every connection and the listening socket (unwatching them). NULL-safe. */
void lp_server_free(struct lp_server *s);

int lp_server_port(const struct lp_server *s); /* the bound port */
int lp_server_fd(const struct lp_server *s);   /* the listening socket */
void lp_server_set_ready(struct lp_server *s, int ready);
/* Why /readyz answers 503 (its body becomes "not ready: <why>"); NULL or "": none. */
void lp_server_set_not_ready_reason(struct lp_server *s, const char *why);
void lp_server_set_healthy(struct lp_server *s, int healthy);

/* Adds a GET route for an exact path (copied). LP_ERR_INVALID for a path not
 * starting with '/' or already routed, LP_ERR_LIMIT past LP_SERVER_MAX_ROUTES. */
LP_WUR lp_err lp_server_route(struct lp_server *s, const char *path, lp_server_handler fn,
                              void *ctx);

/* The loop reports that fd (the listening socket or a connection) is ready.
 * Unknown fds are ignored. Never blocks. */
void lp_server_on_event(struct lp_server *s, int fd, unsigned events);
/* Closes connections idle for longer than idle_timeout_ms. Call about once a second. */
void lp_server_tick(struct lp_server *s);
/* Without an event loop: waits up to timeout_ms for any of the server's fds
 * and handles what is ready, then ticks. LP_ERR_IO when poll(2) fails. */
LP_WUR lp_err lp_server_poll(struct lp_server *s, int timeout_ms);
/* Opens a non-blocking, close-on-exec listening TCP socket on host (numeric
 * IPv4/IPv6) and port (0 = any); *fd_out and *port_out written only on LP_OK.
 * LP_ERR_INVALID for a bad host or port, LP_ERR_IO when bind/listen fails.
 * Shared with the HTTPS server (https.h). */
LP_WUR lp_err lp_server_listen(const char *host, int port, int *fd_out, int *port_out);

/* The HTTP reason phrase of a status code the servers send ("Unknown" for
 * any other); a static string. */
const char *lp_server_reason(int status);
/* Open connections (for tests and metrics). */
size_t lp_server_conns(const struct lp_server *s);

#endif
