#include "provision.h"
#include "../util/buf.h"
#include "../util/mem.h"
#include "cloudwatch.h"
#include "endpoints.h"
#include "firehose.h"
#include "kinesis.h"
#include "s3.h"
#include "spechash.h"
#include "sts.h"
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct cache_entry {
	char *key; /* ns/name */
	char hash[65];
	uint64_t at_ms;
	struct lp_aws_result res;
};

struct lp_aws_ctx {
	struct lp_aws_sys sys;
	struct lp_aws_cred_cache *creds;
	const struct lp_clock *clock;
	uint64_t verify_interval_ms;
	uint64_t requeue_ms;
	int refresh_before_s;
	char *sts_endpoint;
	struct cache_entry *cache;
	size_t n_cache, cap_cache;
	int curl_inited;
};

/* Everything one reconcile needs. */
struct run {
	struct lp_aws_ctx *ctx;
	const struct lp_output *o;
	struct lp_aws_result *res;
	struct lp_aws_creds creds;
	struct lp_aws_endpoint ep;
	struct lp_aws_client c;
	const char *region;
	char notes[256]; /* settings the endpoint does not implement */
};

/* ---- context ---- */

struct lp_aws_ctx *lp_aws_ctx_new(const struct lp_aws_ctx_opts *opts)
{
	struct lp_aws_ctx_opts dflt = {0};
	struct lp_aws_ctx *ctx = lp_calloc(1, sizeof(*ctx));

	if (!opts)
		opts = &dflt;
	if (!ctx)
		return NULL;
	/* once per context, on the creating thread: later worker-thread calls
	 * then never run libcurl's lazy global initialisation */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		lp_free(ctx);
		return NULL;
	}
	ctx->curl_inited = 1;
	lp_aws_sys_default(&ctx->sys);
	if (opts->transport)
		ctx->sys.transport = opts->transport;
	if (opts->now_s)
		ctx->sys.now_s = opts->now_s;
	if (opts->sleep_ms)
		ctx->sys.sleep_ms = opts->sleep_ms;
	if (opts->getenv)
		ctx->sys.getenv = opts->getenv;
	ctx->sys.ctx = opts->seam_ctx;
	ctx->sys.on_call = opts->on_call;
	ctx->sys.on_call_ctx = opts->on_call_ctx;
	if (opts->max_attempts > 0)
		ctx->sys.max_attempts = opts->max_attempts;
	if (opts->backoff_base_ms)
		ctx->sys.backoff_base_ms = opts->backoff_base_ms;
	if (opts->backoff_cap_ms)
		ctx->sys.backoff_cap_ms = opts->backoff_cap_ms;
	if (opts->timeout_ms > 0)
		ctx->sys.timeout_ms = opts->timeout_ms;
	ctx->clock = opts->clock ? opts->clock : &lp_clock_system;
	ctx->verify_interval_ms = opts->verify_interval_ms ? opts->verify_interval_ms : 600000;
	ctx->requeue_ms = opts->requeue_ms ? opts->requeue_ms : 5000;
	ctx->refresh_before_s = opts->refresh_before_s > 0 ? opts->refresh_before_s : 300;
	ctx->creds = lp_aws_cred_cache_new();
	ctx->sts_endpoint = opts->sts_endpoint ? lp_strdup(opts->sts_endpoint) : NULL;
	if (!ctx->creds || (opts->sts_endpoint && !ctx->sts_endpoint)) {
		lp_aws_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

void lp_aws_ctx_free(struct lp_aws_ctx *ctx)
{
	if (!ctx)
		return;
	for (size_t i = 0; i < ctx->n_cache; i++)
		lp_free(ctx->cache[i].key);
	lp_free(ctx->cache);
	lp_aws_cred_cache_free(ctx->creds);
	lp_free(ctx->sts_endpoint);
	if (ctx->curl_inited)
		curl_global_cleanup();
	lp_free(ctx);
}

unsigned lp_aws_ctx_credential_fetches(const struct lp_aws_ctx *ctx)
{
	return lp_aws_cred_cache_fetches(ctx->creds);
}

static struct cache_entry *cache_find(struct lp_aws_ctx *ctx, const char *key)
{
	for (size_t i = 0; i < ctx->n_cache; i++)
		if (strcmp(ctx->cache[i].key, key) == 0)
			return &ctx->cache[i];
	return NULL;
}

static void obj_key(const struct lp_output *o, char *key, size_t len)
{
	snprintf(key, len, "%s/%s", o->meta.ns ? o->meta.ns : "", o->meta.name ? o->meta.name : "");
}

void lp_aws_ctx_forget(struct lp_aws_ctx *ctx, const char *ns, const char *name)
{
	char key[512];

	snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name ? name : "");
	for (size_t i = 0; i < ctx->n_cache; i++) {
		if (strcmp(ctx->cache[i].key, key) == 0) {
			lp_free(ctx->cache[i].key);
			ctx->cache[i] = ctx->cache[--ctx->n_cache];
			return;
		}
	}
}

static void cache_store(struct lp_aws_ctx *ctx, const char *key, const char *hash,
                        const struct lp_aws_result *res)
{
	struct cache_entry *e = cache_find(ctx, key);

	if (!e) {
		if (ctx->n_cache == ctx->cap_cache) {
			size_t nc = ctx->cap_cache ? ctx->cap_cache * 2 : 16;
			struct cache_entry *nv = lp_realloc(ctx->cache, nc * sizeof(*nv));
			if (!nv)
				return; /* the cache is an optimisation: skip on no memory */
			ctx->cache = nv;
			ctx->cap_cache = nc;
		}
		e = &ctx->cache[ctx->n_cache];
		e->key = lp_strdup(key);
		if (!e->key)
			return;
		ctx->n_cache++;
	}
	memcpy(e->hash, hash, sizeof(e->hash));
	e->at_ms = ctx->clock->now_ms(ctx->clock->ctx);
	e->res = *res;
	e->res.n_events = 0; /* events happened once */
}

