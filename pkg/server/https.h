/* pkg/server/https: a small non-blocking HTTPS/1.1 server for POST endpoints
 * (the admission webhook), on OpenSSL directly, inside the operator's one
 * event loop (pkg/util/loop.h).
 *
 * Why OpenSSL directly and not libwebsockets: the webhook needs one thing,
 * TLS around request/response POSTs on the loop we already run. OpenSSL's
 * non-blocking SSL_accept/SSL_read/SSL_write map onto lp_loop fd watches in a
 * few hundred lines, the certificate can be swapped at run time by replacing
 * one SSL_CTX (rotation without a restart), and the code path is the one the
 * rest of the tree already links (SigV4, certificate generation). libwebsockets
 * would bring its own event loop and vhost model to bridge to ours.
 *
 * HTTP/1.1 only (ALPN "http/1.1"), keep-alive (the API server reuses its
 * connections), Content-Length bodies up to max_body (chunked requests get
 * 411). Bounded: head 8 KiB, max_conns connections, idle ones closed after
 * idle_timeout_ms. TLS 1.2 or newer.
 *
 * Threading: loop thread only, like lp_loop. */
#ifndef LP_SERVER_HTTPS_H
#define LP_SERVER_HTTPS_H
#include <stddef.h>
#include <stdint.h>
#include "../util/buf.h"
#include "../util/clock.h"
#include "../util/err.h"
#include "../util/loop.h"

#define LP_HTTPS_MAX_HEAD 8192

struct lp_https;

/* Handles one POST. path is the request path (query included), body/len the
 * request body (NUL-terminated). Writes the response body into out (empty on
 * entry) and may set *status (default 200) and *content_type (a static
 * string; default application/json). A non-LP_OK return answers 500. */
typedef lp_err (*lp_https_handler)(void *ctx, const char *path, const char *body, size_t len,
                                   struct lp_buf *out, int *status, const char **content_type);

struct lp_https_opts {
	const char *host;             /* numeric address; NULL = "0.0.0.0" */
	int port;                     /* 0 = any free port (lp_https_port) */
	struct lp_loop *loop;         /* borrowed, required; must outlive the server */
	const struct lp_clock *clock; /* borrowed; NULL = lp_clock_system */
	size_t max_conns;             /* 0 = 128 */
	size_t max_body;              /* 0 = 8 MiB */
	uint64_t idle_timeout_ms;     /* 0 = 60000 */
	lp_https_handler handler;     /* required: every POST goes here */
	void *ctx;                    /* the handler's */
};

/* Binds and listens. No certificate yet: connections accepted before
 * lp_https_set_cert are closed at once. *out written only on success.
 * LP_ERR_INVALID (bad opts/host/port), LP_ERR_IO (bind), LP_ERR_NOMEM. */
LP_WUR lp_err lp_https_new(struct lp_https **out, const struct lp_https_opts *o);
/* Closes every connection and the listener. NULL-safe. */
void lp_https_free(struct lp_https *s);
int lp_https_port(const struct lp_https *s);
/* Sets or replaces the serving certificate (PEM chain, leaf first) and its
 * private key (PEM). New connections use it; open ones keep theirs.
 * LP_ERR_INVALID when either does not parse or the key does not match. */
LP_WUR lp_err lp_https_set_cert(struct lp_https *s, const char *cert_pem, const char *key_pem);
/* 1 once a certificate is set. */
int lp_https_has_cert(const struct lp_https *s);
size_t lp_https_conns(const struct lp_https *s);

#endif
