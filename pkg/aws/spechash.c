/* pkg/aws/spechash.c: the hash of everything that decides an AWS output's
 * outcome, keying the verification cache (see spechash.h). */
#include "spechash.h"
#include <string.h>
#include "../util/buf.h"
#include "sigv4.h"

/* The hashed text is built with a sticky error: once a step fails the rest
 * are skipped and the error is returned at the end. */
struct hasher {
	struct lp_buf b;
	lp_err err;
};

static void h_str(struct hasher *h, const char *s)
{
	if (!h->err)
		h->err = s ? lp_buf_addf(&h->b, "%zu:%s;", strlen(s), s) : lp_buf_adds(&h->b, "-;");
}

static void h_int(struct hasher *h, long long v)
{
	if (!h->err)
		h->err = lp_buf_addf(&h->b, "%lld;", v);
}

static void h_tags(struct hasher *h, const struct lp_kv *t, size_t n)
{
	h_int(h, (long long)n);
	for (size_t i = 0; i < n; i++) {
		h_str(h, t[i].key);
		h_str(h, t[i].value);
	}
}

lp_err lp_aws_spec_hash(const struct lp_output *o, const struct lp_aws_secret_creds *sc,
                        char hash[65])
{
	struct hasher h = {.err = LP_OK};
	const struct lp_aws_credentials *cr = &o->aws.credentials;

	lp_buf_init(&h.b, 1024 * 1024);
	h_int(&h, o->type);
	h_str(&h, o->aws.region);
	h_str(&h, o->aws.endpoint);
	h_str(&h, cr->role_arn);
	h_str(&h, cr->external_id);
	if (sc) {
		h_str(&h, sc->access_key_id);
		h_str(&h, sc->secret_access_key);
		h_str(&h, sc->session_token);
	}
	switch (o->type) {
	case LP_OUT_KINESIS: {
		const struct lp_out_kinesis *k = &o->u.kinesis;
		const struct lp_kinesis_provision *p = &k->provision;
		h_str(&h, k->stream);
		h_int(&h, p->present);
		h_int(&h, p->on_demand);
		h_int(&h, p->shard_count);
		h_int(&h, p->retention_hours);
		h_int(&h, p->encrypt);
		h_int(&h, (int)p->deletion_policy);
		h_str(&h, p->kms_key_id);
		h_tags(&h, p->tags, p->n_tags);
		break;
	}
	case LP_OUT_S3: {
		const struct lp_out_s3 *s = &o->u.s3;
		const struct lp_s3_provision *p = &s->provision;
		h_str(&h, s->bucket);
		h_int(&h, p->present);
		h_int(&h, p->expiration_days);
		h_int(&h, p->block_public_access);
		h_int(&h, (int)p->deletion_policy);
		h_str(&h, p->encryption);
		h_str(&h, p->kms_key_id);
		h_tags(&h, p->tags, p->n_tags);
		break;
	}
	case LP_OUT_FIREHOSE: {
		const struct lp_out_firehose *f = &o->u.firehose;
		const struct lp_firehose_provision *p = &f->provision;
		h_str(&h, f->delivery_stream);
		h_int(&h, p->present);
		h_int(&h, p->buffering_size_mib);
		h_int(&h, p->buffering_interval_seconds);
		h_int(&h, (int)p->deletion_policy);
		h_str(&h, p->source_stream);
		h_str(&h, p->bucket);
		h_str(&h, p->prefix);
		h_str(&h, p->error_prefix);
		h_str(&h, p->compression);
		h_str(&h, p->role_arn);
		h_tags(&h, p->tags, p->n_tags);
		break;
	}
	case LP_OUT_CLOUDWATCH: {
		const struct lp_out_cloudwatch *c = &o->u.cloudwatch;
		const struct lp_cloudwatch_provision *p = &c->provision;
		h_str(&h, c->log_group);
		h_int(&h, p->present);
		h_int(&h, p->retention_days);
		h_int(&h, (int)p->deletion_policy);
		h_tags(&h, p->tags, p->n_tags);
		break;
	}
	default:
		break;
	}
	if (!h.err)
		lp_sigv4_sha256_hex(h.b.ptr, h.b.len, hash);
	lp_buf_free(&h.b);
	return h.err;
}
