/* The safe-string checker and the Oniguruma regex check. */
#include "check.h"
#include "redos.h"
#include "../util/buf.h"
#include "../util/mem.h"
#include <oniguruma.h>
#include <stdio.h>
#include <string.h>

#define LP_REGEX_MAX 4096

/* 1 when s[0..len) contains the n bytes of sub */
static int has_sub(const char *s, size_t len, const char *sub, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(s + i, sub, n) == 0)
			return 1;
	return 0;
}

static int is_lower_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(unsigned char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int in_set(unsigned char c, const char *extra)
{
	return is_alnum(c) || (c && strchr(extra, c) != NULL);
}

/* Decodes one UTF-8 sequence at s[0..len); returns its length and the code point
 * in *cp, or 0 when the sequence is invalid (overlong, surrogate, truncated). */
static size_t utf8_next(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned c = s[0], v;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		v = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
	    (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

/* Rules common to every class: UTF-8, no control characters, no expansions. */
static const char *check_common(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	unsigned cp;

	while (i < len) {
		if (u[i] == 0)
			return "must not contain a NUL character";
		n = utf8_next(u + i, len - i, &cp);
		if (n == 0)
			return "must be valid UTF-8";
		if (cp == '\n' || cp == '\r')
			return "must not contain a newline";
		if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 ||
		    cp == 0x2029)
			return "must not contain control characters";
		i += n;
	}
	if (has_sub(s, len, "${", 2))
		return "must not contain \"${\" (environment variable expansion)";
	if (has_sub(s, len, "#{", 2))
		return "must not contain \"#{\" (Fluentd interpolation)";
	return NULL;
}

static int all_in(const char *s, size_t len, const char *extra)
{
	for (size_t i = 0; i < len; i++)
		if (!in_set((unsigned char)s[i], extra))
			return 0;
	return 1;
}

static int dns_label_ok(const char *s, size_t len)
{
	if (len == 0 || len > 63)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_lower_alnum(c) && !(c == '-' && i > 0 && i + 1 < len))
			return 0;
	}
	return 1;
}

static int dns_subdomain_ok(const char *s, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (!dns_label_ok(s + start, i - start))
				return 0;
			start = i + 1;
		}
	}
	return 1;
}

/* [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, up to 63 */
static int label_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 63)
		return 0;
	if (!is_alnum((unsigned char)s[0]) || !is_alnum((unsigned char)s[len - 1]))
		return 0;
	return all_in(s, len, "-_.");
}

static int host_ok(const char *s, size_t len)
{
	if (len == 0 || len > 253)
		return 0;
	if (memchr(s, ':', len)) /* IPv6 literal */
		return all_in(s, len, ":.") && len <= 45;
	if (s[0] == '-' || s[0] == '.' || s[len - 1] == '-' || s[len - 1] == '.')
		return 0;
	return all_in(s, len, "-.");
}

static int port_text_ok(const char *s, size_t len)
{
	unsigned v = 0;

	if (len == 0 || len > 5)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* host[:port], IPv6 as [addr][:port] */
static int hostport_ok(const char *s, size_t len, int port_required)
{
	const char *colon;

	if (len > 0 && s[0] == '[') {
		const char *end = memchr(s, ']', len);
		size_t hl;
		if (!end)
			return 0;
		hl = (size_t)(end - s) - 1;
		if (!host_ok(s + 1, hl) || !memchr(s + 1, ':', hl))
			return 0;
		if ((size_t)(end - s) + 1 == len)
			return !port_required;
		if (end[1] != ':')
			return 0;
		return port_text_ok(end + 2, len - (size_t)(end - s) - 2);
	}
	colon = memchr(s, ':', len);
	if (!colon)
		return !port_required && host_ok(s, len);
	if (memchr(colon + 1, ':', len - (size_t)(colon - s) - 1))
		return 0;
	return host_ok(s, (size_t)(colon - s)) &&
	       port_text_ok(colon + 1, len - (size_t)(colon - s) - 1);
}

static int region_ok(const char *s, size_t len)
{
	/* letters-and-dashes, a final "-<digits>" */
	size_t i = len;

	if (len < 4 || len > 32)
		return 0;
	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	if (i == len || i < 2 || s[i - 1] != '-')
		return 0;
	for (size_t j = 0; j + 1 < i; j++)
		if (!((s[j] >= 'a' && s[j] <= 'z') || (s[j] == '-' && j > 0 && s[j - 1] != '-')))
			return 0;
	return memchr(s, '-', i - 1) != NULL;
}

static int arn_ok(const char *s, size_t len)
{
	size_t colons = 0;

	if (len < 12 || strncmp(s, "arn:", 4) != 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7F || c == '"' || c == '\\' || c == '{' || c == '}')
			return 0;
		if (c == ':')
			colons++;
	}
	return colons >= 5;
}

