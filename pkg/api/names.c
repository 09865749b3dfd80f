/* Enum names as spelled in the CRDs, problem lists, size and duration syntax. */
#include "api.h"
#include "../util/buf.h"
#include "../util/mem.h"
#include "../util/vec.h"
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

const char *lp_multiline_builtin_name(unsigned flag)
{
	switch (flag) {
	case LP_ML_JAVA:
		return "java";
	case LP_ML_PYTHON:
		return "python";
	case LP_ML_GO:
		return "go";
	case LP_ML_CRI:
		return "cri";
	case LP_ML_DOCKER:
		return "docker";
	default:
		return NULL;
	}
}

const char *lp_parse_format_name(enum lp_parse_format f)
{
	switch (f) {
	case LP_PARSE_JSON:
		return "json";
	case LP_PARSE_LOGFMT:
		return "logfmt";
	case LP_PARSE_REGEX:
		return "regex";
	default:
		return NULL;
	}
}

const char *lp_transform_kind_name(enum lp_transform_kind k)
{
	switch (k) {
	case LP_TR_FLATTEN:
		return "flatten";
	case LP_TR_DROP_FIELDS:
		return "dropFields";
	case LP_TR_KEEP_FIELDS:
		return "keepFields";
	case LP_TR_RENAME_FIELDS:
		return "renameFields";
	case LP_TR_ADD_FIELDS:
		return "addFields";
	case LP_TR_GREP:
		return "grep";
	case LP_TR_THROTTLE:
		return "throttle";
	case LP_TR_DETECT_LEVEL:
		return "detectLevel";
	default:
		return NULL;
	}
}

const char *lp_delivery_mode_name(enum lp_delivery_mode m)
{
	switch (m) {
	case LP_DELIVERY_AT_LEAST_ONCE:
		return "atLeastOnce";
	case LP_DELIVERY_AT_MOST_ONCE:
		return "atMostOnce";
	default:
		return NULL;
	}
}

/* ---------- problems ---------- */

void lp_problems_free(struct lp_problems *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		lp_free(p->v[i].field);
		lp_free(p->v[i].message);
	}
	lp_free(p->v);
	p->v = NULL;
	p->n = 0;
}

lp_err lp_problems_add(struct lp_problems *p, const char *field, const char *fmt, ...)
{
	struct lp_buf b;
	char *f = NULL, *m = NULL;
	va_list ap;
	lp_err err;

	lp_buf_init(&b, 0);
	va_start(ap, fmt);
	err = lp_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (err != LP_OK)
		goto fail;
	m = lp_buf_take(&b);
	f = lp_strdup(field ? field : "");
	if (!m || !f) {
		err = LP_ERR_NOMEM;
		goto fail;
	}
	/* capacity doubles from 8: full when n is 0 or a power of two from 8 on */
	if (p->n == 0 || (p->n >= 8 && !(p->n & (p->n - 1)))) {
		size_t cap = p->n ? p->n : 0;
		err = lp_vec_reserve((void **)&p->v, &cap, p->n + 1, sizeof(*p->v));
		if (err != LP_OK)
			goto fail;
	}
	p->v[p->n].field = f;
	p->v[p->n].message = m;
	p->n++;
	return LP_OK;
fail:
	lp_free(f);
	lp_free(m);
	lp_buf_free(&b);
	return err;
}

/* ---------- sizes and durations ---------- */

struct unit {
	const char *suffix;
	uint64_t mult;
};

static const struct unit size_units[] = {
    {"", 1},
    {"k", 1000ULL},
    {"K", 1000ULL},
    {"KB", 1000ULL},
    {"M", 1000000ULL},
    {"MB", 1000000ULL},
    {"G", 1000000000ULL},
    {"GB", 1000000000ULL},
    {"T", 1000000000000ULL},
    {"TB", 1000000000000ULL},
    {"Ki", 1ULL << 10},
    {"Mi", 1ULL << 20},
    {"Gi", 1ULL << 30},
    {"Ti", 1ULL << 40},
};

lp_err lp_size_parse(const char *s, uint64_t *bytes)
{
	uint64_t whole = 0, mult = 0;
	const char *p = s;

	if (!s || !bytes)
		return LP_ERR_INVALID;
	while (*p >= '0' && *p <= '9') {
		if (whole > (UINT64_MAX - 9) / 10)
			return LP_ERR_INVALID;
		whole = whole * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (p == s)
		return LP_ERR_INVALID;
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++)
		if (strcmp(p, size_units[i].suffix) == 0)
			mult = size_units[i].mult;
	if (mult == 0 || whole > UINT64_MAX / mult)
		return LP_ERR_INVALID;
	*bytes = whole * mult;
	return LP_OK;
}

lp_err lp_duration_parse(const char *s, uint64_t *seconds)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (!s || !seconds || !(*p >= '0' && *p <= '9'))
		return LP_ERR_INVALID;
	while (*p >= '0' && *p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return LP_ERR_INVALID;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (strcmp(p, "") == 0 || strcmp(p, "s") == 0)
		mult = 1;
	else if (strcmp(p, "m") == 0)
		mult = 60;
	else if (strcmp(p, "h") == 0)
		mult = 3600;
	else if (strcmp(p, "d") == 0)
		mult = 86400;
	else
		return LP_ERR_INVALID;
	if (v > UINT64_MAX / mult)
		return LP_ERR_INVALID;
	*seconds = v * mult;
	return LP_OK;
}
