/* Lower-case hex encoding, the one copy (digests, hashes, escapes). */
#ifndef LP_UTIL_HEX_H
#define LP_UTIL_HEX_H
#include <stddef.h>

/* Writes the 2 * n lower-case hex digits of in[0..n) and a NUL to out, which
 * has 2 * n + 1 bytes. */
void lp_hex_encode(char *out, const void *in, size_t n);

/* Reads the first 2 * n characters of in, lower-case hex digits, into
 * out[0..n). 1 on success; 0 (out unspecified) when in is NULL or one of
 * them is not a hex digit (as the NUL of a shorter string). */
int lp_hex_decode(void *out, const char *in, size_t n);

#endif
