/* pkg/aws/iam.h: the IAM actions the operator may need, in one table.
 *
 * Every AWS call the operator makes is reported to lp_aws_sys.on_call as
 * (service, operation); each such pair is listed here, with the IAM action it
 * needs and why. The policy document (`logplane iam-policy`) and the tables of
 * docs/aws.md and docs/helm.md are generated from this table. */
#ifndef LP_AWS_IAM_H
#define LP_AWS_IAM_H
#include <stddef.h>
#include "../util/err.h"

struct lp_aws_iam_action {
	const char *action;    /* "kinesis:CreateStream" */
	const char *service;   /* the on_call service the call goes to, "kinesis" */
	const char *operation; /* the on_call operation it permits ("CreateStream") */
	int read_only;         /* needed for outputs without provision too */
	const char *why;       /* one line, user terms */
};

/* The table, in policy order; *n gets its length. Never NULL. */
const struct lp_aws_iam_action *lp_aws_iam_actions(size_t *n);

/* The entry for a reported call, or NULL when the table lacks it. */
const struct lp_aws_iam_action *lp_aws_iam_find(const char *service, const char *operation);

/* The IAM policy document (JSON, 2-space indented, newline-terminated) in
 * *out, to lp_free. LP_ERR_NOMEM. */
LP_WUR lp_err lp_aws_iam_policy_json(char **out);

/* The Markdown table (| Action | Read-only | Why |) of the docs, in *out, to
 * lp_free. LP_ERR_NOMEM. */
LP_WUR lp_err lp_aws_iam_markdown(char **out);
#endif
