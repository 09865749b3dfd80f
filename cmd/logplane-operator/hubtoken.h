/* cmd/logplane-operator/hubtoken: the live-tail hub's ingest token.
 *
 * The operator creates the Secret <name> (key "token": 64 hex characters from
 * 32 random bytes) in the control namespace when it does not exist, and never
 * changes an existing one (delete it to rotate: the next start writes a new
 * one). The hub mounts it (--ingest-token-file) and refuses /ingest without
 * "Authorization: Bearer <token>"; every livetail output sends that header with
 * the token through an environment variable of the agents' credentials Secret
 * (lp_render_input.livetail_token_secret), never in a ConfigMap.
 *
 * Create-only, so every replica may run it: a 409 means another one (or a
 * person) made it. Other failures are retried every 10 s. Runs on the loop. */
#ifndef LP_OPERATOR_HUBTOKEN_H
#define LP_OPERATOR_HUBTOKEN_H
#include "../../pkg/kube/client.h"
#include "../../pkg/util/log.h"
#include "../../pkg/util/loop.h"

struct lp_hubtoken;

/* Starts at once. loop, client and log are borrowed and must outlive it; the
 * strings are copied. */
LP_WUR lp_err lp_hubtoken_start(struct lp_hubtoken **out, struct lp_loop *loop,
                                struct lp_kube_client *client, const struct lp_log *log,
                                const char *ns, const char *name);
/* 1 once the Secret exists (created here or found). */
int lp_hubtoken_done(const struct lp_hubtoken *t);
/* Cancels a pending call or retry; NULL-safe. */
void lp_hubtoken_free(struct lp_hubtoken *t);

#endif
