/* pkg/hub/authz: TokenReview + SubjectAccessReview on a worker thread, with a
 * small decision cache (see authz.h). */
#include "authz.h"
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "../kube/client.h"
#include "../util/clock.h"
#include "../util/loop.h"
#include "../util/mem.h"

#define CACHE_SLOTS    512
#define ALLOW_TTL_MS   60000u
#define DENY_TTL_MS    10000u
#define REVIEW_TIMEOUT 10000L

struct req {
	struct req *next;
	uint64_t id;
	char *token;
	char ns[64];
};

struct res {
	struct res *next;
	struct lp_hub_authz_result r;
};

struct slot {
	unsigned char digest[32];
	char ns[64];
	int used;
	int allowed;
	uint64_t expires_ms;
	char user[256];
	char why[256];
};

struct lp_hub_authz {
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;
	struct req *q_head, *q_tail;
	size_t q_len;
	struct res *r_head, *r_tail;
	void (*wake)(void *);
	void *wake_arg;
	struct lp_kube_config *cfg;
	/* worker-only */
	struct slot cache[CACHE_SLOTS];
};

static void set(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

/* POSTs body (stolen) to path; *out gets the parsed answer (new) on 201/200. */
static lp_err post(struct lp_kube_client *kc, const char *path, json_t *body, json_t **out,
                   char *why, size_t whysz)
{
	struct lp_kube_req rq = {0};
	struct lp_kube_resp resp = {0};
	char *text = json_dumps(body, JSON_COMPACT);
	json_error_t jerr;
	lp_err err;

	json_decref(body);
	*out = NULL;
	if (!text)
		return LP_ERR_NOMEM;
	rq.method = "POST";
	rq.path = path;
	rq.body = text;
	rq.body_len = strlen(text);
	rq.max_attempts = 2;
	rq.timeout_ms = REVIEW_TIMEOUT;
	err = lp_kube_call_sync(kc, &rq, &resp);
	OPENSSL_cleanse(text, strlen(text)); /* it held the caller's token */
	free(text);
	if (err) {
		snprintf(why, whysz, "the API server did not answer the review (%s%s%s)",
		         lp_strerror(err), resp.message && *resp.message ? ": " : "",
		         resp.message ? resp.message : "");
		lp_kube_resp_free(&resp);
		return err;
	}
	*out = json_loadb(lp_buf_str(&resp.body), resp.body.len, 0, &jerr);
	lp_kube_resp_free(&resp);
	if (!*out) {
		snprintf(why, whysz, "the API server's review answer is not JSON");
		return LP_ERR_PARSE;
	}
	return LP_OK;
}

/* One review, uncached: fills s (allowed, user, why). */
static void review(struct lp_kube_client *kc, const char *token, const char *ns, struct slot *s)
{
	json_t *tr = NULL, *sar = NULL, *user, *spec, *ra;
	const char *uname;

	s->allowed = 0;
	if (post(kc, "/apis/authentication.k8s.io/v1/tokenreviews",
	         json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "authentication.k8s.io/v1", "kind",
	                   "TokenReview", "spec", "token", token),
	         &tr, s->why, sizeof(s->why)))
		goto out;
	if (!json_is_true(json_object_get(json_object_get(tr, "status"), "authenticated"))) {
		set(s->why, sizeof(s->why),
		    "the token was not accepted by the API server (TokenReview)");
		goto out;
	}
	user = json_object_get(json_object_get(tr, "status"), "user");
	uname = json_string_value(json_object_get(user, "username"));
	set(s->user, sizeof(s->user), uname);
	spec = json_pack("{s:s}", "user", uname ? uname : "");
	ra = json_pack("{s:s, s:s, s:s, s:s}", "namespace", ns, "verb", "get", "resource", "pods",
	               "subresource", "log");
	if (!spec || !ra) {
		json_decref(spec);
		json_decref(ra);
		set(s->why, sizeof(s->why), "out of memory");
		goto out;
	}
	if (json_object_get(user, "groups"))
		json_object_set(spec, "groups", json_object_get(user, "groups"));
	if (json_object_get(user, "uid"))
		json_object_set(spec, "uid", json_object_get(user, "uid"));
	if (json_object_get(user, "extra"))
		json_object_set(spec, "extra", json_object_get(user, "extra"));
	json_object_set_new(spec, "resourceAttributes", ra);
	if (post(kc, "/apis/authorization.k8s.io/v1/subjectaccessreviews",
	         json_pack("{s:s, s:s, s:o}", "apiVersion", "authorization.k8s.io/v1", "kind",
	                   "SubjectAccessReview", "spec", spec),
	         &sar, s->why, sizeof(s->why)))
		goto out;
	s->allowed = json_is_true(json_object_get(json_object_get(sar, "status"), "allowed"));
	if (!s->allowed)
		snprintf(s->why, sizeof(s->why), "%.160s may not get pods/log in %.63s", s->user,
		         *ns ? ns : "every namespace");
out:
	json_decref(tr);
	json_decref(sar);
}

static void digest(const char *token, unsigned char out[32])
{
	unsigned int n = 32;
	if (!EVP_Digest(token, strlen(token), out, &n, EVP_sha256(), NULL))
		memset(out, 0, 32);
}

/* The cached decision, or a fresh review stored in the cache. */
static void decide(struct lp_hub_authz *a, struct lp_kube_client *kc, const struct req *q,
                   struct lp_hub_authz_result *r)
{
	unsigned char d[32];
	uint64_t now = lp_clock_mono_ms();
	struct slot *s = NULL;
	struct slot fresh;

