#include "creds.h"
#include "../util/mem.h"
#include "endpoints.h"
#include "sts.h"
#include <openssl/crypto.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ROLES    64
#define IMDS_DEFAULT "http://169.254.169.254"

struct role_entry {
	char *key; /* role_arn \n external_id \n base access key id */
	struct lp_aws_creds creds;
};

struct lp_aws_cred_cache {
	char *base_key; /* which source the cached base credentials came from */
	struct lp_aws_creds base;
	struct role_entry roles[MAX_ROLES];
	size_t n_roles;
	unsigned fetches;
};

void lp_aws_creds_free(struct lp_aws_creds *c)
{
	if (!c)
		return;
	if (c->secret_access_key)
		OPENSSL_cleanse(c->secret_access_key, strlen(c->secret_access_key));
	if (c->session_token)
		OPENSSL_cleanse(c->session_token, strlen(c->session_token));
	lp_free(c->access_key_id);
	lp_free(c->secret_access_key);
	lp_free(c->session_token);
	memset(c, 0, sizeof(*c));
}

lp_err lp_aws_creds_copy(struct lp_aws_creds *dst, const struct lp_aws_creds *src)
{
	struct lp_aws_creds c = *src;

	c.access_key_id = lp_strdup(src->access_key_id);
	c.secret_access_key = lp_strdup(src->secret_access_key);
	c.session_token = lp_strdup(src->session_token);
	if (!c.access_key_id || !c.secret_access_key || (src->session_token && !c.session_token)) {
		lp_aws_creds_free(&c);
		return LP_ERR_NOMEM;
	}
	*dst = c;
	return LP_OK;
}

int64_t lp_aws_parse_time(const char *s)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return (int64_t)timegm(&tm);
}

struct lp_aws_cred_cache *lp_aws_cred_cache_new(void)
{
	return lp_calloc(1, sizeof(struct lp_aws_cred_cache));
}

void lp_aws_cred_cache_free(struct lp_aws_cred_cache *c)
{
	if (!c)
		return;
	lp_free(c->base_key);
	lp_aws_creds_free(&c->base);
	for (size_t i = 0; i < c->n_roles; i++) {
		lp_free(c->roles[i].key);
		lp_aws_creds_free(&c->roles[i].creds);
	}
	lp_free(c);
}

unsigned lp_aws_cred_cache_fetches(const struct lp_aws_cred_cache *c)
{
	return c ? c->fetches : 0;
}

static int fresh(const struct lp_aws_sys *sys, const struct lp_aws_creds *c, int before)
{
	return c->access_key_id &&
	       (c->expires_at == 0 || lp_aws_sys_now(sys) + before < c->expires_at);
}

static const char *sts_region(const struct lp_aws_sys *sys, const struct lp_aws_cred_opts *o)
{
	const char *r = o->region;

	if (!r)
		r = lp_aws_sys_getenv(sys, "AWS_REGION");
	if (!r)
		r = lp_aws_sys_getenv(sys, "AWS_DEFAULT_REGION");
	return r ? r : "us-east-1";
}

static lp_err sts_client(struct lp_aws_sys *sys, const struct lp_aws_cred_opts *o,
                         struct lp_aws_endpoint *ep, struct lp_aws_client *c,
                         struct lp_aws_error *e)
{
	const char *ovr =
	    o->sts_endpoint ? o->sts_endpoint : lp_aws_sys_getenv(sys, "AWS_ENDPOINT_URL_STS");
	char msg[256] = "";
	lp_err err = lp_aws_endpoint_resolve(ep, "sts", sts_region(sys, o), ovr, msg, sizeof(msg));

	if (err)
		return lp_aws_error_set(e, err, 0, "InvalidEndpoint", "STS endpoint: %s", msg);
	memset(c, 0, sizeof(*c));
	c->sys = sys;
	c->ep = ep;
	c->service = "sts";
	c->region = sts_region(sys, o);
	return LP_OK;
}

/* Reads a whole small file (a token) into a new string, trailing newline cut. */
static char *read_token(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct lp_buf b;
	char chunk[4096];
	size_t n;

	if (!f)
		return NULL;
	lp_buf_init(&b, 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (lp_buf_add(&b, chunk, n)) {
			fclose(f);
			return NULL;
		}
	}
	fclose(f);
	while (b.len && (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == '\r'))
		b.ptr[--b.len] = '\0';
	return lp_buf_take(&b);
}

