/* pkg/api/secretval: checks a Secret value for the place it goes (a header, a
 * credentials file, a setting the agents parse at start) before any of it is
 * used, so a bad value leaves its output out with a condition instead of
 * stopping Fluent Bit on every node or injecting a header line. */
#include "secretval.h"
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

/* NULL when every byte is printable ASCII (no space when nospace), else why. */
static const char *printable(const unsigned char *v, size_t len, int nospace)
{
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '\r' || v[i] == '\n')
			return "contains a line break (it would start another header or line)";
		if (v[i] < 0x20 || v[i] == 0x7f)
			return "contains a control character";
		if (v[i] >= 0x80)
			return "contains a byte outside printable ASCII";
		if (nospace && v[i] == ' ')
			return "contains a space";
	}
	return NULL;
}

static const char *pem_certs(const char *v, size_t len)
{
	BIO *bio = BIO_new_mem_buf(v, (int)len);
	X509 *x;
	int n = 0;

	if (!bio)
		return "could not be read (out of memory)";
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		n++;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(bio);
	return n ? NULL : "holds no PEM certificate (-----BEGIN CERTIFICATE-----) OpenSSL can read";
}

const char *lp_secret_value_problem(enum lp_secret_use use, const char *v, size_t len)
{
	const unsigned char *u = (const unsigned char *)v;
	const char *why;

	if (!v)
		return "cannot be read";
	/* one trailing newline (as `echo` or a file adds) is not part of the value */
	if (len && v[len - 1] == '\n' && use != LP_SECRET_CA_PEM)
		len--;
	if (len == 0)
		return "is empty";
	switch (use) {
	case LP_SECRET_AWS_KEY_ID:
		if ((why = printable(u, len, 1)) != NULL)
			return why;
		if (len > 128)
			return "is not an AWS access key id (at most 128 letters and digits)";
		for (size_t i = 0; i < len; i++)
			if (!((u[i] >= 'A' && u[i] <= 'Z') || (u[i] >= 'a' && u[i] <= 'z') ||
			      (u[i] >= '0' && u[i] <= '9')))
				return "is not an AWS access key id (letters and digits only)";
		return NULL;
	case LP_SECRET_AWS_SECRET:
		if (len > 128)
			return "is longer than an AWS secret access key (128 characters)";
		return printable(u, len, 1);
	case LP_SECRET_AWS_TOKEN:
		if (len > 8192)
			return "is longer than an AWS session token (8192 characters)";
		return printable(u, len, 1);
	case LP_SECRET_HEADER:
		if (len > 4096)
			return "is longer than 4096 bytes";
		return printable(u, len, 0);
	case LP_SECRET_USERNAME:
		if (len > 256)
			return "is longer than 256 bytes";
		if (memchr(v, ':', len))
			return "contains ':' (basic auth separates user and password with it)";
		return printable(u, len, 0);
	case LP_SECRET_PASSWORD:
	case LP_SECRET_SHARED_KEY:
		if (len > 1024)
			return "is longer than 1024 bytes";
		return printable(u, len, 0);
	case LP_SECRET_HTTPS_URL:
		if (len > 2048)
			return "is longer than 2048 bytes";
		if ((why = printable(u, len, 1)) != NULL)
			return why;
		if (len < 9 || strncmp(v, "https://", 8) != 0 || v[8] == '/' || v[8] == ':')
			return "is not an https:// URL with a host";
		return NULL;
	case LP_SECRET_CA_PEM:
		if (len > LP_SECRET_VALUE_LARGEST)
			return "is larger than 512 KiB";
		return pem_certs(v, len);
	}
	return "has an unknown use";
}

const char *lp_secret_use_name(enum lp_secret_use use)
{
	static const char *const names[] = {"an AWS access key id", "an AWS secret access key",
	                                    "an AWS session token", "a header value",
	                                    "a user name",          "a password",
	                                    "a shared key",         "an https:// URL",
	                                    "a PEM CA bundle"};
	return (unsigned)use < sizeof(names) / sizeof(names[0]) ? names[use] : "a value";
}
