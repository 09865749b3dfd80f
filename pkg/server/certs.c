/* The webhook's CA and serving certificate (certs.h), on OpenSSL 3. */
#include "certs.h"
#include "../util/buf.h"
#include "../util/mem.h"
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <string.h>
#include <time.h>

#define DAY 86400

void lp_certs_clear(struct lp_certs *c)
{
	if (!c)
		return;
	lp_free(c->ca_crt);
	lp_free(c->ca_key);
	lp_free(c->tls_crt);
	lp_free(c->tls_key);
	memset(c, 0, sizeof(*c));
}

/* 1 when s is a numeric IPv4 or IPv6 address (an IP SAN, not a DNS one). */
static int is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static X509 *read_cert(const char *pem, int nth)
{
	BIO *b;
	X509 *x = NULL;

	if (!pem)
		return NULL;
	b = BIO_new_mem_buf(pem, -1);
	for (int i = 0; b && i <= nth; i++) {
		X509_free(x);
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		if (!x)
			break;
	}
	BIO_free(b);
	ERR_clear_error();
	return x;
}

static EVP_PKEY *read_key(const char *pem)
{
	BIO *b;
	EVP_PKEY *k = NULL;

	if (!pem)
		return NULL;
	b = BIO_new_mem_buf(pem, -1);
	if (b)
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	return k;
}

static int time_of(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

lp_err lp_certs_not_after(const char *pem, int64_t *out)
{
	X509 *x = read_cert(pem, 0);
	int64_t t;
	int r;

	if (!x || !out)
		return LP_ERR_INVALID;
	r = time_of(X509_get0_notAfter(x), &t);
	X509_free(x);
	if (r)
		return LP_ERR_INVALID;
	*out = t;
	return LP_OK;
}

/* 1 when x is valid at now and still more than margin seconds after it. */
static int fresh(X509 *x, int64_t now, int64_t margin)
{
	int64_t nb, na;

	if (time_of(X509_get0_notBefore(x), &nb) || time_of(X509_get0_notAfter(x), &na))
		return 0;
	return nb <= now && na - now > margin;
}

enum lp_certs_state lp_certs_check(const struct lp_certs *c, const char *const *names,
                                   size_t n_names, int64_t now)
{
	X509 *ca = NULL, *leaf = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL, *capub;
	enum lp_certs_state st = LP_CERTS_RENEW_ALL;

	if (!c)
		return st;
	ca = read_cert(c->ca_crt, 0);
	cakey = read_key(c->ca_key);
	if (!ca || !cakey || X509_check_private_key(ca, cakey) != 1 ||
	    !fresh(ca, now, (int64_t)LP_CERTS_CA_RENEW_DAYS * DAY))
		goto out;
	st = LP_CERTS_RENEW_LEAF;
	leaf = read_cert(c->tls_crt, 0);
	key = read_key(c->tls_key);
	capub = X509_get0_pubkey(ca);
	if (!leaf || !key || !capub || X509_check_private_key(leaf, key) != 1 ||
	    X509_verify(leaf, capub) != 1 ||
	    !fresh(leaf, now, (int64_t)LP_CERTS_LEAF_RENEW_DAYS * DAY))
		goto out;
	for (size_t i = 0; i < n_names; i++)
		if (is_ip(names[i]) ? X509_check_ip_asc(leaf, names[i], 0) != 1
		                    : X509_check_host(leaf, names[i], 0,
		                                      X509_CHECK_FLAG_NO_WILDCARDS, NULL) != 1)
			goto out;
	st = LP_CERTS_OK;
out:
	ERR_clear_error();
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	return st;
}

static char *pem_of(X509 *x, EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL, *s = NULL;
	long n;

	if (!b)
		return NULL;
	if ((x && PEM_write_bio_X509(b, x) != 1) ||
	    (k && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1))
		goto out;
	n = BIO_get_mem_data(b, &data);
	if (n > 0)
		s = lp_strndup(data, (size_t)n);
out:
	BIO_free(b);
	return s;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* A new certificate for key, signed by signer (itself when issuer is NULL). */
static X509 *make_cert(EVP_PKEY *key, X509 *issuer, EVP_PKEY *signer, const char *cn,
                       const char *san, int64_t now, int days)
{
	X509 *x = X509_new();
	BIGNUM *bn = BN_new();
	X509_NAME *name;
	int ok = 0;

	if (!x || !bn || X509_set_version(x, 2) != 1 ||
	    BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		goto out;
	/* an hour back: clocks of the API server and the operator differ a little */
	if (!ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(now - 3600)) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(now + (int64_t)days * DAY)))
		goto out;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"logplane",
	                               -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	                               0) != 1 ||
	    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	if (!issuer) {
		if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
		    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
		    add_ext(x, x, NID_subject_key_identifier, "hash"))
			goto out;
	} else if (add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
	           add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") ||
	           add_ext(x, issuer, NID_ext_key_usage, "serverAuth") ||
	           add_ext(x, issuer, NID_authority_key_identifier, "keyid:always") ||
	           add_ext(x, issuer, NID_subject_alt_name, san)) {
		goto out;
	}
	if (X509_sign(x, signer, EVP_sha256()) <= 0)
		goto out;
	ok = 1;
