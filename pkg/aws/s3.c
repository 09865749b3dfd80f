#include "s3.h"
#include "../util/mem.h"
#include "xml.h"
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lp_err lp_s3_client_for_bucket(const struct lp_aws_client *base, const char *bucket,
                               struct lp_aws_client *c, struct lp_aws_endpoint *vh,
                               char path_prefix[80])
{
	struct lp_aws_endpoint ep = {0};
	struct lp_buf h;
	lp_err err;

	*c = *base;
	if (base->ep->custom || strchr(bucket, '.')) {
		snprintf(path_prefix, 80, "/%s", bucket);
		return LP_OK;
	}
	lp_buf_init(&h, 1024);
	ep.scheme = lp_strdup(base->ep->scheme);
	ep.base_path = lp_strdup(base->ep->base_path);
	ep.partition = base->ep->partition;
	err = lp_buf_addf(&h, "%s.%s", bucket, base->ep->host);
	ep.host = err ? NULL : lp_buf_take(&h);
	ep.port = base->ep->port;
	if (!ep.scheme || !ep.base_path || !ep.host) {
		lp_aws_endpoint_free(&ep);
		return LP_ERR_NOMEM;
	}
	ep.url = NULL;
	{
		struct lp_buf u;
		lp_buf_init(&u, 1024);
		if (lp_buf_addf(&u, "%s://%s", ep.scheme, ep.host) ||
		    (ep.port && lp_buf_addf(&u, ":%d", ep.port))) {
			lp_aws_endpoint_free(&ep);
			return LP_ERR_NOMEM;
		}
		ep.url = lp_buf_take(&u);
		ep.host_header = lp_strdup(ep.url + strlen(ep.scheme) + 3);
	}
	if (!ep.url || !ep.host_header) {
		lp_aws_endpoint_free(&ep);
		return LP_ERR_NOMEM;
	}
	*vh = ep;
	c->ep = vh;
	path_prefix[0] = '\0';
	return LP_OK;
}

/* op is the IAM action name (s3:op), so AccessDenied messages name the permission. */
static lp_err req(struct lp_aws_client *c, const char *op, const char *method, const char *prefix,
                  const char *query, const char *body, int md5, struct lp_aws_http_resp *r,
                  struct lp_aws_error *e)
{
	char path[128], md5b64[32] = "";
	struct lp_sigv4_hdr h[2];
	size_t n = 0, bl = body ? strlen(body) : 0;

	if (e && !e->err)
		snprintf(e->op, sizeof(e->op), "s3:%s", op);
	snprintf(path, sizeof(path), "%s", prefix[0] ? prefix : "/");
	if (body) {
		h[n++] = (struct lp_sigv4_hdr){"Content-Type", "application/xml"};
		if (md5) { /* required by PutBucketLifecycleConfiguration and friends */
			unsigned char d[16];
			unsigned int dl = 0;
			EVP_Digest(body, bl, d, &dl, EVP_md5(), NULL);
			EVP_EncodeBlock((unsigned char *)md5b64, d, (int)dl);
			h[n++] = (struct lp_sigv4_hdr){"Content-MD5", md5b64};
		}
	}
	return lp_aws_request(c, method, path, query, h, n, body, bl, r, e);
}

lp_err lp_s3_head(struct lp_aws_client *c, const char *prefix, char region[32],
                  struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	struct lp_aws_error tmp = {0};
	char reg[32] = "";
	lp_err err;

	lp_aws_http_resp_init(&r);
	snprintf(tmp.op, sizeof(tmp.op), "s3:ListBucket");
	err = req(c, "ListBucket", "HEAD", prefix, NULL, NULL, 0, &r, &tmp);
	lp_aws_http_resp_header(&r, "x-amz-bucket-region", reg, sizeof(reg));
	if (err && r.status == 301) /* exists in another region */
		err = LP_OK;
	if (err && e && !e->err)
		*e = tmp;
	if (!err)
		memcpy(region, reg, sizeof(reg));
	lp_aws_http_resp_free(&r);
	return err;
}

