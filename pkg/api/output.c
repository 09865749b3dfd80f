/* LogOutput: parse (with defaults) and free. Single-object checks live here;
 * cross-object rules (tenancy, Secrets) are in validate.c. */
#include "outtype.h"
#include "../util/mem.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)
#define TIB (1024ULL * GIB)

static const char *const deletion_names[] = {"Retain", "Delete"};
static const char *const yes_no_tls_keys[] = {"enabled", "verify", "caSecretRef", NULL};

/* ---------- free ---------- */

void lp_tls_clear(struct lp_tls *t)
{
	lp_free(t->ca_secret_name);
}

void lp_auth_clear(struct lp_basic_auth *a)
{
	lp_free(a->secret_name);
	lp_free(a->username_key);
	lp_free(a->password_key);
}

/* ---------- Secret references ---------- */

int lp_out_secret_one(struct lp_output_secret *s, const char *field,
                      const struct lp_secret_key_ref *ref, const char *default_key, int kind)
{
	snprintf(s->field, sizeof(s->field), "%s", field);
	s->name = ref->name;
	s->key = ref->key;
	s->default_key = default_key;
	s->kind = kind;
	s->tls_for = NULL;
	s->header = -1;
	return 1;
}

void lp_output_free(struct lp_output *o)
{
	const struct lp_output_type_desc *d;

	if (!o)
		return;
	lp_meta_clear(&o->meta);
	lp_strlist_clear(&o->shared_with);
	lp_free(o->delivery.buffer_limit);
	lp_free(o->delivery.mem_buf_limit);
	lp_free(o->aws.region);
	lp_free(o->aws.endpoint);
	lp_free(o->aws.credentials.secret_name);
	lp_free(o->aws.credentials.access_key_id_key);
	lp_free(o->aws.credentials.secret_access_key_key);
	lp_free(o->aws.credentials.session_token_key);
	lp_free(o->aws.credentials.role_arn);
	lp_free(o->aws.credentials.external_id);
	if ((d = lp_output_type_desc(o->type)) && d->clear)
		d->clear(o);
	lp_free(o);
}

/* ---------- shared pieces ---------- */

void lp_rd_tags(struct lp_rd *r, const json_t *obj, const char *base, struct lp_kv **tags,
                size_t *n)
{
	lp_rd_kvmap(r, obj, base, "tags", tags, n, LP_STR_TEXT, 128, LP_STR_TEXT, 256, 50);
}

void lp_rd_deletion(struct lp_rd *r, const json_t *obj, const char *base,
                    enum lp_deletion_policy *out)
{
	int del = 0;

	lp_rd_enum(r, obj, base, "deletionPolicy", deletion_names, 2, &del, 0);
	*out = (enum lp_deletion_policy)del;
}

void lp_rd_tls(struct lp_rd *r, const json_t *obj, const char *base, struct lp_tls *t,
               int default_on)
{
	char path[LP_RD_PATH], cpath[LP_RD_PATH];
	const json_t *o = lp_rd_get(r, obj, base, "tls", LP_RD_OBJ, 0);
	const json_t *ca;

	t->enabled = default_on;
	t->verify = 1;
	if (!o)
		return;
	lp_rd_join(path, base, "tls");
	lp_rd_known(r, o, path, yes_no_tls_keys);
	lp_rd_bool(r, o, path, "enabled", &t->enabled);
	lp_rd_bool(r, o, path, "verify", &t->verify);
	ca = lp_rd_get(r, o, path, "caSecretRef", LP_RD_OBJ, 0);
	if (ca) {
		static const char *const known[] = {"name", NULL};
		lp_rd_join(cpath, path, "caSecretRef");
		lp_rd_known(r, ca, cpath, known);
		lp_rd_str(r, ca, cpath, "name", &t->ca_secret_name, LP_STR_DNS_SUBDOMAIN, 0, 1);
	}
	if (!t->enabled && (json_object_get(o, "verify") || ca))
		lp_rd_bad(r, path, "verify and caSecretRef need enabled: true");
}

void lp_rd_auth(struct lp_rd *r, const json_t *obj, const char *base, struct lp_basic_auth *a)
{
	static const char *const known[] = {"secretRef", NULL};
	static const char *const sknown[] = {"name", "usernameKey", "passwordKey", NULL};
	char path[LP_RD_PATH], spath[LP_RD_PATH];
	const json_t *o = lp_rd_get(r, obj, base, "auth", LP_RD_OBJ, 0);
	const json_t *s;

	if (!o)
		return;
	lp_rd_join(path, base, "auth");
	lp_rd_known(r, o, path, known);
	s = lp_rd_get(r, o, path, "secretRef", LP_RD_OBJ, 1);
	if (!s)
		return;
	lp_rd_join(spath, path, "secretRef");
	lp_rd_known(r, s, spath, sknown);
	lp_rd_str(r, s, spath, "name", &a->secret_name, LP_STR_DNS_SUBDOMAIN, 0, 1);
	lp_rd_str(r, s, spath, "usernameKey", &a->username_key, LP_STR_SECRET_KEY, 0, 0);
	lp_rd_str(r, s, spath, "passwordKey", &a->password_key, LP_STR_SECRET_KEY, 0, 0);
	lp_rd_default(r, &a->username_key, "username");
	lp_rd_default(r, &a->password_key, "password");
}

