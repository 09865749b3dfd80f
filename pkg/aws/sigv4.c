#include "sigv4.h"
#include "../util/hex.h"
#include "../util/mem.h"
#include <openssl/crypto.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define SIGV4_ALGO "AWS4-HMAC-SHA256"

void lp_sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data ? data : (const void *)"", len, md);
	lp_hex_encode(hex, md, sizeof(md));
}

void lp_sigv4_amz_date(time_t t, char out[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

lp_err lp_aws_uri_encode(struct lp_buf *b, const char *s, size_t len, int keep_slash)
{
	static const char up[] = "0123456789ABCDEF";
	lp_err err = LP_OK;

	for (size_t i = 0; i < len && !err; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			err = lp_buf_addc(b, (char)c);
		} else {
			char t[3] = {'%', up[c >> 4], up[c & 15]};
			err = lp_buf_add(b, t, 3);
		}
	}
	return err;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

lp_err lp_aws_uri_decode(struct lp_buf *b, const char *s, size_t len)
{
	lp_err err = LP_OK;

	for (size_t i = 0; i < len && !err; i++) {
		if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			err = lp_buf_addc(b, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else {
			err = lp_buf_addc(b, s[i]);
		}
	}
	return err;
}

/* Non-S3 path: remove dot segments and empty segments, keep a trailing slash. */
static lp_err normalize_path(struct lp_buf *out, const char *path)
{
	const char *seg[256];
	size_t seglen[256];
	size_t n = 0, plen = strlen(path);
	const char *p = path;
	int trailing = plen > 0 && path[plen - 1] == '/';
	lp_err err = LP_OK;

	while (*p) {
		const char *e;
		size_t l;
		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchr(p, '/');
		l = e ? (size_t)(e - p) : strlen(p);
		if (l == 1 && p[0] == '.') {
			/* skip */
		} else if (l == 2 && p[0] == '.' && p[1] == '.') {
			if (n)
				n--;
		} else {
			if (n == 256)
				return LP_ERR_INVALID;
			seg[n] = p;
			seglen[n] = l;
			n++;
		}
		p += l;
	}
	for (size_t i = 0; i < n && !err; i++) {
		err = lp_buf_addc(out, '/');
		if (!err)
			err = lp_buf_add(out, seg[i], seglen[i]);
	}
	if (!err && (n == 0 || trailing))
		err = lp_buf_addc(out, '/');
	return err;
}

static lp_err canonical_path(struct lp_buf *b, const char *path, int s3)
{
	struct lp_buf tmp;
	lp_err err;

	lp_buf_init(&tmp, 0);
	if (!path || !*path)
		path = "/";
	if (s3)
		err = lp_aws_uri_decode(&tmp, path, strlen(path));
	else
		err = normalize_path(&tmp, path);
	if (!err)
		err = lp_aws_uri_encode(b, lp_buf_str(&tmp), tmp.len, 1);
	lp_buf_free(&tmp);
	return err;
}

struct qpair {
	char *k;
	char *v;
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

/* Decodes then encodes s[0..len) into a new string; NULL on no memory. */
static char *reencode(const char *s, size_t len)
{
	struct lp_buf d, e;
	char *r = NULL;

	lp_buf_init(&d, 0);
	lp_buf_init(&e, 0);
	if (lp_aws_uri_decode(&d, s, len) == LP_OK &&
	    lp_aws_uri_encode(&e, lp_buf_str(&d), d.len, 0) == LP_OK)
		r = lp_buf_take(&e);
	lp_buf_free(&d);
	lp_buf_free(&e);
	return r;
}

static lp_err canonical_query(struct lp_buf *b, const char *q)
{
	struct qpair *v = NULL;
	size_t n = 0, cap = 0;
	lp_err err = LP_OK;
	const char *p = q;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t l = amp ? (size_t)(amp - p) : strlen(p);
		if (l) {
			const char *eq = memchr(p, '=', l);
			size_t kl = eq ? (size_t)(eq - p) : l;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				struct qpair *nv = lp_realloc(v, nc * sizeof(*v));
				if (!nv) {
					err = LP_ERR_NOMEM;
					goto out;
				}
				v = nv;
				cap = nc;
			}
			v[n].k = reencode(p, kl);
			v[n].v = eq ? reencode(eq + 1, l - kl - 1) : lp_strdup("");
			n++;
			if (!v[n - 1].k || !v[n - 1].v) {
				err = LP_ERR_NOMEM;
				goto out;
			}
		}
		p += l;
		if (*p == '&')
			p++;
	}
	if (n)
		qsort(v, n, sizeof(*v), qpair_cmp);
	for (size_t i = 0; i < n && !err; i++)
		err = lp_buf_addf(b, "%s%s=%s", i ? "&" : "", v[i].k, v[i].v);
out:
	for (size_t i = 0; i < n; i++) {
		lp_free(v[i].k);
		lp_free(v[i].v);
	}
	lp_free(v);
	return err;
}

struct chdr {
	char *name;  /* lower-case */
	char *value; /* trimmed, spaces collapsed */
	size_t order;
};

static int chdr_cmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static char *trim_value(const char *s)
{
	struct lp_buf b;
	int space = 0;

	lp_buf_init(&b, 0);
	while (*s == ' ' || *s == '\t')
		s++;
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
			space = 1;
			continue;
		}
		if (space && b.len && lp_buf_addc(&b, ' '))
			return NULL;
		space = 0;
		if (lp_buf_addc(&b, *s))
			return NULL;
	}
	return lp_buf_take(&b);
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int olen = 32;

	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen);
}

