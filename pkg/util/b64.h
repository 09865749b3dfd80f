/* Base64 (RFC 4648, standard alphabet, padded), as Kubernetes stores Secret
 * data. */
#ifndef LP_UTIL_B64_H
#define LP_UTIL_B64_H
#include <stddef.h>

/* Decodes in (NUL-terminated, at most max characters) into a new
 * NUL-terminated string (free with lp_free); *len, when not NULL, receives the
 * decoded length (the data may hold NUL bytes). NULL for NULL or invalid input,
 * input longer than max, or no memory. */
char *lp_b64_decode(const char *in, size_t max, size_t *len);
/* 1 when lp_b64_decode(in, max, ...) decodes in given the memory: a NULL
 * from it then means no memory (a failure to retry, not a bad value). */
int lp_b64_decodable(const char *in, size_t max);
/* Bytes padded base64 text in decodes to, from its length and padding alone
 * (what a Secret.data value counts for); 0 for NULL. */
size_t lp_b64_decoded_len(const char *in);

#endif
