#include "metrics.h"
#include "../util/mem.h"
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
	char **values;    /* one per label, owned */
	double value;     /* counter / gauge */
	double sum;       /* histogram */
	uint64_t count;   /* histogram */
	uint64_t *counts; /* histogram: per bucket (not cumulative), n_buckets */
};

struct lp_metric_family {
	struct lp_metrics *reg; /* owner, for the lock */
	enum lp_metric_type type;
	char *name;
	char *help;
	char **labels;
	size_t n_labels;
	double *buckets;
	size_t n_buckets;
	struct series **series; /* sorted by label values */
	size_t n_series;
	size_t cap_series;
};

struct collector {
	lp_metrics_collect_fn fn;
	void *ctx;
};

struct lp_metrics {
	pthread_mutex_t lock;
	struct collector collectors[LP_METRICS_MAX_COLLECTORS];
	size_t n_collectors;
	struct lp_metric_family **fams;
	size_t n_fams;
	size_t cap_fams;
};

lp_err lp_metrics_new(struct lp_metrics **out)
{
	struct lp_metrics *m = lp_calloc(1, sizeof(*m));

	if (!m)
		return LP_ERR_NOMEM;
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		lp_free(m);
		return LP_ERR_NOMEM;
	}
	*out = m;
	return LP_OK;
}

static void series_free(struct series *s, size_t n_labels)
{
	if (!s)
		return;
	for (size_t i = 0; i < n_labels; i++)
		lp_free(s->values[i]);
	lp_free(s->values);
	lp_free(s->counts);
	lp_free(s);
}

static void family_free(struct lp_metric_family *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_series; i++)
		series_free(f->series[i], f->n_labels);
	lp_free(f->series);
	for (size_t i = 0; i < f->n_labels; i++)
		lp_free(f->labels[i]);
	lp_free(f->labels);
	lp_free(f->buckets);
	lp_free(f->name);
	lp_free(f->help);
	lp_free(f);
}

void lp_metrics_free(struct lp_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_fams; i++)
		family_free(m->fams[i]);
	lp_free(m->fams);
	pthread_mutex_destroy(&m->lock);
	lp_free(m);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names (colon allowed), without colon for labels. */
static int valid_name(const char *s, int colon)
{
	if (!s || !*s)
		return 0;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		         (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return 0;
	}
	return 1;
}

static lp_err check_desc(const struct lp_metrics *m, const struct lp_metric_desc *d,
                         size_t *n_labels)
{
	size_t n = 0;

	if (!d || !valid_name(d->name, 1) || !d->help)
		return LP_ERR_INVALID;
	if (d->type != LP_METRIC_COUNTER && d->type != LP_METRIC_GAUGE &&
	    d->type != LP_METRIC_HISTOGRAM)
		return LP_ERR_INVALID;
	for (size_t i = 0; i < m->n_fams; i++)
		if (strcmp(m->fams[i]->name, d->name) == 0)
			return LP_ERR_INVALID;
	while (d->label_names && d->label_names[n]) {
		const char *l = d->label_names[n];
		if (!valid_name(l, 0) || strncmp(l, "__", 2) == 0)
			return LP_ERR_INVALID;
		if (d->type == LP_METRIC_HISTOGRAM && strcmp(l, "le") == 0)
			return LP_ERR_INVALID;
		for (size_t j = 0; j < n; j++)
			if (strcmp(d->label_names[j], l) == 0)
				return LP_ERR_INVALID;
		if (++n > LP_METRICS_MAX_LABELS)
			return LP_ERR_INVALID;
	}
	if (d->type == LP_METRIC_HISTOGRAM) {
		if (!d->buckets || d->n_buckets == 0 || d->n_buckets > LP_METRICS_MAX_BUCKETS)
			return LP_ERR_INVALID;
		for (size_t i = 0; i < d->n_buckets; i++) {
			if (!isfinite(d->buckets[i]))
				return LP_ERR_INVALID;
			if (i > 0 && !(d->buckets[i] > d->buckets[i - 1]))
				return LP_ERR_INVALID;
		}
	} else if (d->n_buckets) {
		return LP_ERR_INVALID;
	}
	*n_labels = n;
	return LP_OK;
}

