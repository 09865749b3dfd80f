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

/* The descriptor's facts into the hash. */
static void fact_str(void *arg, const char *s)
{
	h_str(arg, s);
}

static void fact_num(void *arg, long v)
{
	h_int(arg, v);
}

lp_err lp_aws_spec_hash(const struct lp_output *o, const struct lp_aws_secret_creds *sc,
                        char hash[65])
{
	const struct lp_output_type_desc *d;
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
	if ((d = lp_output_type_desc(o->type)) && d->aws_facts)
		d->aws_facts(o, fact_str, fact_num, &h);
	if (!h.err)
		lp_sigv4_sha256_hex(h.b.ptr, h.b.len, hash);
	lp_buf_free(&h.b);
	return h.err;
}
