#include "client.h"
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include "../util/mem.h"

#define CLIENT_MAX_BODY           ((size_t)64 * 1024 * 1024)
#define CLIENT_DEFAULT_ATTEMPTS   5
#define CLIENT_DEFAULT_TIMEOUT_MS 30000L
#define CLIENT_BACKOFF_BASE_MS    250u
#define CLIENT_BACKOFF_CAP_MS     30000u

/* Text for humans: losing it to no memory must not change the outcome. */
static void best_effort(lp_err err)
{
	(void)err;
}

struct lp_kube_call {
	struct lp_kube_client *c;
	CURL *easy;
	struct curl_slist *headers;
	char *url;
	char *method;
	char *content_type;
	char *body;
	size_t body_len;
	int max_attempts;
	int attempt;
	long timeout_ms;
	char verb[8];
	lp_kube_done_cb cb;
	lp_kube_data_cb on_data;
	void *arg;
	struct lp_buf resp_body;
	struct lp_buf stream; /* streamed data not yet handed to on_data */
	int in_pending;       /* on the client's pending list */
	struct lp_kube_call *pending_next;
	long status;        /* of the current attempt, once known */
	long retry_after_s; /* -1 when absent */
	int in_multi;
	struct lp_loop_timer *retry_timer;
	struct lp_kube_call *prev, *next;
	char errbuf[CURL_ERROR_SIZE];
};

struct lp_kube_client {
	struct lp_loop *loop;
	struct lp_kube_config *cfg;
	CURLM *multi;
	struct lp_loop_timer *timer;
	int timer_running;
	long next_timeout;
	struct lp_kube_call *calls;
	struct lp_kube_call *pending; /* calls with streamed data to deliver */
	struct lp_kube_stats stats;
	uint32_t rng;
	char tls_error[CURL_ERROR_SIZE]; /* last TLS failure, "" after an answer */
	int closing;
};

static uint32_t client_rand(struct lp_kube_client *c)
{
	uint32_t x = c->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	c->rng = x ? x : 0x9e3779b9u;
	return c->rng;
}

/* ---- pure helpers ---- */

