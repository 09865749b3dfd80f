/* pkg/aws/spechash: the verification cache's key for one LogOutput: a
 * SHA-256 over its type, region, endpoint, credentials settings (and the
 * Secret's key id), its target and provision settings. */
#ifndef LP_AWS_SPECHASH_H
#define LP_AWS_SPECHASH_H
#include "../api/api.h"
#include "creds.h"

/* hash gets 64 hex digits. LP_ERR_NOMEM. */
LP_WUR lp_err lp_aws_spec_hash(const struct lp_output *o, const struct lp_aws_secret_creds *sc,
                               char hash[65]);

#endif