/* ---- result helpers ---- */

__attribute__((format(printf, 4, 5))) static void
cond(struct lp_cond_report *c, enum lp_cond_status status, const char *reason, const char *fmt, ...)
{
	va_list ap;

	c->status = status;
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void event(struct lp_aws_result *res, const char *fmt,
                                                        ...)
{
	va_list ap;

	if (res->n_events == LP_AWS_MAX_EVENTS)
		return;
	va_start(ap, fmt);
	vsnprintf(res->events[res->n_events++], sizeof(res->events[0]), fmt, ap);
	va_end(ap);
}

static void in_progress(struct run *r, const char *reason, const char *what)
{
	r->res->in_progress = 1;
	r->res->requeue_after_ms = r->ctx->requeue_ms;
	cond(&r->res->provisioned, LP_COND_FALSE, reason, "%s", what);
}

static void note_unsupported(struct run *r, const char *what)
{
	size_t l = strlen(r->notes);

	snprintf(r->notes + l, sizeof(r->notes) - l, "%s%s", l ? ", " : "", what);
}

static lp_err account_id(struct run *r, char account[16], struct lp_aws_error *e)
{
	struct lp_aws_endpoint ep = {0};
	struct lp_aws_client c = r->c;
	const char *ovr = r->ctx->sts_endpoint
	                      ? r->ctx->sts_endpoint
	                      : lp_aws_sys_getenv(&r->ctx->sys, "AWS_ENDPOINT_URL_STS");
	char msg[256];
	lp_err err = lp_aws_endpoint_resolve(&ep, "sts", r->region, ovr, msg, sizeof(msg));

	if (err)
		return lp_aws_error_set(e, err, 0, NULL, "STS endpoint: %s", msg);
	c.ep = &ep;
	c.service = "sts";
	err = lp_sts_get_caller_identity(&c, account, e);
	lp_aws_endpoint_free(&ep);
	return err;
}

/* Turns an AWS error into Provisioned=False with an actionable message. */
static lp_err fail(struct run *r, lp_err err, const struct lp_aws_error *e, const char *resource)
{
	struct lp_cond_report *p = &r->res->provisioned;
	const char *src = r->creds.source[0] ? r->creds.source : "default chain";
	const char *msg = e && e->message[0] ? e->message : lp_strerror(err);
	const char *op = e && e->op[0] ? e->op : "the call";

	char full[512];
	const char *star = strstr(resource, ":*:");

	switch (err) {
	case LP_ERR_FORBIDDEN:
		if (star) { /* name the account in the ARN when STS can tell it */
			struct lp_aws_error ae = {0};
			char account[16];
			if (account_id(r, account, &ae) == LP_OK) {
				snprintf(full, sizeof(full), "%.*s:%s:%s", (int)(star - resource),
				         resource, account, star + 3);
				resource = full;
			}
		}
		cond(p, LP_COND_FALSE, "AccessDenied",
		     "the operator's role lacks %s on %s (credentials: %s): %s", op, resource, src,
		     msg);
		break;
	case LP_ERR_UNAUTHORIZED:
		cond(p, LP_COND_FALSE, "InvalidCredentials",
		     "AWS rejected the credentials (%s) for %s on %s: %s%s%s", src, op, resource,
		     e && e->code[0] ? e->code : "", e && e->code[0] ? ": " : "", msg);
		break;
	case LP_ERR_HTTP:
	case LP_ERR_TIMEOUT:
		cond(p, LP_COND_FALSE, "EndpointUnreachable",
		     "%s (retried with backoff; will retry)", msg);
		break;
	case LP_ERR_THROTTLED:
		cond(p, LP_COND_FALSE, "Throttled", "AWS throttled %s on %s: %s (will retry)", op,
		     resource, msg);
		break;
	case LP_ERR_SERVER:
		cond(p, LP_COND_FALSE, "ServiceError", "AWS failed %s on %s: %s (will retry)", op,
		     resource, msg);
		break;
	case LP_ERR_LIMIT:
		cond(p, LP_COND_FALSE, "LimitExceeded",
		     "%s on %s hit an AWS limit: %s (raise the quota)", op, resource, msg);
		break;
	case LP_ERR_INVALID:
		cond(p, LP_COND_FALSE, "InvalidRequest", "AWS rejected %s on %s: %s", op, resource,
		     msg);
		break;
	case LP_ERR_IN_USE:
		cond(p, LP_COND_FALSE, "ResourceInUse", "%s on %s: %s", op, resource, msg);
		break;
	case LP_ERR_CONFLICT:
		cond(p, LP_COND_FALSE, "Conflict", "%s", msg);
		break;
	case LP_ERR_UNSUPPORTED:
		cond(p, LP_COND_FALSE, "Unsupported", "the endpoint does not implement %s: %s", op,
		     msg);
		break;
	default:
		cond(p, LP_COND_FALSE, "AWSError", "%s on %s failed: %s%s%s", op, resource,
		     e && e->code[0] ? e->code : "", e && e->code[0] ? ": " : "", msg);
	}
	return err;
}

/* ---- Kinesis ---- */

/* Sets the stream's tags back to the declared values (others are left). */
static lp_err kinesis_tags(struct run *r, const char *stream, const struct lp_kinesis_provision *p,
                           const char *res_arn)
{
	struct lp_aws_error e = {0};
	json_t *have = NULL, *add = NULL;
	lp_err err;

	err = lp_kinesis_tags(&r->c, stream, &have, &e);
	if (err) {
		fail(r, err, &e, res_arn);
		goto out;
	}
	add = json_object();
	for (size_t i = 0; add && i < p->n_tags; i++) {
		const char *v = json_string_value(json_object_get(have, p->tags[i].key));
		if (!v || strcmp(v, p->tags[i].value) != 0)
			json_object_set_new(add, p->tags[i].key, json_string(p->tags[i].value));
	}
	if (!add) {
		err = LP_ERR_NOMEM;
		cond(&r->res->provisioned, LP_COND_FALSE, "InternalError", "out of memory");
		goto out;
	}
	if (json_object_size(add)) {
		err = lp_kinesis_add_tags(&r->c, stream, add, &e);
		if (err) {
			fail(r, err, &e, res_arn);
			goto out;
		}
		event(r->res, "set %zu tag(s) of %s back to the declared values",
		      json_object_size(add), stream);
	}
out:
	json_decref(have);
	json_decref(add);
	return err;
}

static lp_err do_kinesis(struct run *r)
{
	const struct lp_out_kinesis *k = &r->o->u.kinesis;
	const struct lp_kinesis_provision *p = &k->provision;
	struct lp_kinesis_stream s = {0};
	struct lp_aws_error e = {0};
	char res_arn[512];
	int want_ret = p->retention_hours > 0 ? p->retention_hours : 24;
	int want_shards = p->shard_count > 0 ? p->shard_count : 1;
	lp_err err;

	if (!k->stream || !*k->stream) {
		cond(&r->res->provisioned, LP_COND_FALSE, "InvalidSpec",
		     "spec.kinesis.stream is required");
		return LP_ERR_INVALID;
	}
	snprintf(res_arn, sizeof(res_arn), "arn:%s:kinesis:%s:*:stream/%s", r->ep.partition,
	         r->region, k->stream);
	err = lp_kinesis_describe(&r->c, k->stream, &s, &e);
	if (err == LP_ERR_NOTFOUND && !p->present) {
		cond(&r->res->provisioned, LP_COND_FALSE, "NotFound",
		     "Kinesis stream \"%s\" does not exist in %s: create it, or set "
		     "spec.kinesis.provision to have logplane create it",
		     k->stream, r->region);
		return err;
	}
	if (err == LP_ERR_NOTFOUND) {
		lp_aws_error_clear(&e);
		err = lp_kinesis_create(&r->c, k->stream, p->on_demand, want_shards, &e);
		if (err)
			return fail(r, err, &e, res_arn);
		if (p->on_demand)
			event(r->res, "created Kinesis stream %s (on-demand)", k->stream);
		else
			event(r->res, "created Kinesis stream %s with %d shard%s", k->stream,
			      want_shards, want_shards == 1 ? "" : "s");
		in_progress(r, "Creating", "creating the Kinesis stream; waiting until ACTIVE");
		snprintf(r->res->state, sizeof(r->res->state), "CREATING");
		return LP_OK;
	}
	if (err)
		return fail(r, err, &e, res_arn);
	snprintf(r->res->arn, sizeof(r->res->arn), "%s", s.arn);
	snprintf(r->res->stream_mode, sizeof(r->res->stream_mode), "%s", s.mode);
	snprintf(r->res->state, sizeof(r->res->state), "%s", s.status);
	if (s.arn[0])
		snprintf(res_arn, sizeof(res_arn), "%s", s.arn);
	if (strcmp(s.status, "ACTIVE") != 0) {
		char what[256];
		snprintf(what, sizeof(what), "Kinesis stream %.60s is %.30s; waiting until ACTIVE",
		         k->stream, s.status);
		in_progress(r, strcmp(s.status, "DELETING") == 0 ? "Deleting" : "Updating", what);
		goto out;
	}
	if (!p->present) {
		cond(&r->res->provisioned, LP_COND_TRUE, "Verified",
		     "Kinesis stream %s exists: ACTIVE, %s, %d open shard%s, retention %dh",
		     k->stream, s.mode, s.open_shards, s.open_shards == 1 ? "" : "s",
		     s.retention_hours);
		goto out;
	}
	/* keep what is declared, one change per pass (each makes the stream UPDATING) */
	if (!!p->on_demand != (strcmp(s.mode, "ON_DEMAND") == 0)) {
		err = lp_kinesis_set_mode(&r->c, s.arn, p->on_demand, &e);
		if (err == LP_ERR_UNSUPPORTED) {
			note_unsupported(r, "stream mode");
			lp_aws_error_clear(&e);
			err = LP_OK;
		} else if (err) {
			fail(r, err, &e, res_arn);
			goto out;
		} else {
			event(r->res, "set stream mode of %s back to %s (was %s)", k->stream,
			      p->on_demand ? "ON_DEMAND" : "PROVISIONED", s.mode);
			in_progress(r, "Updating", "changing the stream mode");
			goto out;
		}
	}
	if (s.retention_hours != want_ret) {
		err = lp_kinesis_set_retention(&r->c, k->stream, s.retention_hours, want_ret, &e);
		if (err) {
			fail(r, err, &e, res_arn);
			goto out;
		}
		event(r->res, "set retention of %s back to %dh (was %dh)", k->stream, want_ret,
		      s.retention_hours);
		in_progress(r, "Updating", "changing the retention period");
		goto out;
	}
	if (!p->on_demand && s.open_shards != want_shards) {
		/* UpdateShardCount scales by at most double or half per call */
		int step = want_shards;
		if (s.open_shards > 0 && step > 2 * s.open_shards)
			step = 2 * s.open_shards;
		if (step < (s.open_shards + 1) / 2)
			step = (s.open_shards + 1) / 2;
		err = lp_kinesis_update_shards(&r->c, k->stream, step, &e);
		if (err) {
			fail(r, err, &e, res_arn);
			goto out;
		}
		event(r->res, "scaling %s from %d to %d shards%s", k->stream, s.open_shards, step,
		      step != want_shards ? " (on the way to the declared count)" : "");
		in_progress(r, "Updating", "changing the shard count");
		goto out;
	}
	if (p->encrypt && (strcmp(s.encryption, "KMS") != 0 ||
	                   (p->kms_key_id && strcmp(s.key_id, p->kms_key_id) != 0))) {
		const char *key = p->kms_key_id ? p->kms_key_id : "alias/aws/kinesis";
		err = lp_kinesis_encrypt(&r->c, k->stream, key, &e);
		if (err == LP_ERR_UNSUPPORTED) {
			note_unsupported(r, "encryption");
			lp_aws_error_clear(&e);
			err = LP_OK;
		} else if (err) {
			fail(r, err, &e, res_arn);
			goto out;
		} else {
			event(r->res, "enabled KMS encryption on %s with %s", k->stream, key);
			in_progress(r, "Updating", "enabling server-side encryption");
			goto out;
		}
	}
	if (p->n_tags && (err = kinesis_tags(r, k->stream, p, res_arn)))
		goto out;
	cond(&r->res->provisioned, LP_COND_TRUE, "Provisioned",
	     "Kinesis stream %s is ACTIVE: %s, %d open shard%s, retention %dh%s%s%s", k->stream,
	     s.mode, s.open_shards, s.open_shards == 1 ? "" : "s", s.retention_hours,
	     r->notes[0] ? " (not applied, the endpoint "
	                   "does not implement: "
	                 : "",
	     r->notes, r->notes[0] ? ")" : "");
out:
	lp_kinesis_stream_free(&s);
	return err;
}

/* ---- S3 ---- */

/* Runs one bucket setting: get, compare, put. */
static lp_err s3_settings(struct run *r, struct lp_aws_client *c, const char *pre,
                          const char *bucket, const char *res_arn)
{
	const struct lp_s3_provision *p = &r->o->u.s3.provision;
	struct lp_aws_error e = {0};
	lp_err err = LP_OK;

	if (p->expiration_days > 0) {
		int days = 0;
		err = lp_s3_get_expiry(c, pre, &days, &e);
		if (!err && days != p->expiration_days) {
			err = lp_s3_put_expiry(c, pre, p->expiration_days, &e);
			if (!err && days)
				event(r->res,
				      "set lifecycle expiry of bucket %s back to %d days (was %d)",
				      bucket, p->expiration_days, days);
			else if (!err)
				event(r->res, "set lifecycle expiry of bucket %s to %d days",
				      bucket, p->expiration_days);
		}
		if (err == LP_ERR_UNSUPPORTED) {
			note_unsupported(r, "lifecycle");
			lp_aws_error_clear(&e);
			err = LP_OK;
		}
		if (err)
			return fail(r, err, &e, res_arn);
	}
	{
		const char *want = p->encryption && *p->encryption ? p->encryption : "AES256";
		char algo[32] = "", key[256] = "";
		err = lp_s3_get_encryption(c, pre, algo, key, &e);
		if (!err && (strcmp(algo, want) != 0 || (p->kms_key_id && *p->kms_key_id &&
		                                         strcmp(key, p->kms_key_id) != 0))) {
			err = lp_s3_put_encryption(c, pre, want, p->kms_key_id, &e);
			if (!err && algo[0])
				event(r->res,
				      "set default encryption of bucket %s back to %s (was %s)",
				      bucket, want, algo);
			else if (!err)
				event(r->res, "set default encryption of bucket %s to %s", bucket,
				      want);
		}
		if (err == LP_ERR_UNSUPPORTED) {
			note_unsupported(r, "encryption");
			lp_aws_error_clear(&e);
			err = LP_OK;
		}
		if (err)
			return fail(r, err, &e, res_arn);
	}
	if (p->n_tags) {
		int match = 0;
		err = lp_s3_tags_match(c, pre, p->tags, p->n_tags, &match, &e);
		if (!err && !match) {
			err = lp_s3_put_tags(c, pre, p->tags, p->n_tags, &e);
			if (!err)
				event(r->res, "set tags of bucket %s to the declared values",
				      bucket);
		}
		if (err == LP_ERR_UNSUPPORTED) {
			note_unsupported(r, "tagging");
			lp_aws_error_clear(&e);
			err = LP_OK;
		}
		if (err)
			return fail(r, err, &e, res_arn);
	}
	if (p->block_public_access) {
		int all = 0;
		err = lp_s3_get_pab(c, pre, &all, &e);
		if (!err && !all) {
			err = lp_s3_put_pab(c, pre, &e);
			if (!err)
				event(r->res, "blocked public access on bucket %s", bucket);
		}
		if (err == LP_ERR_UNSUPPORTED) {
			note_unsupported(r, "public access block");
			lp_aws_error_clear(&e);
			err = LP_OK;
		}
		if (err)
			return fail(r, err, &e, res_arn);
	}
	return LP_OK;
}

static lp_err do_s3(struct run *r)
{
	const struct lp_out_s3 *s = &r->o->u.s3;
	const struct lp_s3_provision *p = &s->provision;
	struct lp_aws_client c;
	struct lp_aws_endpoint vh = {0};
	struct lp_aws_error e = {0};
	char pre[80], region[32] = "", res_arn[512];
	lp_err err;

	if (!s->bucket || !*s->bucket || strlen(s->bucket) > 63) {
		cond(&r->res->provisioned, LP_COND_FALSE, "InvalidSpec",
		     "spec.s3.bucket is required and at most 63 characters");
		return LP_ERR_INVALID;
	}
	snprintf(res_arn, sizeof(res_arn), "arn:%s:s3:::%s", r->ep.partition, s->bucket);
	if ((err = lp_s3_client_for_bucket(&r->c, s->bucket, &c, &vh, pre))) {
		cond(&r->res->provisioned, LP_COND_FALSE, "InternalError", "out of memory");
		return err;
	}
	err = lp_s3_head(&c, pre, region, &e);
	if (err == LP_ERR_NOTFOUND && !p->present) {
		cond(&r->res->provisioned, LP_COND_FALSE, "NotFound",
		     "S3 bucket \"%s\" does not exist: create it, or set spec.s3.provision to have "
		     "logplane create it",
		     s->bucket);
		goto out;
	}
	if (err == LP_ERR_FORBIDDEN) {
		cond(&r->res->provisioned, LP_COND_FALSE, "AccessDenied",
		     "bucket %s exists but the operator's credentials (%s) cannot access it: the "
		     "bucket name may be taken by another account, or the role lacks s3:ListBucket "
		     "on %s",
		     s->bucket, r->creds.source, res_arn);
		goto out;
	}
	if (err == LP_ERR_NOTFOUND) {
		lp_aws_error_clear(&e);
		err = lp_s3_create(&c, pre, r->region, &e);
		if (err == LP_ERR_CONFLICT) {
			cond(&r->res->provisioned, LP_COND_FALSE, "BucketNameTaken", "%s",
			     e.message);
			goto out;
		}
		if (err) {
			fail(r, err, &e, res_arn);
			goto out;
		}
		event(r->res, "created S3 bucket %s in %s", s->bucket, r->region);
		snprintf(region, sizeof(region), "%s", r->region);
	} else if (err) {
		fail(r, err, &e, res_arn);
		goto out;
	}
	snprintf(r->res->bucket_region, sizeof(r->res->bucket_region), "%s",
	         region[0] ? region : r->region);
	snprintf(r->res->region, sizeof(r->res->region), "%s", r->res->bucket_region);
	snprintf(r->res->state, sizeof(r->res->state), "Available");
	snprintf(r->res->arn, sizeof(r->res->arn), "%s", res_arn);
	if (region[0] && strcmp(region, r->region) != 0 && !r->ep.custom) {
		cond(&r->res->provisioned, LP_COND_FALSE, "WrongRegion",
		     "bucket %s is in %s, not in spec.aws.region %s: set spec.aws.region to %s",
		     s->bucket, region, r->region, region);
		err = LP_ERR_INVALID;
		goto out;
	}
	if (!p->present) {
		cond(&r->res->provisioned, LP_COND_TRUE, "Verified", "S3 bucket %s exists in %s",
		     s->bucket, r->res->bucket_region);
		goto out;
	}
	if ((err = s3_settings(r, &c, pre, s->bucket, res_arn)))
		goto out;
	cond(&r->res->provisioned, LP_COND_TRUE, "Provisioned",
	     "S3 bucket %s in %s: expiry %d days, encryption %s, public access %s%s%s%s", s->bucket,
	     r->res->bucket_region, p->expiration_days,
	     p->encryption && *p->encryption ? p->encryption : "AES256",
	     p->block_public_access ? "blocked" : "not managed",
	     r->notes[0] ? " (not applied, the endpoint does not implement: " : "", r->notes,
	     r->notes[0] ? ")" : "");
out:
	lp_aws_endpoint_free(&vh);
	return err;
}

/* ---- Firehose ---- */

static lp_err do_firehose(struct run *r)
{
	const struct lp_out_firehose *f = &r->o->u.firehose;
	const struct lp_firehose_provision *p = &f->provision;
	struct lp_firehose_stream s = {0};
	struct lp_firehose_want w = {0};
	struct lp_aws_error e = {0};
	char res_arn[512], src_arn[512], bucket_arn[256], account[16] = "", what[256];
	lp_err err;

	if (!f->delivery_stream || !*f->delivery_stream) {
		cond(&r->res->provisioned, LP_COND_FALSE, "InvalidSpec",
		     "spec.firehose.deliveryStream is required");
		return LP_ERR_INVALID;
	}
	snprintf(res_arn, sizeof(res_arn), "arn:%s:firehose:%s:*:deliverystream/%s",
	         r->ep.partition, r->region, f->delivery_stream);
	err = lp_firehose_describe(&r->c, f->delivery_stream, &s, &e);
	if (err == LP_ERR_NOTFOUND && !p->present) {
		cond(&r->res->provisioned, LP_COND_FALSE, "NotFound",
		     "Firehose delivery stream \"%s\" does not exist in %s: create it, or set "
		     "spec.firehose.provision to have logplane create it",
		     f->delivery_stream, r->region);
		return err;
	}
	if (err && err != LP_ERR_NOTFOUND)
		return fail(r, err, &e, res_arn);
	if (!err) {
		snprintf(r->res->arn, sizeof(r->res->arn), "%s", s.arn);
		snprintf(r->res->state, sizeof(r->res->state), "%s", s.status);
	}
	if (!p->present) {
		cond(&r->res->provisioned, LP_COND_TRUE, "Verified",
		     "Firehose delivery stream %s exists (%s)", f->delivery_stream, s.status);
		goto out;
	}
	if (!p->bucket || !*p->bucket || !p->role_arn || !*p->role_arn) {
		cond(&r->res->provisioned, LP_COND_FALSE, "InvalidSpec",
		     "spec.firehose.provision.bucket and spec.firehose.provision.roleArn are "
		     "required to create the delivery stream");
		err = LP_ERR_INVALID;
		goto out;
	}
	snprintf(bucket_arn, sizeof(bucket_arn), "arn:%s:s3:::%s", r->ep.partition, p->bucket);
	w.name = f->delivery_stream;
	w.bucket_arn = bucket_arn;
	w.role_arn = p->role_arn;
	w.prefix = p->prefix;
	w.error_prefix = p->error_prefix;
	w.compression = p->compression && *p->compression ? p->compression : "GZIP";
	w.buffer_mib = p->buffering_size_mib > 0 ? p->buffering_size_mib : 64;
	w.buffer_seconds = p->buffering_interval_seconds > 0 ? p->buffering_interval_seconds : 300;
	w.tags = p->tags;
	w.n_tags = p->n_tags;
	if (err == LP_ERR_NOTFOUND) {
		lp_aws_error_clear(&e);
		if (p->source_stream && *p->source_stream) {
			if ((err = account_id(r, account, &e))) {
				fail(r, err, &e, "sts:GetCallerIdentity");
				goto out;
			}
			snprintf(src_arn, sizeof(src_arn), "arn:%s:kinesis:%s:%s:stream/%s",
			         r->ep.partition, r->region, account, p->source_stream);
			w.source_arn = src_arn;
		}
		err = lp_firehose_create(&r->c, &w, &e);
		if (err) {
			fail(r, err, &e, res_arn);
			goto out;
		}
		event(r->res, "created Firehose delivery stream %s to %s (%d MiB / %d s, %s)",
		      f->delivery_stream, p->bucket, w.buffer_mib, w.buffer_seconds, w.compression);
		in_progress(r, "Creating", "creating the delivery stream; waiting until ACTIVE");
		snprintf(r->res->state, sizeof(r->res->state), "CREATING");
		goto out;
	}
	if (strcmp(s.status, "ACTIVE") != 0) {
		if (strstr(s.status, "FAILED")) {
			cond(&r->res->provisioned, LP_COND_FALSE, "CreateFailed",
			     "Firehose delivery stream %s is %s: check the role %s and the bucket",
			     f->delivery_stream, s.status, p->role_arn);
			err = LP_ERR_AWS;
		} else {
			in_progress(r, "Updating", "waiting until the delivery stream is ACTIVE");
		}
		goto out;
	}
	if (lp_firehose_differs(&s, &w, what)) {
		err = lp_firehose_update(&r->c, &s, &w, &e);
		if (err) {
			fail(r, err, &e, res_arn);
			goto out;
		}
		event(r->res, "set %s of delivery stream %s back", what, f->delivery_stream);
	}
	cond(&r->res->provisioned, LP_COND_TRUE, "Provisioned",
	     "Firehose delivery stream %s is ACTIVE: to %s, %d MiB / %d s, %s", f->delivery_stream,
	     p->bucket, w.buffer_mib, w.buffer_seconds, w.compression);
out:
	lp_firehose_stream_free(&s);
	return err;
}

/* ---- CloudWatch Logs ---- */

static lp_err do_cloudwatch(struct run *r)
{
	const struct lp_out_cloudwatch *cw = &r->o->u.cloudwatch;
	const struct lp_cloudwatch_provision *p = &cw->provision;
	struct lp_aws_error e = {0};
	char res_arn[512], arn[512] = "";
	int found = 0, days = 0;
	lp_err err;

	if (!cw->log_group || !*cw->log_group) {
		cond(&r->res->provisioned, LP_COND_FALSE, "InvalidSpec",
		     "spec.cloudwatch.logGroup is required");
		return LP_ERR_INVALID;
	}
	snprintf(res_arn, sizeof(res_arn), "arn:%s:logs:%s:*:log-group:%s", r->ep.partition,
	         r->region, cw->log_group);
	if ((err = lp_cwl_describe(&r->c, cw->log_group, &found, &days, arn, &e)))
		return fail(r, err, &e, res_arn);
	if (!found && !p->present) {
		cond(&r->res->provisioned, LP_COND_FALSE, "NotFound",
		     "CloudWatch log group \"%s\" does not exist in %s: create it, or set "
		     "spec.cloudwatch.provision to have logplane create it",
		     cw->log_group, r->region);
		return LP_ERR_NOTFOUND;
	}
	if (!found) {
		if ((err = lp_cwl_create(&r->c, cw->log_group, p->tags, p->n_tags, &e)))
			return fail(r, err, &e, res_arn);
		event(r->res, "created CloudWatch log group %s", cw->log_group);
		days = 0;
	}
	if (arn[0])
		snprintf(r->res->arn, sizeof(r->res->arn), "%s", arn);
	snprintf(r->res->state, sizeof(r->res->state), "Available");
	if (p->present && days != p->retention_days) {
		if ((err = lp_cwl_set_retention(&r->c, cw->log_group, p->retention_days, &e)))
			return fail(r, err, &e, res_arn);
		if (found)
			event(r->res, "set retention of log group %s back to %d days (was %d)",
			      cw->log_group, p->retention_days, days);
		else
			event(r->res, "set retention of log group %s to %d days", cw->log_group,
			      p->retention_days);
		days = p->retention_days;
	}
	if (days)
		cond(&r->res->provisioned, LP_COND_TRUE, p->present ? "Provisioned" : "Verified",
		     "CloudWatch log group %s exists, retention %d days", cw->log_group, days);
	else
		cond(&r->res->provisioned, LP_COND_TRUE, p->present ? "Provisioned" : "Verified",
		     "CloudWatch log group %s exists, never expires", cw->log_group);
	return LP_OK;
}

/* ---- common ---- */

/* The AWS API that provisions outputs of type t (the descriptor's), NULL when none. */
static const char *service_of(enum lp_output_type t)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(t);
	return d && d->aws ? d->aws_service : NULL;
}