uint64_t lp_kube_backoff_ms(int n, uint64_t base_ms, uint64_t cap_ms, long retry_after_s,
                            uint32_t rnd)
{
	uint64_t d = base_ms;

	if (retry_after_s >= 0) {
		uint64_t ra = (uint64_t)retry_after_s * 1000u;
		return ra < cap_ms ? ra : cap_ms;
	}
	for (int i = 1; i < n && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	return d / 2 + (d - d / 2 ? rnd % (d - d / 2 + 1) : 0);
}

lp_err lp_kube_status_to_err(long status, const char *body, size_t len, struct lp_buf *reason,
                             struct lp_buf *message)
{
	json_t *st = NULL;
	const char *r = NULL, *m = NULL;
	lp_err err;

	if (status >= 200 && status < 300)
		err = LP_OK;
	else if (status == 0)
		err = LP_ERR_HTTP;
	else if (status == 401)
		err = LP_ERR_UNAUTHORIZED;
	else if (status == 403)
		err = LP_ERR_FORBIDDEN;
	else if (status == 404)
		err = LP_ERR_NOTFOUND;
	else if (status == 409)
		err = LP_ERR_CONFLICT;
	else if (status == 410)
		err = LP_ERR_GONE;
	else if (status == 413)
		err = LP_ERR_TOO_LARGE;
	else if (status == 415 || status == 405)
		err = LP_ERR_UNSUPPORTED;
	else if (status == 429)
		err = LP_ERR_THROTTLED;
	else if (status == 504 || status == 408)
		err = LP_ERR_TIMEOUT;
	else if (status >= 500)
		err = LP_ERR_SERVER;
	else
		err = LP_ERR_INVALID; /* 400, 422 and other 4xx */
	if (err && body && len > 0) {
		st = json_loadb(body, len, 0, NULL);
		if (json_is_object(st)) {
			const char *kind = json_string_value(json_object_get(st, "kind"));
			if (kind && strcmp(kind, "Status") == 0) {
				r = json_string_value(json_object_get(st, "reason"));
				m = json_string_value(json_object_get(st, "message"));
				if (r && (strcmp(r, "Expired") == 0 || strcmp(r, "Gone") == 0))
					err = LP_ERR_GONE;
			}
		}
	}
	if (reason) {
		lp_buf_reset(reason);
		if (r)
			best_effort(lp_buf_adds(reason, r));
	}
	if (message) {
		lp_buf_reset(message);
		if (m)
			best_effort(lp_buf_adds(message, m));
	}
	json_decref(st);
	return err;
}

/* ---- stats ---- */

static void stats_count(struct lp_kube_client *c, const char *verb, long code)
{
	struct lp_kube_stats *s = &c->stats;
	size_t i;

	for (i = 0; i < s->nrows; i++)
		if (s->rows[i].code == code && strcmp(s->rows[i].verb, verb) == 0) {
			s->rows[i].n++;
			return;
		}
	if (s->nrows == LP_KUBE_STATS_ROWS)
		return; /* table full: the rows kept stay exact */
	snprintf(s->rows[i].verb, sizeof(s->rows[i].verb), "%s", verb);
	s->rows[i].code = (int)code;
	s->rows[i].n = 1;
	s->nrows++;
}

const struct lp_kube_stats *lp_kube_client_stats(const struct lp_kube_client *c)
{
	return &c->stats;
}

const char *lp_kube_client_tls_error(const struct lp_kube_client *c)
{
	return c->tls_error;
}

struct lp_loop *lp_kube_client_loop(const struct lp_kube_client *c)
{
	return c->loop;
}

/* ---- call lifetime ---- */

static void call_unlink(struct lp_kube_call *k)
{
	struct lp_kube_client *c = k->c;

	if (k->prev)
		k->prev->next = k->next;
	else if (c->calls == k)
		c->calls = k->next;
	if (k->next)
		k->next->prev = k->prev;
	k->prev = k->next = NULL;
}

/* Detaches k from curl and the loop and frees it (no callback). */
static void call_free(struct lp_kube_call *k)
{
	struct lp_kube_client *c = k->c;

	if (k->in_multi) {
		curl_multi_remove_handle(c->multi, k->easy);
		k->in_multi = 0;
		c->stats.inflight--;
	}
	lp_loop_timer_del(c->loop, k->retry_timer);
	if (k->in_pending) {
		struct lp_kube_call **p = &c->pending;
		while (*p && *p != k)
			p = &(*p)->pending_next;
		if (*p)
			*p = k->pending_next;
		k->in_pending = 0;
	}
	call_unlink(k);
	if (k->easy)
		curl_easy_cleanup(k->easy);
	curl_slist_free_all(k->headers);
	lp_buf_free(&k->resp_body);
	lp_buf_free(&k->stream);
	lp_free(k->url);
	lp_free(k->method);
	lp_free(k->content_type);
	lp_free(k->body);
	lp_free(k);
}

/* Runs the completion callback and frees the call. */
static void call_complete(struct lp_kube_call *k, long status, lp_err transport_err,
                          const char *transport_msg)
{
	struct lp_kube_resp r;
	struct lp_buf reason, message;
	lp_kube_done_cb cb = k->cb;
	void *arg = k->arg;

	lp_buf_init(&reason, 1024);
	lp_buf_init(&message, 64 * 1024);
	memset(&r, 0, sizeof(r));
	r.status = status;
	r.attempts = k->attempt;
	r.body = k->resp_body;
	lp_buf_init(&k->resp_body, 0);
	if (transport_err) {
		r.err = transport_err;
		best_effort(lp_buf_adds(&message, transport_msg ? transport_msg : ""));
	} else {
		r.err = lp_kube_status_to_err(status, r.body.ptr, r.body.len, &reason, &message);
		if (r.err && message.len == 0)
			best_effort(lp_buf_addf(&message, "HTTP %ld", status));
	}
	r.reason = lp_buf_str(&reason);
	r.message = lp_buf_str(&message);
	k->cb = NULL;
	call_free(k);
	if (cb)
		cb(arg, &r);
	lp_buf_free(&r.body);
	lp_buf_free(&reason);
	lp_buf_free(&message);
}

/* ---- curl callbacks ---- */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct lp_kube_call *k = userdata;
	size_t n = size * nmemb;

	if (k->status == 0)
		curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &k->status);
	if (k->on_data && k->status >= 200 && k->status < 300) {
		/* Handed over after curl returns (deliver_streams): from inside a curl
		 * callback the owner could neither start nor cancel requests. */
		if (lp_buf_add(&k->stream, ptr, n) != LP_OK)
			return 0;
		if (!k->in_pending) {
			k->in_pending = 1;
			k->pending_next = k->c->pending;
			k->c->pending = k;
		}
		return n;
	}
	if (lp_buf_add(&k->resp_body, ptr, n) != LP_OK)
		return 0;
	return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct lp_kube_call *k = userdata;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		k->retry_after_s = -1;
		k->status = 0;
	} else if (n > 12 && strncasecmp(ptr, "retry-after:", 12) == 0) {
		char tmp[32];
		size_t m = n - 12 < sizeof(tmp) - 1 ? n - 12 : sizeof(tmp) - 1;
		char *end;
		long v;
		memcpy(tmp, ptr + 12, m);
		tmp[m] = '\0';
		v = strtol(tmp, &end, 10);
		if (end != tmp && v >= 0)
			k->retry_after_s = v;
	}
	return n;
}

