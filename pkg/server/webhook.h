/* pkg/server/webhook: the operator's validating admission webhook.
 *
 * - Serves POST /validate over HTTPS (pkg/server/https.h) and answers each
 *   AdmissionReview with lp_admission_review() (pkg/api/admission.h) against
 *   the controller's caches: every LogOutput and LogPipeline the operator
 *   knows. Secrets are not looked up at admission (the operator watches only
 *   the Secrets outputs already reference; reading every Secret would need
 *   rights the chart does not grant): a missing Secret shows in status.
 * - Keeps its certificate: a self-signed CA and a serving certificate for
 *   <service>.<namespace>.svc in the Secret <secret_name> of the control
 *   namespace (keys ca.crt, ca.key, tls.crt, tls.key), made when missing and
 *   renewed on the policy of pkg/server/certs.h, checked every check_ms. Every
 *   replica may write it (create, or a merge patch on its resourceVersion; a 409 means
 *   another replica did, so it is read again). Before a new certificate is
 *   served, the caBundle of every webhook in the ValidatingWebhookConfiguration
 *   <config_name> is set to the Secret's ca.crt (get, then a merge patch on its
 *   resourceVersion). Verbs: list (by name) and create/patch on Secrets, get and
 *   patch on the ValidatingWebhookConfiguration.
 * - With external_certs (cert-manager), the Secret is only read: cert-manager
 *   writes it and its CA injector the caBundle.
 * Threading: loop thread only. */
#ifndef LP_SERVER_WEBHOOK_H
#define LP_SERVER_WEBHOOK_H
#include <stdint.h>
#include "../kube/client.h"
#include "../reconcile/controller.h"
#include "../util/log.h"
#include "../util/loop.h"
#include "opmetrics.h"

struct lp_webhook_opts {
	const char *host;         /* numeric listen address; NULL = 0.0.0.0 */
	int port;                 /* 0 = any (lp_webhook_port) */
	const char *control_ns;   /* default LP_DEFAULT_CONTROL_NAMESPACE */
	const char *secret_name;  /* default "logplane-webhook-tls" */
	const char *config_name;  /* ValidatingWebhookConfiguration; NULL/"" = none */
	const char *service_name; /* default "logplane-webhook" */
	/* more names for the certificate, comma-separated DNS names or IPs (a
	 * clientConfig.url such as https://127.0.0.1:9443/validate); may be NULL */
	const char *extra_names;
	int external_certs;                 /* 1: read the Secret only (cert-manager) */
	uint64_t check_ms;                  /* re-read and renew; 0 = 60000 */
	const struct lp_log *log;           /* borrowed, may be NULL */
	const struct lp_opmetrics *metrics; /* borrowed, may be NULL */
	struct lp_ctrl *ctrl; /* borrowed, may be NULL: validation without the caches */
	/* seconds since the epoch (certificate times); NULL = time(2) */
	int64_t (*now)(void *ctx);
	void *now_ctx;
	int allow_plain_http; /* lp_world.allow_plain_http (--allow-plain-http) */
};

struct lp_webhook;

/* Listens at once (no certificate yet: connections are closed until the first
 * one is loaded); loop and client borrowed, must outlive it; opts copied.
 * LP_ERR_IO when the address is taken. */
LP_WUR lp_err lp_webhook_new(struct lp_webhook **out, struct lp_loop *loop,
                             struct lp_kube_client *client, const struct lp_webhook_opts *opts);
/* Starts the certificate keeper (first check at once). */
LP_WUR lp_err lp_webhook_start(struct lp_webhook *w);
void lp_webhook_free(struct lp_webhook *w); /* cancels calls, closes; NULL-safe */
int lp_webhook_port(const struct lp_webhook *w);
/* 1 once a certificate is served. */
int lp_webhook_serving(const struct lp_webhook *w);

/* The handler behind POST /validate, exposed for benchmarks and tests: answers
 * one AdmissionReview body into out (see lp_https_handler). */
LP_WUR lp_err lp_webhook_handle(struct lp_webhook *w, const char *path, const char *body,
                                size_t len, struct lp_buf *out, int *status,
                                const char **content_type);

#endif
