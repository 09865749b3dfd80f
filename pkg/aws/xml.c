#include "xml.h"
#include <stdio.h>
#include <string.h>

static const char *find_open(const char *p, const char *end, const char *tag, const char **body)
{
	size_t tl = strlen(tag);

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *gt;
		if (!lt || (size_t)(end - lt) < tl + 2)
			return NULL;
		if (memcmp(lt + 1, tag, tl) == 0 &&
		    (lt[1 + tl] == '>' || lt[1 + tl] == ' ' || lt[1 + tl] == '/')) {
			gt = memchr(lt, '>', (size_t)(end - lt));
			if (!gt)
				return NULL;
			*body = gt + 1;
			return lt;
		}
		p = lt + 1;
	}
	return NULL;
}

const char *lp_aws_xml_inner(const char *xml, size_t len, const char *tag, size_t *inner_len,
                             const char **next)
{
	const char *end, *body = NULL, *open, *close;
	char ct[80];
	size_t cl;

	if (!xml)
		return NULL;
	end = xml + len;
	open = find_open(xml, end, tag, &body);
	if (!open)
		return NULL;
	if (body[-2] == '/') { /* <Tag/> */
		*inner_len = 0;
		if (next)
			*next = body;
		return body;
	}
	cl = (size_t)snprintf(ct, sizeof(ct), "</%s>", tag);
	if (cl >= sizeof(ct))
		return NULL;
	for (close = body; close + cl <= end; close++) {
		if (*close == '<' && memcmp(close, ct, cl) == 0) {
			*inner_len = (size_t)(close - body);
			if (next)
				*next = close + cl;
			return body;
		}
	}
	return NULL;
}

int lp_aws_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outlen)
{
	size_t il = 0, o = 0;
	const char *in = lp_aws_xml_inner(xml, len, tag, &il, NULL);

	if (outlen)
		out[0] = '\0';
	if (!in || !outlen)
		return 0;
	for (size_t i = 0; i < il && o + 1 < outlen; i++) {
		char c = in[i];
		if (c == '&') {
			static const struct {
				const char *ent;
				char c;
			} ents[] = {{"&amp;", '&'},
			            {"&lt;", '<'},
			            {"&gt;", '>'},
			            {"&quot;", '"'},
			            {"&apos;", '\''}};
			for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t el = strlen(ents[k].ent);
				if (il - i >= el && memcmp(in + i, ents[k].ent, el) == 0) {
					c = ents[k].c;
					i += el - 1;
					break;
				}
			}
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return 1;
}

lp_err lp_aws_xml_escape(struct lp_buf *b, const char *s)
{
	lp_err err = LP_OK;

	for (; s && *s && !err; s++) {
		switch (*s) {
		case '&':
			err = lp_buf_adds(b, "&amp;");
			break;
		case '<':
			err = lp_buf_adds(b, "&lt;");
			break;
		case '>':
			err = lp_buf_adds(b, "&gt;");
			break;
		case '"':
			err = lp_buf_adds(b, "&quot;");
			break;
		case '\'':
			err = lp_buf_adds(b, "&apos;");
			break;
		default:
			err = lp_buf_addc(b, *s);
		}
	}
	return err;
}
