/* pkg/render/yamlw: a thin writer over libyaml's emitter that appends YAML text
 * to a struct lp_buf. Every scalar goes through yaml_emitter_emit, so quoting and
 * escaping are libyaml's: no user string can become structure.
 *
 * Errors are sticky: after the first failure every call is a no-op and
 * lp_yamlw_end() returns the error (LP_ERR_NOMEM, LP_ERR_TOO_LARGE, or
 * LP_ERR_INVALID for a scalar libyaml refuses, e.g. invalid UTF-8). */
#ifndef LP_RENDER_YAMLW_H
#define LP_RENDER_YAMLW_H
#include <stddef.h>
#include <yaml.h>
#include "../util/buf.h"

struct lp_yamlw {
	yaml_emitter_t em;
	struct lp_buf *out; /* borrowed */
	lp_err err;
	int open;
	int count_only; /* lp_yamlw_begin_count: no text, only an estimate of its size */
	size_t depth;
	size_t bytes;
	/* When set, every event is also appended here in a compact form (kind,
	 * style, length, bytes): the text is a function of this record, so equal
	 * records give equal text (the render cache's key). */
	struct lp_buf *rec;
	int mark_first;         /* between lp_yamlw_mark_begin and the block's first event */
	int mark_bad;           /* the marked block began with an end event */
	struct lp_buf *capture; /* lp_yamlw_capture_begin: events go here only */
};

/* The emitter state a marked block depends on / leaves behind. */
#define LP_YAMLW_MARK_DEPTH 32
struct lp_yamlw_emstate {
	yaml_emitter_state_t state;
	int indent, flow_level, root_context, sequence_context, mapping_context;
	int simple_key_context, open_ended, column, whitespace, indention;
	size_t n_states, n_indents;
	yaml_emitter_state_t states[LP_YAMLW_MARK_DEPTH];
	int indents[LP_YAMLW_MARK_DEPTH];
};

/* A block of events written once (between lp_yamlw_mark_begin and
 * lp_yamlw_mark_end) whose text, record and size estimate can be copied for
 * the same events written again later in the same document
 * (lp_yamlw_replay). Only a block that starts at a new key of a block
 * mapping, on a line of its own, is kept: libyaml then writes its text from a
 * line break whatever came before, so the copy is byte-identical. */
struct lp_yamlw_mark {
	int ok;    /* the block can be replayed */
	int empty; /* it had no events */
	size_t out_at, out_len, rec_at, rec_len, bytes, depth_pre, depth_post;
	int lines;
	struct lp_yamlw_emstate pre, post;
};

/* Starts a stream and one document writing into out (appended). */
LP_WUR lp_err lp_yamlw_begin(struct lp_yamlw *w, struct lp_buf *out);
/* Starts a dry run: nothing is written, w->bytes grows by an estimate of the
 * text each call would produce (for sizing before the real pass). */
void lp_yamlw_begin_count(struct lp_yamlw *w);
/* Bytes written (or estimated in a dry run) so far, after a flush. */
size_t lp_yamlw_size(struct lp_yamlw *w);
/* Ends the document and stream, flushes, releases the emitter. Always call it
 * after a successful begin. Returns the first error seen. */
LP_WUR lp_err lp_yamlw_end(struct lp_yamlw *w);
/* Flushes pending text to out (for size accounting). */
void lp_yamlw_flush(struct lp_yamlw *w);

/* Marks the start / end of a block of events that may be written again. */
void lp_yamlw_mark_begin(struct lp_yamlw *w, struct lp_yamlw_mark *m);
void lp_yamlw_mark_end(struct lp_yamlw *w, struct lp_yamlw_mark *m);
/* Writes m's block again (text, record, estimate) when the writer is where
 * the block began (same nesting, a new key next): returns 1. Returns 0 when
 * it cannot: the caller then writes the events itself. */
int lp_yamlw_replay(struct lp_yamlw *w, const struct lp_yamlw_mark *m);

/* A block whose events are captured first (nothing written) and written at
 * lp_yamlw_capture_end: copied when they equal the events last written
 * through the same memo (and lp_yamlw_replay can), else written. */
struct lp_yamlw_memo {
	struct lp_buf ev; /* the events last written through it */
	struct lp_yamlw_mark m;
	int ok;
};
void lp_yamlw_capture_begin(struct lp_yamlw *w, struct lp_buf *cap);
void lp_yamlw_capture_end(struct lp_yamlw *w, struct lp_yamlw_memo *memo);
void lp_yamlw_memo_free(struct lp_yamlw_memo *memo);

void lp_yamlw_map(struct lp_yamlw *w);      /* block mapping start */
void lp_yamlw_map_flow(struct lp_yamlw *w); /* {a: b} style */
void lp_yamlw_map_end(struct lp_yamlw *w);
void lp_yamlw_seq(struct lp_yamlw *w);
void lp_yamlw_seq_flow(struct lp_yamlw *w);
void lp_yamlw_seq_end(struct lp_yamlw *w);
/* A scalar; plain style when libyaml finds it safe, quoted otherwise. */
void lp_yamlw_str(struct lp_yamlw *w, const char *s);
void lp_yamlw_strn(struct lp_yamlw *w, const char *s, size_t n);
/* A scalar always single/double quoted (for values that must stay strings). */
void lp_yamlw_quoted(struct lp_yamlw *w, const char *s);
/* A literal block scalar (|), for inline Lua code. */
void lp_yamlw_literal(struct lp_yamlw *w, const char *s);
/* key: value shortcuts. */
void lp_yamlw_kv(struct lp_yamlw *w, const char *key, const char *value);
void lp_yamlw_kvq(struct lp_yamlw *w, const char *key, const char *value);
void lp_yamlw_kvi(struct lp_yamlw *w, const char *key, long long value);
void lp_yamlw_kvb(struct lp_yamlw *w, const char *key, int on); /* on / off */

#endif
