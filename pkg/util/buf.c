#include "buf.h"
#include "mem.h"
#include <stdio.h>
#include <string.h>

void lp_buf_init(struct lp_buf *b, size_t max)
{
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : LP_BUF_DEFAULT_MAX;
}

void lp_buf_free(struct lp_buf *b)
{
	if (!b)
		return;
	lp_free(b->ptr);
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
}

void lp_buf_reset(struct lp_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

static lp_err buf_grow(struct lp_buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > b->max || b->len > b->max - extra) {
		lp_buf_free(b);
		return LP_ERR_TOO_LARGE;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return LP_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	p = lp_realloc(b->ptr, ncap);
	if (!p) {
		lp_buf_free(b);
		return LP_ERR_NOMEM;
	}
	b->ptr = p;
	b->cap = ncap;
	return LP_OK;
}

lp_err lp_buf_reserve(struct lp_buf *b, size_t n)
{
	return buf_grow(b, n);
}

lp_err lp_buf_add(struct lp_buf *b, const void *data, size_t len)
{
	/* room already (cap <= max + 1, so the cap holds too): the common case */
	lp_err err = b->ptr && len < b->cap - b->len ? LP_OK : buf_grow(b, len);

	if (err)
		return err;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return LP_OK;
}

lp_err lp_buf_adds(struct lp_buf *b, const char *s)
{
	return lp_buf_add(b, s, strlen(s));
}

lp_err lp_buf_addc(struct lp_buf *b, char c)
{
	return lp_buf_add(b, &c, 1);
}

lp_err lp_buf_vaddf(struct lp_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	lp_err err;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0) {
		lp_buf_free(b);
		return LP_ERR_INVALID;
	}
	err = buf_grow(b, (size_t)n);
	if (err)
		return err;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return LP_OK;
}

lp_err lp_buf_addf(struct lp_buf *b, const char *fmt, ...)
{
	va_list ap;
	lp_err err;

	va_start(ap, fmt);
	err = lp_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return err;
}

const char *lp_buf_str(const struct lp_buf *b)
{
	return b->ptr ? b->ptr : "";
}

char *lp_buf_take(struct lp_buf *b)
{
	char *p = b->ptr;

	if (!p)
		p = lp_strdup("");
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