static int url_ok(const char *s, size_t len)
{
	size_t skip, end;

	if (len > 7 && strncmp(s, "http://", 7) == 0)
		skip = 7;
	else if (len > 8 && strncmp(s, "https://", 8) == 0)
		skip = 8;
	else
		return 0;
	end = skip;
	while (end < len && s[end] != '/')
		end++;
	if (!hostport_ok(s + skip, end - skip, 0))
		return 0;
	for (size_t i = end; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!in_set(c, "-._~/%"))
			return 0;
	}
	return 1;
}

static int uri_ok(const char *s, size_t len)
{
	if (len == 0 || s[0] != '/')
		return 0;
	return all_in(s, len, "-._~/%!$&'()*+,;=:@?");
}

static int path_ok(const char *s, size_t len)
{
	if (len < 2 || s[0] != '/')
		return 0;
	if (has_sub(s, len, "..", 2) || has_sub(s, len, "//", 2))
		return 0;
	return all_in(s, len, "-_./*?[]");
}

static int s3_key_ok(const char *s, size_t len)
{
	if (len == 0 || s[0] != '/')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7F || c == '\\' || c == '"')
			return 0;
	}
	return 1;
}

static int field_ok(const char *s, size_t len)
{
	unsigned char c0;

	if (len == 0)
		return 0;
	c0 = (unsigned char)s[0];
	if (!(is_alnum(c0) || c0 == '_' || (c0 == '@' && len > 1)))
		return 0;
	if (s[len - 1] == '.' || has_sub(s, len, "..", 2))
		return 0;
	return all_in(s + 1, len - 1, "_.-/");
}

static int label_key_ok(const char *s, size_t len)
{
	const char *slash = memchr(s, '/', len);

	if (!slash)
		return label_name_ok(s, len);
	return dns_subdomain_ok(s, (size_t)(slash - s)) &&
	       label_name_ok(slash + 1, len - (size_t)(slash - s) - 1);
}

static int kms_ok(const char *s, size_t len)
{
	if (len > 4 && strncmp(s, "arn:", 4) == 0)
		return arn_ok(s, len);
	return len > 0 && all_in(s, len, "-_/:");
}

static int bucket_ok(const char *s, size_t len)
{
	if (len < 3 || len > 63)
		return 0;
	if (!is_lower_alnum((unsigned char)s[0]) || !is_lower_alnum((unsigned char)s[len - 1]))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_alnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return 0;
	return !has_sub(s, len, "..", 2);
}

struct class_rule {
	size_t max;       /* default maximum length in bytes */
	const char *what; /* message when the shape is wrong */
};

static const struct class_rule rules[LP_STR_CLASS_COUNT] = {
    [LP_STR_TEXT] = {1024, "must not start with '@' or '['"},
    [LP_STR_DNS_LABEL] = {63, "must be a DNS-1123 label (lower-case letters, digits and '-', "
                              "starting and ending with a letter or digit, at most 63 characters)"},
    [LP_STR_DNS_SUBDOMAIN] = {253, "must be a DNS-1123 subdomain (lower-case letters, digits, "
                                   "'-' and '.', at most 253 characters)"},
    [LP_STR_SECRET_KEY] = {253, "must be a Secret key (letters, digits, '-', '_' and '.')"},
    [LP_STR_FIELD] = {128, "must be a record key (letters, digits, '_', '-', '/' and '.' between "
                           "parts, starting with a letter, digit, '_' or '@')"},
    [LP_STR_REGEX] = {LP_REGEX_MAX, "is not a valid regular expression"},
    [LP_STR_HOST] = {253, "must be a host name or IP address (no scheme, no port)"},
    [LP_STR_PATH] = {1024, "must be an absolute path or glob (letters, digits, '-', '_', '.', "
                           "'/', '*', '?', '[', ']'; no \"..\")"},
    [LP_STR_URI] = {1024, "must be a URI path starting with '/' (no spaces or braces)"},
    [LP_STR_AWS_NAME] = {128, "must contain only letters, digits, '_', '-' and '.'"},
    [LP_STR_BUCKET] = {63, "must be an S3 bucket name (3-63 lower-case letters, digits, '-' and "
                           "'.')"},
    [LP_STR_LOG_GROUP] = {512, "must contain only letters, digits, '.', '-', '_', '/' and '#'"},
    [LP_STR_ARN] = {2048, "must be an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)"},
    [LP_STR_REGION] = {32, "must be an AWS region such as \"us-east-1\""},
    [LP_STR_URL] = {1024, "must be an http:// or https:// URL with a host and optional port"},
    [LP_STR_TOKEN] = {249, "must contain only letters, digits, '_', '-' and '.'"},
    [LP_STR_LABEL_KEY] = {317, "must be a Kubernetes label key ([prefix/]name)"},
    [LP_STR_LABEL_VALUE] = {63, "must be a Kubernetes label value (letters, digits, '-', '_', "
                                "'.', at most 63 characters)"},
    [LP_STR_S3_KEY] = {1024, "must start with '/' and contain no spaces, quotes or backslashes"},
    [LP_STR_HEADER_NAME] = {256, "must be an HTTP header name (letters, digits and '-')"},
    [LP_STR_BROKER] = {260, "must be host:port"},
    [LP_STR_KMS_KEY] = {2048, "must be a KMS key id, alias/NAME or key ARN"},
};