static const char *json_prefix_of(const char *svc)
{
	if (strcmp(svc, "kinesis") == 0)
		return "Kinesis_20131202";
	if (strcmp(svc, "firehose") == 0)
		return "Firehose_20150804";
	if (strcmp(svc, "logs") == 0)
		return "Logs_20140328";
	return "";
}

/* Endpoint and credentials; fills CredentialsResolved. */
/* The endpoint override of the process environment, as the AWS SDKs read it:
 * AWS_ENDPOINT_URL_<SERVICE> (KINESIS, FIREHOSE, S3, CLOUDWATCH_LOGS), else
 * AWS_ENDPOINT_URL; NULL when neither is set. spec.aws.endpoint wins over both.
 * Borrowed from the environment. */
static const char *env_endpoint(const struct run *r, const char *svc)
{
	const char *name = strcmp(svc, "kinesis") == 0    ? "AWS_ENDPOINT_URL_KINESIS"
	                   : strcmp(svc, "firehose") == 0 ? "AWS_ENDPOINT_URL_FIREHOSE"
	                   : strcmp(svc, "s3") == 0       ? "AWS_ENDPOINT_URL_S3"
	                                                  : "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS";
	const char *v = lp_aws_sys_getenv(&r->ctx->sys, name);
	if (!v || !*v)
		v = lp_aws_sys_getenv(&r->ctx->sys, "AWS_ENDPOINT_URL");
	return v && *v ? v : NULL;
}