	digest(q->token, d);
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		struct slot *c = &a->cache[i];
		if (c->used && c->expires_ms > now && memcmp(c->digest, d, 32) == 0 &&
		    strcmp(c->ns, q->ns) == 0) {
			s = c;
			break;
		}
	}
	if (!s) {
		memset(&fresh, 0, sizeof(fresh));
		review(kc, q->token, q->ns, &fresh);
		memcpy(fresh.digest, d, 32);
		set(fresh.ns, sizeof(fresh.ns), q->ns);
		fresh.used = 1;
		fresh.expires_ms =
		    lp_clock_mono_ms() + (fresh.allowed ? ALLOW_TTL_MS : DENY_TTL_MS);
		/* the slot expiring first (an unused one first) gives way */
		s = &a->cache[0];
		for (size_t i = 1; i < CACHE_SLOTS && s->used; i++)
			if (!a->cache[i].used || a->cache[i].expires_ms < s->expires_ms)
				s = &a->cache[i];
		*s = fresh;
	}
	r->id = q->id;
	r->allowed = s->allowed;
	set(r->user, sizeof(r->user), s->user);
	set(r->why, sizeof(r->why), s->allowed ? "" : s->why);
}

static void req_free(struct req *q)
{
	if (!q)
		return;
	if (q->token) {
		OPENSSL_cleanse(q->token, strlen(q->token));
		lp_free(q->token);
	}
	lp_free(q);
}

static void *worker(void *arg)
{
	struct lp_hub_authz *a = arg;
	struct lp_loop *loop = NULL;
	struct lp_kube_client *kc = NULL;
	struct req *q;
	struct res *rs;
	int ok =
	    lp_loop_new(&loop, NULL) == LP_OK && lp_kube_client_new(&kc, loop, a->cfg) == LP_OK;

	for (;;) {
		pthread_mutex_lock(&a->mu);
		while (!a->stopping && !a->q_head)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->stopping) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		q = a->q_head;
		a->q_head = q->next;
		if (!a->q_head)
			a->q_tail = NULL;
		a->q_len--;
		pthread_mutex_unlock(&a->mu);

		rs = lp_calloc(1, sizeof(*rs));
		if (rs) {
			if (ok) {
				decide(a, kc, q, &rs->r);
			} else {
				rs->r.id = q->id;
				set(rs->r.why, sizeof(rs->r.why),
				    "the hub has no Kubernetes client");
			}
			pthread_mutex_lock(&a->mu);
			if (a->r_tail)
				a->r_tail->next = rs;
			else
				a->r_head = rs;
			a->r_tail = rs;
			pthread_mutex_unlock(&a->mu);
		}
		req_free(q);
		if (a->wake)
			a->wake(a->wake_arg);
	}
	lp_kube_client_free(kc);
	lp_loop_free(loop);
	return NULL;
}

lp_err lp_hub_authz_new(struct lp_hub_authz **out, struct lp_kube_config *cfg, void (*wake)(void *),
                        void *wake_arg)
{
	struct lp_hub_authz *a = lp_calloc(1, sizeof(*a));

	if (!a) {
		lp_kube_config_free(cfg);
		return LP_ERR_NOMEM;
	}
	a->cfg = cfg;
	a->wake = wake;
	a->wake_arg = wake_arg;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if (pthread_create(&a->thread, NULL, worker, a) != 0) {
		lp_hub_authz_free(a);
		return LP_ERR_IO;
	}
	a->started = 1;
	*out = a;
	return LP_OK;
}

void lp_hub_authz_free(struct lp_hub_authz *a)
{
	struct req *q;
	struct res *r;

	if (!a)
		return;
	if (a->started) {
		pthread_mutex_lock(&a->mu);
		a->stopping = 1;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thread, NULL);
	}
	while ((q = a->q_head)) {
		a->q_head = q->next;
		req_free(q);
	}
	while ((r = a->r_head)) {
		a->r_head = r->next;
		lp_free(r);
	}
	OPENSSL_cleanse(a->cache, sizeof(a->cache));
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	lp_kube_config_free(a->cfg);
	lp_free(a);
}

lp_err lp_hub_authz_submit(struct lp_hub_authz *a, uint64_t id, const char *token, const char *ns)
{
	struct req *q;

	pthread_mutex_lock(&a->mu);
	if (a->q_len >= LP_HUB_AUTHZ_QUEUE) {
		pthread_mutex_unlock(&a->mu);
		return LP_ERR_LIMIT;
	}
	pthread_mutex_unlock(&a->mu);
	q = lp_calloc(1, sizeof(*q));
	if (!q)
		return LP_ERR_NOMEM;
	q->id = id;
	q->token = lp_strdup(token);
	set(q->ns, sizeof(q->ns), ns);
	if (!q->token) {
		lp_free(q);
		return LP_ERR_NOMEM;
	}
	pthread_mutex_lock(&a->mu);
	if (a->q_tail)
		a->q_tail->next = q;
	else
		a->q_head = q;
	a->q_tail = q;
	a->q_len++;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return LP_OK;
}

int lp_hub_authz_poll(struct lp_hub_authz *a, struct lp_hub_authz_result *out)
{
	struct res *r;

	pthread_mutex_lock(&a->mu);
	r = a->r_head;
	if (r) {
		a->r_head = r->next;
		if (!a->r_head)
			a->r_tail = NULL;
	}
	pthread_mutex_unlock(&a->mu);
	if (!r)
		return 0;
	*out = r->r;
	lp_free(r);
	return 1;
}