static void check_done(struct lp_kube_client *c);

/* Hands streamed data to the owners, outside of any curl callback. An owner
 * that refuses data (non-zero) ends its call with LP_ERR_IO. */
static void deliver_streams(struct lp_kube_client *c)
{
	while (c->pending) {
		struct lp_kube_call *k = c->pending;
		struct lp_buf data = k->stream;
		int stop;

		c->pending = k->pending_next;
		k->in_pending = 0;
		k->pending_next = NULL;
		lp_buf_init(&k->stream, data.max);
		stop = data.len ? k->on_data(k->arg, data.ptr, data.len) : 0;
		lp_buf_free(&data);
		if (stop)
			call_complete(k, 0, LP_ERR_IO, "stream refused by its owner");
	}
}

/* After every curl_multi_socket_action: data first, then completions. */
static void after_action(struct lp_kube_client *c)
{
	deliver_streams(c);
	check_done(c);
}

static void on_sock_event(struct lp_loop *loop, int fd, unsigned events, void *arg)
{
	struct lp_kube_client *c = arg;
	int running = 0, mask = 0;

	(void)loop;
	if (events & LP_LOOP_READ)
		mask |= CURL_CSELECT_IN;
	if (events & LP_LOOP_WRITE)
		mask |= CURL_CSELECT_OUT;
	if (events & LP_LOOP_ERROR)
		mask |= CURL_CSELECT_ERR;
	curl_multi_socket_action(c->multi, fd, mask, &running);
	after_action(c);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct lp_kube_client *c = userp;
	struct lp_loop_fd *w = socketp;
	unsigned ev = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		lp_loop_fd_del(c->loop, w);
		curl_multi_assign(c->multi, s, NULL);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= LP_LOOP_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= LP_LOOP_WRITE;
	if (w)
		return lp_loop_fd_set(c->loop, w, ev) ? -1 : 0;
	if (lp_loop_fd_add(c->loop, s, ev, on_sock_event, c, &w) != LP_OK)
		return -1;
	curl_multi_assign(c->multi, s, w);
	return 0;
}

static int64_t on_curl_timer(struct lp_loop *loop, void *arg)
{
	struct lp_kube_client *c = arg;
	int running = 0;

	(void)loop;
	c->timer_running = 1;
	c->next_timeout = -1;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	after_action(c);
	c->timer_running = 0;
	if (c->next_timeout < 0) {
		c->timer = NULL;
		return -1;
	}
	return c->next_timeout;
}

static int on_timerfunction(CURLM *multi, long timeout_ms, void *userp)
{
	struct lp_kube_client *c = userp;

	(void)multi;
	c->next_timeout = timeout_ms;
	if (c->timer_running)
		return 0; /* on_curl_timer returns it */
	if (timeout_ms < 0) {
		lp_loop_timer_del(c->loop, c->timer);
		c->timer = NULL;
		return 0;
	}
	if (c->timer) {
		lp_loop_timer_set(c->loop, c->timer, timeout_ms);
		return 0;
	}
	return lp_loop_timer_add(c->loop, timeout_ms, on_curl_timer, c, &c->timer) ? -1 : 0;
}

/* ---- attempts ---- */

static lp_err call_send(struct lp_kube_call *k);

static int64_t on_retry_timer(struct lp_loop *loop, void *arg)
{
	struct lp_kube_call *k = arg;
	lp_err err;

	(void)loop;
	k->retry_timer = NULL;
	err = call_send(k);
	if (err)
		call_complete(k, 0, err, "cannot start the request");
	return -1;
}