static lp_err prepare(struct run *r, const struct lp_aws_secret_creds *sc)
{
	const char *svc = service_of(r->o->type);
	struct lp_aws_cred_opts co = {0};
	struct lp_aws_error e = {0};
	char msg[256] = "";
	lp_err err;

	r->region = r->o->aws.region;
	if (!svc) {
		cond(&r->res->provisioned, LP_COND_FALSE, "NotAWS",
		     "spec.type is not an AWS output type");
		return LP_ERR_INVALID;
	}
	if (!lp_aws_region_valid(r->region)) {
		cond(&r->res->provisioned, LP_COND_FALSE, "InvalidSpec",
		     "spec.aws.region \"%s\" is not a valid AWS region name",
		     r->region ? r->region : "");
		return LP_ERR_INVALID;
	}
	err = lp_aws_endpoint_resolve(
	    &r->ep, svc, r->region, r->o->aws.endpoint ? r->o->aws.endpoint : env_endpoint(r, svc),
	    msg, sizeof(msg));
	if (err) {
		cond(&r->res->provisioned, LP_COND_FALSE, "InvalidSpec", "%s", msg);
		return err;
	}
	co.secret = sc;
	co.region = r->region;
	co.role_arn = r->o->aws.credentials.role_arn;
	co.external_id = r->o->aws.credentials.external_id;
	co.sts_endpoint = r->ctx->sts_endpoint;
	co.refresh_before_s = r->ctx->refresh_before_s;
	err = lp_aws_creds_resolve(&r->ctx->sys, r->ctx->creds, &co, &r->creds, &e);
	if (err) {
		const char *reason = "CredentialsUnavailable";
		if (strcmp(e.code, "NoCredentials") == 0)
			reason = "NoCredentials";
		else if (e.err == LP_ERR_HTTP || e.err == LP_ERR_TIMEOUT)
			reason = "EndpointUnreachable";
		else if (co.role_arn && e.err == LP_ERR_FORBIDDEN)
			reason = "AssumeRoleDenied";
		cond(&r->res->credentials, LP_COND_FALSE, reason, "%s", e.message);
		cond(&r->res->provisioned, LP_COND_FALSE, "CredentialsNotResolved",
		     "cannot reach AWS without credentials (see CredentialsResolved)");
		return err;
	}
	snprintf(r->res->credentials_source, sizeof(r->res->credentials_source), "%s",
	         r->creds.source);
	snprintf(r->res->region, sizeof(r->res->region), "%s", r->region);
	cond(&r->res->credentials, LP_COND_TRUE, "Resolved", "using AWS credentials from %s%s%s",
	     r->creds.source, co.role_arn ? ", role " : "", co.role_arn ? co.role_arn : "");
	r->c.sys = &r->ctx->sys;
	r->c.ep = &r->ep;
	r->c.cred.access_key_id = r->creds.access_key_id;
	r->c.cred.secret_access_key = r->creds.secret_access_key;
	r->c.cred.session_token = r->creds.session_token;
	r->c.service = svc;
	r->c.region = r->region;
	r->c.json_prefix = json_prefix_of(svc);
	return LP_OK;
}