/* ---------- delivery and aws ---------- */

static void rd_delivery(struct lp_rd *r, const json_t *spec, struct lp_delivery *d)
{
	static const char *const known[] = {"mode", "retryLimit", "bufferLimit", "memBufLimit",
	                                    NULL};
	static const char *const modes[] = {"atLeastOnce", "atMostOnce"};
	const json_t *o = lp_rd_get(r, spec, "spec", "delivery", LP_RD_OBJ, 0);
	int mode = LP_DELIVERY_AT_LEAST_ONCE;

	d->retry_limit = 10;
	if (o) {
		lp_rd_known(r, o, "spec.delivery", known);
		lp_rd_enum(r, o, "spec.delivery", "mode", modes, 2, &mode, 0);
		lp_rd_int(r, o, "spec.delivery", "retryLimit", &d->retry_limit, 1, 100, 0);
		lp_rd_size(r, o, "spec.delivery", "bufferLimit", &d->buffer_limit, MIB, TIB, 0);
		lp_rd_size(r, o, "spec.delivery", "memBufLimit", &d->mem_buf_limit, 64 * KIB,
		           4 * GIB, 0);
		if (mode == LP_DELIVERY_AT_MOST_ONCE && json_object_get(o, "bufferLimit"))
			lp_rd_bad(r, "spec.delivery.bufferLimit",
			          "only used with mode atLeastOnce (the filesystem buffer)");
	}
	d->mode = (enum lp_delivery_mode)mode;
	/* no default for buffer_limit: unset means the agents' default (1G) */
	lp_rd_default(r, &d->mem_buf_limit, "5M");
}

static void rd_aws(struct lp_rd *r, const json_t *spec, struct lp_output *o)
{
	static const char *const known[] = {"region", "endpoint", "credentials", NULL};
	static const char *const cknown[] = {"secretRef", "roleArn", "externalId", NULL};
	static const char *const sknown[] = {"name", "accessKeyIdKey", "secretAccessKeyKey",
	                                     "sessionTokenKey", NULL};
	const char *tname = lp_output_type_name(o->type);
	int is_aws = lp_output_type_is_aws(o->type);
	const struct lp_output_type_desc *d = lp_output_type_desc(o->type);
	int aws_allowed = is_aws || (d && d->aws_auth >= 0);
	const json_t *a = lp_rd_get(r, spec, "spec", "aws", LP_RD_OBJ, 0);
	const json_t *c, *s;
	struct lp_aws_credentials *cr = &o->aws.credentials;

	if (!a) {
		if (is_aws)
			lp_rd_bad(r, "spec.aws.region", "required for type %s", tname);
		return;
	}
	if (!aws_allowed && tname) {
		lp_rd_bad(r, "spec.aws", "not used by type %s", tname);
		return;
	}
	lp_rd_known(r, a, "spec.aws", known);
	lp_rd_str(r, a, "spec.aws", "region", &o->aws.region, LP_STR_REGION, 0, is_aws);
	lp_rd_str(r, a, "spec.aws", "endpoint", &o->aws.endpoint, LP_STR_URL, 0, 0);
	c = lp_rd_get(r, a, "spec.aws", "credentials", LP_RD_OBJ, 0);
	if (!c)
		return;
	lp_rd_known(r, c, "spec.aws.credentials", cknown);
	lp_rd_str(r, c, "spec.aws.credentials", "roleArn", &cr->role_arn, LP_STR_ARN, 0, 0);
	lp_rd_str(r, c, "spec.aws.credentials", "externalId", &cr->external_id, LP_STR_TEXT, 1224,
	          0);
	if (cr->external_id && !cr->role_arn)
		lp_rd_bad(r, "spec.aws.credentials.externalId", "needs roleArn");
	s = lp_rd_get(r, c, "spec.aws.credentials", "secretRef", LP_RD_OBJ, 0);
	if (!s)
		return;
	lp_rd_known(r, s, "spec.aws.credentials.secretRef", sknown);
	lp_rd_str(r, s, "spec.aws.credentials.secretRef", "name", &cr->secret_name,
	          LP_STR_DNS_SUBDOMAIN, 0, 1);
	lp_rd_str(r, s, "spec.aws.credentials.secretRef", "accessKeyIdKey", &cr->access_key_id_key,
	          LP_STR_SECRET_KEY, 0, 0);
	lp_rd_str(r, s, "spec.aws.credentials.secretRef", "secretAccessKeyKey",
	          &cr->secret_access_key_key, LP_STR_SECRET_KEY, 0, 0);
	lp_rd_str(r, s, "spec.aws.credentials.secretRef", "sessionTokenKey", &cr->session_token_key,
	          LP_STR_SECRET_KEY, 0, 0);
	lp_rd_default(r, &cr->access_key_id_key, "AWS_ACCESS_KEY_ID");
	lp_rd_default(r, &cr->secret_access_key_key, "AWS_SECRET_ACCESS_KEY");
}

