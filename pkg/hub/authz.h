/* pkg/hub/authz: may the holder of this token watch the logs of that namespace?
 *
 * Answered by the cluster itself: a TokenReview says who the token belongs to,
 * then a SubjectAccessReview asks whether that user (with its groups, uid and
 * extra) may `get pods/log` in the namespace ("" = in every namespace). So the
 * RBAC that already exists decides, and a tenant sees only its namespaces.
 *
 * Threading: the API calls are blocking, so they run on a worker thread of
 * their own (with its own lp_loop and Kubernetes client); the hub's event loop
 * never waits. lp_hub_authz_submit and lp_hub_authz_poll are called from the
 * hub's thread; when a result is ready the worker calls wake(wake_arg) from
 * its own thread (the hub passes lws_cancel_service). Decisions are cached per
 * (token digest, namespace): allowed for 60 s, denied for 10 s. */
#ifndef LP_HUB_AUTHZ_H
#define LP_HUB_AUTHZ_H
#include <stdint.h>
#include "../kube/config.h"
#include "../util/err.h"

#define LP_HUB_AUTHZ_QUEUE 256 /* pending reviews; more are refused at once */

struct lp_hub_authz;

struct lp_hub_authz_result {
	uint64_t id;    /* as submitted */
	int allowed;    /* 1: may watch */
	char user[256]; /* the authenticated user name, or "" */
	char why[256];  /* when denied: one line for the subscriber */
};

/* Starts the worker. cfg is taken (freed by lp_hub_authz_free, also on
 * failure). *out is new on success. */
LP_WUR lp_err lp_hub_authz_new(struct lp_hub_authz **out, struct lp_kube_config *cfg,
                               void (*wake)(void *), void *wake_arg);
/* Stops the worker (waits for an in-flight review, at most its timeout) and frees.
 * NULL-safe. */
void lp_hub_authz_free(struct lp_hub_authz *a);
/* Queues a review. token and ns are copied. LP_ERR_LIMIT when the queue is full. */
LP_WUR lp_err lp_hub_authz_submit(struct lp_hub_authz *a, uint64_t id, const char *token,
                                  const char *ns);
/* Takes one finished review into *out: 1 when there was one, else 0. */
int lp_hub_authz_poll(struct lp_hub_authz *a, struct lp_hub_authz_result *out);

#endif
