/* The controller's AWS hook (struct lp_ctrl_aws_ops in pkg/reconcile)
 * backed by an lp_aws_ctx:
 *
 *   static struct lp_aws_hook hook = {.ctx = aws_ctx};
 *   static const struct lp_ctrl_aws_ops ops = {lp_aws_hook_reconcile, &hook};
 *   co.aws = &ops;
 *
 * Runs on the controller's worker thread. Because the controller re-runs an
 * AWS step only on a spec change or after its slow interval, a target that is
 * still converging (stream CREATING/UPDATING) is polled here, bounded by
 * max_polls * poll_ms, before the result is handed back. Changes made (drift
 * set back, resources created) are appended to the Provisioned message. */
#ifndef LP_AWS_CTRL_HOOK_H
#define LP_AWS_CTRL_HOOK_H
#include <stdint.h>
#include "../reconcile/controller.h"
#include "provision.h"

struct lp_aws_hook {
	struct lp_aws_ctx *ctx; /* borrowed, required */
	int max_polls;          /* default 30 */
	uint64_t poll_ms;       /* default 2000 */
};

/* lp_ctrl_aws_ops.reconcile: hook is a struct lp_aws_hook. deleting = 1 runs
 * lp_aws_finalize_output and sets out->cleanup_done when the finalizer may go. */
void lp_aws_hook_reconcile(void *hook, const struct lp_output *o,
                           const struct lp_ctrl_aws_creds *creds, int deleting,
                           struct lp_ctrl_aws_result *out);

#endif