const char *lp_check_string(const char *s, size_t len, enum lp_str_class c, size_t max_len)
{
	const char *why;
	int ok = 1;

	if (!s || (unsigned)c >= LP_STR_CLASS_COUNT)
		return "must be a string";
	why = check_common(s, len);
	if (why)
		return why;
	if (max_len == 0)
		max_len = rules[c].max;
	if (len > max_len) {
		/* the few static messages we need, by limit */
		switch (c) {
		case LP_STR_DNS_LABEL:
		case LP_STR_LABEL_VALUE:
			return "must be at most 63 characters";
		case LP_STR_DNS_SUBDOMAIN:
			return "must be at most 253 characters";
		default:
			return "is too long";
		}
	}
	switch (c) {
	case LP_STR_TEXT:
		ok = !(len > 0 && (s[0] == '@' || s[0] == '['));
		break;
	case LP_STR_DNS_LABEL:
		ok = dns_label_ok(s, len);
		break;
	case LP_STR_DNS_SUBDOMAIN:
		ok = dns_subdomain_ok(s, len);
		break;
	case LP_STR_SECRET_KEY:
		ok = len > 0 && all_in(s, len, "-._");
		break;
	case LP_STR_FIELD:
		ok = field_ok(s, len);
		break;
	case LP_STR_REGEX:
		ok = len > 0;
		break;
	case LP_STR_HOST:
		ok = host_ok(s, len);
		break;
	case LP_STR_PATH:
		ok = path_ok(s, len);
		break;
	case LP_STR_URI:
		ok = uri_ok(s, len);
		break;
	case LP_STR_AWS_NAME:
	case LP_STR_TOKEN:
		ok = len > 0 && all_in(s, len, "-._");
		break;
	case LP_STR_BUCKET:
		ok = bucket_ok(s, len);
		break;
	case LP_STR_LOG_GROUP:
		ok = len > 0 && all_in(s, len, ".-_/#");
		break;
	case LP_STR_ARN:
		ok = arn_ok(s, len);
		break;
	case LP_STR_REGION:
		ok = region_ok(s, len);
		break;
	case LP_STR_URL:
		ok = url_ok(s, len);
		break;
	case LP_STR_LABEL_KEY:
		ok = label_key_ok(s, len);
		break;
	case LP_STR_LABEL_VALUE:
		ok = len == 0 || label_name_ok(s, len);
		break;
	case LP_STR_S3_KEY:
		ok = s3_key_ok(s, len);
		break;
	case LP_STR_HEADER_NAME:
		ok = len > 0 && all_in(s, len, "!#$%&'*+-.^_`|~");
		break;
	case LP_STR_BROKER:
		ok = hostport_ok(s, len, 1);
		break;
	case LP_STR_KMS_KEY:
		ok = kms_ok(s, len);
		break;
	default:
		ok = 0;
		break;
	}
	return ok ? NULL : rules[c].what;
}

/* Errors that only say "the pattern ended too early": a prefix failing this way
 * may still be the start of a good pattern. */
static int incomplete_error(int code)
{
	switch (code) {
	case ONIGERR_END_PATTERN_AT_LEFT_BRACE:
	case ONIGERR_END_PATTERN_AT_LEFT_BRACKET:
	case ONIGERR_PREMATURE_END_OF_CHAR_CLASS:
	case ONIGERR_END_PATTERN_AT_ESCAPE:
	case ONIGERR_END_PATTERN_AT_META:
	case ONIGERR_END_PATTERN_AT_CONTROL:
	case ONIGERR_END_PATTERN_IN_GROUP:
	case ONIGERR_END_PATTERN_WITH_UNMATCHED_PARENTHESIS:
		return 1;
	default:
		return 0;
	}
}

