/* struct lp_buf: the one growable byte buffer (after curl's dynbuf).
 * Always NUL-terminated when non-empty; has a size cap; on any failure (no
 * memory, cap exceeded) it frees its contents and returns the error, so a caller
 * never has a half-built string to clean up. */
#ifndef LP_UTIL_BUF_H
#define LP_UTIL_BUF_H
#include <stdarg.h>
#include <stddef.h>
#include "err.h"

struct lp_buf {
	char *ptr;
	size_t len;
	size_t cap;
	size_t max; /* largest allowed len */
};

#define LP_BUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)

void lp_buf_init(struct lp_buf *b, size_t max);
void lp_buf_free(struct lp_buf *b);  /* NULL-safe; leaves b empty and reusable */
void lp_buf_reset(struct lp_buf *b); /* len = 0, keeps memory */
/* Makes room for n more bytes without changing the contents (fewer
 * reallocations when the final size is roughly known). */
LP_WUR lp_err lp_buf_reserve(struct lp_buf *b, size_t n);
LP_WUR lp_err lp_buf_add(struct lp_buf *b, const void *data, size_t len);
LP_WUR lp_err lp_buf_adds(struct lp_buf *b, const char *s);
LP_WUR lp_err lp_buf_addc(struct lp_buf *b, char c);
LP_WUR lp_err lp_buf_addf(struct lp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
LP_WUR lp_err lp_buf_vaddf(struct lp_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Borrowed pointer to the contents; "" when empty, never NULL. */
const char *lp_buf_str(const struct lp_buf *b);
/* Hands the contents to the caller (free with lp_free); never NULL on success
 * (an empty buffer gives ""). b is left empty. NULL on no memory. */
char *lp_buf_take(struct lp_buf *b);

#endif