lp_err lp_sigv4_sign(struct lp_sigv4_output *out, const struct lp_sigv4_input *in)
{
	struct lp_buf creq, signed_hdrs, sts, key, authz;
	struct chdr *h = NULL;
	char payload[65], creq_hash[65], date8[9], sig[65];
	unsigned char k1[32], k2[32], k3[32], k4[32], sigraw[32];
	lp_err err = LP_OK;

	lp_buf_init(&creq, 0);
	lp_buf_init(&signed_hdrs, 0);
	lp_buf_init(&sts, 0);
	lp_buf_init(&key, 0);
	lp_buf_init(&authz, 0);
	if (!in || !out || !in->method || !in->region || !in->service || !in->amz_date ||
	    strlen(in->amz_date) != 16 || !in->access_key_id || !in->secret_access_key ||
	    (in->n_headers && !in->headers)) {
		err = LP_ERR_INVALID;
		goto out;
	}
	memcpy(date8, in->amz_date, 8);
	date8[8] = '\0';
	if (in->payload_hash) {
		snprintf(payload, sizeof(payload), "%s", in->payload_hash);
	} else {
		lp_sigv4_sha256_hex(in->body, in->body_len, payload);
	}

	h = lp_calloc(in->n_headers ? in->n_headers : 1, sizeof(*h));
	if (!h) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < in->n_headers; i++) {
		h[i].name = lp_strdup(in->headers[i].name);
		h[i].value = trim_value(in->headers[i].value ? in->headers[i].value : "");
		h[i].order = i;
		if (!h[i].name || !h[i].value) {
			err = LP_ERR_NOMEM;
			goto out;
		}
		for (char *c = h[i].name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	}
	qsort(h, in->n_headers, sizeof(*h), chdr_cmp);

	if ((err = lp_buf_addf(&creq, "%s\n", in->method)) ||
	    (err = canonical_path(&creq, in->path, in->s3)) || (err = lp_buf_addc(&creq, '\n')) ||
	    (err = canonical_query(&creq, in->query)) || (err = lp_buf_addc(&creq, '\n')))
		goto out;
	for (size_t i = 0; i < in->n_headers; i++) {
		int same = i && strcmp(h[i].name, h[i - 1].name) == 0;
		if (same)
			err = lp_buf_addf(&creq, ",%s", h[i].value);
		else
			err = lp_buf_addf(&creq, "%s%s:%s", i ? "\n" : "", h[i].name, h[i].value);
		if (!err && !same)
			err = lp_buf_addf(&signed_hdrs, "%s%s", signed_hdrs.len ? ";" : "",
			                  h[i].name);
		if (err)
			goto out;
	}
	if ((err = lp_buf_addf(&creq, "%s\n%s\n%s", in->n_headers ? "\n" : "",
	                       lp_buf_str(&signed_hdrs), payload)))
		goto out;

	lp_sigv4_sha256_hex(creq.ptr, creq.len, creq_hash);
	if ((err = lp_buf_addf(&sts, SIGV4_ALGO "\n%s\n%s/%s/%s/aws4_request\n%s", in->amz_date,
	                       date8, in->region, in->service, creq_hash)))
		goto out;

	if ((err = lp_buf_addf(&key, "AWS4%s", in->secret_access_key)))
		goto out;
	hmac(key.ptr, key.len, date8, k1);
	hmac(k1, 32, in->region, k2);
	hmac(k2, 32, in->service, k3);
	hmac(k3, 32, "aws4_request", k4);
	hmac(k4, 32, lp_buf_str(&sts), sigraw);
	lp_hex_encode(sig, sigraw, 32);

	if ((err = lp_buf_addf(&authz,
	                       SIGV4_ALGO " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
	                                  "Signature=%s",
	                       in->access_key_id, date8, in->region, in->service,
	                       lp_buf_str(&signed_hdrs), sig)))
		goto out;

	out->canonical_request = lp_buf_take(&creq);
	out->string_to_sign = lp_buf_take(&sts);
	out->signature = lp_strdup(sig);
	out->authorization = lp_buf_take(&authz);
	if (!out->canonical_request || !out->string_to_sign || !out->signature ||
	    !out->authorization) {
		lp_sigv4_output_free(out);
		err = LP_ERR_NOMEM;
	}
out:
	if (h) {
		for (size_t i = 0; i < in->n_headers; i++) {
			lp_free(h[i].name);
			lp_free(h[i].value);
		}
		lp_free(h);
	}
	/* key material: OPENSSL_cleanse, which the compiler may not drop as a
	 * dead store the way it may drop a memset before free */
	if (key.ptr)
		OPENSSL_cleanse(key.ptr, key.len);
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k4, sizeof(k4));
	lp_buf_free(&creq);
	lp_buf_free(&signed_hdrs);
	lp_buf_free(&sts);
	lp_buf_free(&key);
	lp_buf_free(&authz);
	return err;
}

void lp_sigv4_output_free(struct lp_sigv4_output *out)
{
	if (!out)
		return;
	lp_free(out->canonical_request);
	lp_free(out->string_to_sign);
	lp_free(out->signature);
	lp_free(out->authorization);
	memset(out, 0, sizeof(*out));
}
