/* pkg/server/certs: the webhook's own small PKI on OpenSSL: a self-signed CA
 * and a serving certificate it signs (ECDSA P-256, SHA-256), as PEM text, and
 * the checks that decide when to renew them.
 *
 * Policy (docs/webhook.md): the CA lives LP_CERTS_CA_DAYS and is replaced when
 * less than LP_CERTS_CA_RENEW_DAYS are left; the serving certificate lives
 * LP_CERTS_LEAF_DAYS and is replaced when less than LP_CERTS_LEAF_RENEW_DAYS
 * are left. A new CA is added to the bundle beside the previous one, so a
 * caBundle written a moment later than the new certificate is served still
 * verifies the old and the new certificate. Pure functions, no I/O. */
#ifndef LP_SERVER_CERTS_H
#define LP_SERVER_CERTS_H
#include <stddef.h>
#include <stdint.h>
#include "../util/err.h"

#define LP_CERTS_CA_DAYS         3650
#define LP_CERTS_CA_RENEW_DAYS   365
#define LP_CERTS_LEAF_DAYS       365
#define LP_CERTS_LEAF_RENEW_DAYS 90
#define LP_CERTS_MAX_NAMES       8

/* The PEM texts kept in the webhook's Secret (keys ca.crt, ca.key, tls.crt,
 * tls.key). Every member owned (lp_free), NULL when absent. ca_crt may hold
 * two certificates (the current CA first, then the previous one). */
struct lp_certs {
	char *ca_crt;
	char *ca_key;
	char *tls_crt;
	char *tls_key;
};

void lp_certs_clear(struct lp_certs *c); /* frees the members; NULL-safe */

/* What lp_certs_check found. */
enum lp_certs_state {
	LP_CERTS_OK = 0,     /* good for longer than the renewal margins */
	LP_CERTS_RENEW_LEAF, /* the CA is fine; the serving certificate is missing,
	                       unparsable, not signed by it, for other names, or due */
	LP_CERTS_RENEW_ALL   /* the CA is missing, unparsable or due */
};

/* Decides what to renew, at time now (seconds since the epoch), for a
 * serving certificate that must carry every one of names (DNS names, or IP
 * addresses as IP SANs). */
enum lp_certs_state lp_certs_check(const struct lp_certs *c, const char *const *names,
                                   size_t n_names, int64_t now);

/* Makes what state asks for into *out (copying what stays from in, which may
 * be NULL or empty): RENEW_ALL makes a new CA (the old CA certificate, when it
 * parses and has not expired, is kept second in ca_crt) and a new serving
 * certificate; RENEW_LEAF a new serving certificate from in's CA. *out is
 * written only on LP_OK. LP_ERR_INVALID for no names or more than
 * LP_CERTS_MAX_NAMES, LP_ERR_NOMEM, LP_ERR_IO when OpenSSL fails. */
LP_WUR lp_err lp_certs_renew(struct lp_certs *out, const struct lp_certs *in,
                             enum lp_certs_state state, const char *const *names, size_t n_names,
                             int64_t now);

/* notAfter of the first certificate in pem (seconds since the epoch) into
 * *out; LP_ERR_INVALID when it does not parse. */
LP_WUR lp_err lp_certs_not_after(const char *pem, int64_t *out);

#endif