lp_err lp_s3_create(struct lp_aws_client *c, const char *prefix, const char *region,
                    struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	struct lp_buf b;
	struct lp_aws_error tmp = {0};
	lp_err err = LP_OK;

	lp_buf_init(&b, 4096);
	lp_aws_http_resp_init(&r);
	if (region && strcmp(region, "us-east-1") != 0) {
		err = lp_buf_adds(&b, "<CreateBucketConfiguration "
		                      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		                      "<LocationConstraint>");
		if (!err)
			err = lp_aws_xml_escape(&b, region);
		if (!err)
			err = lp_buf_adds(&b, "</LocationConstraint></CreateBucketConfiguration>");
	}
	if (err) {
		lp_buf_free(&b);
		return lp_aws_error_set(e, err, 0, NULL, "out of memory");
	}
	err =
	    req(c, "CreateBucket", "PUT", prefix, NULL, b.len ? lp_buf_str(&b) : NULL, 0, &r, &tmp);
	if (err && strcmp(tmp.code, "BucketAlreadyOwnedByYou") == 0)
		err = LP_OK;
	else if (err && strcmp(tmp.code, "BucketAlreadyExists") == 0)
		snprintf(tmp.message, sizeof(tmp.message),
		         "bucket name taken by another account: S3 bucket names are global, choose "
		         "another name in spec.s3.bucket");
	if (err && e && !e->err)
		*e = tmp;
	lp_buf_free(&b);
	lp_aws_http_resp_free(&r);
	return err;
}

static lp_err get_cfg(struct lp_aws_client *c, const char *op, const char *prefix,
                      const char *query, struct lp_aws_http_resp *r, int *absent,
                      struct lp_aws_error *e)
{
	struct lp_aws_error tmp = {0};
	lp_err err = req(c, op, "GET", prefix, query, NULL, 0, r, &tmp);

	*absent = 0;
	if (err == LP_ERR_NOTFOUND && strcmp(tmp.code, "NoSuchBucket") != 0) {
		*absent = 1;
		return LP_OK;
	}
	if (err && e && !e->err)
		*e = tmp;
	return err;
}

lp_err lp_s3_get_expiry(struct lp_aws_client *c, const char *prefix, int *days,
                        struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	int absent = 0, d = 0;
	lp_err err;

	lp_aws_http_resp_init(&r);
	err = get_cfg(c, "GetLifecycleConfiguration", prefix, "lifecycle=", &r, &absent, e);
	if (!err && !absent) {
		const char *p = lp_buf_str(&r.body), *end = p + r.body.len, *next;
		size_t il;
		const char *rule;
		while ((rule = lp_aws_xml_inner(p, (size_t)(end - p), "Rule", &il, &next))) {
			char id[128], st[32], ds[32];
			size_t el;
			const char *exp = lp_aws_xml_inner(rule, il, "Expiration", &el, NULL);
			lp_aws_xml_text(rule, il, "ID", id, sizeof(id));
			lp_aws_xml_text(rule, il, "Status", st, sizeof(st));
			if (exp && strcmp(st, "Enabled") == 0 &&
			    lp_aws_xml_text(exp, el, "Days", ds, sizeof(ds)) &&
			    (strcmp(id, "logplane-expiration") == 0 || d == 0))
				d = (int)strtol(ds, NULL, 10);
			p = next;
		}
	}
	if (!err)
		*days = d;
	lp_aws_http_resp_free(&r);
	return err;
}