lp_err lp_metrics_add_family(struct lp_metrics *m, const struct lp_metric_desc *d,
                             struct lp_metric_family **out)
{
	struct lp_metric_family *f = NULL;
	size_t n_labels = 0;
	lp_err err;

	if (!m)
		return LP_ERR_INVALID;
	pthread_mutex_lock(&m->lock);
	err = check_desc(m, d, &n_labels);
	if (err)
		goto out;
	err = LP_ERR_NOMEM;
	f = lp_calloc(1, sizeof(*f));
	if (!f)
		goto out;
	f->reg = m;
	f->type = d->type;
	f->name = lp_strdup(d->name);
	f->help = lp_strdup(d->help);
	if (!f->name || !f->help)
		goto out;
	if (n_labels) {
		f->labels = lp_calloc(n_labels, sizeof(*f->labels));
		if (!f->labels)
			goto out;
		for (; f->n_labels < n_labels; f->n_labels++) {
			f->labels[f->n_labels] = lp_strdup(d->label_names[f->n_labels]);
			if (!f->labels[f->n_labels])
				goto out;
		}
	}
	if (d->type == LP_METRIC_HISTOGRAM) {
		f->buckets = lp_calloc(d->n_buckets, sizeof(double));
		if (!f->buckets)
			goto out;
		memcpy(f->buckets, d->buckets, d->n_buckets * sizeof(double));
		f->n_buckets = d->n_buckets;
	}
	if (m->n_fams == m->cap_fams) {
		size_t ncap = m->cap_fams ? m->cap_fams * 2 : 16;
		struct lp_metric_family **p = lp_realloc(m->fams, ncap * sizeof(*p));
		if (!p)
			goto out;
		m->fams = p;
		m->cap_fams = ncap;
	}
	m->fams[m->n_fams++] = f;
	if (out)
		*out = f;
	f = NULL;
	err = LP_OK;
out:
	pthread_mutex_unlock(&m->lock);
	family_free(f);
	return err;
}

struct lp_metric_family *lp_metrics_find(struct lp_metrics *m, const char *name)
{
	struct lp_metric_family *f = NULL;

	if (!m || !name)
		return NULL;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_fams && !f; i++)
		if (strcmp(m->fams[i]->name, name) == 0)
			f = m->fams[i];
	pthread_mutex_unlock(&m->lock);
	return f;
}

static int cmp_values(char *const *a, const char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int c = strcmp(a[i], b && b[i] ? b[i] : "");
		if (c)
			return c;
	}
	return 0;
}

