/* pkg/hub/hub: the live-tail hub's server side on libwebsockets: ingest,
 * subscriptions, bounded fan-out, the page and the metrics (see hub.h). */
#include "hub.h"
#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include "../api/check.h"
#include "../util/mem.h"
#include "alert.h"
#include "filter.h"

#define SUB_MSG_MAX   65536u /* a subscription message */
#define WRITES_PER_CB 64     /* records written per writable callback */
#define HTTP_CHUNK    16384u

/* A record as sent to subscribers, shared by every queue holding it. */
struct msg {
	unsigned refs;
	size_t len;
	unsigned char data[]; /* LWS_PRE bytes of headroom, then len bytes of JSON */
};

enum conn_kind { CONN_NONE = 0, CONN_INGEST, CONN_TAIL, CONN_HTTP_INGEST, CONN_HTTP_RESP };
enum tail_state { TAIL_WAIT_SUB = 0, TAIL_WAIT_AUTH, TAIL_ACTIVE, TAIL_CLOSING };

/* Per-connection state (lws allocates it zeroed, per_session_data_size). */
struct conn {
	enum conn_kind kind;
	struct lws *wsi;
	char ns[64];
	char name[256];
	int alert;        /* /alert/...: records of an alert target */
	struct lp_buf in; /* a message or body being assembled */
	int skipping;     /* the message being received is over the cap: dropped */
	/* subscribers */
	struct conn *prev, *next;
	enum tail_state state;
	uint64_t id;
	struct lp_hub_filter *filter;
	struct msg **ring;
	size_t head, count, cap;
	size_t bytes; /* queued */
	uint64_t dropped, dropped_told;
	struct lp_buf ctrl; /* control messages to send, each NUL-separated */
	/* HTTP responses */
	const char *resp;
	size_t resp_len, resp_off;
	struct lp_buf resp_buf;
};

struct lp_hub {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct lws_protocols protocols[2];
	int port;
	char control_ns[64];
	size_t queue_len;
	size_t queue_bytes;
	size_t max_subscribers;
	struct lp_hub_authz *authz;
	struct lp_hub_alerts *alerts; /* NULL: no --alerts-file */
	const char *page;
	size_t page_len;
	char *ingest_token; /* "Bearer <token>", owned; NULL: ingest is open */
	const struct lp_log *log;
	struct conn *subs; /* every /tail connection */
	size_t nsubs;
	uint64_t next_id;
	struct lp_hub_stats st;
};

static void msg_unref(struct msg *m)
{
	if (m && --m->refs == 0)
		lp_free(m);
}

static struct lp_hub *hub_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* ---------- subscribers ---------- */

