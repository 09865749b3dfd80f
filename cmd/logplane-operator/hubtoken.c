/* cmd/logplane-operator/hubtoken: creates the hub's ingest token Secret when
 * absent (see hubtoken.h). */
#include "hubtoken.h"
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include "../../pkg/util/mem.h"

#define RETRY_MS 10000

struct lp_hubtoken {
	struct lp_loop *loop;
	struct lp_kube_client *client;
	const struct lp_log *log;
	char *ns, *name;
	struct lp_kube_call *call;
	struct lp_loop_timer *timer;
	int done;
};

static void created(void *arg, struct lp_kube_resp *resp)
{
	struct lp_hubtoken *t = arg;

	t->call = NULL;
	if (!resp->err || resp->err == LP_ERR_CONFLICT) {
		t->done = 1;
		lp_log(t->log, LP_LOG_INFO, NULL, "hub ingest token: Secret %s/%s %s", t->ns,
		       t->name, resp->err ? "exists" : "created");
		return;
	}
	/* retried by the timer (not after lp_hubtoken_free: the call is cancelled) */
	lp_log(t->log, LP_LOG_WARN, NULL, "hub ingest token: creating Secret %s/%s: %s", t->ns,
	       t->name, resp->message && *resp->message ? resp->message : lp_strerror(resp->err));
}

/* The Secret's JSON with a new random token; NULL on no memory or no entropy. */
static char *secret_body(const struct lp_hubtoken *t)
{
	unsigned char raw[32];
	char hex[2 * sizeof(raw) + 1];
	char *body = NULL;
	json_t *obj;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return NULL;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:{s:s}}", "apiVersion", "v1",
	                "kind", "Secret", "metadata", "name", t->name, "namespace", t->ns, "labels",
	                "app.kubernetes.io/part-of", "logplane", "type", "Opaque", "stringData",
	                "token", hex);
	if (obj) {
		body = json_dumps(obj, JSON_COMPACT);
		json_decref(obj); /* jansson frees its strings without cleansing */
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(hex, sizeof(hex));
	return body;
}

static int64_t attempt(struct lp_loop *loop, void *arg)
{
	struct lp_hubtoken *t = arg;
	struct lp_kube_req req = {0};
	char path[256];
	char *body;
	lp_err err;

	(void)loop;
	if (t->done) {
		t->timer = NULL; /* released by the loop on -1 */
		return -1;
	}
	if (t->call)
		return RETRY_MS;
	body = secret_body(t);
	if (!body)
		return RETRY_MS;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets", t->ns);
	req.method = "POST";
	req.path = path;
	req.body = body;
	req.body_len = strlen(body);
	req.max_attempts = 2;
	req.timeout_ms = 10000;
	err = lp_kube_call_start(t->client, &req, created, t, &t->call);
	OPENSSL_cleanse(body, req.body_len);
	free(body);
	if (err)
		lp_log(t->log, LP_LOG_WARN, NULL, "hub ingest token: %s", lp_strerror(err));
	return RETRY_MS; /* re-armed; a success ends it on the next tick */
}

lp_err lp_hubtoken_start(struct lp_hubtoken **out, struct lp_loop *loop,
                         struct lp_kube_client *client, const struct lp_log *log, const char *ns,
                         const char *name)
{
	struct lp_hubtoken *t = lp_calloc(1, sizeof(*t));
	lp_err err;

	if (!t)
		return LP_ERR_NOMEM;
	t->loop = loop;
	t->client = client;
	t->log = log;
	t->ns = lp_strdup(ns);
	t->name = lp_strdup(name);
	if (!t->ns || !t->name) {
		lp_hubtoken_free(t);
		return LP_ERR_NOMEM;
	}
	err = lp_loop_timer_add(loop, 0, attempt, t, &t->timer);
	if (err) {
		lp_hubtoken_free(t);
		return err;
	}
	*out = t;
	return LP_OK;
}

int lp_hubtoken_done(const struct lp_hubtoken *t)
{
	return t && t->done;
}

void lp_hubtoken_free(struct lp_hubtoken *t)
{
	if (!t)
		return;
	if (t->timer)
		lp_loop_timer_del(t->loop, t->timer);
	t->timer = NULL;
	if (t->call)
		lp_kube_call_cancel(t->client, t->call);
	lp_free(t->ns);
	lp_free(t->name);
	lp_free(t);
}