/* Binary search; returns the series or NULL with *pos = insertion point. */
static struct series *series_find(const struct lp_metric_family *f, const char *const *values,
                                  size_t *pos)
{
	size_t lo = 0, hi = f->n_series;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_values(f->series[mid]->values, values, f->n_labels);
		if (c == 0)
			return f->series[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return NULL;
}

/* Finds or creates the series of values. Called with the lock held. */
static lp_err series_get(struct lp_metric_family *f, const char *const *values, struct series **out)
{
	struct series *s;
	size_t pos = 0;

	if (f->n_labels && !values)
		return LP_ERR_INVALID;
	s = series_find(f, values, &pos);
	if (s) {
		*out = s;
		return LP_OK;
	}
	if (f->n_series >= LP_METRICS_MAX_SERIES)
		return LP_ERR_LIMIT;
	if (f->n_series == f->cap_series) {
		size_t ncap = f->cap_series ? f->cap_series * 2 : 8;
		struct series **p = lp_realloc(f->series, ncap * sizeof(*p));
		if (!p)
			return LP_ERR_NOMEM;
		f->series = p;
		f->cap_series = ncap;
	}
	s = lp_calloc(1, sizeof(*s));
	if (!s)
		return LP_ERR_NOMEM;
	s->values = lp_calloc(f->n_labels ? f->n_labels : 1, sizeof(char *));
	if (!s->values)
		goto fail;
	for (size_t i = 0; i < f->n_labels; i++) {
		s->values[i] = lp_strdup(values[i] ? values[i] : "");
		if (!s->values[i])
			goto fail;
	}
	if (f->type == LP_METRIC_HISTOGRAM) {
		s->counts = lp_calloc(f->n_buckets, sizeof(uint64_t));
		if (!s->counts)
			goto fail;
	}
	memmove(&f->series[pos + 1], &f->series[pos], (f->n_series - pos) * sizeof(*f->series));
	f->series[pos] = s;
	f->n_series++;
	*out = s;
	return LP_OK;
fail:
	series_free(s, f->n_labels);
	return LP_ERR_NOMEM;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE, OP_TOTAL };

static lp_err update(struct lp_metric_family *f, const char *const *values, double v, enum op op)
{
	struct series *s = NULL;
	lp_err err;

	if (!f || !isfinite(v))
		return LP_ERR_INVALID;
	if ((op == OP_ADD && f->type == LP_METRIC_HISTOGRAM) ||
	    (op == OP_ADD && f->type == LP_METRIC_COUNTER && v < 0) ||
	    (op == OP_SET && f->type != LP_METRIC_GAUGE) ||
	    (op == OP_OBSERVE && f->type != LP_METRIC_HISTOGRAM) ||
	    (op == OP_TOTAL && (f->type != LP_METRIC_COUNTER || v < 0)))
		return LP_ERR_INVALID;
	pthread_mutex_lock(&f->reg->lock);
	err = series_get(f, values, &s);
	if (err)
		goto out;
	switch (op) {
	case OP_ADD:
		s->value += v;
		break;
	case OP_SET:
		s->value = v;
		break;
	case OP_TOTAL:
		if (v < s->value)
			err = LP_ERR_INVALID;
		else
			s->value = v;
		break;
	case OP_OBSERVE:
		for (size_t i = 0; i < f->n_buckets; i++) {
			if (v <= f->buckets[i]) {
				s->counts[i]++;
				break;
			}
		}
		s->sum += v;
		s->count++;
		break;
	}
out:
	pthread_mutex_unlock(&f->reg->lock);
	return err;
}

lp_err lp_metric_add(struct lp_metric_family *f, const char *const *values, double v)
{
	return update(f, values, v, OP_ADD);
}

lp_err lp_metric_set(struct lp_metric_family *f, const char *const *values, double v)
{
	return update(f, values, v, OP_SET);
}

lp_err lp_metric_observe(struct lp_metric_family *f, const char *const *values, double v)
{
	return update(f, values, v, OP_OBSERVE);
}

lp_err lp_metric_set_total(struct lp_metric_family *f, const char *const *values, double total)
{
	return update(f, values, total, OP_TOTAL);
}

lp_err lp_metrics_add_collector(struct lp_metrics *m, lp_metrics_collect_fn fn, void *ctx)
{
	lp_err err = LP_OK;

	if (!m || !fn)
		return LP_ERR_INVALID;
	pthread_mutex_lock(&m->lock);
	if (m->n_collectors == LP_METRICS_MAX_COLLECTORS) {
		err = LP_ERR_LIMIT;
	} else {
		m->collectors[m->n_collectors].fn = fn;
		m->collectors[m->n_collectors].ctx = ctx;
		m->n_collectors++;
	}
	pthread_mutex_unlock(&m->lock);
	return err;
}

double lp_metric_value(struct lp_metric_family *f, const char *const *values)
{
	struct series *s;
	size_t pos = 0;
	double v = 0;

	if (!f || (f->n_labels && !values))
		return 0;
	pthread_mutex_lock(&f->reg->lock);
	s = series_find(f, values, &pos);
	if (s)
		v = f->type == LP_METRIC_HISTOGRAM ? (double)s->count : s->value;
	pthread_mutex_unlock(&f->reg->lock);
	return v;
}

lp_err lp_metrics_format_double(struct lp_buf *out, double v)
{
	char tmp[64];

	if (isnan(v))
		return lp_buf_adds(out, "NaN");
	if (isinf(v))
		return lp_buf_adds(out, v > 0 ? "+Inf" : "-Inf");
	if (v == floor(v) && fabs(v) < 1e15)
		return lp_buf_addf(out, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	return lp_buf_adds(out, tmp);
}

/* HELP text: backslash and newline escaped. */
static lp_err add_help(struct lp_buf *out, const char *s)
{
	lp_err err = LP_OK;

	for (; *s && !err; s++) {
		if (*s == '\\')
			err = lp_buf_adds(out, "\\\\");
		else if (*s == '\n')
			err = lp_buf_adds(out, "\\n");
		else
			err = lp_buf_addc(out, *s);
	}
	return err;
}

/* Label value: backslash, double quote and newline escaped. */
static lp_err add_label_value(struct lp_buf *out, const char *s)
{
	lp_err err = LP_OK;

	for (; *s && !err; s++) {
		if (*s == '\\')
			err = lp_buf_adds(out, "\\\\");
		else if (*s == '"')
			err = lp_buf_adds(out, "\\\"");
		else if (*s == '\n')
			err = lp_buf_adds(out, "\\n");
		else
			err = lp_buf_addc(out, *s);
	}
	return err;
}

/* name{l1="v1",...,extra="x"} value\n ; suffix and extra label optional. */
static lp_err add_sample(struct lp_buf *out, const struct lp_metric_family *f,
                         const struct series *s, const char *suffix, const char *extra_le, double v)
{
	lp_err err;
	int any = 0;

	err = lp_buf_adds(out, f->name);
	if (!err && suffix)
		err = lp_buf_adds(out, suffix);
	for (size_t i = 0; s && i < f->n_labels && !err; i++) {
		err = lp_buf_addf(out, "%s%s=\"", any ? "," : "{", f->labels[i]);
		if (!err)
			err = add_label_value(out, s->values[i]);
		if (!err)
			err = lp_buf_addc(out, '"');
		any = 1;
	}
	if (!err && extra_le) {
		err = lp_buf_addf(out, "%sle=\"%s\"", any ? "," : "{", extra_le);
		any = 1;
	}
	if (!err && any)
		err = lp_buf_addc(out, '}');
	if (!err)
		err = lp_buf_addc(out, ' ');
	if (!err)
		err = lp_metrics_format_double(out, v);
	if (!err)
		err = lp_buf_addc(out, '\n');
	return err;
}

static lp_err render_histogram(struct lp_buf *out, const struct lp_metric_family *f,
                               const struct series *s)
{
	struct lp_buf le;
	uint64_t cum = 0;
	lp_err err = LP_OK;

	lp_buf_init(&le, 64);
	for (size_t i = 0; i < f->n_buckets && !err; i++) {
		cum += s->counts[i];
		lp_buf_reset(&le);
		err = lp_metrics_format_double(&le, f->buckets[i]);
		if (!err)
			err = add_sample(out, f, s, "_bucket", lp_buf_str(&le), (double)cum);
	}
	if (!err)
		err = add_sample(out, f, s, "_bucket", "+Inf", (double)s->count);
	if (!err)
		err = add_sample(out, f, s, "_sum", NULL, s->sum);
	if (!err)
		err = add_sample(out, f, s, "_count", NULL, (double)s->count);
	lp_buf_free(&le);
	return err;
}

static const char *type_name(enum lp_metric_type t)
{
	return t == LP_METRIC_COUNTER ? "counter" : t == LP_METRIC_GAUGE ? "gauge" : "histogram";
}

lp_err lp_metrics_render(struct lp_metrics *m, struct lp_buf *out)
{
	lp_err err = LP_OK;

	struct collector cs[LP_METRICS_MAX_COLLECTORS];
	size_t n_cs;

	if (!m || !out)
		return LP_ERR_INVALID;
	pthread_mutex_lock(&m->lock);
	n_cs = m->n_collectors;
	memcpy(cs, m->collectors, sizeof(cs));
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < n_cs; i++) /* they take the lock through the setters */
		cs[i].fn(cs[i].ctx);
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_fams && !err; i++) {
		const struct lp_metric_family *f = m->fams[i];
		err = lp_buf_addf(out, "# HELP %s ", f->name);
		if (!err)
			err = add_help(out, f->help);
		if (!err)
			err = lp_buf_addf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
		if (!err && f->n_series == 0 && f->n_labels == 0) {
			/* an unlabelled family exists from the start: show its zero */
			uint64_t zeros[LP_METRICS_MAX_BUCKETS] = {0};
			struct series zero = {.counts = zeros};
			if (f->type == LP_METRIC_HISTOGRAM)
				err = render_histogram(out, f, &zero);
			else
				err = add_sample(out, f, NULL, NULL, NULL, 0);
		}
		for (size_t j = 0; j < f->n_series && !err; j++) {
			if (f->type == LP_METRIC_HISTOGRAM)
				err = render_histogram(out, f, f->series[j]);
			else
				err = add_sample(out, f, f->series[j], NULL, NULL,
				                 f->series[j]->value);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return err;
}