static void sub_unlink(struct lp_hub *h, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (h->subs == c)
		h->subs = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void conn_release(struct lp_hub *h, struct conn *c)
{
	if (c->kind == CONN_TAIL) {
		sub_unlink(h, c);
		h->nsubs--;
		if (c->state == TAIL_ACTIVE && h->st.subscribers)
			h->st.subscribers--;
		while (c->count) {
			msg_unref(c->ring[c->head]);
			c->head = (c->head + 1) % c->cap;
			c->count--;
		}
		lp_free(c->ring);
		c->ring = NULL;
		lp_hub_filter_free(c->filter);
		c->filter = NULL;
	}
	if (c->kind == CONN_INGEST && h->st.ingest_conns)
		h->st.ingest_conns--;
	lp_buf_free(&c->in);
	lp_buf_free(&c->ctrl);
	lp_buf_free(&c->resp_buf);
	c->kind = CONN_NONE;
}

/* Queues a control message (JSON built by the caller, stolen) for c. */
static void ctrl_push(struct conn *c, json_t *o)
{
	char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (!t)
		return;
	if (lp_buf_adds(&c->ctrl, t) == LP_OK && lp_buf_addc(&c->ctrl, '\0') == LP_OK)
		lws_callback_on_writable(c->wsi);
	free(t);
}

static void sub_fail(struct lp_hub *h, struct conn *c, const char *why)
{
	h->st.denied++;
	ctrl_push(c, json_pack("{s:s, s:s}", "type", "error", "message", why));
	c->state = TAIL_CLOSING;
}

static void sub_activate(struct lp_hub *h, struct conn *c, const char *user)
{
	c->cap = h->queue_len;
	c->ring = lp_calloc(c->cap, sizeof(*c->ring));
	if (!c->ring) {
		sub_fail(h, c, "the hub is out of memory");
		return;
	}
	c->state = TAIL_ACTIVE;
	h->st.subscribers++;
	ctrl_push(c,
	          json_pack("{s:s, s:s, s:s, s:I}", "type", "subscribed", "user", user, "namespace",
	                    lp_hub_filter_namespace(c->filter), "queue", (json_int_t)c->cap));
}

/* The first message of a /tail connection: the subscription. */
static void sub_request(struct lp_hub *h, struct conn *c)
{
	json_error_t jerr;
	json_t *req = json_loadb(lp_buf_str(&c->in), c->in.len, 0, &jerr);
	struct lp_buf why;
	const char *token;
	lp_err err;

	lp_buf_init(&why, 1024);
	if (!json_is_object(req)) {
		sub_fail(h, c, "the first message must be a JSON object: the subscription");
		goto out;
	}
	err = lp_hub_filter_parse(&c->filter, req, &why);
	if (err) {
		sub_fail(h, c, err == LP_ERR_NOMEM ? "the hub is out of memory" : lp_buf_str(&why));
		goto out;
	}
	if (!h->authz) {
		sub_activate(h, c, "");
		goto out;
	}
	token = json_string_value(json_object_get(req, "token"));
	if (!token || !*token || lp_check_string(token, strlen(token), LP_STR_TEXT, 16384)) {
		sub_fail(
		    h, c,
		    "token: a bearer token is required (the hub checks it with a TokenReview)");
		goto out;
	}
	c->state = TAIL_WAIT_AUTH;
	if (lp_hub_authz_submit(h->authz, c->id, token, lp_hub_filter_namespace(c->filter)))
		sub_fail(h, c, "the hub is busy checking other subscriptions: try again");
out:
	if (req) {
		json_t *t = json_object_get(req, "token");
		if (json_is_string(t)) /* do not leave the token in freed memory */
			OPENSSL_cleanse((void *)json_string_value(t), json_string_length(t));
	}
	json_decref(req);
	if (c->in.ptr)
		OPENSSL_cleanse(c->in.ptr, c->in.len);
	lp_buf_free(&c->in);
	lp_buf_free(&why);
}

static void authz_results(struct lp_hub *h)
{
	struct lp_hub_authz_result r;

	while (h->authz && lp_hub_authz_poll(h->authz, &r)) {
		struct conn *c = h->subs;
		while (c && c->id != r.id)
			c = c->next;
		if (!c || c->state != TAIL_WAIT_AUTH)
			continue; /* gone meanwhile */
		if (r.allowed)
			sub_activate(h, c, r.user);
		else
			sub_fail(h, c, r.why);
	}
}

static void enqueue(struct lp_hub *h, struct conn *c, struct msg *m)
{
	while (c->count && (c->count == c->cap || c->bytes + m->len > h->queue_bytes)) {
		/* full: the oldest goes, the stream stays live */
		c->bytes -= c->ring[c->head]->len;
		msg_unref(c->ring[c->head]);
		c->head = (c->head + 1) % c->cap;
		c->count--;
		c->dropped++;
		h->st.records_dropped++;
	}
	c->bytes += m->len;
	m->refs++;
	c->ring[(c->head + c->count) % c->cap] = m;
	c->count++;
	lws_callback_on_writable(c->wsi);
}

/* Writes what c has to send while the socket takes it. -1: close. */
static int sub_write(struct lp_hub *h, struct conn *c)
{
	for (int n = 0; n < WRITES_PER_CB; n++) {
		if (c->ctrl.len) {
			size_t l = strlen(c->ctrl.ptr);
			unsigned char *b = lp_malloc(LWS_PRE + l + 1);
			int w;
			if (!b)
				return -1;
			memcpy(b + LWS_PRE, c->ctrl.ptr, l);
			w = lws_write(c->wsi, b + LWS_PRE, l, LWS_WRITE_TEXT);
			lp_free(b);
			if (w < (int)l)
				return -1;
			memmove(c->ctrl.ptr, c->ctrl.ptr + l + 1, c->ctrl.len - l - 1);
			c->ctrl.len -= l + 1;
		} else if (c->state == TAIL_CLOSING) {
			lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL, 0);
			return -1;
		} else if (c->state != TAIL_ACTIVE) {
			return 0;
		} else if (c->dropped > c->dropped_told) {
			unsigned char b[LWS_PRE + 64];
			int l = snprintf((char *)b + LWS_PRE, 64,
			                 "{\"type\":\"dropped\",\"dropped\":%llu}",
			                 (unsigned long long)c->dropped);
			if (lws_write(c->wsi, b + LWS_PRE, (size_t)l, LWS_WRITE_TEXT) < l)
				return -1;
			c->dropped_told = c->dropped;
		} else if (c->count) {
			struct msg *m = c->ring[c->head];
			c->ring[c->head] = NULL;
			c->head = (c->head + 1) % c->cap;
			c->count--;
			c->bytes -= m->len;
			if (lws_write(c->wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT) <
			    (int)m->len) {
				msg_unref(m);
				return -1;
			}
			msg_unref(m);
			h->st.records_out++;
		} else {
			return 0;
		}
		if (lws_send_pipe_choked(c->wsi))
			break;
	}
	lws_callback_on_writable(c->wsi);
	return 0;
}