static void res_init(struct lp_aws_result *res)
{
	memset(res, 0, sizeof(*res));
	res->credentials.status = LP_COND_UNKNOWN;
	res->provisioned.status = LP_COND_UNKNOWN;
}

/* What provisions and deletes each AWS service's target, by the descriptor's
 * aws_service. del deletes the named target; remove does the whole deletion
 * itself (an S3 bucket must be emptied first). */
struct svc_ops {
	const char *service;
	lp_err (*reconcile)(struct run *r);
	lp_err (*del)(struct lp_aws_client *c, const char *name, struct lp_aws_error *e);
	lp_err (*remove)(struct run *r);
};

static const struct svc_ops *ops_of(const struct lp_output *o);

lp_err lp_aws_reconcile_output(struct lp_aws_ctx *ctx, const struct lp_output *o,
                               const struct lp_aws_secret_creds *creds, struct lp_aws_result *res)
{
	struct run r = {0};
	struct cache_entry *ce;
	char key[512], hash[65];
	lp_err err;

	res_init(res);
	if (!ctx || !o)
		return LP_ERR_INVALID;
	obj_key(o, key, sizeof(key));
	if ((err = lp_aws_spec_hash(o, creds, hash)))
		return err;
	ce = cache_find(ctx, key);
	if (ce && strcmp(ce->hash, hash) == 0 &&
	    ctx->clock->now_ms(ctx->clock->ctx) - ce->at_ms < ctx->verify_interval_ms) {
		*res = ce->res;
		res->cached = 1;
		return LP_OK;
	}
	r.ctx = ctx;
	r.o = o;
	r.res = res;
	err = prepare(&r, creds);
	if (!err)
		err = ops_of(o) ? ops_of(o)->reconcile(&r) : LP_ERR_INVALID;
	if (!err && !res->in_progress && res->provisioned.status == LP_COND_TRUE)
		cache_store(ctx, key, hash, res);
	else
		lp_aws_ctx_forget(ctx, o->meta.ns, o->meta.name);
	lp_aws_creds_free(&r.creds);
	lp_aws_endpoint_free(&r.ep);
	return err;
}

