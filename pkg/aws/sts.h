/* STS over the query protocol: AssumeRole, AssumeRoleWithWebIdentity (sent
 * unsigned, as the SDKs do), GetCallerIdentity. */
#ifndef LP_AWS_STS_H
#define LP_AWS_STS_H
#include "creds.h"
#include "http.h"

/* c must be an "sts" client. *out written only on success. */
LP_WUR lp_err lp_sts_assume_role(struct lp_aws_client *c, const char *role_arn,
                                 const char *session_name, const char *external_id,
                                 struct lp_aws_creds *out, struct lp_aws_error *e);
/* c->cred is ignored (the request is unsigned). */
LP_WUR lp_err lp_sts_assume_role_with_web_identity(struct lp_aws_client *c, const char *role_arn,
                                                   const char *session_name, const char *token,
                                                   struct lp_aws_creds *out,
                                                   struct lp_aws_error *e);
/* Account id into account[16] (12 digits). */
LP_WUR lp_err lp_sts_get_caller_identity(struct lp_aws_client *c, char account[16],
                                         struct lp_aws_error *e);

#endif