/* ---------- ingest ---------- */

static struct msg *build(json_t *rec, const struct lp_hub_fields *f)
{
	json_t *o = json_object();
	json_t *t = json_object_get(rec, "date");
	struct msg *m = NULL;
	size_t n;

	if (!o)
		return NULL;
	json_object_set_new(o, "type", json_string("record"));
	json_object_set(o, "time", t ? t : json_null());
	json_object_set_new(o, "namespace", json_string(f->ns));
	json_object_set_new(o, "pod", json_string(f->pod));
	json_object_set_new(o, "container", json_string(f->container));
	json_object_set_new(o, "level",
	                    json_string(f->level != LP_HUB_LVL_UNKNOWN ? lp_hub_level_name(f->level)
	                                                               : f->level_text));
	json_object_set_new(o, "message", json_stringn(f->msg, f->msg_len));
	json_object_set(o, "record", rec);
	n = json_dumpb(o, NULL, 0, JSON_COMPACT);
	if (n)
		m = lp_malloc(sizeof(*m) + LWS_PRE + n);
	if (m) {
		m->refs = 1;
		m->len = json_dumpb(o, (char *)m->data + LWS_PRE, n, JSON_COMPACT);
	}
	json_decref(o);
	return m;
}

static void ingest_record(struct lp_hub *h, const struct conn *src, json_t *rec)
{
	struct lp_hub_fields f;
	struct msg *m = NULL;

	if (!json_is_object(rec)) {
		h->st.records_bad++;
		return;
	}
	h->st.records_in++;
	lp_hub_fields_from_record(&f, rec, src->ns);
	if (strcmp(src->ns, h->control_ns) != 0 && strcmp(f.ns, src->ns) != 0) {
		h->st.records_spoofed++;
		return;
	}
	if (src->alert) {
		if (h->alerts)
			lp_hub_alerts_record(h->alerts, src->ns, src->name, &f, rec);
		else
			h->st.alert_records_unrouted++;
		return;
	}
	for (struct conn *c = h->subs; c; c = c->next) {
		if (c->state != TAIL_ACTIVE ||
		    !lp_hub_filter_match(c->filter, &f, &h->st.regex_aborted))
			continue;
		if (!m)
			m = build(rec, &f);
		if (!m)
			return;
		enqueue(h, c, m);
	}
	msg_unref(m);
}