static lp_err delete_s3(struct run *r)
{
	const char *bucket = r->o->u.s3.bucket;
	struct lp_aws_client c;
	struct lp_aws_endpoint vh = {0};
	struct lp_aws_error e = {0};
	char pre[80], res_arn[512];
	int empty = 0;
	lp_err err;

	snprintf(res_arn, sizeof(res_arn), "arn:%s:s3:::%s", r->ep.partition, bucket);
	if ((err = lp_s3_client_for_bucket(&r->c, bucket, &c, &vh, pre))) {
		cond(&r->res->provisioned, LP_COND_FALSE, "InternalError", "out of memory");
		return err;
	}
	err = lp_s3_is_empty(&c, pre, &empty, &e);
	if (err == LP_ERR_NOTFOUND) {
		cond(&r->res->provisioned, LP_COND_FALSE, "Deleted", "S3 bucket %s is already gone",
		     bucket);
		err = LP_OK;
		goto out;
	}
	if (err) {
		fail(r, err, &e, res_arn);
		goto out;
	}
	if (!empty) {
		cond(&r->res->provisioned, LP_COND_FALSE, "BucketNotEmpty",
		     "S3 bucket %s still holds objects and is never deleted by logplane: empty it "
		     "(or set deletionPolicy Retain) to let the LogOutput go",
		     bucket);
		err = LP_ERR_IN_USE;
		goto out;
	}
	err = lp_s3_delete(&c, pre, &e);
	if (err == LP_ERR_NOTFOUND)
		err = LP_OK;
	if (err == LP_ERR_IN_USE) {
		cond(&r->res->provisioned, LP_COND_FALSE, "BucketNotEmpty",
		     "S3 bucket %s is not empty (%s) and is never deleted by logplane", bucket,
		     e.message);
		goto out;
	}
	if (err) {
		fail(r, err, &e, res_arn);
		goto out;
	}
	event(r->res, "deleted empty S3 bucket %s", bucket);
	cond(&r->res->provisioned, LP_COND_FALSE, "Deleted",
	     "S3 bucket %s deleted (deletionPolicy Delete)", bucket);
out:
	lp_aws_endpoint_free(&vh);
	return err;
}