static int should_retry(const struct lp_kube_call *k, CURLcode res, long status)
{
	if (k->on_data || k->attempt >= k->max_attempts || k->c->closing)
		return 0;
	switch (res) {
	case CURLE_OK:
		break;
	case CURLE_WRITE_ERROR: /* our own abort */
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_OUT_OF_MEMORY:
		return 0; /* retrying cannot help */
	default:
		return 1;
	}
	/* a 401 with a token file: the token may just have rotated (once) */
	if (status == 401 && k->c->cfg->token_file && k->attempt == 1)
		return 1;
	return status == 429 || (status >= 500 && status != 501);
}

static void check_done(struct lp_kube_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		struct lp_kube_call *k = NULL;
		CURLcode res;
		long status = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		res = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&k);
		if (!k)
			continue;
		curl_multi_remove_handle(c->multi, k->easy);
		k->in_multi = 0;
		c->stats.inflight--;
		if (res == CURLE_OK)
			curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &status);
		if (res == CURLE_OK)
			c->tls_error[0] = '\0';
		else if (res == CURLE_PEER_FAILED_VERIFICATION || res == CURLE_SSL_CACERT_BADFILE ||
		         res == CURLE_SSL_CERTPROBLEM || res == CURLE_SSL_CONNECT_ERROR)
			snprintf(c->tls_error, sizeof(c->tls_error), "%s",
			         k->errbuf[0] ? k->errbuf : curl_easy_strerror(res));
		stats_count(c, k->verb, res == CURLE_OK ? status : 0);
		if (should_retry(k, res, status)) {
			uint64_t d;
			if (status == 401)
				c->cfg->token_read_once = 0; /* re-read the token file now */
			d = lp_kube_backoff_ms(
			    k->attempt, CLIENT_BACKOFF_BASE_MS, CLIENT_BACKOFF_CAP_MS,
			    res == CURLE_OK ? k->retry_after_s : -1, client_rand(c));
			lp_buf_reset(&k->resp_body);
			if (lp_loop_timer_add(c->loop, (int64_t)d, on_retry_timer, k,
			                      &k->retry_timer) == LP_OK)
				continue;
		}
		if (res != CURLE_OK) {
			char msg[CURL_ERROR_SIZE + 64];
			snprintf(msg, sizeof(msg), "%s",
			         k->errbuf[0] ? k->errbuf : curl_easy_strerror(res));
			call_complete(k, 0,
			              res == CURLE_OPERATION_TIMEDOUT ? LP_ERR_TIMEOUT
			              : res == CURLE_WRITE_ERROR      ? LP_ERR_IO
			                                              : LP_ERR_HTTP,
			              msg);
		} else {
			call_complete(k, status, LP_OK, NULL);
		}
	}
}

/* Builds headers (the token may have rotated) and hands the easy handle to curl. */
static lp_err call_send(struct lp_kube_call *k)
{
	struct lp_kube_client *c = k->c;
	struct curl_slist *h = NULL, *t;
	struct lp_buf line;
	const char *tok = lp_kube_config_token(c->cfg, lp_loop_now_ms(c->loop));
	lp_err err = LP_OK;

	lp_buf_init(&line, 64 * 1024);
	h = curl_slist_append(NULL, "Accept: application/json");
	if (!h)
		return LP_ERR_NOMEM;
	if (tok) {
		err = lp_buf_addf(&line, "Authorization: Bearer %s", tok);
		if (err)
			goto fail;
		t = curl_slist_append(h, lp_buf_str(&line));
		if (!t)
			goto nomem;
		h = t;
	}
	if (k->body) {
		lp_buf_reset(&line);
		err = lp_buf_addf(&line, "Content-Type: %s", k->content_type);
		if (err)
			goto fail;
		t = curl_slist_append(h, lp_buf_str(&line));
		if (!t)
			goto nomem;
		h = t;
	}
	t = curl_slist_append(h, "Expect:");
	if (!t)
		goto nomem;
	h = t;
	curl_slist_free_all(k->headers);
	k->headers = h;
	h = NULL;
	curl_easy_setopt(k->easy, CURLOPT_HTTPHEADER, k->headers);
	k->attempt++;
	k->status = 0;
	k->retry_after_s = -1;
	k->errbuf[0] = '\0';
	lp_buf_reset(&k->resp_body);
	if (curl_multi_add_handle(c->multi, k->easy) != CURLM_OK) {
		err = LP_ERR_HTTP;
		goto fail;
	}
	k->in_multi = 1;
	c->stats.inflight++;
	c->stats.requests++;
	if (k->attempt > 1)
		c->stats.retries++;
	lp_buf_free(&line);
	return LP_OK;
nomem:
	err = LP_ERR_NOMEM;
fail:
	curl_slist_free_all(h);
	lp_buf_free(&line);
	return err;
}