lp_err lp_s3_put_expiry(struct lp_aws_client *c, const char *prefix, int days,
                        struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	struct lp_buf b;
	lp_err err;

	lp_buf_init(&b, 4096);
	lp_aws_http_resp_init(&r);
	err =
	    lp_buf_addf(&b,
	                "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	                "<Rule><ID>logplane-expiration</ID><Filter><Prefix></Prefix></Filter>"
	                "<Status>Enabled</Status><Expiration><Days>%d</Days></Expiration>"
	                "<AbortIncompleteMultipartUpload><DaysAfterInitiation>7"
	                "</DaysAfterInitiation></AbortIncompleteMultipartUpload>"
	                "</Rule></LifecycleConfiguration>",
	                days);
	if (err)
		err = lp_aws_error_set(e, err, 0, NULL, "out of memory");
	else
		err = req(c, "PutLifecycleConfiguration", "PUT", prefix,
		          "lifecycle=", lp_buf_str(&b), 1, &r, e);
	lp_buf_free(&b);
	lp_aws_http_resp_free(&r);
	return err;
}

lp_err lp_s3_get_encryption(struct lp_aws_client *c, const char *prefix, char algo[32],
                            char key[256], struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	int absent = 0;
	char a[32] = "", k[256] = "";
	lp_err err;

	lp_aws_http_resp_init(&r);
	err = get_cfg(c, "GetEncryptionConfiguration", prefix, "encryption=", &r, &absent, e);
	if (!err && !absent) {
		lp_aws_xml_text(lp_buf_str(&r.body), r.body.len, "SSEAlgorithm", a, sizeof(a));
		lp_aws_xml_text(lp_buf_str(&r.body), r.body.len, "KMSMasterKeyID", k, sizeof(k));
	}
	if (!err) {
		memcpy(algo, a, sizeof(a));
		memcpy(key, k, sizeof(k));
	}
	lp_aws_http_resp_free(&r);
	return err;
}

lp_err lp_s3_put_encryption(struct lp_aws_client *c, const char *prefix, const char *algo,
                            const char *kms_key, struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	struct lp_buf b;
	lp_err err;

	lp_buf_init(&b, 4096);
	lp_aws_http_resp_init(&r);
	err = lp_buf_adds(&b, "<ServerSideEncryptionConfiguration "
	                      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule>"
	                      "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>");
	if (!err)
		err = lp_aws_xml_escape(&b, algo);
	if (!err)
		err = lp_buf_adds(&b, "</SSEAlgorithm>");
	if (!err && kms_key && *kms_key) {
		err = lp_buf_adds(&b, "<KMSMasterKeyID>");
		if (!err)
			err = lp_aws_xml_escape(&b, kms_key);
		if (!err)
			err = lp_buf_adds(&b, "</KMSMasterKeyID>");
	}
	if (!err)
		err = lp_buf_addf(&b,
		                  "</ApplyServerSideEncryptionByDefault>%s</Rule>"
		                  "</ServerSideEncryptionConfiguration>",
		                  strcmp(algo, "aws:kms") == 0 ? "<BucketKeyEnabled>true"
		                                                 "</BucketKeyEnabled>"
		                                               : "");
	if (err)
		err = lp_aws_error_set(e, err, 0, NULL, "out of memory");
	else
		err = req(c, "PutEncryptionConfiguration", "PUT", prefix,
		          "encryption=", lp_buf_str(&b), 1, &r, e);
	lp_buf_free(&b);
	lp_aws_http_resp_free(&r);
	return err;
}

lp_err lp_s3_tags_match(struct lp_aws_client *c, const char *prefix, const struct lp_kv *tags,
                        size_t n, int *matches, struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	int absent = 0, ok = 1;
	lp_err err;

	lp_aws_http_resp_init(&r);
	err = get_cfg(c, "GetBucketTagging", prefix, "tagging=", &r, &absent, e);
	for (size_t i = 0; !err && i < n && ok; i++) {
		const char *p = lp_buf_str(&r.body), *end = p + r.body.len, *next, *t;
		size_t il;
		int found = 0;
		while (!absent && (t = lp_aws_xml_inner(p, (size_t)(end - p), "Tag", &il, &next))) {
			char k[256], v[512];
			lp_aws_xml_text(t, il, "Key", k, sizeof(k));
			lp_aws_xml_text(t, il, "Value", v, sizeof(v));
			if (strcmp(k, tags[i].key) == 0 && strcmp(v, tags[i].value) == 0)
				found = 1;
			p = next;
		}
		ok = found;
	}
	if (!err)
		*matches = ok;
	lp_aws_http_resp_free(&r);
	return err;
}

