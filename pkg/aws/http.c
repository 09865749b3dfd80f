#include "http.h"
#include "../util/mem.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LP_AWS_MAX_BODY ((size_t)16 * 1024 * 1024)

void lp_aws_http_resp_init(struct lp_aws_http_resp *r)
{
	r->status = 0;
	lp_buf_init(&r->body, LP_AWS_MAX_BODY);
	lp_buf_init(&r->headers, 1024 * 1024);
}

void lp_aws_http_resp_free(struct lp_aws_http_resp *r)
{
	if (!r)
		return;
	lp_buf_free(&r->body);
	lp_buf_free(&r->headers);
	r->status = 0;
}

int lp_aws_http_resp_header(const struct lp_aws_http_resp *r, const char *name, char *out,
                            size_t outlen)
{
	const char *p = lp_buf_str(&r->headers);
	size_t nl = strlen(name);

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);
		if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			size_t vl = ll - nl - 1;
			while (vl && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
				vl--;
			if (outlen) {
				if (vl >= outlen)
					vl = outlen - 1;
				memcpy(out, v, vl);
				out[vl] = '\0';
			}
			return 1;
		}
		p += ll;
		if (*p)
			p++;
	}
	if (outlen)
		out[0] = '\0';
	return 0;
}

/* ---- libcurl transport ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct lp_buf *b = ud;

	return lp_buf_add(b, ptr, size * nmemb) == LP_OK ? size * nmemb : 0;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct lp_buf *b = ud;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
		lp_buf_reset(b); /* a new answer (after 100-continue or a redirect) */
	return lp_buf_add(b, ptr, n) == LP_OK ? n : 0;
}

static lp_err curl_send(void *ctx, const struct lp_aws_http_req *req, struct lp_aws_http_resp *resp,
                        char *errbuf, size_t errlen)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hl = NULL;
	char cerr[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	lp_err err = LP_OK;
	int has_ct = 0;

	(void)ctx;
	if (!h)
		return LP_ERR_NOMEM;
	for (size_t i = 0; i < req->n_headers; i++) {
		char line[8192];
		struct curl_slist *n;
		if (strcasecmp(req->headers[i].name, "Content-Type") == 0)
			has_ct = 1;
		snprintf(line, sizeof(line), "%s: %s", req->headers[i].name, req->headers[i].value);
		n = curl_slist_append(hl, line);
		if (!n) {
			err = LP_ERR_NOMEM;
			goto out;
		}
		hl = n;
	}
	{
		/* no Expect: 100-continue, no default form content type */
		const char *extra[] = {"Expect:", has_ct ? NULL : "Content-Type:"};
		for (size_t i = 0; i < 2; i++) {
			struct curl_slist *n;
			if (!extra[i])
				continue;
			n = curl_slist_append(hl, extra[i]);
			if (!n) {
				err = LP_ERR_NOMEM;
				goto out;
			}
			hl = n;
		}
	}
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 10000L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	                 req->timeout_ms > 0 ? (req->timeout_ms + 1) / 2 : 5000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp->headers);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body_len || strcmp(req->method, "PUT") == 0 ||
		    strcmp(req->method, "POST") == 0) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		}
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		snprintf(errbuf, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		err = rc == CURLE_OPERATION_TIMEDOUT ? LP_ERR_TIMEOUT : LP_ERR_HTTP;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
out:
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	return err;
}

const struct lp_aws_transport lp_aws_transport_curl = {curl_send, NULL};

/* ---- system seams ---- */

static int64_t sys_now(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL);
}

static void sys_sleep(void *ctx, uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	(void)ctx;
	while (nanosleep(&ts, &ts) != 0)
		;
}