/* Idle TLS connections (watches, mostly) give back their 2 x 16 KiB record
 * buffers: with one connection per watch over HTTP/1.1 that is most of their cost. */
static CURLcode on_ssl_ctx(CURL *easy, void *ssl_ctx, void *arg)
{
	(void)easy;
	(void)arg;
	SSL_CTX_set_mode((SSL_CTX *)ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
	return CURLE_OK;
}

static lp_err easy_setup(struct lp_kube_call *k)
{
	struct lp_kube_config *cfg = k->c->cfg;
	CURL *e = k->easy;
	struct curl_blob blob;
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(e, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, k->url);
	SET(CURLOPT_PRIVATE, k);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, k->errbuf);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, k);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, k);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SET(CURLOPT_PIPEWAIT, 1L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	SET(CURLOPT_TIMEOUT_MS, k->timeout_ms);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_USERAGENT, "logplane-operator");
	SET(CURLOPT_ACCEPT_ENCODING, ""); /* gzip when the server offers it */
	SET(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	/* libcurl's default 64 KiB upload buffer per handle dominates the cost of
	 * an idle watch; the minimum (16 KiB) still sends 1 MiB bodies quickly */
	SET(CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
	if (k->on_data)
		SET(CURLOPT_BUFFERSIZE, 4096L); /* watch events are small and rare */
	if (cfg->ca_data.data) {
		blob.data = cfg->ca_data.data;
		blob.len = cfg->ca_data.len;
		blob.flags = CURL_BLOB_COPY;
		SET(CURLOPT_CAINFO_BLOB, &blob);
	} else if (cfg->ca_file) {
		SET(CURLOPT_CAINFO, cfg->ca_file);
	}
	if (cfg->cert_data.data) {
		blob.data = cfg->cert_data.data;
		blob.len = cfg->cert_data.len;
		blob.flags = CURL_BLOB_COPY;
		SET(CURLOPT_SSLCERT_BLOB, &blob);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
	} else if (cfg->cert_file) {
		SET(CURLOPT_SSLCERT, cfg->cert_file);
	}
	if (cfg->key_data.data) {
		blob.data = cfg->key_data.data;
		blob.len = cfg->key_data.len;
		blob.flags = CURL_BLOB_COPY;
		SET(CURLOPT_SSLKEY_BLOB, &blob);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	} else if (cfg->key_file) {
		SET(CURLOPT_SSLKEY, cfg->key_file);
	}
	if (strcmp(k->method, "GET") == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else {
		SET(CURLOPT_CUSTOMREQUEST, k->method);
		if (k->body) {
			SET(CURLOPT_POSTFIELDS, k->body);
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)k->body_len);
		}
	}
#undef SET
	return rc == CURLE_OK ? LP_OK : rc == CURLE_OUT_OF_MEMORY ? LP_ERR_NOMEM : LP_ERR_INVALID;
}

lp_err lp_kube_call_start(struct lp_kube_client *c, const struct lp_kube_req *req,
                          lp_kube_done_cb cb, void *arg, struct lp_kube_call **call)
{
	struct lp_kube_call *k = NULL;
	struct lp_buf url;
	lp_err err;

	if (!c || !req || !req->method || !req->path || req->path[0] != '/' || c->closing)
		return LP_ERR_INVALID;
	lp_buf_init(&url, 64 * 1024);
	k = lp_calloc(1, sizeof(*k));
	if (!k)
		return LP_ERR_NOMEM;
	k->c = c;
	k->cb = cb;
	k->arg = arg;
	k->on_data = req->on_data;
	k->max_attempts = req->max_attempts > 0 ? req->max_attempts : CLIENT_DEFAULT_ATTEMPTS;
	k->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : CLIENT_DEFAULT_TIMEOUT_MS;
	k->retry_after_s = -1;
	snprintf(k->verb, sizeof(k->verb), "%s", req->verb ? req->verb : req->method);
	lp_buf_init(&k->resp_body, CLIENT_MAX_BODY);
	lp_buf_init(&k->stream, CLIENT_MAX_BODY);
	err = lp_buf_addf(&url, "%s%s", c->cfg->server, req->path);
	if (err)
		goto fail;
	k->url = lp_buf_take(&url);
	k->method = lp_strdup(req->method);
	k->content_type = lp_strdup(req->content_type ? req->content_type : "application/json");
	if (req->body) {
		k->body = lp_strndup(req->body, req->body_len);
		k->body_len = req->body_len;
		if (!k->body || strlen(k->body) != req->body_len) {
			err = k->body ? LP_ERR_INVALID : LP_ERR_NOMEM; /* NUL in body */
			goto fail;
		}
	}
	k->easy = curl_easy_init();
	if (!k->url || !k->method || !k->content_type || !k->easy) {
		err = LP_ERR_NOMEM;
		goto fail;
	}
	err = easy_setup(k);
	if (err)
		goto fail;
	k->next = c->calls;
	if (c->calls)
		c->calls->prev = k;
	c->calls = k;
	err = call_send(k);
	if (err)
		goto fail;
	if (call)
		*call = k;
	return LP_OK;
fail:
	lp_buf_free(&url);
	call_free(k);
	return err;
}