static lp_err from_web_identity(struct lp_aws_sys *sys, const struct lp_aws_cred_opts *o,
                                const char *role, const char *file, struct lp_aws_creds *out,
                                struct lp_aws_error *e)
{
	struct lp_aws_endpoint ep = {0};
	struct lp_aws_client c;
	const char *session = lp_aws_sys_getenv(sys, "AWS_ROLE_SESSION_NAME");
	char *token = read_token(file);
	lp_err err;

	if (!token)
		return lp_aws_error_set(e, LP_ERR_IO, 0, "InvalidIdentityToken",
		                        "cannot read the web identity token file %s "
		                        "(AWS_WEB_IDENTITY_TOKEN_FILE)",
		                        file);
	err = sts_client(sys, o, &ep, &c, e);
	if (!err)
		err = lp_sts_assume_role_with_web_identity(
		    &c, role, session ? session : "logplane-operator", token, out, e);
	if (err && e && e->err == LP_ERR_FORBIDDEN)
		snprintf(e->message + strlen(e->message), sizeof(e->message) - strlen(e->message),
		         " (check the trust policy of %s for this service account)", role);
	if (err) { /* an STS that echoes the web identity token */
		const char *sent[1] = {token};
		lp_aws_error_scrub(e, sent, 1);
	}
	OPENSSL_cleanse(token, strlen(token));
	lp_free(token);
	lp_aws_endpoint_free(&ep);
	return err;
}

/* Unsigned request to a local credential endpoint (IMDS, container agent). */
static lp_err plain(struct lp_aws_sys *sys, const char *method, const char *url,
                    const struct lp_sigv4_hdr *h, size_t n, struct lp_aws_http_resp *r,
                    struct lp_aws_error *e)
{
	struct lp_aws_http_req req = {method, url, h, n, NULL, 0, 2000};
	char errbuf[256] = "";
	lp_err err;

	lp_buf_reset(&r->body);
	lp_buf_reset(&r->headers);
	r->status = 0;
	err = sys->transport->send(sys->transport->ctx, &req, r, errbuf, sizeof(errbuf));

	if (!err && r->status != 200)
		err = lp_aws_error_set(e, lp_aws_error_map(NULL, r->status), r->status, NULL,
		                       "%s %s answered HTTP %ld", method, url, r->status);
	else if (err)
		err = lp_aws_error_set(e, err, 0, NULL, "cannot reach %s: %s", url, errbuf);
	if (err) { /* the tokens sent (IMDS session, container authorization) */
		const char *sent[4] = {NULL, NULL, NULL, NULL};
		for (size_t i = 0; i < n && i < 4; i++)
			sent[i] = h[i].value;
		lp_aws_error_scrub(e, sent, n < 4 ? n : 4);
	}
	return err;
}

static lp_err creds_from_json(const char *body, size_t len, const char *what,
                              struct lp_aws_creds *out, struct lp_aws_error *e)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *a, *s, *t, *x;
	struct lp_aws_creds c = {0};
	lp_err err = LP_OK;

	a = json_string_value(json_object_get(j, "AccessKeyId"));
	s = json_string_value(json_object_get(j, "SecretAccessKey"));
	t = json_string_value(json_object_get(j, "Token"));
	x = json_string_value(json_object_get(j, "Expiration"));
	if (!a || !s) {
		err = lp_aws_error_set(e, LP_ERR_PARSE, 200, NULL,
		                       "%s answered without AccessKeyId/SecretAccessKey", what);
		goto out;
	}
	c.access_key_id = lp_strdup(a);
	c.secret_access_key = lp_strdup(s);
	c.session_token = t ? lp_strdup(t) : NULL;
	c.expires_at = x ? lp_aws_parse_time(x) : 0;
	if (!c.access_key_id || !c.secret_access_key || (t && !c.session_token)) {
		lp_aws_creds_free(&c);
		err = lp_aws_error_set(e, LP_ERR_NOMEM, 0, NULL, "out of memory");
		goto out;
	}
	if (c.expires_at < 0)
		c.expires_at = 0;
	*out = c;
out:
	json_decref(j);
	return err;
}

