/* pkg/util/hex.c: see hex.h. */
#include "hex.h"

void lp_hex_encode(char *out, const void *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int lp_hex_decode(void *out, const char *in, size_t n)
{
	unsigned char *o = out;

	if (!in)
		return 0;
	for (size_t i = 0; i < 2 * n; i++) {
		int d = in[i] >= '0' && in[i] <= '9'   ? in[i] - '0'
		        : in[i] >= 'a' && in[i] <= 'f' ? in[i] - 'a' + 10
		                                       : -1;
		if (d < 0) /* also the NUL of a shorter string */
			return 0;
		o[i / 2] = (unsigned char)(i % 2 ? o[i / 2] << 4 | d : d);
	}
	return 1;
}
