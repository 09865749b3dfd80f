/* pkg/render/text.c: escaping functions for strings that end up inside Fluent Bit
 * values with their own syntax (space-separated rules, regexes, Lua). */
#include "internal.h"
#include "../api/rules.h"
#include "../util/hex.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int is_ws(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static lp_err add_hex(struct lp_buf *b, unsigned char ch)
{
	char t[5] = {'\\', 'x'};

	lp_hex_encode(t + 2, &ch, 1);
	return lp_buf_add(b, t, 4);
}

lp_err lp_render_regex_safe(struct lp_buf *b, const char *re)
{
	lp_err err = LP_OK;

	for (const unsigned char *p = (const unsigned char *)re; *p && !err; p++) {
		if (p == (const unsigned char *)re && (*p == '"' || *p == '\'')) {
			/* a leading quote makes Fluent Bit's token splitter (rewrite_tag
			 * rules) read the regex as a quoted token */
			err = add_hex(b, *p);
		} else if (*p == '\\' && p[1] && is_ws(p[1])) {
			err = add_hex(b, p[1]); /* "\ " is a literal space too */
			p++;
		} else if (*p == '\\' && p[1]) {
			err = lp_buf_add(b, p, 2);
			p++;
		} else if (is_ws(*p) || (*p == '$' && p[1] == '{')) {
			err = add_hex(b, *p);
		} else {
			err = lp_buf_add(b, p, 1);
		}
	}
	return err;
}

lp_err lp_render_regex_lit(struct lp_buf *b, const char *s)
{
	lp_err err = LP_OK;

	for (const unsigned char *p = (const unsigned char *)s; *p && !err; p++) {
		if (isalnum(*p) || *p == '_' || *p == '-' || *p >= 0x80)
			err = lp_buf_add(b, p, 1);
		else
			err = add_hex(b, *p);
	}
	return err;
}

lp_err lp_render_lua_str(struct lp_buf *b, const char *s)
{
	lp_err err = lp_buf_addc(b, '"');

	for (const unsigned char *p = (const unsigned char *)s; *p && !err; p++) {
		if (isalnum(*p) || *p == '_' || *p == '.' || *p == '-')
			err = lp_buf_add(b, p, 1);
		else
			err = lp_buf_addf(b, "\\%03u", (unsigned)*p);
	}
	return err ? err : lp_buf_addc(b, '"');
}

int lp_render_field_ok(const char *path)
{
	return lp_field_path_ok(path);
}

lp_err lp_render_accessor(struct lp_buf *b, const char *path)
{
	const char *dot = strchr(path, '.');
	lp_err err;

	err = lp_buf_addc(b, '$');
	if (!err)
		err = lp_buf_add(b, path, dot ? (size_t)(dot - path) : strlen(path));
	while (!err && dot) {
		const char *p = dot + 1;
		dot = strchr(p, '.');
		err = lp_buf_adds(b, "['");
		if (!err)
			err = lp_buf_add(b, p, dot ? (size_t)(dot - p) : strlen(p));
		if (!err)
			err = lp_buf_adds(b, "']");
	}
	return err;
}

int lp_render_utf8_ok(const char *s)
{
	return lp_utf8_ok(s);
}

int lp_render_duration(const char *s, double *seconds)
{
	return lp_fb_duration(s, seconds);
}

void lp_render_field_idx(char *out, size_t n, const char *pre, size_t i, const char *post)
{
	char num[24], *d = num + sizeof(num);
	size_t len = 0;
	const char *parts[3];

	*--d = '\0';
	do {
		*--d = (char)('0' + i % 10);
		i /= 10;
	} while (i);
	parts[0] = pre;
	parts[1] = d;
	parts[2] = post;
	for (int k = 0; k < 3 && n; k++)
		for (const char *p = parts[k]; *p && len + 1 < n; p++)
			out[len++] = *p;
	if (n)
		out[len] = '\0';
}