static lp_err from_container(struct lp_aws_sys *sys, const char *uri, struct lp_aws_creds *out,
                             struct lp_aws_error *e)
{
	const char *tfile = lp_aws_sys_getenv(sys, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tenv = lp_aws_sys_getenv(sys, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char *token = tfile ? read_token(tfile) : (tenv ? lp_strdup(tenv) : NULL);
	struct lp_sigv4_hdr h = {"Authorization", token};
	struct lp_aws_http_resp r;
	lp_err err;

	if (tfile && !token)
		return lp_aws_error_set(e, LP_ERR_IO, 0, NULL,
		                        "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s",
		                        tfile);
	lp_aws_http_resp_init(&r);
	err = plain(sys, "GET", uri, &h, token ? 1 : 0, &r, e);
	if (!err)
		err = creds_from_json(lp_buf_str(&r.body), r.body.len, uri, out, e);
	lp_aws_http_resp_free(&r);
	lp_free(token);
	return err;
}

static lp_err from_imds(struct lp_aws_sys *sys, const char *base, struct lp_aws_creds *out,
                        struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	char url[512], token[1024], role[256];
	struct lp_sigv4_hdr ttl = {"X-aws-ec2-metadata-token-ttl-seconds", "21600"};
	struct lp_sigv4_hdr th = {"X-aws-ec2-metadata-token", token};
	size_t bl = strlen(base);
	lp_err err;

	while (bl && base[bl - 1] == '/')
		bl--;
	lp_aws_http_resp_init(&r);
	snprintf(url, sizeof(url), "%.*s/latest/api/token", (int)bl, base);
	if ((err = plain(sys, "PUT", url, &ttl, 1, &r, e)))
		goto out;
	snprintf(token, sizeof(token), "%s", lp_buf_str(&r.body));
	snprintf(url, sizeof(url), "%.*s/latest/meta-data/iam/security-credentials/", (int)bl,
	         base);
	if ((err = plain(sys, "GET", url, &th, 1, &r, e)))
		goto out;
	snprintf(role, sizeof(role), "%s", lp_buf_str(&r.body));
	role[strcspn(role, "\r\n")] = '\0';
	if (!role[0]) {
		err = lp_aws_error_set(e, LP_ERR_NOTFOUND, 200, "NoCredentials",
		                       "the instance has no IAM role (instance metadata)");
		goto out;
	}
	snprintf(url, sizeof(url), "%.*s/latest/meta-data/iam/security-credentials/%s", (int)bl,
	         base, role);
	if ((err = plain(sys, "GET", url, &th, 1, &r, e)))
		goto out;
	err = creds_from_json(lp_buf_str(&r.body), r.body.len, "instance metadata", out, e);
out:
	memset(token, 0, sizeof(token));
	lp_aws_http_resp_free(&r);
	return err;
}

/* The chain without the Secret and without role assumption. */
static lp_err base_chain(struct lp_aws_sys *sys, struct lp_aws_cred_cache *cache,
                         const struct lp_aws_cred_opts *o, int before, struct lp_aws_creds *out,
                         struct lp_aws_error *e)
{
	const char *role = lp_aws_sys_getenv(sys, "AWS_ROLE_ARN");
	const char *wfile = lp_aws_sys_getenv(sys, "AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *full = lp_aws_sys_getenv(sys, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *rel = lp_aws_sys_getenv(sys, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *akid = lp_aws_sys_getenv(sys, "AWS_ACCESS_KEY_ID");
	const char *sk = lp_aws_sys_getenv(sys, "AWS_SECRET_ACCESS_KEY");
	const char *imds = lp_aws_sys_getenv(sys, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *imds_off = lp_aws_sys_getenv(sys, "AWS_EC2_METADATA_DISABLED");
	struct lp_buf key;
	struct lp_aws_creds got = {0};
	char relurl[512];
	const char *source;
	lp_err err;

	lp_buf_init(&key, 8192);
	if (role && wfile) {
		source = "web-identity";
		err = lp_buf_addf(&key, "web\n%s\n%s\n%s", role, wfile,
		                  o->sts_endpoint ? o->sts_endpoint : "");
	} else if (full || rel) {
		if (!full) {
			snprintf(relurl, sizeof(relurl), "http://169.254.170.2%s", rel);
			full = relurl;
		}
		source = "pod-identity";
		err = lp_buf_addf(&key, "container\n%s", full);
	} else if (akid && sk) {
		const char *tok = lp_aws_sys_getenv(sys, "AWS_SESSION_TOKEN");
		lp_buf_free(&key);
		got.access_key_id = lp_strdup(akid);
		got.secret_access_key = lp_strdup(sk);
		got.session_token = tok ? lp_strdup(tok) : NULL;
		snprintf(got.source, sizeof(got.source), "environment");
		if (!got.access_key_id || !got.secret_access_key || (tok && !got.session_token)) {
			lp_aws_creds_free(&got);
			return lp_aws_error_set(e, LP_ERR_NOMEM, 0, NULL, "out of memory");
		}
		*out = got;
		return LP_OK;
	} else if (!(imds_off && strcmp(imds_off, "true") == 0)) {
		source = "imds";
		err = lp_buf_addf(&key, "imds\n%s", imds ? imds : IMDS_DEFAULT);
	} else {
		lp_buf_free(&key);
		return lp_aws_error_set(
		    e, LP_ERR_UNAUTHORIZED, 0, "NoCredentials",
		    "no AWS credentials found: no spec.aws.credentials.secretRef, no web identity "
		    "(AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE), no pod identity "
		    "(AWS_CONTAINER_CREDENTIALS_FULL_URI), no AWS_ACCESS_KEY_ID, and instance "
		    "metadata is disabled");
	}
	if (err) {
		lp_buf_free(&key);
		return lp_aws_error_set(e, err, 0, NULL, "out of memory");
	}
	if (cache->base_key && strcmp(cache->base_key, lp_buf_str(&key)) == 0 &&
	    fresh(sys, &cache->base, before)) {
		lp_buf_free(&key);
		err = lp_aws_creds_copy(out, &cache->base);
		return err ? lp_aws_error_set(e, err, 0, NULL, "out of memory") : LP_OK;
	}
	cache->fetches++;
	if (strcmp(source, "web-identity") == 0)
		err = from_web_identity(sys, o, role, wfile, &got, e);
	else if (strcmp(source, "pod-identity") == 0)
		err = from_container(sys, full, &got, e);
	else
		err = from_imds(sys, imds ? imds : IMDS_DEFAULT, &got, e);
	if (err) {
		if (strcmp(source, "imds") == 0 && e) {
			char why[sizeof(e->message)];
			snprintf(why, sizeof(why), "%s", e->message);
			snprintf(
			    e->message, sizeof(e->message),
			    "no AWS credentials found: no spec.aws.credentials.secretRef, no web "
			    "identity, no pod identity, no AWS_ACCESS_KEY_ID, and instance "
			    "metadata failed: %.600s",
			    why);
			snprintf(e->code, sizeof(e->code), "NoCredentials");
			e->err = LP_ERR_UNAUTHORIZED;
			err = LP_ERR_UNAUTHORIZED;
		}
		lp_buf_free(&key);
		return err;
	}
	snprintf(got.source, sizeof(got.source), "%s", source);
	lp_aws_creds_free(&cache->base);
	lp_free(cache->base_key);
	cache->base = got;
	cache->base_key = lp_buf_take(&key);
	err = cache->base_key ? lp_aws_creds_copy(out, &cache->base) : LP_ERR_NOMEM;
	return err ? lp_aws_error_set(e, err, 0, NULL, "out of memory") : LP_OK;
}

static lp_err assume(struct lp_aws_sys *sys, struct lp_aws_cred_cache *cache,
                     const struct lp_aws_cred_opts *o, int before, struct lp_aws_creds *base,
                     struct lp_aws_creds *out, struct lp_aws_error *e)
{
	struct lp_buf key;
	struct role_entry *slot = NULL;
	struct lp_aws_endpoint ep = {0};
	struct lp_aws_client c;
	struct lp_aws_creds got = {0};
	lp_err err;

	lp_buf_init(&key, 8192);
	if ((err = lp_buf_addf(&key, "%s\n%s\n%s\n%s", o->role_arn,
	                       o->external_id ? o->external_id : "", base->access_key_id,
	                       o->sts_endpoint ? o->sts_endpoint : "")))
		return lp_aws_error_set(e, err, 0, NULL, "out of memory");
	for (size_t i = 0; i < cache->n_roles; i++)
		if (strcmp(cache->roles[i].key, lp_buf_str(&key)) == 0)
			slot = &cache->roles[i];
	if (slot && fresh(sys, &slot->creds, before)) {
		lp_buf_free(&key);
		err = lp_aws_creds_copy(out, &slot->creds);
		return err ? lp_aws_error_set(e, err, 0, NULL, "out of memory") : LP_OK;
	}
	cache->fetches++;
	err = sts_client(sys, o, &ep, &c, e);
	if (!err) {
		c.cred.access_key_id = base->access_key_id;
		c.cred.secret_access_key = base->secret_access_key;
		c.cred.session_token = base->session_token;
		err = lp_sts_assume_role(&c, o->role_arn, "logplane-operator", o->external_id, &got,
		                         e);
	}
	lp_aws_endpoint_free(&ep);
	if (err) {
		if (e && e->err == LP_ERR_FORBIDDEN)
			snprintf(e->message + strlen(e->message),
			         sizeof(e->message) - strlen(e->message),
			         " (the operator's credentials (%s) may not assume %s%s: check "
			         "sts:AssumeRole and the role's trust policy)",
			         base->source, o->role_arn,
			         o->external_id ? " with the given externalId" : "");
		lp_buf_free(&key);
		return err;
	}
	snprintf(got.source, sizeof(got.source), "%.30s+assume-role", base->source);
	if (!slot) {
		if (cache->n_roles == MAX_ROLES) { /* drop the oldest */
			lp_free(cache->roles[0].key);
			lp_aws_creds_free(&cache->roles[0].creds);
			memmove(&cache->roles[0], &cache->roles[1],
			        (MAX_ROLES - 1) * sizeof(cache->roles[0]));
			cache->n_roles--;
		}
		slot = &cache->roles[cache->n_roles++];
		memset(slot, 0, sizeof(*slot));
	}
	lp_free(slot->key);
	lp_aws_creds_free(&slot->creds);
	slot->key = lp_buf_take(&key);
	slot->creds = got;
	err = slot->key ? lp_aws_creds_copy(out, &slot->creds) : LP_ERR_NOMEM;
	return err ? lp_aws_error_set(e, err, 0, NULL, "out of memory") : LP_OK;
}

lp_err lp_aws_creds_resolve(struct lp_aws_sys *sys, struct lp_aws_cred_cache *cache,
                            const struct lp_aws_cred_opts *opts, struct lp_aws_creds *out,
                            struct lp_aws_error *e)
{
	struct lp_aws_creds base = {0};
	int before = opts->refresh_before_s > 0 ? opts->refresh_before_s : 300;
	lp_err err;

	if (opts->secret) {
		const struct lp_aws_secret_creds *s = opts->secret;
		if (!s->access_key_id || !*s->access_key_id || !s->secret_access_key ||
		    !*s->secret_access_key)
			return lp_aws_error_set(
			    e, LP_ERR_INVALID, 0, "InvalidSecret",
			    "the Secret in spec.aws.credentials.secretRef lacks "
			    "an access key id or secret access key");
		base.access_key_id = lp_strdup(s->access_key_id);
		base.secret_access_key = lp_strdup(s->secret_access_key);
		base.session_token =
		    s->session_token && *s->session_token ? lp_strdup(s->session_token) : NULL;
		snprintf(base.source, sizeof(base.source), "secret");
		if (!base.access_key_id || !base.secret_access_key ||
		    (s->session_token && *s->session_token && !base.session_token)) {
			lp_aws_creds_free(&base);
			return lp_aws_error_set(e, LP_ERR_NOMEM, 0, NULL, "out of memory");
		}
	} else if ((err = base_chain(sys, cache, opts, before, &base, e))) {
		return err;
	}
	if (!opts->role_arn || !*opts->role_arn) {
		*out = base;
		return LP_OK;
	}
	err = assume(sys, cache, opts, before, &base, out, e);
	if (err) { /* the base keys, whatever path the message took */
		const char *known[3] = {base.access_key_id, base.secret_access_key,
		                        base.session_token};
		lp_aws_error_scrub(e, known, 3);
	}
	lp_aws_creds_free(&base);
	return err;
}
