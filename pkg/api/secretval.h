/* pkg/api/secretval: what a Secret value must look like for the place it
 * goes (HTTP headers, the agents' credentials file, settings Fluent Bit
 * parses at start). Values are never copied into a message. */
#ifndef LP_API_SECRETVAL_H
#define LP_API_SECRETVAL_H
#include <stddef.h>

/* The largest value any use accepts (a CA bundle, its newline included):
 * every credential the agents get is at most this (pkg/reconcile relies on it
 * fitting one credentials Secret). */
#define LP_SECRET_VALUE_LARGEST (512u * 1024u)

enum lp_secret_use {
	LP_SECRET_AWS_KEY_ID = 0, /* letters and digits, <= 128 */
	LP_SECRET_AWS_SECRET,     /* printable ASCII, no space, <= 128 */
	LP_SECRET_AWS_TOKEN,      /* printable ASCII, no space, <= 8192 */
	LP_SECRET_HEADER,         /* printable ASCII, <= 4096 */
	LP_SECRET_USERNAME,       /* printable ASCII without ':', <= 256 */
	LP_SECRET_PASSWORD,       /* printable ASCII, <= 1024 */
	LP_SECRET_SHARED_KEY,     /* printable ASCII, <= 1024 */
	LP_SECRET_HTTPS_URL,      /* https://host..., no space or control character */
	LP_SECRET_CA_PEM,         /* at least one PEM certificate OpenSSL reads */
};

/* NULL when v (len bytes, may be NULL: unreadable) suits use; else a static
 * message ("is empty", "contains a line break ..."). One trailing newline
 * is ignored (Fluent Bit ignores it too). Never empty: every use needs a value. */
const char *lp_secret_value_problem(enum lp_secret_use use, const char *v, size_t len);
const char *lp_secret_use_name(enum lp_secret_use use); /* "an AWS access key id" */

#endif
