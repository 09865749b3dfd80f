#include "yamlw.h"
#include <stdio.h>
#include <string.h>

static int write_cb(void *data, unsigned char *buffer, size_t size)
{
	struct lp_yamlw *w = data;

	if (w->err)
		return 0;
	w->err = lp_buf_add(w->out, buffer, size);
	return w->err ? 0 : 1;
}

/* Appends one event to w->rec: kind, style and, for scalars, length + bytes. */
static void record(struct lp_yamlw *w, char kind, int style, const char *s, size_t n)
{
	unsigned char h[10];
	size_t k = 0;

	if (!w->rec || w->err)
		return;
	h[k++] = (unsigned char)kind;
	h[k++] = (unsigned char)style;
	if (kind == 'S')
		for (size_t v = n, i = 0; i < 8; i++, v >>= 8)
			h[k++] = (unsigned char)(v & 0xff);
	w->err = lp_buf_add(w->rec, h, k);
	if (!w->err && kind == 'S' && n)
		w->err = lp_buf_add(w->rec, s, n);
}

static void emit(struct lp_yamlw *w, yaml_event_t *ev, int init_ok)
{
	if (!init_ok) {
		/* the event constructor refused the data (invalid UTF-8) or had no memory */
		if (!w->err)
			w->err = LP_ERR_INVALID;
		return;
	}
	if (!yaml_emitter_emit(&w->em, ev)) {
		if (!w->err)
			w->err = w->em.error == YAML_MEMORY_ERROR ? LP_ERR_NOMEM : LP_ERR_INVALID;
	}
}

lp_err lp_yamlw_begin(struct lp_yamlw *w, struct lp_buf *out)
{
	yaml_event_t ev;

	memset(w, 0, sizeof(*w));
	w->out = out;
	if (!yaml_emitter_initialize(&w->em))
		return LP_ERR_NOMEM;
	w->open = 1;
	yaml_emitter_set_output(&w->em, write_cb, w);
	yaml_emitter_set_unicode(&w->em, 1);
	yaml_emitter_set_width(&w->em, -1);
	yaml_emitter_set_indent(&w->em, 2);
	emit(w, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit(w, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	return w->err;
}

void lp_yamlw_begin_count(struct lp_yamlw *w)
{
	memset(w, 0, sizeof(*w));
	w->count_only = 1;
	w->open = 1;
}

size_t lp_yamlw_size(struct lp_yamlw *w)
{
	if (w->count_only)
		return w->bytes;
	lp_yamlw_flush(w);
	return w->out->len;
}

lp_err lp_yamlw_end(struct lp_yamlw *w)
{
	yaml_event_t ev;
	lp_err err;

	if (!w->open)
		return w->err ? w->err : LP_ERR_INVALID;
	if (w->count_only) {
		w->open = 0;
		return w->err;
	}
	if (!w->err) {
		emit(w, &ev, yaml_document_end_event_initialize(&ev, 1));
		emit(w, &ev, yaml_stream_end_event_initialize(&ev));
		if (!w->err && !yaml_emitter_flush(&w->em))
			w->err = LP_ERR_NOMEM;
	}
	err = w->err;
	yaml_emitter_delete(&w->em);
	w->open = 0;
	return err;
}

void lp_yamlw_flush(struct lp_yamlw *w)
{
	if (!w->count_only && !w->err && !yaml_emitter_flush(&w->em))
		w->err = LP_ERR_NOMEM;
}

static void map_start(struct lp_yamlw *w, yaml_mapping_style_t style)
{
	yaml_event_t ev;

	record(w, 'M', (int)style, NULL, 0);
	if (w->count_only) {
		w->depth++;
		w->bytes += 2;
		return;
	}
	if (w->err)
		return;
	emit(w, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, style));
}

void lp_yamlw_map(struct lp_yamlw *w)
{
	map_start(w, YAML_BLOCK_MAPPING_STYLE);
}

void lp_yamlw_map_flow(struct lp_yamlw *w)
{
	map_start(w, YAML_FLOW_MAPPING_STYLE);
}

void lp_yamlw_map_end(struct lp_yamlw *w)
{
	yaml_event_t ev;

	record(w, 'm', 0, NULL, 0);
	if (w->count_only) {
		w->depth -= w->depth > 0;
		return;
	}
	if (w->err)
		return;
	emit(w, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void seq_start(struct lp_yamlw *w, yaml_sequence_style_t style)
{
	yaml_event_t ev;

	record(w, 'Q', (int)style, NULL, 0);
	if (w->count_only) {
		w->depth++;
		w->bytes += 2;
		return;
	}
	if (w->err)
		return;
	emit(w, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, style));
}

void lp_yamlw_seq(struct lp_yamlw *w)
{
	seq_start(w, YAML_BLOCK_SEQUENCE_STYLE);
}

void lp_yamlw_seq_flow(struct lp_yamlw *w)
{
	seq_start(w, YAML_FLOW_SEQUENCE_STYLE);
}

void lp_yamlw_seq_end(struct lp_yamlw *w)
{
	yaml_event_t ev;

	record(w, 'q', 0, NULL, 0);
	if (w->count_only) {
		w->depth -= w->depth > 0;
		return;
	}
	if (w->err)
		return;
	emit(w, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void scalar(struct lp_yamlw *w, const char *s, size_t n, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	if (w->err)
		return;
	if (!s) {
		s = "";
		n = 0;
	}
	record(w, 'S', (int)style, s, n);
	if (w->count_only) {
		/* the text, its indentation, ": " or "- ", quotes or a line break */
		w->bytes += n + w->depth + 2;
		if (style == YAML_LITERAL_SCALAR_STYLE)
			for (size_t i = 0; i < n; i++)
				w->bytes += s[i] == '\n' ? 2 * w->depth + 2 : 0;
		return;
	}
	emit(w, &ev,
	     yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1, style));
}

void lp_yamlw_strn(struct lp_yamlw *w, const char *s, size_t n)
{
	scalar(w, s, n, YAML_ANY_SCALAR_STYLE);
}

void lp_yamlw_str(struct lp_yamlw *w, const char *s)
{
	scalar(w, s, s ? strlen(s) : 0, YAML_ANY_SCALAR_STYLE);
}

void lp_yamlw_quoted(struct lp_yamlw *w, const char *s)
{
	scalar(w, s, s ? strlen(s) : 0, YAML_SINGLE_QUOTED_SCALAR_STYLE);
}

void lp_yamlw_literal(struct lp_yamlw *w, const char *s)
{
	scalar(w, s, s ? strlen(s) : 0, YAML_LITERAL_SCALAR_STYLE);
}

void lp_yamlw_kv(struct lp_yamlw *w, const char *key, const char *value)
{
	lp_yamlw_str(w, key);
	lp_yamlw_str(w, value);
}

void lp_yamlw_kvq(struct lp_yamlw *w, const char *key, const char *value)
{
	lp_yamlw_str(w, key);
	lp_yamlw_quoted(w, value);
}

void lp_yamlw_kvi(struct lp_yamlw *w, const char *key, long long value)
{
	char num[32], *p = num + sizeof(num);
	unsigned long long v =
	    value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (value < 0)
		*--p = '-';
	lp_yamlw_str(w, key);
	lp_yamlw_strn(w, p, (size_t)(num + sizeof(num) - p));
}

void lp_yamlw_kvb(struct lp_yamlw *w, const char *key, int on)
{
	lp_yamlw_str(w, key);
	lp_yamlw_str(w, on ? "on" : "off");
}