static const char *sys_getenv(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

void lp_aws_sys_default(struct lp_aws_sys *sys)
{
	memset(sys, 0, sizeof(*sys));
	sys->transport = &lp_aws_transport_curl;
	sys->now_s = sys_now;
	sys->sleep_ms = sys_sleep;
	sys->getenv = sys_getenv;
	sys->rng = (uint64_t)time(NULL) * 2654435761u + (uint64_t)(uintptr_t)sys;
	sys->max_attempts = 4;
	sys->backoff_base_ms = 200;
	sys->backoff_cap_ms = 5000;
	sys->timeout_ms = 10000;
}

int64_t lp_aws_sys_now(const struct lp_aws_sys *sys)
{
	return sys->now_s ? sys->now_s(sys->ctx) : (int64_t)time(NULL);
}

const char *lp_aws_sys_getenv(const struct lp_aws_sys *sys, const char *name)
{
	const char *v = sys->getenv ? sys->getenv(sys->ctx, name) : NULL;

	return v && *v ? v : NULL;
}

/* ---- signed requests ---- */

static lp_err one_attempt(struct lp_aws_client *c, const char *method, const char *path,
                          const char *query, const struct lp_sigv4_hdr *extra, size_t n_extra,
                          const void *body, size_t body_len, struct lp_aws_http_resp *resp,
                          char *errbuf, size_t errlen)
{
	struct lp_sigv4_hdr hdrs[24];
	struct lp_sigv4_input in = {0};
	struct lp_sigv4_output out = {0};
	struct lp_buf url;
	char date[17], payload[65];
	size_t n = 0;
	int s3 = strcmp(c->service, "s3") == 0;
	struct lp_aws_http_req req = {0};
	lp_err err;

	if (n_extra > 16)
		return LP_ERR_INVALID;
	lp_buf_init(&url, 64 * 1024);
	lp_sigv4_amz_date((time_t)lp_aws_sys_now(c->sys), date);
	lp_sigv4_sha256_hex(body, body_len, payload);
	hdrs[n++] = (struct lp_sigv4_hdr){"Host", c->ep->host_header};
	hdrs[n++] = (struct lp_sigv4_hdr){"X-Amz-Date", date};
	if (s3)
		hdrs[n++] = (struct lp_sigv4_hdr){"x-amz-content-sha256", payload};
	if (c->cred.access_key_id && c->cred.session_token)
		hdrs[n++] = (struct lp_sigv4_hdr){"X-Amz-Security-Token", c->cred.session_token};
	for (size_t i = 0; i < n_extra; i++)
		hdrs[n++] = extra[i];
	err = lp_buf_addf(&url, "%s%s%s%s%s", c->ep->url, c->ep->base_path,
	                  path && *path ? path : "/", query && *query ? "?" : "",
	                  query && *query ? query : "");
	if (err)
		goto out;
	if (c->cred.access_key_id) {
		char full_path[4096];
		snprintf(full_path, sizeof(full_path), "%s%s", c->ep->base_path,
		         path && *path ? path : "/");
		in.method = method;
		in.path = full_path;
		in.query = query;
		in.headers = hdrs;
		in.n_headers = n;
		in.payload_hash = payload;
		in.region = c->region;
		in.service = c->service;
		in.amz_date = date;
		in.access_key_id = c->cred.access_key_id;
		in.secret_access_key = c->cred.secret_access_key;
		in.s3 = s3;
		if ((err = lp_sigv4_sign(&out, &in)))
			goto out;
		hdrs[n++] = (struct lp_sigv4_hdr){"Authorization", out.authorization};
	}
	req.method = method;
	req.url = lp_buf_str(&url);
	req.headers = hdrs;
	req.n_headers = n;
	req.body = body;
	req.body_len = body_len;
	req.timeout_ms = c->sys->timeout_ms;
	lp_buf_reset(&resp->body);
	lp_buf_reset(&resp->headers);
	resp->status = 0;
	err = c->sys->transport->send(c->sys->transport->ctx, &req, resp, errbuf, errlen);
out:
	lp_sigv4_output_free(&out);
	lp_buf_free(&url);
	return err;
}

/* Reports one attempt to sys->on_call. */
static void report_call(const struct lp_aws_client *c, const char *method,
                        const struct lp_aws_error *e, long status, const char *code)
{
	const char *op = e && e->op[0] ? strchr(e->op, ':') : NULL; /* "service:Op" */

	if (c->sys->on_call)
		c->sys->on_call(c->sys->on_call_ctx, c->service, op ? op + 1 : method, status,
		                code ? code : "");
}

/* Scrubs the values this client sends (keys, token, extra header values) from
 * e, which may carry an echo of the request (status, Events and logs show it). */
static void scrub_known(const struct lp_aws_client *c, const struct lp_sigv4_hdr *extra,
                        size_t n_extra, struct lp_aws_error *e)
{
	const char *known[3 + 16];
	size_t n = 0;

	known[n++] = c->cred.access_key_id;
	known[n++] = c->cred.secret_access_key;
	known[n++] = c->cred.session_token;
	for (size_t i = 0; i < n_extra && n < sizeof(known) / sizeof(known[0]); i++)
		if (strncasecmp(extra[i].name, "Content-", 8) != 0 &&
		    strcasecmp(extra[i].name, "X-Amz-Target") != 0)
			known[n++] = extra[i].value; /* protocol headers say nothing secret */
	lp_aws_error_scrub(e, known, n);
}

lp_err lp_aws_request(struct lp_aws_client *c, const char *method, const char *path,
                      const char *query, const struct lp_sigv4_hdr *extra, size_t n_extra,
                      const void *body, size_t body_len, struct lp_aws_http_resp *resp,
                      struct lp_aws_error *e)
{
	int attempts = c->sys->max_attempts > 0 ? c->sys->max_attempts : 1;
	lp_err err = LP_OK;

	for (int i = 0; i < attempts; i++) {
		struct lp_aws_error tmp = {0};
		char errbuf[512] = "";

		if (i)
			c->sys->sleep_ms(c->sys->ctx,
			                 lp_aws_backoff_ms((unsigned)(i - 1),
			                                   c->sys->backoff_base_ms,
			                                   c->sys->backoff_cap_ms, &c->sys->rng));
		err = one_attempt(c, method, path, query, extra, n_extra, body, body_len, resp,
		                  errbuf, sizeof(errbuf));
		if (err == LP_ERR_HTTP || err == LP_ERR_TIMEOUT) {
			lp_aws_error_set(&tmp, err, 0, NULL, "cannot reach %s: %s", c->ep->url,
			                 errbuf);
			report_call(c, method, e, 0, "");
		} else if (err) {
			return lp_aws_error_set(e, err, 0, NULL, "%s request failed: %s",
			                        c->service, lp_strerror(err));
		} else if (resp->status >= 300) {
			err = lp_aws_error_from_response(&tmp, resp->status,
			                                 lp_buf_str(&resp->body), resp->body.len);
			report_call(c, method, e, resp->status, tmp.code);
		} else {
			report_call(c, method, e, resp->status, "");
			return LP_OK;
		}
		if (!lp_aws_error_retryable(&tmp) || i + 1 == attempts) {
			if (e && !e->err) {
				char op[64];
				scrub_known(c, extra, n_extra, &tmp);
				memcpy(op, e->op, sizeof(op));
				*e = tmp;
				memcpy(e->op, op, sizeof(op));
			}
			return err;
		}
	}
	return err;
}

lp_err lp_aws_json_call(struct lp_aws_client *c, const char *op, json_t *req, json_t **out,
                        struct lp_aws_error *e)
{
	struct lp_aws_http_resp resp;
	char target[128];
	char *body = NULL;
	json_t *ans = NULL;
	lp_err err;

	lp_aws_http_resp_init(&resp);
	if (e && !e->err)
		snprintf(e->op, sizeof(e->op), "%s:%s", c->service, op);
	snprintf(target, sizeof(target), "%s.%s", c->json_prefix, op);
	body = req ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	if (!body) {
		err = lp_aws_error_set(e, LP_ERR_NOMEM, 0, NULL, "out of memory");
		goto out;
	}
	{
		const struct lp_sigv4_hdr extra[] = {
		    {"Content-Type", "application/x-amz-json-1.1"},
		    {"X-Amz-Target", target},
		};
		err = lp_aws_request(c, "POST", "/", NULL, extra, 2, body, strlen(body), &resp, e);
	}
	if (err)
		goto out;
	if (out) {
		if (resp.body.len == 0) {
			ans = json_object();
		} else {
			json_error_t je;
			ans = json_loadb(lp_buf_str(&resp.body), resp.body.len, 0, &je);
			if (!ans) {
				err = lp_aws_error_set(e, LP_ERR_PARSE, resp.status, NULL,
				                       "%s answered with invalid JSON: %s", target,
				                       je.text);
				goto out;
			}
		}
		*out = ans;
	}
out:
	free(body);
	lp_aws_http_resp_free(&resp);
	return err;
}

lp_err lp_aws_query_call(struct lp_aws_client *c, const char *const *kv,
                         struct lp_aws_http_resp *resp, struct lp_aws_error *e)
{
	struct lp_buf form;
	lp_err err = LP_OK;
	const struct lp_sigv4_hdr extra[] = {
	    {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
	};

	lp_buf_init(&form, 1024 * 1024);
	for (size_t i = 0; kv[i] && kv[i + 1] && !err; i += 2) {
		if (i)
			err = lp_buf_addc(&form, '&');
		if (!err)
			err = lp_aws_uri_encode(&form, kv[i], strlen(kv[i]), 0);
		if (!err)
			err = lp_buf_addc(&form, '=');
		if (!err)
			err = lp_aws_uri_encode(&form, kv[i + 1], strlen(kv[i + 1]), 0);
	}
	if (err) {
		lp_buf_free(&form);
		return lp_aws_error_set(e, err, 0, NULL, "out of memory");
	}
	if (e && !e->err && kv[0] && kv[1])
		snprintf(e->op, sizeof(e->op), "%s:%s", c->service, kv[1]);
	err = lp_aws_request(c, "POST", "/", NULL, extra, 1, lp_buf_str(&form), form.len, resp, e);
	lp_buf_free(&form);
	return err;
}

lp_err lp_aws_json_send(struct lp_aws_client *c, const char *op, json_t *req, json_t **out,
                        struct lp_aws_error *e)
{
	lp_err err;

	if (!req)
		return lp_aws_error_set(e, LP_ERR_NOMEM, 0, NULL, "out of memory");
	err = lp_aws_json_call(c, op, req, out, e);
	json_decref(req);
	return err;
}

char *lp_aws_json_strdup(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return lp_strdup(s ? s : "");
}
