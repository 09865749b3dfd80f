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

#endif