/* ---------- the object ---------- */

/* spec's own keys and one sub-object per type */
static void spec_known(struct lp_rd *r, const json_t *spec)
{
	const char *keys[4 + LP_OUT_TYPE_COUNT + 1] = {"type", "delivery", "aws", "sharedWith"};
	size_t n = 4;

	for (int i = LP_OUT_NONE + 1; i < LP_OUT_TYPE_COUNT; i++)
		keys[n++] = lp_output_type_name((enum lp_output_type)i);
	keys[n] = NULL;
	lp_rd_known(r, spec, "spec", keys);
}

/* spec.sharedWith: the tenant namespaces a control-namespace output serves
 * (whether o is in the control namespace is validation's: lp_output_validate). */
static void rd_shared_with(struct lp_rd *r, const json_t *spec, struct lp_output *o,
                           const struct lp_output_type_desc *d)
{
	static const char *const known[] = {"namespaces", NULL};
	const json_t *sw = lp_rd_get(r, spec, "spec", "sharedWith", LP_RD_OBJ, 0);

	if (!sw)
		return;
	lp_rd_known(r, sw, "spec.sharedWith", known);
	lp_rd_strlist(r, sw, "spec.sharedWith", "namespaces", &o->shared_with, LP_STR_DNS_LABEL, 63,
	              1, 256, 1);
	if (d && d->not_shared)
		lp_rd_bad(r, "spec.sharedWith",
		          "a %s output is not shared: its hub stream is read by who may read its "
		          "namespace; give each tenant its own",
		          d->name);
}

static void rd_output_spec(struct lp_rd *r, const json_t *spec, struct lp_output *o)
{
	const char *names[LP_OUT_TYPE_COUNT];
	const struct lp_output_type_desc *d;
	const json_t *body;
	const char *tname;
	char path[LP_RD_PATH];
	int t = 0;

	for (int i = 0; i < LP_OUT_TYPE_COUNT; i++)
		names[i] = lp_output_type_name((enum lp_output_type)i);
	spec_known(r, spec);
	lp_rd_enum(r, spec, "spec", "type", names, LP_OUT_TYPE_COUNT, &t, 1);
	o->type = (enum lp_output_type)t;
	rd_delivery(r, spec, &o->delivery);
	rd_shared_with(r, spec, o, lp_output_type_desc(o->type));
	if (!(d = lp_output_type_desc(o->type)))
		return;
	tname = d->name;
	/* exactly the sub-object named by type */
	for (int i = LP_OUT_NONE + 1; i < LP_OUT_TYPE_COUNT; i++) {
		const char *n = lp_output_type_name((enum lp_output_type)i);
		if (i != t && json_object_get(spec, n)) {
			lp_rd_join(path, "spec", n);
			lp_rd_bad(r, path,
			          "not allowed with type %s (set spec.type: %s or remove it)",
			          tname, n);
		}
	}
	rd_aws(r, spec, o);
	body = lp_rd_get(r, spec, "spec", tname, LP_RD_OBJ, !d->body_optional);
	lp_rd_join(path, "spec", tname);
	d->parse(r, body, path, o);
	if (d->aws_auth >= 0) {
		/* may sign with AWS: spec.aws only then, and then with a region */
		int signs = lp_output_signs_aws(o);
		if (signs && !o->aws.region)
			lp_rd_bad(r, "spec.aws.region", "required with spec.%s.awsAuth", tname);
		if (!signs && json_object_get(spec, "aws"))
			lp_rd_bad(r, "spec.aws", "only used with spec.%s.awsAuth: true", tname);
	}
}

lp_err lp_output_parse(struct lp_output **out, const json_t *obj, struct lp_problems *probs)
{
	struct lp_rd r = {probs, LP_OK, 0};
	struct lp_output *o;
	const json_t *spec;

	if (!out || !probs)
		return LP_ERR_INVALID;
	*out = NULL;
	if (!json_is_object(obj))
		return LP_ERR_INVALID;
	o = lp_calloc(1, sizeof(*o));
	if (!o)
		return LP_ERR_NOMEM;
	spec = lp_rd_header(&r, obj, "LogOutput", &o->meta);
	if (spec)
		rd_output_spec(&r, spec, o);
	if (r.err != LP_OK) {
		lp_output_free(o);
		return r.err;
	}
	*out = o;
	return r.added ? LP_ERR_INVALID : LP_OK;
}
