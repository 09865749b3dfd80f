/* AWS credentials: the chain in the SDKs' order, cached and refreshed before
 * expiry, with an output's role assumed on top.
 *
 * Order: explicit keys from a Secret (passed in by the caller); web identity
 * (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, token re-read on every fetch,
 * STS AssumeRoleWithWebIdentity); EKS Pod Identity / container credentials
 * (AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 * or _TOKEN); environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN); IMDSv2 (PUT token, then GET the role's credentials;
 * AWS_EC2_METADATA_SERVICE_ENDPOINT overrides, AWS_EC2_METADATA_DISABLED=true
 * skips). Then, when role_arn is set, STS AssumeRole (with ExternalId) using
 * the chain's credentials. STS endpoint: opts.sts_endpoint, else
 * AWS_ENDPOINT_URL_STS, else the regional endpoint. Secrets are never logged
 * or put in messages. */
#ifndef LP_AWS_CREDS_H
#define LP_AWS_CREDS_H
#include <stdint.h>
#include "errors.h"
#include "http.h"

struct lp_aws_creds { /* owned strings; free with lp_aws_creds_free */
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL for long-term keys */
	int64_t expires_at;  /* Unix seconds, 0 = does not expire */
	char source[48];     /* "secret", "web-identity", "pod-identity", "environment",
	                        "imds"; "+assume-role" appended when a role was assumed */
};

/* Keys read from the Secret an output references (borrowed strings). */
struct lp_aws_secret_creds {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* may be NULL */
};

void lp_aws_creds_free(struct lp_aws_creds *c); /* NULL-safe, wipes the secret */
LP_WUR lp_err lp_aws_creds_copy(struct lp_aws_creds *dst, const struct lp_aws_creds *src);
/* Parses "2026-11-23T19:00:00Z" (fractional seconds allowed); -1 on error. */
int64_t lp_aws_parse_time(const char *s);

struct lp_aws_cred_cache; /* per lp_aws_ctx: base chain and assumed roles */
struct lp_aws_cred_cache *lp_aws_cred_cache_new(void);    /* NULL on no memory */
void lp_aws_cred_cache_free(struct lp_aws_cred_cache *c); /* NULL-safe */
/* Number of credential fetches made (STS, IMDS, container endpoint): for tests. */
unsigned lp_aws_cred_cache_fetches(const struct lp_aws_cred_cache *c);

struct lp_aws_cred_opts {
	const struct lp_aws_secret_creds *secret; /* NULL: use the chain */
	const char *region;      /* for the STS endpoint; NULL = AWS_REGION or us-east-1 */
	const char *role_arn;    /* assumed on top when set */
	const char *external_id; /* with role_arn */
	const char *sts_endpoint;
	int refresh_before_s; /* refresh this long before expiry (default 300) */
};

/* Resolves credentials into *out (caller frees with lp_aws_creds_free); *out
 * is written only on success. On failure e says why in words a user can act on
 * (e->code "NoCredentials" when the chain found nothing). */
LP_WUR lp_err lp_aws_creds_resolve(struct lp_aws_sys *sys, struct lp_aws_cred_cache *cache,
                                   const struct lp_aws_cred_opts *opts, struct lp_aws_creds *out,
                                   struct lp_aws_error *e);

#endif
