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

/* Appends one event to b: kind, style and, for scalars, length (varint) +
 * bytes: a prefix-free form, so equal records mean equal events. */
static lp_err ev_put(struct lp_buf *b, char kind, int style, const char *s, size_t n)
{
	unsigned char h[12];
	size_t k = 0;
	lp_err err;

	h[k++] = (unsigned char)kind;
	h[k++] = (unsigned char)style;
	if (kind == 'S') { /* n in 7-bit groups, low first, high bit: more follow */
		size_t v = n;
		for (; v >= 0x80; v >>= 7)
			h[k++] = (unsigned char)(0x80 | (v & 0x7f));
		h[k++] = (unsigned char)v;
	}
	err = lp_buf_add(b, h, k);
	if (!err && kind == 'S' && n)
		err = lp_buf_add(b, s, n);
	return err;
}

/* Notes one event: into w->capture only (returns 1: write nothing), else
 * into w->rec when recording (returns 0). */
static int record(struct lp_yamlw *w, char kind, int style, const char *s, size_t n)
{
	if (w->capture) {
		if (!w->err)
			w->err = ev_put(w->capture, kind, style, s, n);
		return 1;
	}
	if (w->mark_first) {
		w->mark_first = 0;
		w->mark_bad = kind == 'm' || kind == 'q';
	}
	if (w->rec && !w->err)
		w->err = ev_put(w->rec, kind, style, s, n);
	return 0;
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

	if (record(w, 'M', (int)style, NULL, 0))
		return;
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

	if (record(w, 'm', 0, NULL, 0))
		return;
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

	if (record(w, 'Q', (int)style, NULL, 0))
		return;
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

	if (record(w, 'q', 0, NULL, 0))
		return;
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
	if (record(w, 'S', (int)style, s, n))
		return;
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

/* Appends b[at, at + len) to b itself. */
static lp_err self_copy(struct lp_buf *b, size_t at, size_t len)
{
	lp_err err = len ? lp_buf_reserve(b, len) : LP_OK;

	if (err || !len)
		return err;
	if (b->cap - b->len <= len) /* lp_buf_add would move the source */
		return LP_ERR_NOMEM;
	return lp_buf_add(b, b->ptr + at, len);
}

/* The emitter's state into s; 0 when a block started here could not be
 * copied (events waiting for look-ahead, flow or non-key context, a nesting
 * too deep, or a next key libyaml would not start on a new line). */
static int em_snap(const yaml_emitter_t *em, struct lp_yamlw_emstate *s, int pre)
{
	size_t ns = (size_t)(em->states.top - em->states.start);
	size_t ni = (size_t)(em->indents.top - em->indents.start);
	int indent = em->indent >= 0 ? em->indent : 0;

	if (em->events.head != em->events.tail || em->flow_level || ns > LP_YAMLW_MARK_DEPTH ||
	    ni > LP_YAMLW_MARK_DEPTH)
		return 0;
	if (pre &&
	    (em->state != YAML_EMIT_BLOCK_MAPPING_KEY_STATE ||
	     !(!em->indention || em->column > indent || (em->column == indent && !em->whitespace))))
		return 0;
	memset(s, 0, sizeof(*s));
	s->state = em->state;
	s->indent = em->indent;
	s->flow_level = em->flow_level;
	s->root_context = em->root_context;
	s->sequence_context = em->sequence_context;
	s->mapping_context = em->mapping_context;
	s->simple_key_context = em->simple_key_context;
	s->open_ended = em->open_ended;
	s->n_states = ns;
	s->n_indents = ni;
	if (ns)
		memcpy(s->states, em->states.start, ns * sizeof(s->states[0]));
	if (ni)
		memcpy(s->indents, em->indents.start, ni * sizeof(s->indents[0]));
	if (!pre) {
		s->column = em->column;
		s->whitespace = em->whitespace;
		s->indention = em->indention;
	}
	return 1;
}

void lp_yamlw_mark_begin(struct lp_yamlw *w, struct lp_yamlw_mark *m)
{
	m->ok = 0;
	w->mark_first = 0;
	if (w->err)
		return;
	if (!w->count_only) {
		lp_yamlw_flush(w);
		if (w->err || !em_snap(&w->em, &m->pre, 1))
			return;
		m->out_at = w->out->len;
		m->lines = w->em.line;
	}
	m->rec_at = w->rec ? w->rec->len : 0;
	m->bytes = w->bytes;
	m->depth_pre = w->depth;
	w->mark_first = 1;
	w->mark_bad = 0;
	m->ok = 1;
}

void lp_yamlw_mark_end(struct lp_yamlw *w, struct lp_yamlw_mark *m)
{
	int armed = m->ok;

	m->ok = 0;
	m->empty = w->mark_first;
	w->mark_first = 0;
	if (!armed || w->err || w->mark_bad)
		return;
	if (!w->count_only && !m->empty) {
		lp_yamlw_flush(w);
		if (w->err || !em_snap(&w->em, &m->post, 0))
			return;
		m->out_len = w->out->len - m->out_at;
		m->lines = w->em.line - m->lines;
	}
	m->rec_len = w->rec ? w->rec->len - m->rec_at : 0;
	m->bytes = w->bytes - m->bytes;
	m->depth_post = w->depth;
	m->ok = 1;
}

static int same_pre(const struct lp_yamlw_emstate *a, const struct lp_yamlw_emstate *b)
{
	return a->state == b->state && a->indent == b->indent && a->flow_level == b->flow_level &&
	       a->root_context == b->root_context && a->sequence_context == b->sequence_context &&
	       a->mapping_context == b->mapping_context &&
	       a->simple_key_context == b->simple_key_context && a->open_ended == b->open_ended &&
	       a->n_states == b->n_states && a->n_indents == b->n_indents &&
	       memcmp(a->states, b->states, a->n_states * sizeof(a->states[0])) == 0 &&
	       memcmp(a->indents, b->indents, a->n_indents * sizeof(a->indents[0])) == 0;
}

/* Sets the emitter to s (a state it had after the same block: its stacks
 * have room, as they only grow). */
static int em_restore(yaml_emitter_t *em, const struct lp_yamlw_emstate *s)
{
	if ((size_t)(em->states.end - em->states.start) < s->n_states ||
	    (size_t)(em->indents.end - em->indents.start) < s->n_indents)
		return 0;
	if (s->n_states)
		memcpy(em->states.start, s->states, s->n_states * sizeof(s->states[0]));
	if (s->n_indents)
		memcpy(em->indents.start, s->indents, s->n_indents * sizeof(s->indents[0]));
	em->states.top = em->states.start + s->n_states;
	em->indents.top = em->indents.start + s->n_indents;
	em->state = s->state;
	em->indent = s->indent;
	em->flow_level = s->flow_level;
	em->root_context = s->root_context;
	em->sequence_context = s->sequence_context;
	em->mapping_context = s->mapping_context;
	em->simple_key_context = s->simple_key_context;
	em->open_ended = s->open_ended;
	em->column = s->column;
	em->whitespace = s->whitespace;
	em->indention = s->indention;
	return 1;
}

int lp_yamlw_replay(struct lp_yamlw *w, const struct lp_yamlw_mark *m)
{
	struct lp_yamlw_emstate cur;

	if (!m->ok || w->err || w->depth != m->depth_pre)
		return 0;
	if (m->empty)
		return 1;
	if (!w->count_only) {
		lp_yamlw_flush(w);
		if (w->err)
			return 1; /* sticky: the document fails anyway */
		if (!em_snap(&w->em, &cur, 1) || !same_pre(&cur, &m->pre) ||
		    (size_t)(w->em.states.end - w->em.states.start) < m->post.n_states ||
		    (size_t)(w->em.indents.end - w->em.indents.start) < m->post.n_indents)
			return 0;
		w->err = self_copy(w->out, m->out_at, m->out_len);
		if (w->err)
			return 1;
		em_restore(&w->em, &m->post);
		w->em.line += m->lines;
	}
	if (w->rec && !w->err)
		w->err = self_copy(w->rec, m->rec_at, m->rec_len);
	w->bytes += m->bytes;
	w->depth = m->depth_post;
	return 1;
}

void lp_yamlw_capture_begin(struct lp_yamlw *w, struct lp_buf *cap)
{
	lp_buf_reset(cap);
	w->capture = cap;
}

/* Writes the events of cap (ev_put's form). */
static void play(struct lp_yamlw *w, const struct lp_buf *cap)
{
	const unsigned char *p = (const unsigned char *)cap->ptr, *end;

	if (!p) /* nothing captured (no buffer yet): no arithmetic on NULL */
		return;
	end = p + cap->len;
	while (p + 2 <= end && !w->err) {
		char kind = (char)p[0];
		int style = p[1];
		size_t n = 0;
		p += 2;
		if (kind == 'S') {
			for (unsigned sh = 0; p < end; sh += 7) {
				n |= (size_t)(*p & 0x7f) << sh;
				if (!(*p++ & 0x80))
					break;
			}
			if (n > (size_t)(end - p))
				break;
			scalar(w, (const char *)p, n, (yaml_scalar_style_t)style);
			p += n;
		} else if (kind == 'M') {
			map_start(w, (yaml_mapping_style_t)style);
		} else if (kind == 'm') {
			lp_yamlw_map_end(w);
		} else if (kind == 'Q') {
			seq_start(w, (yaml_sequence_style_t)style);
		} else {
			lp_yamlw_seq_end(w);
		}
	}
}

void lp_yamlw_capture_end(struct lp_yamlw *w, struct lp_yamlw_memo *memo)
{
	struct lp_buf *cap = w->capture, t;

	w->capture = NULL;
	if (!cap || w->err)
		return;
	if (memo->ok && memo->ev.len == cap->len &&
	    (!cap->len || memcmp(memo->ev.ptr, cap->ptr, cap->len) == 0) &&
	    lp_yamlw_replay(w, &memo->m))
		return;
	lp_yamlw_mark_begin(w, &memo->m);
	play(w, cap);
	lp_yamlw_mark_end(w, &memo->m);
	memo->ok = !w->err && memo->m.ok;
	/* the events just written become the memo's */
	t = memo->ev;
	memo->ev = *cap;
	*cap = t;
}

void lp_yamlw_memo_free(struct lp_yamlw_memo *memo)
{
	lp_buf_free(&memo->ev);
	memo->ok = 0;
}