static const struct svc_ops svc_ops[] = {
    {"kinesis", do_kinesis, lp_kinesis_delete, NULL},
    {"firehose", do_firehose, lp_firehose_delete, NULL},
    {"s3", do_s3, NULL, delete_s3},
    {"logs", do_cloudwatch, lp_cwl_delete, NULL},
};

static const struct svc_ops *ops_of(const struct lp_output *o)
{
	const char *svc = service_of(o->type);

	for (size_t i = 0; svc && i < sizeof(svc_ops) / sizeof(svc_ops[0]); i++)
		if (strcmp(svc_ops[i].service, svc) == 0)
			return &svc_ops[i];
	return NULL;
}

lp_err lp_aws_finalize_output(struct lp_aws_ctx *ctx, const struct lp_output *o,
                              const struct lp_aws_secret_creds *creds, struct lp_aws_result *res)
{
	struct run r = {0};
	struct lp_aws_error e = {0};
	int present = 0;
	enum lp_deletion_policy pol;
	const char *name = NULL, *what = NULL;
	lp_err err;

	res_init(res);
	if (!ctx || !o)
		return LP_ERR_INVALID;
	lp_aws_ctx_forget(ctx, o->meta.ns, o->meta.name);
	present = lp_output_provision(o);
	pol = lp_output_deletion(o);
	if (!present || pol == LP_DELETION_RETAIN) {
		cond(&res->provisioned, LP_COND_TRUE, "Retained",
		     "%s: the AWS target is left in place",
		     present ? "deletionPolicy Retain" : "not provisioned by logplane");
		return LP_OK;
	}
	r.ctx = ctx;
	r.o = o;
	r.res = res;
	if ((err = prepare(&r, creds)))
		goto out;
	if (!ops_of(o)) {
		err = LP_ERR_INVALID;
		goto out;
	}
	if (!ops_of(o)->del) {
		err = ops_of(o)->remove(&r);
		goto out;
	}
	name = lp_output_aws_target(o);
	what = lp_output_type_desc(o->type)->aws_what;
	err = ops_of(o)->del(&r.c, name, &e);
	if (err == LP_ERR_NOTFOUND) {
		cond(&res->provisioned, LP_COND_FALSE, "Deleted", "%s %s is already gone", what,
		     name);
		err = LP_OK;
	} else if (err) {
		fail(&r, err, &e, name);
	} else {
		event(res, "deleted %s %s", what, name);
		cond(&res->provisioned, LP_COND_FALSE, "Deleted",
		     "%s %s deleted (deletionPolicy Delete)", what, name);
	}
out:
	lp_aws_creds_free(&r.creds);
	lp_aws_endpoint_free(&r.ep);
	return err;
}
