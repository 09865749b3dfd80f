/* The HTTPS/1.1 POST server of https.h: accept, TLS handshake, read one
 * request at a time per connection, answer, keep the connection. */
#include "https.h"
#include "server.h"
#include "../util/mem.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPTS_PER_EVENT 64
#define READ_CHUNK        16384

enum conn_state { ST_HANDSHAKE, ST_READ, ST_WRITE };

struct conn {
	struct lp_https *s;
	int fd;
	SSL *ssl;
	struct lp_loop_fd *w;
	enum conn_state st;
	unsigned want; /* LP_LOOP_READ / LP_LOOP_WRITE asked of the loop */
	struct lp_buf in;
	struct lp_buf out;
	size_t out_off;
	int keep_alive; /* of the request being answered */
	uint64_t last_ms;
};

struct lp_https {
	int fd;
	int port;
	struct lp_loop *loop;
	struct lp_loop_fd *listen_w;
	struct lp_loop_timer *tick;
	const struct lp_clock *clock;
	SSL_CTX *ctx; /* NULL until a certificate is set */
	size_t max_conns, max_body;
	uint64_t idle_ms;
	lp_https_handler handler;
	void *hctx;
	struct conn **conns;
	size_t n_conns;
};

static uint64_t now_ms(const struct lp_https *s)
{
	return s->clock->now_ms(s->clock->ctx);
}

static void conn_close(struct conn *c)
{
	struct lp_https *s = c->s;

	if (c->ssl) {
		if (c->st != ST_HANDSHAKE)
			(void)SSL_shutdown(c->ssl); /* best effort close_notify; never waits */
		SSL_free(c->ssl);
	}
	ERR_clear_error();
	lp_loop_fd_del(s->loop, c->w);
	close(c->fd);
	lp_buf_free(&c->in);
	lp_buf_free(&c->out);
	for (size_t i = 0; i < s->n_conns; i++)
		if (s->conns[i] == c) {
			s->conns[i] = s->conns[--s->n_conns];
			s->conns[s->n_conns] = NULL;
			break;
		}
	lp_free(c);
}

/* The whole response into c->out (reset first). */
static lp_err respond(struct conn *c, int status, const char *ctype, const char *body, size_t len)
{
	lp_buf_reset(&c->out);
	c->out_off = 0;
	if (lp_buf_addf(&c->out,
	                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
	                status, lp_server_reason(status), ctype, len,
	                c->keep_alive ? "" : "Connection: close\r\n") ||
	    lp_buf_add(&c->out, body, len))
		return LP_ERR_NOMEM;
	c->st = ST_WRITE;
	return LP_OK;
}