lp_err lp_s3_put_tags(struct lp_aws_client *c, const char *prefix, const struct lp_kv *tags,
                      size_t n, struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	struct lp_buf b;
	lp_err err;

	lp_buf_init(&b, 64 * 1024);
	lp_aws_http_resp_init(&r);
	err =
	    lp_buf_adds(&b, "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>");
	for (size_t i = 0; i < n && !err; i++) {
		err = lp_buf_adds(&b, "<Tag><Key>");
		if (!err)
			err = lp_aws_xml_escape(&b, tags[i].key);
		if (!err)
			err = lp_buf_adds(&b, "</Key><Value>");
		if (!err)
			err = lp_aws_xml_escape(&b, tags[i].value);
		if (!err)
			err = lp_buf_adds(&b, "</Value></Tag>");
	}
	if (!err)
		err = lp_buf_adds(&b, "</TagSet></Tagging>");
	if (err)
		err = lp_aws_error_set(e, err, 0, NULL, "out of memory");
	else
		err =
		    req(c, "PutBucketTagging", "PUT", prefix, "tagging=", lp_buf_str(&b), 1, &r, e);
	lp_buf_free(&b);
	lp_aws_http_resp_free(&r);
	return err;
}

lp_err lp_s3_get_pab(struct lp_aws_client *c, const char *prefix, int *all, struct lp_aws_error *e)
{
	static const char *const keys[] = {"BlockPublicAcls", "IgnorePublicAcls",
	                                   "BlockPublicPolicy", "RestrictPublicBuckets"};
	struct lp_aws_http_resp r;
	int absent = 0, ok = 1;
	lp_err err;

	lp_aws_http_resp_init(&r);
	err =
	    get_cfg(c, "GetBucketPublicAccessBlock", prefix, "publicAccessBlock=", &r, &absent, e);
	for (size_t i = 0; !err && i < 4; i++) {
		char v[16];
		if (absent ||
		    !lp_aws_xml_text(lp_buf_str(&r.body), r.body.len, keys[i], v, sizeof(v)) ||
		    strcmp(v, "true") != 0)
			ok = 0;
	}
	if (!err)
		*all = ok;
	lp_aws_http_resp_free(&r);
	return err;
}

lp_err lp_s3_put_pab(struct lp_aws_client *c, const char *prefix, struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	lp_err err;

	lp_aws_http_resp_init(&r);
	err =
	    req(c, "PutBucketPublicAccessBlock", "PUT", prefix, "publicAccessBlock=",
	        "<PublicAccessBlockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	        "<BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls>"
	        "<BlockPublicPolicy>true</BlockPublicPolicy>"
	        "<RestrictPublicBuckets>true</RestrictPublicBuckets>"
	        "</PublicAccessBlockConfiguration>",
	        1, &r, e);
	lp_aws_http_resp_free(&r);
	return err;
}

lp_err lp_s3_is_empty(struct lp_aws_client *c, const char *prefix, int *empty,
                      struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	lp_err err;
	size_t il;

	lp_aws_http_resp_init(&r);
	err = req(c, "ListBucket", "GET", prefix, "list-type=2&max-keys=1", NULL, 0, &r, e);
	if (!err)
		*empty = lp_aws_xml_inner(lp_buf_str(&r.body), r.body.len, "Contents", &il, NULL) ==
		         NULL;
	lp_aws_http_resp_free(&r);
	return err;
}

lp_err lp_s3_delete(struct lp_aws_client *c, const char *prefix, struct lp_aws_error *e)
{
	struct lp_aws_http_resp r;
	lp_err err;

	lp_aws_http_resp_init(&r);
	err = req(c, "DeleteBucket", "DELETE", prefix, NULL, NULL, 0, &r, e);
	lp_aws_http_resp_free(&r);
	return err;
}
