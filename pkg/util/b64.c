#include "b64.h"
#include "mem.h"
#include <openssl/evp.h>
#include <string.h>

/* Standard alphabet only; '=' only as the last one or two characters. */
static int b64_valid(const char *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/')
			continue;
		if (ch == '=' && (i == n - 1 || (i == n - 2 && in[n - 1] == '=')))
			continue;
		return 0;
	}
	return 1;
}

int lp_b64_decodable(const char *in, size_t max)
{
	size_t n = in ? strlen(in) : 0;

	return in && n <= max && n % 4 == 0 && n <= (size_t)1 << 30 && b64_valid(in, n);
}

char *lp_b64_decode(const char *in, size_t max, size_t *len)
{
	size_t n = in ? strlen(in) : 0;
	unsigned char *out;
	int got;

	if (!in || n > max || n % 4 != 0 || n > (size_t)1 << 30 || !b64_valid(in, n))
		return NULL;
	out = lp_malloc(n / 4 * 3 + 1);
	if (!out)
		return NULL;
	got = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (got < 0) {
		lp_free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes: drop them */
	for (size_t i = n; got > 0 && i > 0 && in[i - 1] == '='; i--)
		got--;
	out[got] = '\0';
	if (len)
		*len = (size_t)got;
	return (char *)out;
}

size_t lp_b64_decoded_len(const char *in)
{
	size_t n = in ? strlen(in) : 0, pad = 0;

	while (pad < 2 && n > pad && in[n - 1 - pad] == '=')
		pad++;
	return n / 4 * 3 >= pad ? n / 4 * 3 - pad : 0;
}
