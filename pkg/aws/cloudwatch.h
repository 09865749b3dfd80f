/* CloudWatch Logs (JSON protocol, Logs_20140328): log group and retention. */
#ifndef LP_AWS_CLOUDWATCH_H
#define LP_AWS_CLOUDWATCH_H
#include "../api/api.h"
#include "http.h"

/* DescribeLogGroups by exact name. *found 0 when absent; *retention_days 0 when
 * the group never expires; arn[512] may be "". */
LP_WUR lp_err lp_cwl_describe(struct lp_aws_client *c, const char *group, int *found,
                              int *retention_days, char arn[512], struct lp_aws_error *e);
/* CreateLogGroup with tags (an existing group counts as success). */
LP_WUR lp_err lp_cwl_create(struct lp_aws_client *c, const char *group, const struct lp_kv *tags,
                            size_t n_tags, struct lp_aws_error *e);
/* PutRetentionPolicy, or DeleteRetentionPolicy when days is 0. */
LP_WUR lp_err lp_cwl_set_retention(struct lp_aws_client *c, const char *group, int days,
                                   struct lp_aws_error *e);
LP_WUR lp_err lp_cwl_delete(struct lp_aws_client *c, const char *group, struct lp_aws_error *e);

#endif