out:
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

lp_err lp_certs_renew(struct lp_certs *out, const struct lp_certs *in, enum lp_certs_state state,
                      const char *const *names, size_t n_names, int64_t now)
{
	struct lp_certs n = {0};
	struct lp_buf san, bundle;
	X509 *ca = NULL, *old_ca = NULL, *leaf = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	char *old_pem = NULL;
	lp_err err = LP_ERR_INVALID;

	lp_buf_init(&san, 4096);
	lp_buf_init(&bundle, 65536);
	if (!out || !names || n_names == 0 || n_names > LP_CERTS_MAX_NAMES)
		goto out;
	for (size_t i = 0; i < n_names; i++)
		if (!names[i] || !names[i][0] || strpbrk(names[i], ",:\n") ||
		    lp_buf_addf(&san, "%s%s:%s", i ? "," : "", is_ip(names[i]) ? "IP" : "DNS",
		                names[i]))
			goto out;
	err = LP_ERR_IO;
	if (state == LP_CERTS_OK)
		state = LP_CERTS_RENEW_LEAF;
	if (state == LP_CERTS_RENEW_LEAF) {
		ca = in ? read_cert(in->ca_crt, 0) : NULL;
		cakey = in ? read_key(in->ca_key) : NULL;
		if (!ca || !cakey || X509_check_private_key(ca, cakey) != 1)
			state = LP_CERTS_RENEW_ALL; /* nothing to keep */
	}
	if (state == LP_CERTS_RENEW_ALL) {
		X509_free(ca);
		EVP_PKEY_free(cakey);
		ca = NULL;
		cakey = EVP_EC_gen("P-256");
		if (!cakey)
			goto out;
		ca = make_cert(cakey, NULL, cakey, "logplane-webhook-ca", NULL, now,
		               LP_CERTS_CA_DAYS);
		if (!ca)
			goto out;
		/* the old CA stays trusted beside the new one while it is valid */
		old_ca = in ? read_cert(in->ca_crt, 0) : NULL;
		if (old_ca && fresh(old_ca, now, 0))
			old_pem = pem_of(old_ca, NULL);
		if (!(n.ca_crt = pem_of(ca, NULL)) || !(n.ca_key = pem_of(NULL, cakey)))
			goto nomem;
		if (old_pem) {
			if (lp_buf_adds(&bundle, n.ca_crt) || lp_buf_adds(&bundle, old_pem))
				goto nomem;
			lp_free(n.ca_crt);
			if (!(n.ca_crt = lp_buf_take(&bundle)))
				goto nomem;
		}
	} else if (!(n.ca_crt = lp_strdup(in->ca_crt)) || !(n.ca_key = lp_strdup(in->ca_key))) {
		goto nomem;
	}
	key = EVP_EC_gen("P-256");
	if (!key)
		goto out;
	leaf = make_cert(key, ca, cakey, names[0], lp_buf_str(&san), now, LP_CERTS_LEAF_DAYS);
	if (!leaf)
		goto out;
	if (!(n.tls_crt = pem_of(leaf, NULL)) || !(n.tls_key = pem_of(NULL, key)))
		goto nomem;
	*out = n;
	memset(&n, 0, sizeof(n));
	err = LP_OK;
	goto out;
nomem:
	err = LP_ERR_NOMEM;
out:
	ERR_clear_error();
	lp_certs_clear(&n);
	X509_free(ca);
	X509_free(old_ca);
	X509_free(leaf);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	lp_free(old_pem);
	lp_buf_free(&san);
	lp_buf_free(&bundle);
	return err;
}
