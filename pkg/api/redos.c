/* pkg/api/redos: refuses a regular expression that backtracks super-linearly.
 *
 * Fluent Bit runs user regexes with Onigmo and no retry limit, on the one
 * engine thread every pipeline of the node shares: a line that makes a regex
 * backtrack exponentially stalls them all. The check parses the pattern into
 * a small tree (the Ruby-syntax subset users write; anything else only makes
 * the check try harder), finds every repetition whose body can match the same
 * text in more than one way (a repetition or an alternation under an
 * unbounded or large repetition, outside atomic groups and possessive
 * quantifiers), and runs the compiled regex against inputs built from that
 * body: a prefix matching what precedes it, its pieces pumped to 48 bytes,
 * then a character that makes the match fail. An input that needs more than
 * LP_REDOS_STEPS backtracking steps (Oniguruma's retry limit in search) makes
 * the regex refused, with that input as the example. */
#include "redos.h"
#include "../util/buf.h"
#include "../util/mem.h"
#include <stdio.h>
#include <string.h>

#define RX_INF    (-1)
#define RX_BIG    10 /* a bounded repetition above this many counts as large */
#define RX_PUMP   48 /* bytes of pumped text in an attack input */
#define RX_SAMPLE 8  /* largest sample of one atom (one UTF-8 character) */
#define RX_DEPTH  64 /* nesting beyond this: treated as opaque */

enum rx_kind { RX_EMPTY, RX_ATOM, RX_SEQ, RX_ALT, RX_REP, RX_GROUP, RX_ATOMIC };

struct rx_node {
	enum rx_kind kind;
	int first, next; /* children (index, -1 = none) */
	int min, max;    /* RX_REP */
	int possessive;  /* RX_REP: *+ ++ ?+ (never gives back) */
	size_t slen;
	char samp[RX_SAMPLE]; /* RX_ATOM: one string the atom matches */
	size_t ps, pe;        /* RX_ATOM: pattern text to probe for samp, when pe > ps */
	size_t bs, be, qe;    /* RX_REP: pattern text of the body [bs, be), quantifier to qe */
	int anchor;           /* RX_EMPTY: ^ $ \A \z \Z \b \B \G (can fail) */
};

struct rx {
	const char *p;
	size_t len, pos;
	struct rx_node *n;
	int nn, cap;
	int opaque; /* a construct the parser does not model was seen */
	int depth;
	lp_err err;
};

static int node_new(struct rx *x, enum rx_kind k)
{
	if (x->err)
		return -1;
	if (x->nn == x->cap) {
		int cap = x->cap ? x->cap * 2 : 64;
		struct rx_node *n = lp_realloc(x->n, (size_t)cap * sizeof(*n));
		if (!n) {
			x->err = LP_ERR_NOMEM;
			return -1;
		}
		x->n = n;
		x->cap = cap;
	}
	memset(&x->n[x->nn], 0, sizeof(x->n[0]));
	x->n[x->nn].kind = k;
	x->n[x->nn].first = x->n[x->nn].next = -1;
	return x->nn++;
}

static void add_child(struct rx *x, int parent, int child)
{
	int *link;

	if (parent < 0 || child < 0)
		return;
	link = &x->n[parent].first;
	while (*link >= 0)
		link = &x->n[*link].next;
	*link = child;
}

/* Compiles p[s..e) as a whole-string pattern \A(?:...)\z. Returns NULL when
 * it does not compile on its own (or, with x->err set, for want of memory). */
static OnigRegex compile_whole(struct rx *x, size_t s, size_t e)
{
	struct lp_buf pat;
	OnigRegex reg = NULL;
	OnigErrorInfo einfo;

	lp_buf_init(&pat, 8192);
	if (lp_buf_adds(&pat, "\\A(?:") || lp_buf_add(&pat, x->p + s, e - s) ||
	    lp_buf_adds(&pat, ")\\z"))
		x->err = LP_ERR_NOMEM;
	else if (onig_new(&reg, (const OnigUChar *)pat.ptr, (const OnigUChar *)pat.ptr + pat.len,
	                  ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY,
	                  &einfo) != ONIG_NORMAL)
		reg = NULL;
	lp_buf_free(&pat);
	return reg;
}

/* Sets an atom's sample to the first of a list of candidates that the atom
 * text p[s..e) matches on its own; leaves it empty when none does. */
static void probe_atom(struct rx *x, int id, size_t s, size_t e)
{
	static const char *const cand[] = {"a", "0", "A", " ", "_", "-",  ".",       "/",
	                                   ":", "!", "z", "9", "Z", "\t", "\xc3\xa9"};
	OnigRegex reg = compile_whole(x, s, e);
	char c[2] = {0, 0};

	if (!reg) {
		if (!x->err)
			x->opaque = 1;
		goto out;
	}
	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]) + 94; i++) {
		const char *t = c;
		size_t tl;
		if (i < sizeof(cand) / sizeof(cand[0])) {
			t = cand[i];
		} else {
			c[0] = (char)(0x21 + (i - sizeof(cand) / sizeof(cand[0])));
		}
		tl = strlen(t);
		if (onig_match(reg, (const OnigUChar *)t, (const OnigUChar *)t + tl,
		               (const OnigUChar *)t, NULL, ONIG_OPTION_NONE) == (int)tl) {
			memcpy(x->n[id].samp, t, tl);
			x->n[id].slen = tl;
			break;
		}
	}
