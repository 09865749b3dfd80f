#include "sts.h"
#include "../util/mem.h"
#include "xml.h"
#include <stdio.h>
#include <string.h>

static lp_err parse_creds(const struct lp_aws_http_resp *r, struct lp_aws_creds *out,
                          struct lp_aws_error *e)
{
	const char *body = lp_buf_str(&r->body);
	size_t len = r->body.len, il = 0;
	const char *cr = lp_aws_xml_inner(body, len, "Credentials", &il, NULL);
	char akid[256], secret[256], token[4096], exp[64];
	struct lp_aws_creds c = {0};

	if (!cr || !lp_aws_xml_text(cr, il, "AccessKeyId", akid, sizeof(akid)) ||
	    !lp_aws_xml_text(cr, il, "SecretAccessKey", secret, sizeof(secret)) ||
	    !lp_aws_xml_text(cr, il, "SessionToken", token, sizeof(token)))
		return lp_aws_error_set(e, LP_ERR_PARSE, r->status, NULL,
		                        "STS answer has no Credentials element");
	lp_aws_xml_text(cr, il, "Expiration", exp, sizeof(exp));
	c.access_key_id = lp_strdup(akid);
	c.secret_access_key = lp_strdup(secret);
	c.session_token = lp_strdup(token);
	c.expires_at = exp[0] ? lp_aws_parse_time(exp) : 0;
	memset(secret, 0, sizeof(secret));
	if (!c.access_key_id || !c.secret_access_key || !c.session_token) {
		lp_aws_creds_free(&c);
		return lp_aws_error_set(e, LP_ERR_NOMEM, 0, NULL, "out of memory");
	}
	if (c.expires_at < 0) {
		lp_aws_creds_free(&c);
		return lp_aws_error_set(e, LP_ERR_PARSE, r->status, NULL,
		                        "STS answered an unreadable Expiration \"%s\"", exp);
	}
	*out = c;
	return LP_OK;
}

lp_err lp_sts_assume_role(struct lp_aws_client *c, const char *role_arn, const char *session_name,
                          const char *external_id, struct lp_aws_creds *out, struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	const char *kv[] = {"Action",
	                    "AssumeRole",
	                    "DurationSeconds",
	                    "3600",
	                    "RoleArn",
	                    role_arn,
	                    "RoleSessionName",
	                    session_name,
	                    "Version",
	                    "2011-06-15",
	                    external_id ? "ExternalId" : NULL,
	                    external_id,
	                    NULL,
	                    NULL};
	lp_err err;

	lp_aws_http_resp_init(&r);
	err = lp_aws_query_call(c, kv, &r, e);
	if (!err)
		err = parse_creds(&r, out, e);
	lp_aws_http_resp_free(&r);
	return err;
}

lp_err lp_sts_assume_role_with_web_identity(struct lp_aws_client *c, const char *role_arn,
                                            const char *session_name, const char *token,
                                            struct lp_aws_creds *out, struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	struct lp_aws_signer saved = c->cred;
	const char *kv[] = {"Action",
	                    "AssumeRoleWithWebIdentity",
	                    "DurationSeconds",
	                    "3600",
	                    "RoleArn",
	                    role_arn,
	                    "RoleSessionName",
	                    session_name,
	                    "Version",
	                    "2011-06-15",
	                    "WebIdentityToken",
	                    token,
	                    NULL,
	                    NULL};
	lp_err err;

	lp_aws_http_resp_init(&r);
	memset(&c->cred, 0, sizeof(c->cred));
	err = lp_aws_query_call(c, kv, &r, e);
	c->cred = saved;
	if (!err)
		err = parse_creds(&r, out, e);
	lp_aws_http_resp_free(&r);
	return err;
}

lp_err lp_sts_get_caller_identity(struct lp_aws_client *c, char account[16], struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	const char *kv[] = {"Action", "GetCallerIdentity", "Version", "2011-06-15", NULL, NULL};
	char acc[16];
	lp_err err;

	lp_aws_http_resp_init(&r);
	err = lp_aws_query_call(c, kv, &r, e);
	if (!err && !lp_aws_xml_text(lp_buf_str(&r.body), r.body.len, "Account", acc, sizeof(acc)))
		err = lp_aws_error_set(e, LP_ERR_PARSE, r.status, NULL,
		                       "STS GetCallerIdentity answer has no Account");
	if (!err)
		memcpy(account, acc, sizeof(acc));
	lp_aws_http_resp_free(&r);
	return err;
}
