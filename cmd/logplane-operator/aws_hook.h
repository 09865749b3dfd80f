/* cmd/logplane-operator/aws_hook: the wiring of pkg/aws into the controller:
 * its AWS hook (struct lp_ctrl_aws_ops in pkg/reconcile) backed by an
 * lp_aws_ctx:
 *
 *   static struct lp_aws_hook hook = {.ctx = aws_ctx};
 *   static const struct lp_ctrl_aws_ops ops = {lp_aws_hook_reconcile, &hook};
 *   co.aws = &ops;
 *
 * Runs on the controller's worker thread. One call per job: a target that is
 * still converging (stream CREATING/UPDATING) is reported with in_progress and
 * requeue_after_ms, and the controller calls again then, so the worker is not
 * held (max_polls > 1 polls here instead, for callers without a requeue).
 * Changes made (drift set back, resources created) are handed back as events
 * (the controller records one Event each); arn, region and state fill the
 * result's target. */
#ifndef LP_OPERATOR_AWS_HOOK_H
#define LP_OPERATOR_AWS_HOOK_H
#include <stdint.h>
#include "../../pkg/aws/provision.h"
#include "../../pkg/reconcile/controller.h"

struct lp_aws_hook {
	struct lp_aws_ctx *ctx; /* borrowed, required */
	int max_polls;          /* calls per job while in progress; default 1 (no polling) */
	uint64_t poll_ms;       /* wait between them, default 2000 */
};

/* lp_ctrl_aws_ops.reconcile: hook is a struct lp_aws_hook. deleting = 1 runs
 * lp_aws_finalize_output and sets out->cleanup_done when the finalizer may go. */
void lp_aws_hook_reconcile(void *hook, const struct lp_output *o,
                           const struct lp_ctrl_aws_creds *creds, int deleting,
                           struct lp_ctrl_aws_result *out);

#endif