out:
	x->n[id].ps = x->n[id].pe = 0;
	if (reg)
		onig_free(reg);
}

/* Probes every atom under id that still needs it (done only for the
 * repetitions worth attacking, so a plain regex costs a parse only). */
static void probe_all(struct rx *x, int id)
{
	if (x->n[id].kind == RX_ATOM && x->n[id].pe > x->n[id].ps)
		probe_atom(x, id, x->n[id].ps, x->n[id].pe);
	for (int c = x->n[id].first; c >= 0 && !x->err; c = x->n[c].next)
		probe_all(x, c);
}

static int atom_lit(struct rx *x, const char *s, size_t l)
{
	int id = node_new(x, RX_ATOM);
	if (id >= 0 && l <= RX_SAMPLE) {
		memcpy(x->n[id].samp, s, l);
		x->n[id].slen = l;
	}
	return id;
}

static size_t utf8_len(unsigned char c)
{
	return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

/* Skips a character class starting at x->pos ('['), nested classes included. */
static void skip_class(struct rx *x)
{
	int depth = 0;
	size_t start = x->pos;

	while (x->pos < x->len) {
		char c = x->p[x->pos];
		if (c == '\\') {
			x->pos += 2;
			continue;
		}
		if (c == '[') {
			depth++;
			x->pos++;
			if (x->pos < x->len && x->p[x->pos] == '^')
				x->pos++;
			if (x->pos < x->len && x->p[x->pos] == ']' &&
			    x->pos == start + 1 + (x->p[start + 1] == '^'))
				x->pos++; /* a leading ']' is literal */
			continue;
		}
		x->pos++;
		if (c == ']' && --depth == 0)
			return;
	}
	if (x->pos > x->len)
		x->pos = x->len;
}

static int parse_alt(struct rx *x);

/* "(" ... ")": groups, lookarounds, atomic groups, options. */
static int parse_group(struct rx *x)
{
	enum rx_kind k = RX_GROUP;
	int look = 0, id, inner;

	x->pos++; /* '(' */
	if (x->pos < x->len && x->p[x->pos] == '?') {
		char c = x->pos + 1 < x->len ? x->p[x->pos + 1] : 0;
		char d = x->pos + 2 < x->len ? x->p[x->pos + 2] : 0;
		if (c == ':') {
			x->pos += 2;
		} else if (c == '>') {
			k = RX_ATOMIC;
			x->pos += 2;
		} else if (c == '=' || c == '!') {
			look = 1;
			x->pos += 2;
		} else if (c == '<' && (d == '=' || d == '!')) {
			look = 1;
			x->pos += 3;
		} else if (c == '<' || c == '\'') {
			char end = c == '<' ? '>' : '\'';
			x->pos += 2;
			while (x->pos < x->len && x->p[x->pos] != end)
				x->pos++;
			x->pos++;
		} else if (c == '#') {
			while (x->pos < x->len && x->p[x->pos] != ')')
				x->pos++;
			x->pos++;
			return node_new(x, RX_EMPTY);
		} else {
			/* options (?imx-imx) or (?imx-imx:...), or a construct we do not model */
			size_t q = x->pos + 1;
			while (q < x->len && strchr("imx-", x->p[q]))
				q++;
			if (q < x->len && x->p[q] == ')') {
				x->pos = q + 1;
				return node_new(x, RX_EMPTY);
			}
			if (q < x->len && x->p[q] == ':') {
				x->pos = q + 1;
			} else {
				x->opaque = 1;
				x->pos += 2;
			}
		}
	}
	id = node_new(x, look ? RX_EMPTY : k);
	inner = parse_alt(x);
	if (!look)
		add_child(x, id, inner);
	if (x->pos < x->len && x->p[x->pos] == ')')
		x->pos++;
	return id;
}

static int parse_escape(struct rx *x)
{
	size_t s = x->pos;
	char c = x->pos + 1 < x->len ? x->p[x->pos + 1] : 0;
	int id;

	x->pos += 2;
	switch (c) {
	case 'A':
	case 'z':
	case 'Z':
	case 'b':
	case 'B':
	case 'G':
		id = node_new(x, RX_EMPTY);
		if (id >= 0)
			x->n[id].anchor = 1;
		return id;
	case 'K':
		return node_new(x, RX_EMPTY);
	case 'd':
	case 'D':
	case 'w':
	case 'W':
	case 's':
	case 'S':
	case 'h':
	case 'H':
	case 'R':
	case 'X':
	case 'O':
		break;
	case 'p':
	case 'P':
	case 'x':
	case 'u':
	case 'o':
		if (x->pos < x->len && x->p[x->pos] == '{') {
			while (x->pos < x->len && x->p[x->pos] != '}')
				x->pos++;
			x->pos++;
		} else if (c == 'x') {
			for (int i = 0; i < 2 && x->pos < x->len &&
			                strchr("0123456789abcdefABCDEF", x->p[x->pos]);
			     i++)
				x->pos++;
		} else if (c == 'u') {
			for (int i = 0; i < 4 && x->pos < x->len; i++)
				x->pos++;
		}
		break;
	case 'k':
	case 'g':
		x->opaque = 1; /* back-references and calls: not modelled */
		if (x->pos < x->len && (x->p[x->pos] == '<' || x->p[x->pos] == '\'')) {
			char end = x->p[x->pos] == '<' ? '>' : '\'';
			while (x->pos < x->len && x->p[x->pos] != end)
				x->pos++;
			x->pos++;
		}
		return node_new(x, RX_EMPTY);
	case 'c':
	case 'C':
	case 'M':
		x->opaque = 1;
		return node_new(x, RX_EMPTY);
	default:
		if (c >= '1' && c <= '9') {
			x->opaque = 1;
			while (x->pos < x->len && x->p[x->pos] >= '0' && x->p[x->pos] <= '9')
				x->pos++;
			return node_new(x, RX_EMPTY);
		}
		if ((unsigned char)c >= 0x80)
			x->pos += utf8_len((unsigned char)c) - 1;
		break;
	}
	if (x->pos > x->len)
		x->pos = x->len;
	id = node_new(x, RX_ATOM);
	if (id >= 0) {
		x->n[id].ps = s;
		x->n[id].pe = x->pos;
	}
	return id;
}

static int parse_atom(struct rx *x)
{
	unsigned char c = (unsigned char)x->p[x->pos];
	size_t s = x->pos, l;
	int id;

	switch (c) {
	case '(':
		if (++x->depth > RX_DEPTH) {
			x->opaque = 1;
			x->pos = x->len;
			return node_new(x, RX_EMPTY);
		}
		id = parse_group(x);
		x->depth--;
		return id;
	case '[':
		skip_class(x);
		id = node_new(x, RX_ATOM);
		if (id >= 0) {
			x->n[id].ps = s;
			x->n[id].pe = x->pos;
		}
		return id;
	case '\\':
		return parse_escape(x);
	case '.':
		x->pos++;
		return atom_lit(x, "a", 1);
	case '^':
	case '$':
		x->pos++;
		id = node_new(x, RX_EMPTY);
		if (id >= 0)
			x->n[id].anchor = 1;
		return id;
	default:
		l = utf8_len(c);
		if (s + l > x->len)
			l = x->len - s;
		x->pos += l;
		return atom_lit(x, x->p + s, l);
	}
}

/* Reads "{n}", "{n,}", "{,m}", "{n,m}" at x->pos; 0 (pos unchanged) when the
 * brace is a literal. */
static int parse_interval(struct rx *x, int *min, int *max)
{
	size_t q = x->pos + 1;
	long a = -1, b = -1;
	int comma = 0;

	while (q < x->len && x->p[q] >= '0' && x->p[q] <= '9') {
		a = (a < 0 ? 0 : a) * 10 + (x->p[q] - '0');
		if (a > 100000)
			a = 100000;
		q++;
	}
	if (q < x->len && x->p[q] == ',') {
		comma = 1;
		q++;
		while (q < x->len && x->p[q] >= '0' && x->p[q] <= '9') {
			b = (b < 0 ? 0 : b) * 10 + (x->p[q] - '0');
			if (b > 100000)
				b = 100000;
			q++;
		}
	}
	if (q >= x->len || x->p[q] != '}' || (a < 0 && b < 0))
		return 0;
	*min = a < 0 ? 0 : (int)a;
	*max = comma ? (b < 0 ? RX_INF : (int)b) : (int)a;
	x->pos = q + 1;
	return 1;
}

static int parse_seq(struct rx *x)
{
	int seq = node_new(x, RX_SEQ);

	while (!x->err && x->pos < x->len && x->p[x->pos] != '|' && x->p[x->pos] != ')') {
		size_t bs = x->pos;
		int atom = parse_atom(x);
		for (;;) {
			int min, max, rep, poss = 0;
			size_t be = x->pos;
			char c = x->pos < x->len ? x->p[x->pos] : 0;
			if (c == '*' || c == '+' || c == '?') {
				min = c == '+';
				max = c == '?' ? 1 : RX_INF;
				x->pos++;
				if (x->pos < x->len && x->p[x->pos] == '+') {
					poss = 1;
					x->pos++;
				} else if (x->pos < x->len && x->p[x->pos] == '?') {
					x->pos++;
				}
			} else if (c == '{' && parse_interval(x, &min, &max)) {
				if (x->pos < x->len && x->p[x->pos] == '?')
					x->pos++;
			} else {
				break;
			}
			rep = node_new(x, RX_REP);
			if (rep < 0)
				break;
			x->n[rep].min = min;
			x->n[rep].max = max;
			x->n[rep].possessive = poss;
			x->n[rep].bs = bs;
			x->n[rep].be = be;
			x->n[rep].qe = x->pos;
			add_child(x, rep, atom);
			atom = rep;
		}
		add_child(x, seq, atom);
	}
	return seq;
}

static int parse_alt(struct rx *x)
{
	int first = parse_seq(x), alt;

	if (x->pos >= x->len || x->p[x->pos] != '|')
		return first;
	alt = node_new(x, RX_ALT);
	add_child(x, alt, first);
	while (!x->err && x->pos < x->len && x->p[x->pos] == '|') {
		x->pos++;
		add_child(x, alt, parse_seq(x));
	}
	return alt;
}

/* Appends one string node id matches: the first alternative, each repetition
 * taken reps(min) times, where reps gives at least 1 when one is set. */
static lp_err sample(const struct rx *x, int id, int at_least_one, struct lp_buf *b)
{
	const struct rx_node *n = &x->n[id];
	lp_err err = LP_OK;

	switch (n->kind) {
	case RX_EMPTY:
		break;
	case RX_ATOM:
		err = lp_buf_add(b, n->samp, n->slen);
		break;
	case RX_SEQ:
		for (int c = n->first; c >= 0 && !err; c = x->n[c].next)
			err = sample(x, c, at_least_one, b);
		break;
	case RX_ALT:
	case RX_GROUP:
	case RX_ATOMIC:
		if (n->first >= 0)
			err = sample(x, n->first, at_least_one, b);
		break;
	case RX_REP: {
		int k = n->min;
		if (k == 0 && at_least_one && n->max != 0)
			k = 1;
		if (k > 64)
			k = 64;
		for (int i = 0; i < k && !err && n->first >= 0; i++)
			err = sample(x, n->first, at_least_one, b);
		break;
	}
	}
	return err;
}

/* 1 when the subtree id can match one text in several ways when repeated: it
 * holds a repetition of more than one, or an alternation (atomic groups and
 * possessive repetitions excluded). */
static int ambiguous(const struct rx *x, int id)
{
	const struct rx_node *n = &x->n[id];

	if (n->kind == RX_ATOMIC)
		return 0;
	if (n->kind == RX_REP && !n->possessive && (n->max == RX_INF || n->max > 1))
		return 1;
	if (n->kind == RX_ALT)
		return 1;
	for (int c = n->first; c >= 0; c = x->n[c].next)
		if (ambiguous(x, c))
			return 1;
	return 0;
}

/* 1 when some repetition under id is worth attacking. */
static int suspicious(const struct rx *x, int id)
{
	const struct rx_node *n = &x->n[id];

	if (n->kind == RX_REP && !n->possessive && (n->max == RX_INF || n->max > RX_BIG) &&
	    n->first >= 0 && ambiguous(x, n->first))
		return 1;
	for (int c = n->first; c >= 0; c = x->n[c].next)
		if (suspicious(x, c))
			return 1;
	return 0;
}

struct attack {
	OnigRegex reg;
	OnigMatchParam *mp;
	struct lp_buf in;
	const char *follow; /* one string matching what follows the repetition tried */
	size_t follow_len;
	int found;
	lp_err err;
};

/* Runs prefix + pump repeated to RX_PUMP bytes + each failing suffix; sets
 * a->found (and leaves the input in a->in) when one exceeds the step limit. */
static void try_input(struct attack *a, const char *prefix, size_t plen, const char *pump,
                      size_t len)
{
	static const char *const suffix[] = {"!", "\x01", ""};

	if (a->found || a->err || len == 0)
		return;
	for (size_t s = 0; s < 2 * sizeof(suffix) / sizeof(suffix[0]); s++) {
		size_t si = s % (sizeof(suffix) / sizeof(suffix[0]));
		int r;
		if (s >= sizeof(suffix) / sizeof(suffix[0]) && !a->follow_len)
			break;
		lp_buf_reset(&a->in);
		a->err = lp_buf_add(&a->in, prefix, plen);
		for (size_t k = 0; !a->err && k < RX_PUMP; k += len)
			a->err = lp_buf_add(&a->in, pump, len);
		if (!a->err && *suffix[si])
			a->err = lp_buf_adds(&a->in, suffix[si]);
		/* the second round ends with what follows the repetition, so that
		 * literals the pattern requires are present */
		if (!a->err && s >= sizeof(suffix) / sizeof(suffix[0]))
			a->err = lp_buf_add(&a->in, a->follow, a->follow_len);
		if (a->err)
			return;
		{
			const OnigUChar *str = (const OnigUChar *)lp_buf_str(&a->in);
			const OnigUChar *end = str + a->in.len;
			r = onig_search_with_param(a->reg, str, end, str, end, NULL,
			                           ONIG_OPTION_NONE, a->mp);
		}
		if (r == ONIGERR_RETRY_LIMIT_IN_MATCH_OVER ||
		    r == ONIGERR_RETRY_LIMIT_IN_SEARCH_OVER) {
			a->found = 1;
			return;
		}
	}
}

/* Pumps every atom sample found under id (and id's own sample). */
static void try_atoms(const struct rx *x, struct attack *a, int id, const struct lp_buf *prefix)
{
	const struct rx_node *n = &x->n[id];

	if (a->found || a->err)
		return;
	if (n->kind == RX_ATOM)
		try_input(a, lp_buf_str(prefix), prefix->len, n->samp, n->slen);
	for (int c = n->first; c >= 0; c = x->n[c].next)
		try_atoms(x, a, c, prefix);
}

static void try_node(const struct rx *x, struct attack *a, int body, const struct lp_buf *prefix)
{
	struct lp_buf s;

	lp_buf_init(&s, 1 << 16);
	a->err = sample(x, body, 1, &s);
	if (!a->err)
		try_input(a, lp_buf_str(prefix), prefix->len, lp_buf_str(&s), s.len);
	/* each alternative of an alternation at the top of the body */
	for (int g = body; !a->err && !a->found && g >= 0;) {
		const struct rx_node *n = &x->n[g];
		if (n->kind == RX_GROUP ||
		    (n->kind == RX_SEQ && n->first >= 0 && x->n[n->first].next < 0)) {
			g = n->first;
			continue;
		}
		if (n->kind == RX_ALT) {
			for (int c = n->first; c >= 0 && !a->err && !a->found; c = x->n[c].next) {
				lp_buf_reset(&s);
				a->err = sample(x, c, 1, &s);
				if (!a->err)
					try_input(a, lp_buf_str(prefix), prefix->len,
					          lp_buf_str(&s), s.len);
			}
		}
		break;
	}
	lp_buf_free(&s);
	if (!a->err && !a->found)
		try_atoms(x, a, body, prefix);
}

/* Walks the tree; prefix holds one string matching everything before id,
 * follow[0..flen) one matching everything after it. */
static void walk(const struct rx *x, struct attack *a, int id, struct lp_buf *prefix,
                 const char *follow, size_t flen)
{
	const struct rx_node *n = &x->n[id];
	size_t keep = prefix->len;

	if (a->found || a->err)
		return;
	if (n->kind == RX_REP && !n->possessive && (n->max == RX_INF || n->max > RX_BIG) &&
	    n->first >= 0 && ambiguous(x, n->first)) {
		a->follow = follow;
		a->follow_len = flen;
		try_node(x, a, n->first, prefix);
	}
	if (n->kind == RX_SEQ) {
		for (int c = n->first; c >= 0 && !a->found && !a->err; c = x->n[c].next) {
			struct lp_buf f;
			lp_buf_init(&f, 1 << 16);
			for (int d = x->n[c].next; d >= 0 && !a->err; d = x->n[d].next)
				a->err = sample(x, d, 0, &f);
			if (!a->err)
				a->err = lp_buf_add(&f, follow, flen);
			if (!a->err)
				walk(x, a, c, prefix, lp_buf_str(&f), f.len);
			lp_buf_free(&f);
			if (!a->err)
				a->err = sample(x, c, 0, prefix);
		}
	} else if (n->kind != RX_ATOMIC) {
		for (int c = n->first; c >= 0 && !a->found && !a->err; c = x->n[c].next) {
			walk(x, a, c, prefix, follow, flen);
			prefix->len = keep;
			if (prefix->ptr)
				prefix->ptr[keep] = 0;
		}
	}
	prefix->len = keep;
	if (prefix->ptr)
		prefix->ptr[keep] = 0;
}

/* ---------- polynomial: adjacent repetitions ----------
 * Two unbounded repetitions one after the other (only parts that can match
 * nothing between them) whose bodies match a common string, with something
 * after them that can still fail: on a run of that string followed by a
 * failing character, every start position tries every split of the run
 * between them (\d+\d+$, .*.*=.*): quadratic per start, cubic per line.
 * Oniguruma optimises some of these (.* peeking at the next literal); the
 * engine Fluent Bit links may not, so the structure alone refuses them, and
 * the message carries the steps Oniguruma measured. */

long lp_redos_steps(OnigRegex reg, const char *s, size_t len, long max)
{
	OnigMatchParam *mp = onig_new_match_param();
	const OnigUChar *str = (const OnigUChar *)s, *end = str + len;
	long lo = 0, hi = 64;
	int r;

	if (!mp)
		return -2;
	for (;;) {
		onig_initialize_match_param(mp);
		onig_set_retry_limit_in_match_of_match_param(mp, (unsigned long)hi);
		r = onig_match_with_param(reg, str, end, str, NULL, ONIG_OPTION_NONE, mp);
		if (r != ONIGERR_RETRY_LIMIT_IN_MATCH_OVER)
			break;
		lo = hi;
		if (hi >= max) {
			onig_free_match_param(mp);
			return -1;
		}
		hi = hi * 2 > max ? max : hi * 2;
	}
	while (hi - lo > 1 && hi - lo > hi / 64) { /* to within 1.6 % */
		long mid = lo + (hi - lo) / 2;
		onig_initialize_match_param(mp);
		onig_set_retry_limit_in_match_of_match_param(mp, (unsigned long)mid);
		r = onig_match_with_param(reg, str, end, str, NULL, ONIG_OPTION_NONE, mp);
		if (r == ONIGERR_RETRY_LIMIT_IN_MATCH_OVER)
			lo = mid;
		else
			hi = mid;
	}
	onig_free_match_param(mp);
	return hi;
}

static int unbounded(const struct rx *x, int id)
{
	const struct rx_node *n = &x->n[id];
	return n->kind == RX_REP && !n->possessive && n->max == RX_INF && n->first >= 0;
}

/* id without the groups and one-part sequences around it */
static int unwrap(const struct rx *x, int id)
{
	for (;;) {
		const struct rx_node *n = &x->n[id];
		if ((n->kind == RX_GROUP && n->first >= 0) ||
		    (n->kind == RX_SEQ && n->first >= 0 && x->n[n->first].next < 0))
			id = n->first;
		else
			return id;
	}
}

static int nullable(const struct rx *x, int id)
{
	const struct rx_node *n = &x->n[id];

	switch (n->kind) {
	case RX_EMPTY:
		return 1;
	case RX_ATOM:
		return 0;
	case RX_REP:
		return n->min == 0 || n->first < 0 || nullable(x, n->first);
	case RX_ALT:
		for (int c = n->first; c >= 0; c = x->n[c].next)
			if (nullable(x, c))
				return 1;
		return 0;
	case RX_SEQ:
		for (int c = n->first; c >= 0; c = x->n[c].next)
			if (!nullable(x, c))
				return 0;
		return 1;
	default:
		return n->first < 0 || nullable(x, n->first);
	}
}

static int has_anchor(const struct rx *x, int id)
{
	if (x->n[id].kind == RX_EMPTY)
		return x->n[id].anchor;
	for (int c = x->n[id].first; c >= 0; c = x->n[c].next)
		if (has_anchor(x, c))
			return 1;
	return 0;
}

/* What following id can make a match fail: 2 a part that must match text,
 * 1 only anchors, 0 nothing. */
static int tail_of(const struct rx *x, int id)
{
	return !nullable(x, id) ? 2 : has_anchor(x, id) ? 1 : 0;
}

/* 1 when the body of repetition rep, alone, matches all of s. */
static int body_matches(struct rx *x, int rep, const char *s, size_t len)
{
	OnigRegex reg = compile_whole(x, x->n[rep].bs, x->n[rep].be);
	int r;

	if (!reg)
		return 0;
	r = onig_match(reg, (const OnigUChar *)s, (const OnigUChar *)s + len, (const OnigUChar *)s,
	               NULL, ONIG_OPTION_NONE) == (int)len;
	onig_free(reg);
	return r;
}

struct poly {
	OnigRegex reg;
	int found;
	int r1, r2;           /* the two repetitions */
	char common[RX_PUMP]; /* a string both bodies match */
	struct lp_buf ex;     /* the example input (64 bytes of the run) */
	long steps[2];        /* measured for runs of 64 and 256 bytes (-1 above the cap) */
	lp_err err;
};

/* prefix + common repeated to n bytes + suffix into b */
static lp_err run_input(struct lp_buf *b, const struct lp_buf *prefix, const char *common, size_t n,
                        const char *suffix)
{
	size_t cl = strlen(common);
	lp_err err;

	lp_buf_reset(b);
	err = lp_buf_add(b, prefix->ptr ? prefix->ptr : "", prefix->len);
	for (size_t k = 0; !err && k < n; k += cl)
		err = lp_buf_add(b, common, cl);
	if (!err)
		err = lp_buf_adds(b, suffix);
	return err;
}

/* Repetitions r1 then r2 (tail: what can fail after r2): refused when their
 * bodies share a string and the match can fail after them. */
static void try_pair(struct rx *x, struct poly *pw, int r1, int r2, int tail,
                     const struct lp_buf *prefix)
{
	struct lp_buf s1, s2, in;
	const char *suffix = "!";

	lp_buf_init(&s1, RX_PUMP);
	lp_buf_init(&s2, RX_PUMP);
	lp_buf_init(&in, 1 << 16);
	pw->err = sample(x, x->n[r1].first, 1, &s1);
	if (!pw->err)
		pw->err = sample(x, x->n[r2].first, 1, &s2);
	if (pw->err || !s1.len || !s2.len || s1.len >= RX_PUMP || s2.len >= RX_PUMP)
		goto out;
	if (body_matches(x, r2, s1.ptr, s1.len))
		memcpy(pw->common, s1.ptr, s1.len + 1);
	else if (body_matches(x, r1, s2.ptr, s2.len))
		memcpy(pw->common, s2.ptr, s2.len + 1);
	else
		goto out;
	if (body_matches(x, r2, "!", 1))
		suffix = body_matches(x, r2, "\x01", 1) ? "" : "\x01";
	/* only anchors after them: $ cannot fail after a body that takes any character */
	if (tail == 0 || (tail == 1 && !*suffix))
		goto out;
	pw->found = 1;
	pw->r1 = r1;
	pw->r2 = r2;
	for (int i = 0; i < 2 && !pw->err; i++) {
		pw->err = run_input(&in, prefix, pw->common, i ? 256 : 64, suffix);
		if (!pw->err)
			pw->steps[i] = lp_redos_steps(pw->reg, in.ptr, in.len, 1L << 24);
		if (!pw->err && i == 0)
			pw->err = run_input(&pw->ex, prefix, pw->common, 64, suffix);
	}
out:
	lp_buf_free(&s1);
	lp_buf_free(&s2);
	lp_buf_free(&in);
}

/* Finds adjacent repetitions under id; tail says what can fail after id,
 * prefix holds a string matching everything before it. */
static void poly_walk(struct rx *x, struct poly *pw, int id, int tail, struct lp_buf *prefix)
{
	const struct rx_node *n = &x->n[id];
	size_t keep = prefix->len, nc = 0, i = 0;
	int *kids = NULL, *tails = NULL;

	if (pw->found || pw->err || n->kind == RX_ATOMIC)
		return;
	if (n->kind != RX_SEQ) {
		for (int c = n->first; c >= 0 && !pw->found && !pw->err; c = x->n[c].next) {
			poly_walk(x, pw, c, tail, prefix);
			prefix->len = keep;
			if (prefix->ptr)
				prefix->ptr[keep] = 0;
		}
		return;
	}
	for (int c = n->first; c >= 0; c = x->n[c].next)
		nc++;
	kids = lp_calloc(nc + 1, sizeof(*kids));
	tails = lp_calloc(nc + 1, sizeof(*tails));
	if (!kids || !tails) {
		pw->err = LP_ERR_NOMEM;
		goto out;
	}
	for (int c = n->first; c >= 0; c = x->n[c].next)
		kids[i++] = c;
	tails[nc] = tail; /* tails[k]: what can fail after kids[k - 1] */
	for (size_t k = nc; k > 0; k--) {
		int t = tail_of(x, kids[k - 1]);
		tails[k - 1] = t > tails[k] ? t : tails[k];
	}
	for (i = 0; i < nc && !pw->found && !pw->err; i++) {
		int a = unwrap(x, kids[i]);
		for (size_t j = i + 1; unbounded(x, a) && j < nc && !pw->found && !pw->err; j++) {
			int b = unwrap(x, kids[j]);
			if (unbounded(x, b))
				try_pair(x, pw, a, b, tails[j + 1], prefix);
			if (!nullable(x, kids[j]))
				break;
		}
		if (!pw->found && !pw->err)
			poly_walk(x, pw, kids[i], tails[i + 1], prefix);
		if (!pw->err)
			pw->err = sample(x, kids[i], 0, prefix);
	}
out:
	lp_free(kids);
	lp_free(tails);
	prefix->len = keep;
	if (prefix->ptr)
		prefix->ptr[keep] = 0;
}

/* 1 when some sequence under id has an unbounded repetition followed
 * (through parts that can match nothing) by another: worth probing. */
static int has_pair(const struct rx *x, int id)
{
	const struct rx_node *n = &x->n[id];

	if (n->kind == RX_ATOMIC)
		return 0;
	if (n->kind == RX_SEQ) {
		for (int c = n->first; c >= 0; c = x->n[c].next) {
			if (!unbounded(x, unwrap(x, c)))
				continue;
			for (int d = x->n[c].next; d >= 0; d = x->n[d].next) {
				if (unbounded(x, unwrap(x, d)))
					return 1;
				if (!nullable(x, d))
					break;
			}
		}
	}
	for (int c = n->first; c >= 0; c = x->n[c].next)
		if (has_pair(x, c))
			return 1;
	return 0;
}

/* in, printable into ex: \xNN for bytes outside printable ASCII. */
static void escape_input(const struct lp_buf *in, char *ex, size_t exsz)
{
	size_t o = 0;

	for (size_t i = 0; i < in->len && o + 5 < exsz; i++) {
		unsigned char c = (unsigned char)in->ptr[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			ex[o++] = (char)c;
		else
			o += (size_t)snprintf(ex + o, exsz - o, "\\x%02x", c);
	}
	ex[o] = 0;
}

static void describe_poly(const struct rx *x, const struct poly *pw, char *why, size_t whysz)
{
	const struct rx_node *a = &x->n[pw->r1], *b = &x->n[pw->r2];
	char ex[200], m[2][32];

	escape_input(&pw->ex, ex, sizeof(ex));
	for (int i = 0; i < 2; i++)
		if (pw->steps[i] < 0)
			snprintf(m[i], sizeof(m[i]), "more than %ld", 1L << 24);
		else
			snprintf(m[i], sizeof(m[i]), "%ld", pw->steps[i]);
	snprintf(
	    why, whysz,
	    "can backtrack polynomially: the repetitions \"%.*s\" and \"%.*s\" follow each "
	    "other, both match \"%s\", and the match can still fail after them, so every start "
	    "of a line like the %zu-byte input \"%s\" tries every split between them "
	    "(measured: %s backtracking steps with 64 bytes of the run, %s with 256); make one "
	    "possessive (++, *+) or atomic ((?>...)), or their characters disjoint",
	    (int)(a->qe - a->bs), x->p + a->bs, (int)(b->qe - b->bs), x->p + b->bs, pw->common,
	    pw->ex.len, ex, m[0], m[1]);
}

/* The example input, printable: \xNN for bytes outside printable ASCII. */
static void describe(const struct lp_buf *in, char *why, size_t whysz)
{
	char ex[200];

	escape_input(in, ex, sizeof(ex));
	snprintf(why, whysz,
	         "can backtrack super-linearly: the %zu-byte input \"%s\" needs more than %d "
	         "backtracking steps, and one such line would stall every pipeline on the node; "
	         "make the repetition possessive (*+, ++) or atomic ((?>...)), or its alternatives "
	         "disjoint",
	         in->len, ex, LP_REDOS_STEPS);
}

lp_err lp_redos_check(OnigRegex reg, const char *pattern, char *why, size_t whysz)
{
	struct rx x = {0};
	struct attack a = {0};
	struct poly pw = {0};
	struct lp_buf prefix;
	OnigRegex capture = NULL;
	int root, pairs, expo;
	lp_err err = LP_OK;

	lp_buf_init(&prefix, 1 << 16);
	lp_buf_init(&pw.ex, 1 << 16);
	lp_buf_init(&a.in, 1 << 17);
	x.p = pattern;
	x.len = strlen(pattern);
	root = parse_alt(&x);
	while (!x.err && x.pos < x.len) { /* a stray ')': parse the rest too */
		x.pos++;
		x.opaque = 1;
		root = parse_alt(&x);
	}
	if (x.err) {
		err = x.err;
		goto out;
	}
	a.reg = reg;
	a.mp = onig_new_match_param();
	if (!a.mp) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	onig_initialize_match_param(a.mp);
	onig_set_retry_limit_in_match_of_match_param(a.mp, LP_REDOS_STEPS);
	onig_set_retry_limit_in_search_of_match_param(a.mp, LP_REDOS_STEPS);
	expo = suspicious(&x, root) || x.opaque;
	pairs = has_pair(&x, root);
	if (!expo && !pairs)
		goto out;
	probe_all(&x, root);
	if (x.err) {
		err = x.err;
		goto out;
	}
	/* with named groups, Ruby syntax makes plain groups non-capturing and
	 * Oniguruma then folds (?:a+)+ into a+; an engine built with capture
	 * groups on does not, so the same attacks run on that compilation too */
	for (int pass = 0; expo && pass < 2 && !a.found && !a.err; pass++) {
		if (pass == 1) {
			OnigErrorInfo einfo;
			const OnigUChar *s = (const OnigUChar *)pattern;
			if (onig_number_of_names(reg) == 0)
				break;
			if (onig_new(&capture, s, s + x.len, ONIG_OPTION_CAPTURE_GROUP,
			             ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY, &einfo) != ONIG_NORMAL) {
				capture = NULL;
				break;
			}
			a.reg = capture;
		}
		walk(&x, &a, root, &prefix, "", 0);
		if (!a.found && !a.err && x.opaque) {
			/* constructs we do not model: pump every atom, empty prefix */
			lp_buf_reset(&prefix);
			a.follow_len = 0;
			for (int i = 0; i < x.nn && !a.found && !a.err; i++)
				if (x.n[i].kind == RX_ATOM)
					try_input(&a, "", 0, x.n[i].samp, x.n[i].slen);
		}
	}
	if (a.err) {
		err = a.err;
		goto out;
	}
	if (a.found) {
		describe(&a.in, why, whysz);
		err = LP_ERR_INVALID;
		goto out;
	}
	if (pairs) {
		pw.reg = reg;
		lp_buf_reset(&prefix);
		poly_walk(&x, &pw, root, 0, &prefix);
		err = pw.err ? pw.err : x.err;
		if (!err && pw.found) {
			describe_poly(&x, &pw, why, whysz);
			err = LP_ERR_INVALID;
		}
	}
out:
	if (capture)
		onig_free(capture);
	if (a.mp)
		onig_free_match_param(a.mp);
	lp_buf_free(&a.in);
	lp_buf_free(&pw.ex);
	lp_buf_free(&prefix);
	lp_free(x.n);
	return err;
}