static void ingest_value(struct lp_hub *h, const struct conn *src, json_t *v)
{
	size_t i;

	if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++)
			ingest_record(h, src, json_array_get(v, i));
	} else {
		ingest_record(h, src, v);
	}
}

/* One message (WebSocket) or body (HTTP): JSON values one after another. */
static void ingest_text(struct lp_hub *h, const struct conn *src, const char *p, size_t len)
{
	json_error_t jerr;

	while (len) {
		json_t *v;
		while (len && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
			p++;
			len--;
		}
		if (!len)
			break;
		v = json_loadb(p, len, JSON_DISABLE_EOF_CHECK, &jerr);
		if (!v || jerr.position <= 0 || (size_t)jerr.position > len) {
			json_decref(v);
			h->st.records_bad++;
			return;
		}
		ingest_value(h, src, v);
		json_decref(v);
		p += jerr.position;
		len -= (size_t)jerr.position;
	}
}

/* "/ingest/<ns>/<name>" (livetail) or "/alert/<ns>/<name>" (alert) into
 * c->ns, c->name and c->alert; 0 when the path is neither. */
static int ingest_path(struct conn *c, const char *uri)
{
	const char *p = uri, *slash;
	size_t nl;

	if (strncmp(p, "/ingest/", 8) == 0) {
		c->alert = 0;
		p += 8;
	} else if (strncmp(p, "/alert/", 7) == 0) {
		c->alert = 1;
		p += 7;
	} else {
		return 0;
	}
	slash = strchr(p, '/');
	if (!slash)
		return 0;
	nl = (size_t)(slash - p);
	if (nl == 0 || nl >= sizeof(c->ns) || strlen(slash + 1) >= sizeof(c->name))
		return 0;
	memcpy(c->ns, p, nl);
	c->ns[nl] = 0;
	snprintf(c->name, sizeof(c->name), "%s", slash + 1);
	return !lp_check_string(c->ns, nl, LP_STR_DNS_LABEL, 0) &&
	       !lp_check_string(c->name, strlen(c->name), LP_STR_DNS_SUBDOMAIN, 0);
}

/* 1 when the request carries the ingest token (or the hub has none). The
 * comparison takes the same time wherever the first difference is. */