static int compile(OnigRegex *reg, const char *p, size_t len, OnigErrorInfo *einfo)
{
	const OnigUChar *s = (const OnigUChar *)p;
	return onig_new(reg, s, s + len, ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY,
	                einfo);
}

/* Offset of the innermost '(' still open at the end of p (escapes and
 * character classes skipped), or len when none is found. */
static size_t unclosed_paren(const char *p, size_t len)
{
	size_t stack[64], depth = 0, lost = 0;
	int in_class = 0;

	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (c == '\\') {
			i++;
		} else if (in_class) {
			if (c == '[')
				in_class++;
			else if (c == ']')
				in_class--;
		} else if (c == '[') {
			in_class = 1;
		} else if (c == '(') {
			if (depth < sizeof(stack) / sizeof(stack[0]))
				stack[depth++] = i;
			else
				lost++;
		} else if (c == ')') {
			if (lost)
				lost--;
			else if (depth)
				depth--;
		}
	}
	return depth && !lost ? stack[depth - 1] : len;
}

/* The byte offset where pattern goes wrong, found with few compilations (the
 * check must stay cheap for long hostile patterns): for an error that shows
 * before the end, one less than the shortest prefix failing with the same
 * error (binary search: once a prefix has such an error, longer ones keep it);
 * for an unclosed group, where that group opens; for other errors that only
 * show at the end (an unfinished class or escape), the end. */
static size_t error_offset(const char *p, size_t len, int code)
{
	OnigRegex reg = NULL;
	OnigErrorInfo einfo;
	size_t lo = 1, hi = len;

	if (code == ONIGERR_END_PATTERN_WITH_UNMATCHED_PARENTHESIS)
		return unclosed_paren(p, len);
	if (incomplete_error(code))
		return len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = compile(&reg, p, mid, &einfo);
		if (r == ONIG_NORMAL) {
			onig_free(reg);
			reg = NULL;
		}
		if (r == code)
			hi = mid;
		else
			lo = mid + 1;
	}
	return hi - 1;
}

struct names_ctx {
	struct lp_buf *b;
	lp_err err;
};

static int add_name(const OnigUChar *name, const OnigUChar *name_end, int ngroups, int *groups,
                    OnigRegex reg, void *arg)
{
	struct names_ctx *c = arg;
	(void)ngroups;
	(void)groups;
	(void)reg;
	c->err = lp_buf_add(c->b, name, (size_t)(name_end - name));
	if (c->err == LP_OK)
		c->err = lp_buf_addc(c->b, '\0');
	return c->err == LP_OK ? 0 : -1;
}

lp_err lp_regex_check(const char *pattern, char **names, char *why, size_t whysz)
{
	OnigRegex reg = NULL;
	OnigErrorInfo einfo;
	OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
	struct lp_buf b;
	struct names_ctx nc;
	size_t len;
	int r;
	lp_err err = LP_OK;

	lp_buf_init(&b, LP_REGEX_MAX * 2);
	if (!pattern) {
		snprintf(why, whysz, "must be a string");
		return LP_ERR_INVALID;
	}
	len = strlen(pattern);
	if (len > LP_REGEX_MAX) {
		snprintf(why, whysz, "regular expression is too long (at most %d bytes)",
		         LP_REGEX_MAX);
		return LP_ERR_INVALID;
	}
	r = compile(&reg, pattern, len, &einfo);
	if (r != ONIG_NORMAL) {
		msg[0] = 0;
		onig_error_code_to_str(msg, r, &einfo);
		snprintf(why, whysz, "invalid regular expression at offset %zu: %s",
		         error_offset(pattern, len, r), (const char *)msg);
		if (r == ONIGERR_MEMORY)
			return LP_ERR_NOMEM;
		return LP_ERR_INVALID;
	}
	err = lp_redos_check(reg, pattern, why, whysz);
	if (err != LP_OK)
		goto out;
	if (names) {
		nc.b = &b;
		nc.err = LP_OK;
		if (onig_number_of_names(reg) > 0) {
			onig_foreach_name(reg, add_name, &nc);
			if (nc.err == LP_OK)
				nc.err = lp_buf_addc(&b, '\0');
			if (nc.err != LP_OK) {
				err = nc.err;
				goto out;
			}
			*names = lp_buf_take(&b);
			if (!*names)
				err = LP_ERR_NOMEM;
		} else {
			*names = NULL;
		}
	}
out:
	onig_free(reg);
	lp_buf_free(&b);
	return err;
}

int lp_regex_names_has(const char *names, const char *name)
{
	if (!names)
		return 0;
	for (const char *p = names; *p; p += strlen(p) + 1)
		if (strcmp(p, name) == 0)
			return 1;
	return 0;
}