static lp_err respond_text(struct conn *c, int status, const char *text)
{
	c->keep_alive = 0;
	return respond(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* Case-insensitive header lookup in head (request line excluded); copies the
 * trimmed value into val. 1 when found. */
static int header(const char *head, size_t head_len, const char *name, char *val, size_t vlen)
{
	size_t nlen = strlen(name);
	const char *p = memchr(head, '\n', head_len), *end = head + head_len;

	while (p && p + 1 < end) {
		const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			break;
		if ((size_t)(eol - line) > nlen && line[nlen] == ':' &&
		    strncasecmp(line, name, nlen) == 0) {
			const char *v = line + nlen + 1;
			size_t n;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			n = (size_t)(eol - v);
			while (n && (v[n - 1] == '\r' || v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n >= vlen)
				n = vlen - 1;
			memcpy(val, v, n);
			val[n] = '\0';
			return 1;
		}
		p = eol;
	}
	return 0;
}

/* Looks at c->in: when a whole request is there, answers it (c->st becomes
 * ST_WRITE) and drops it from c->in. Returns LP_OK also when more bytes are
 * needed; an error closes the connection. */
static lp_err try_request(struct conn *c)
{
	struct lp_https *s = c->s;
	const char *buf = c->in.ptr, *hend;
	char method[16], path[2048], val[64], *end = NULL;
	size_t head_len, body_len = 0;
	struct lp_buf out;
	const char *ctype = "application/json";
	int status = 200, minor = 1, n = 0;
	lp_err err;

	if (!c->in.len)
		return LP_OK;
	hend = NULL;
	for (size_t i = 3; i < c->in.len && !hend; i++)
		if (!memcmp(buf + i - 3, "\r\n\r\n", 4))
			hend = buf + i + 1;
	if (!hend)
		return c->in.len > LP_HTTPS_MAX_HEAD
		           ? respond_text(c, 431, "request head too large\n")
		           : LP_OK;
	head_len = (size_t)(hend - buf);
	if (sscanf(buf, "%15s %2047s HTTP/1.%d%n", method, path, &minor, &n) != 3 || n <= 0)
		return respond_text(c, 400, "bad request line\n");
	c->keep_alive = minor >= 1;
	if (header(buf, head_len, "Connection", val, sizeof(val)))
		c->keep_alive = strcasecmp(val, "close") != 0 &&
		                (minor >= 1 || strcasecmp(val, "keep-alive") == 0);
	if (header(buf, head_len, "Transfer-Encoding", val, sizeof(val)))
		return respond_text(c, 411, "send Content-Length, not a chunked body\n");
	if (header(buf, head_len, "Content-Length", val, sizeof(val))) {
		unsigned long long v = strtoull(val, &end, 10);
		if (!val[0] || *end || v > s->max_body)
			return respond_text(c, 413, "body too large\n");
		body_len = (size_t)v;
	}
	if (c->in.len < head_len + body_len)
		return LP_OK; /* the body is still arriving */
	if (strcmp(method, "POST") != 0) {
		err = respond_text(c, 405, "POST only\n");
	} else {
		/* the body, NUL-terminated, for the handler: copied out of c->in */
		char *body = lp_malloc(body_len + 1);
		if (!body)
			return LP_ERR_NOMEM;
		memcpy(body, buf + head_len, body_len);
		body[body_len] = '\0';
		lp_buf_init(&out, LP_BUF_DEFAULT_MAX);
		err = s->handler(s->hctx, path, body, body_len, &out, &status, &ctype);
		lp_free(body);
		if (err) {
			lp_buf_free(&out);
			err = respond_text(c, 500, "internal error\n");
		} else {
			err = respond(c, status, ctype, out.ptr ? out.ptr : "", out.len);
			lp_buf_free(&out);
		}
	}
	/* drop the request from c->in, keep what follows (a pipelined request) */
	memmove(c->in.ptr, c->in.ptr + head_len + body_len, c->in.len - head_len - body_len);
	c->in.len -= head_len + body_len;
	c->in.ptr[c->in.len] = '\0';
	return err;
}

static void want(struct conn *c, unsigned ev)
{
	if (c->want == ev)
		return;
	if (lp_loop_fd_set(c->s->loop, c->w, ev) == LP_OK)
		c->want = ev;
}

/* Moves a connection forward as far as it goes without blocking. Returns 0, or
 * -1 when the connection must be closed. */
static int drive(struct conn *c)
{
	char tmp[READ_CHUNK];
	int r, e;

	for (;;) {
		switch (c->st) {
		case ST_HANDSHAKE:
			r = SSL_accept(c->ssl);
			if (r == 1) {
				c->st = ST_READ;
				continue;
			}
			break;
		case ST_READ:
			r = SSL_read(c->ssl, tmp, sizeof(tmp));
			if (r > 0) {
				if (c->in.len + (size_t)r > LP_HTTPS_MAX_HEAD + c->s->max_body)
					return -1;
				if (lp_buf_add(&c->in, tmp, (size_t)r) || try_request(c))
					return -1;
				continue;
			}
			break;
		case ST_WRITE:
			if (c->out_off == c->out.len) {
				if (!c->keep_alive)
					return -1;
				c->st = ST_READ;
				if (try_request(c)) /* a request that came along */
					return -1;
				continue;
			}
			r = SSL_write(c->ssl, c->out.ptr + c->out_off,
			              (int)(c->out.len - c->out_off));
			if (r > 0) {
				c->out_off += (size_t)r;
				continue;
			}
			break;
		default:
			return -1;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			want(c, LP_LOOP_READ);
			return 0;
		}
		if (e == SSL_ERROR_WANT_WRITE) {
			want(c, LP_LOOP_WRITE);
			return 0;
		}
		return -1; /* closed by the peer, a TLS alert, an I/O error */
	}
}

static void conn_cb(struct lp_loop *loop, int fd, unsigned events, void *arg)
{
	struct conn *c = arg;
	(void)loop;
	(void)fd;
	(void)events;
	c->last_ms = now_ms(c->s);
	if (drive(c) != 0)
		conn_close(c);
}

static void accept_one(struct lp_https *s, int fd)
{
	struct conn *c = NULL;
	int fl;

	if (!s->ctx || s->n_conns >= s->max_conns)
		goto fail;
	fl = fcntl(fd, F_GETFL, 0);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		goto fail;
	c = lp_calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->s = s;
	c->fd = fd;
	lp_buf_init(&c->in, LP_HTTPS_MAX_HEAD + s->max_body + 1);
	lp_buf_init(&c->out, LP_BUF_DEFAULT_MAX);
	c->ssl = SSL_new(s->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1)
		goto fail;
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	c->want = LP_LOOP_READ;
	if (lp_loop_fd_add(s->loop, fd, LP_LOOP_READ, conn_cb, c, &c->w) != LP_OK)
		goto fail;
	c->last_ms = now_ms(s);
	s->conns[s->n_conns++] = c;
	if (drive(c) != 0)
		conn_close(c);
	return;
fail:
	if (c) {
		SSL_free(c->ssl);
		lp_buf_free(&c->in);
		lp_buf_free(&c->out);
		lp_free(c);
	}
	ERR_clear_error();
	close(fd);
}

static void listen_cb(struct lp_loop *loop, int fd, unsigned events, void *arg)
{
	struct lp_https *s = arg;
	(void)loop;
	(void)events;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		int cfd = accept(fd, NULL, NULL);
		if (cfd < 0)
			return; /* EAGAIN, or an error to retry on the next event */
		accept_one(s, cfd);
	}
}

static int64_t tick_cb(struct lp_loop *loop, void *arg)
{
	struct lp_https *s = arg;
	uint64_t now = now_ms(s);
	(void)loop;
	for (size_t i = s->n_conns; i-- > 0;)
		if (now - s->conns[i]->last_ms > s->idle_ms)
			conn_close(s->conns[i]);
	return 1000;
}

lp_err lp_https_new(struct lp_https **out, const struct lp_https_opts *o)
{
	struct lp_https *s = NULL;
	lp_err err = LP_ERR_INVALID;

	if (!out || !o || !o->loop || !o->handler)
		return LP_ERR_INVALID;
	s = lp_calloc(1, sizeof(*s));
	if (!s)
		return LP_ERR_NOMEM;
	s->fd = -1;
	s->loop = o->loop;
	s->clock = o->clock ? o->clock : &lp_clock_system;
	s->max_conns = o->max_conns ? o->max_conns : 128;
	s->max_body = o->max_body ? o->max_body : (size_t)8 << 20;
	s->idle_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 60000;
	s->handler = o->handler;
	s->hctx = o->ctx;
	err = LP_ERR_NOMEM;
	s->conns = lp_calloc(s->max_conns, sizeof(*s->conns));
	if (!s->conns)
		goto fail;
	err = lp_server_listen(o->host ? o->host : "0.0.0.0", o->port, &s->fd, &s->port);
	if (err)
		goto fail;
	if ((err = lp_loop_fd_add(s->loop, s->fd, LP_LOOP_READ, listen_cb, s, &s->listen_w)) ||
	    (err = lp_loop_timer_add(s->loop, 1000, tick_cb, s, &s->tick)))
		goto fail;
	*out = s;
	return LP_OK;
fail:
	lp_https_free(s);
	return err;
}

void lp_https_free(struct lp_https *s)
{
	if (!s)
		return;
	while (s->n_conns)
		conn_close(s->conns[s->n_conns - 1]);
	lp_loop_timer_del(s->loop, s->tick);
	lp_loop_fd_del(s->loop, s->listen_w);
	if (s->fd >= 0)
		close(s->fd);
	SSL_CTX_free(s->ctx);
	lp_free(s->conns);
	lp_free(s);
}

int lp_https_port(const struct lp_https *s)
{
	return s ? s->port : -1;
}

int lp_https_has_cert(const struct lp_https *s)
{
	return s && s->ctx;
}

size_t lp_https_conns(const struct lp_https *s)
{
	return s ? s->n_conns : 0;
}

lp_err lp_https_set_cert(struct lp_https *s, const char *cert_pem, const char *key_pem)
{
	SSL_CTX *ctx = NULL;
	BIO *cb = NULL, *kb = NULL;
	X509 *leaf = NULL, *extra = NULL;
	EVP_PKEY *key = NULL;
	lp_err err = LP_ERR_INVALID;

	if (!s || !cert_pem || !key_pem)
		return LP_ERR_INVALID;
	cb = BIO_new_mem_buf(cert_pem, -1);
	kb = BIO_new_mem_buf(key_pem, -1);
	ctx = SSL_CTX_new(TLS_server_method());
	if (!cb || !kb || !ctx) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto out;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	leaf = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	if (!leaf || !key || SSL_CTX_use_certificate(ctx, leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		goto out;
	while ((extra = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) { /* takes extra on success */
			X509_free(extra);
			goto out;
		}
	SSL_CTX_free(s->ctx); /* open connections hold their own reference */
	s->ctx = ctx;
	ctx = NULL;
	err = LP_OK;
out:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	X509_free(leaf);
	EVP_PKEY_free(key);
	BIO_free(cb);
	BIO_free(kb);
	return err;
}