static int ingest_authorized(const struct lp_hub *h, struct lws *wsi)
{
	char got[512];
	size_t want;
	int n, ok;

	if (!h->ingest_token)
		return 1;
	want = strlen(h->ingest_token);
	n = lws_hdr_copy(wsi, got, sizeof(got), WSI_TOKEN_HTTP_AUTHORIZATION);
	ok = n > 0 && (size_t)n == want && CRYPTO_memcmp(got, h->ingest_token, want) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

/* Appends a received piece; returns 1 when the message is complete. */
static int assemble(struct lws *wsi, struct conn *c, const void *in, size_t len, size_t cap)
{
	if (!c->skipping) {
		c->in.max = cap;
		if (lp_buf_add(&c->in, in, len) != LP_OK)
			c->skipping = 1; /* over the cap (the buffer freed itself) */
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	if (c->skipping) {
		c->skipping = 0;
		lp_buf_free(&c->in);
		return -1;
	}
	return 1;
}

/* ---------- HTTP ---------- */

static int http_respond(struct lws *wsi, struct conn *c, unsigned code, const char *ctype,
                        const char *body, size_t len)
{
	unsigned char hdr[LWS_PRE + 512];
	unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;

	c->kind = CONN_HTTP_RESP;
	c->resp = body;
	c->resp_len = len;
	c->resp_off = 0;
	if (lws_add_http_common_headers(wsi, code, ctype, (lws_filepos_t)len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
	                                (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int http_write(struct lws *wsi, struct conn *c)
{
	unsigned char b[LWS_PRE + HTTP_CHUNK];
	size_t n = c->resp_len - c->resp_off;
	int final;

	if (n > HTTP_CHUNK)
		n = HTTP_CHUNK;
	final = c->resp_off + n == c->resp_len;
	memcpy(b + LWS_PRE, c->resp + c->resp_off, n);
	if (lws_write(wsi, b + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
		return -1;
	c->resp_off += n;
	if (!final) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	lp_buf_free(&c->resp_buf);
	c->kind = CONN_NONE;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static lp_err alert_metrics(const struct lp_hub *h, struct lp_buf *b)
{
	struct lp_hub_alert_stats a = {0};
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} rows[] = {
	    {"records_total", "counter", "Records of alert targets grouped.",
	     offsetof(struct lp_hub_alert_stats, records)},
	    {"records_unknown_total", "counter",
	     "Records for an alert target the hub does not know (dropped).",
	     offsetof(struct lp_hub_alert_stats, records_unknown)},
	    {"records_posted_total", "counter", "Records counted in delivered alert messages.",
	     offsetof(struct lp_hub_alert_stats, records_posted)},
	    {"records_failed_total", "counter", "Records counted in alert messages given up on.",
	     offsetof(struct lp_hub_alert_stats, records_failed)},
	    {"posts_total", "counter", "Alert messages delivered.",
	     offsetof(struct lp_hub_alert_stats, posts)},
	    {"posts_failed_total", "counter", "Alert messages given up on.",
	     offsetof(struct lp_hub_alert_stats, posts_failed)},
	    {"retries_total", "counter", "Alert messages sent again (429, 5xx, transport).",
	     offsetof(struct lp_hub_alert_stats, retries)},
	    {"throttled_total", "counter", "429 answers from alert webhooks.",
	     offsetof(struct lp_hub_alert_stats, throttled)},
	    {"rate_limited_total", "counter", "Alert messages held back by maxPerMinute.",
	     offsetof(struct lp_hub_alert_stats, rate_limited)},
	    {"targets", "gauge", "Alert targets loaded.",
	     offsetof(struct lp_hub_alert_stats, targets)},
	};
	lp_err err = LP_OK;

	if (h->alerts)
		lp_hub_alerts_stats(h->alerts, &a);
	a.records_unknown += h->st.alert_records_unrouted;
	for (size_t i = 0; !err && i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t v;
		memcpy(&v, (const char *)&a + rows[i].off, sizeof(v));
		err =
		    lp_buf_addf(b,
		                "# HELP logplane_hub_alert_%s %s\n# TYPE logplane_hub_alert_%s %s\n"
		                "logplane_hub_alert_%s %llu\n",
		                rows[i].name, rows[i].help, rows[i].name, rows[i].type,
		                rows[i].name, (unsigned long long)v);
	}
	return err;
}

static lp_err metrics_text(const struct lp_hub *h, struct lp_buf *b)
{
	const struct lp_hub_stats *s = &h->st;
	return lp_buf_addf(
	    b,
	    "# HELP logplane_hub_records_in_total Records received from the agents.\n"
	    "# TYPE logplane_hub_records_in_total counter\n"
	    "logplane_hub_records_in_total %llu\n"
	    "# HELP logplane_hub_records_out_total Records written to subscribers.\n"
	    "# TYPE logplane_hub_records_out_total counter\n"
	    "logplane_hub_records_out_total %llu\n"
	    "# HELP logplane_hub_records_dropped_total Records lost by slow subscribers.\n"
	    "# TYPE logplane_hub_records_dropped_total counter\n"
	    "logplane_hub_records_dropped_total %llu\n"
	    "# HELP logplane_hub_records_spoofed_total Records dropped for naming another "
	    "namespace than their tenant LogOutput's.\n"
	    "# TYPE logplane_hub_records_spoofed_total counter\n"
	    "logplane_hub_records_spoofed_total %llu\n"
	    "# HELP logplane_hub_ingest_refused_total Ingest requests without the agents' token.\n"
	    "# TYPE logplane_hub_ingest_refused_total counter\n"
	    "logplane_hub_ingest_refused_total %llu\n"
	    "# HELP logplane_hub_ingest_bad_total Ingest messages that were not JSON records.\n"
	    "# TYPE logplane_hub_ingest_bad_total counter\n"
	    "logplane_hub_ingest_bad_total %llu\n"
	    "# HELP logplane_hub_regex_aborted_total Regex searches cut off by the retry limit.\n"
	    "# TYPE logplane_hub_regex_aborted_total counter\n"
	    "logplane_hub_regex_aborted_total %llu\n"
	    "# HELP logplane_hub_subscriptions_denied_total Subscriptions refused.\n"
	    "# TYPE logplane_hub_subscriptions_denied_total counter\n"
	    "logplane_hub_subscriptions_denied_total %llu\n"
	    "# HELP logplane_hub_subscribers Authorised subscribers now.\n"
	    "# TYPE logplane_hub_subscribers gauge\n"
	    "logplane_hub_subscribers %llu\n"
	    "# HELP logplane_hub_ingest_connections Agent connections now.\n"
	    "# TYPE logplane_hub_ingest_connections gauge\n"
	    "logplane_hub_ingest_connections %llu\n",
	    (unsigned long long)s->records_in, (unsigned long long)s->records_out,
	    (unsigned long long)s->records_dropped, (unsigned long long)s->records_spoofed,
	    (unsigned long long)s->ingest_refused, (unsigned long long)s->records_bad,
	    (unsigned long long)s->regex_aborted, (unsigned long long)s->denied,
	    (unsigned long long)s->subscribers, (unsigned long long)s->ingest_conns);
}

static int http_request(struct lp_hub *h, struct lws *wsi, struct conn *c, const char *uri)
{
	static const char notfound[] = "not found\n";
	int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;

	if (post) {
		if (!ingest_path(c, uri))
			return http_respond(wsi, c, HTTP_STATUS_NOT_FOUND, "text/plain", notfound,
			                    sizeof(notfound) - 1);
		if (!ingest_authorized(h, wsi)) {
			h->st.ingest_refused++;
			return http_respond(wsi, c, HTTP_STATUS_UNAUTHORIZED, "text/plain",
			                    "ingest token required\n", 22);
		}
		c->kind = CONN_HTTP_INGEST;
		lp_buf_init(&c->in, LP_HUB_MAX_MESSAGE);
		return 0; /* the body follows */
	}
	if (strcmp(uri, "/") == 0 || strcmp(uri, "/index.html") == 0)
		return http_respond(wsi, c, HTTP_STATUS_OK, "text/html; charset=utf-8", h->page,
		                    h->page_len);
	if (strcmp(uri, "/healthz") == 0 || strcmp(uri, "/readyz") == 0)
		return http_respond(wsi, c, HTTP_STATUS_OK, "text/plain", "ok\n", 3);
	if (strcmp(uri, "/metrics") == 0) {
		lp_buf_init(&c->resp_buf, 1u << 20);
		if (metrics_text(h, &c->resp_buf) || alert_metrics(h, &c->resp_buf))
			return -1;
		return http_respond(wsi, c, HTTP_STATUS_OK, "text/plain; version=0.0.4",
		                    lp_buf_str(&c->resp_buf), c->resp_buf.len);
	}
	return http_respond(wsi, c, HTTP_STATUS_NOT_FOUND, "text/plain", notfound,
	                    sizeof(notfound) - 1);
}

/* ---------- the callback ---------- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct lp_hub *h = hub_of(wsi);
	struct conn *c = user;
	char uri[512];
	int r;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (h)
			authz_results(h);
		return 0;

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		struct conn probe; /* c may not exist yet */
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
			return 1;
		if (strcmp(uri, "/tail") == 0)
			return 0;
		if (!ingest_path(&probe, uri))
			return 1;
		if (!ingest_authorized(h, wsi)) {
			h->st.ingest_refused++;
			return 1;
		}
		return 0;
	}

	case LWS_CALLBACK_ESTABLISHED:
		c->wsi = wsi;
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
			return -1;
		if (ingest_path(c, uri)) {
			c->kind = CONN_INGEST;
			h->st.ingest_conns++;
			lp_buf_init(&c->in, LP_HUB_MAX_MESSAGE);
			return 0;
		}
		c->kind = CONN_TAIL;
		c->id = ++h->next_id;
		lp_buf_init(&c->in, SUB_MSG_MAX);
		lp_buf_init(&c->ctrl, 1u << 20);
		c->next = h->subs;
		if (h->subs)
			h->subs->prev = c;
		h->subs = c;
		h->nsubs++;
		if (h->nsubs > h->max_subscribers)
			sub_fail(h, c, "the hub has too many subscribers: try again later");
		return 0;

	case LWS_CALLBACK_RECEIVE:
		if (c->kind == CONN_INGEST) {
			r = assemble(wsi, c, in, len, LP_HUB_MAX_MESSAGE);
			if (r < 0)
				h->st.records_bad++;
			if (r > 0) {
				ingest_text(h, c, lp_buf_str(&c->in), c->in.len);
				lp_buf_reset(&c->in);
			}
			return 0;
		}
		if (c->kind == CONN_TAIL && c->state == TAIL_WAIT_SUB) {
			r = assemble(wsi, c, in, len, SUB_MSG_MAX);
			if (r < 0)
				sub_fail(h, c, "the subscription message is too large");
			else if (r > 0)
				sub_request(h, c);
		}
		return 0; /* later messages from subscribers are ignored */

	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c->kind == CONN_TAIL)
			return sub_write(h, c);
		return 0;

	case LWS_CALLBACK_CLOSED:
		conn_release(h, c);
		return 0;

	case LWS_CALLBACK_HTTP:
		c->wsi = wsi;
		snprintf(uri, sizeof(uri), "%s", in ? (const char *)in : "/");
		return http_request(h, wsi, c, uri);

	case LWS_CALLBACK_HTTP_BODY:
		if (c->kind == CONN_HTTP_INGEST && !c->skipping &&
		    lp_buf_add(&c->in, in, len) != LP_OK)
			c->skipping = 1;
		return 0;

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (c->kind != CONN_HTTP_INGEST)
			return -1;
		if (c->skipping) {
			h->st.records_bad++;
			c->skipping = 0;
			return http_respond(wsi, c, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, "text/plain",
			                    "too large\n", 10);
		}
		ingest_text(h, c, lp_buf_str(&c->in), c->in.len);
		lp_buf_free(&c->in);
		return http_respond(wsi, c, HTTP_STATUS_OK, "text/plain", "ok\n", 3);

	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (c && c->kind == CONN_HTTP_RESP)
			return http_write(wsi, c);
		return 0;

	case LWS_CALLBACK_CLOSED_HTTP:
		if (c)
			conn_release(h, c);
		return 0;

	default:
		return 0;
	}
}

/* ---------- lifecycle ---------- */

static void wake_cb(void *arg)
{
	lp_hub_wake(arg);
}

lp_err lp_hub_new(struct lp_hub **out, const struct lp_hub_config *cfg, struct lp_buf *msg)
{
	struct lws_context_creation_info info;
	struct lp_hub *h = lp_calloc(1, sizeof(*h));
	struct lp_kube_config *kube = cfg->kube;
	lp_err err = LP_OK;

	if (!h) {
		lp_kube_config_free(kube);
		return LP_ERR_NOMEM;
	}
	lws_set_log_level(LLL_ERR, NULL);
	snprintf(h->control_ns, sizeof(h->control_ns), "%s",
	         cfg->control_ns ? cfg->control_ns : "logplane-system");
	h->queue_len = cfg->queue_len ? cfg->queue_len : LP_HUB_DEFAULT_QUEUE;
	h->queue_bytes = cfg->queue_bytes ? cfg->queue_bytes : LP_HUB_DEFAULT_QUEUE_BYTES;
	h->max_subscribers =
	    cfg->max_subscribers ? cfg->max_subscribers : LP_HUB_DEFAULT_SUBSCRIBERS;
	h->page = cfg->page ? cfg->page : "";
	h->page_len = cfg->page ? cfg->page_len : 0;
	h->log = cfg->log;
	if (cfg->alerts_file) {
		struct lp_hub_alerts_config ac = {cfg->alerts_file, cfg->alerts_ca, cfg->log};
		err = lp_hub_alerts_new(&h->alerts, &ac, msg);
		if (err) {
			lp_kube_config_free(kube);
			goto out;
		}
	}
	if (cfg->ingest_token && *cfg->ingest_token) {
		size_t n = strlen(cfg->ingest_token) + sizeof("Bearer ");
		h->ingest_token = lp_malloc(n);
		if (!h->ingest_token) {
			lp_kube_config_free(kube);
			err = LP_ERR_NOMEM;
			goto out;
		}
		snprintf(h->ingest_token, n, "Bearer %s", cfg->ingest_token);
	}
	h->protocols[0].name = "logplane-hub";
	h->protocols[0].callback = callback;
	h->protocols[0].per_session_data_size = sizeof(struct conn);
	h->protocols[0].rx_buffer_size = 65536;

	memset(&info, 0, sizeof(info));
	info.port = cfg->port;
	info.iface = cfg->listen_addr;
	info.protocols = h->protocols;
	info.user = h;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.timeout_secs = 20;
	h->ctx = lws_create_context(&info);
	if (!h->ctx) {
		err = LP_ERR_IO;
		if (lp_buf_addf(msg, "cannot listen on %s:%d",
		                cfg->listen_addr ? cfg->listen_addr : "*", cfg->port))
			err = LP_ERR_NOMEM;
		lp_kube_config_free(kube);
		goto out;
	}
	h->vh = lws_get_vhost_by_name(h->ctx, "default");
	h->port = h->vh ? lws_get_vhost_listen_port(h->vh) : cfg->port;
	if (kube) {
		err = lp_hub_authz_new(&h->authz, kube, wake_cb, h);
		if (err && lp_buf_adds(msg, "cannot start the authorisation worker"))
			err = LP_ERR_NOMEM;
	}
out:
	if (err) {
		lp_hub_free(h);
		return err;
	}
	*out = h;
	return LP_OK;
}

int lp_hub_port(const struct lp_hub *h)
{
	return h->port;
}

void lp_hub_wake(struct lp_hub *h)
{
	if (h && h->ctx)
		lws_cancel_service(h->ctx);
}

lp_err lp_hub_run(struct lp_hub *h, const atomic_int *stop)
{
	while (!atomic_load(stop))
		if (lws_service(h->ctx, 200) < 0)
			return LP_ERR_IO;
	return LP_OK;
}

const struct lp_hub_stats *lp_hub_stats(const struct lp_hub *h)
{
	return &h->st;
}

void lp_hub_free(struct lp_hub *h)
{
	if (!h)
		return;
	lp_hub_authz_free(h->authz); /* first: it may still wake the context */
	h->authz = NULL;
	if (h->ctx)
		lws_context_destroy(h->ctx);
	lp_hub_alerts_free(h->alerts);
	if (h->ingest_token)
		OPENSSL_cleanse(h->ingest_token, strlen(h->ingest_token));
	lp_free(h->ingest_token);
	lp_free(h);
}