void lp_kube_call_cancel(struct lp_kube_client *c, struct lp_kube_call *k)
{
	(void)c;
	if (k)
		call_free(k);
}

/* ---- sync ---- */

struct sync_state {
	int done;
	struct lp_kube_resp *out;
};

/* "" stays a static ""; anything else is copied (lp_kube_resp_free frees it). */
static const char *dup_or_empty(const char *s)
{
	char *d;

	if (!s || !*s)
		return "";
	d = lp_strdup(s);
	return d ? d : "";
}

static void on_sync_done(void *arg, struct lp_kube_resp *r)
{
	struct sync_state *s = arg;

	*s->out = *r;
	lp_buf_init(&r->body, 0); /* moved */
	s->out->reason = dup_or_empty(r->reason);
	s->out->message = dup_or_empty(r->message);
	s->done = 1;
}

lp_err lp_kube_call_sync(struct lp_kube_client *c, const struct lp_kube_req *req,
                         struct lp_kube_resp *out)
{
	struct sync_state s = {0, NULL};
	struct lp_kube_resp tmp;
	struct lp_kube_call *k = NULL;
	long t = req->timeout_ms > 0 ? req->timeout_ms : CLIENT_DEFAULT_TIMEOUT_MS;
	int attempts = req->max_attempts > 0 ? req->max_attempts : CLIENT_DEFAULT_ATTEMPTS;
	lp_err err;

	memset(&tmp, 0, sizeof(tmp));
	s.out = &tmp;
	err = lp_kube_call_start(c, req, on_sync_done, &s, &k);
	if (err)
		return err;
	err = lp_loop_run_until(c->loop, &s.done,
	                        (int64_t)t * attempts + (int64_t)CLIENT_BACKOFF_CAP_MS * attempts);
	if (!s.done) {
		lp_kube_call_cancel(c, k);
		return err ? err : LP_ERR_TIMEOUT;
	}
	*out = tmp;
	return out->err;
}

void lp_kube_resp_free(struct lp_kube_resp *r)
{
	if (!r)
		return;
	lp_buf_free(&r->body);
	if (r->reason && *r->reason)
		lp_free((char *)r->reason);
	if (r->message && *r->message)
		lp_free((char *)r->message);
	r->reason = r->message = NULL;
}

/* ---- client ---- */

lp_err lp_kube_client_new(struct lp_kube_client **out, struct lp_loop *loop,
                          struct lp_kube_config *cfg)
{
	struct lp_kube_client *c;

	if (!loop || !cfg || !cfg->server)
		return LP_ERR_INVALID;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return LP_ERR_HTTP;
	c = lp_calloc(1, sizeof(*c));
	if (!c)
		return LP_ERR_NOMEM;
	c->loop = loop;
	c->cfg = cfg;
	c->rng = (uint32_t)lp_clock_mono_ns() ^ (uint32_t)(uintptr_t)c;
	if (!c->rng)
		c->rng = 1;
	c->multi = curl_multi_init();
	if (!c->multi) {
		lp_free(c);
		return LP_ERR_NOMEM;
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timerfunction);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	*out = c;
	return LP_OK;
}

void lp_kube_client_free(struct lp_kube_client *c)
{
	if (!c)
		return;
	c->closing = 1;
	while (c->calls)
		call_complete(c->calls, 0, LP_ERR_IO, "client closed");
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, NULL);
	lp_loop_timer_del(c->loop, c->timer);
	c->timer = NULL;
	curl_multi_cleanup(c->multi); /* sockets still watched are removed via on_socket */
	lp_free(c);
}
