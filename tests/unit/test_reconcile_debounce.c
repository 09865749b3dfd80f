/* pkg/reconcile/debounce: a lone change runs at once, a burst once it is quiet
 * (bounded by max_wait), changes during a run join the burst. */
#include "lp_test.h"
#include "../../pkg/reconcile/debounce.h"

/* One step of a scenario: a change at t (busy or not), or a question at t
 * (want: the ms to wait; 0 = run now, and then the run takes the changes). */
enum { NOTE, NOTE_BUSY, ASK };

struct step {
	int op;
	uint64_t t;
	uint64_t want;
};

struct scenario {
	const char *name;
	uint64_t quiet;
	struct step steps[12];
	size_t n;
};

static const struct scenario scenarios[] = {
    {"nothing pending runs at once (resync, drift)", 500, {{ASK, 1000, 0}}, 1},
    {"first change ever is lone", 500, {{NOTE, 1000, 0}, {ASK, 1002, 0}}, 2},
    {"lone change after a quiet gap",
     500,
     {{NOTE, 1000, 0}, {ASK, 1002, 0}, {NOTE, 1100, 0}, {ASK, 1102, 0}},
     4},
    {"second change within the gap: burst, trailing run after quiet",
     500,
     {{NOTE, 1000, 0}, {NOTE, 1010, 0}, {ASK, 1012, 498}, {ASK, 1509, 1}, {ASK, 1510, 0}},
     5},
    {"change right after a run (within the gap) waits for quiet",
     500,
     {{NOTE, 1000, 0}, {ASK, 1002, 0}, {NOTE, 1020, 0}, {ASK, 1022, 498}, {ASK, 1520, 0}},
     5},
    {"change while a run applies joins a burst",
     500,
     {{NOTE, 1000, 0}, {ASK, 1002, 0}, {NOTE_BUSY, 1300, 0}, {ASK, 1310, 490}, {ASK, 1800, 0}},
     5},
    {"burst extended by each change",
     500,
     {{NOTE, 1000, 0},
      {NOTE, 1001, 0},
      {NOTE, 1400, 0},
      {ASK, 1401, 499},
      {NOTE, 1800, 0},
      {ASK, 1900, 400},
      {ASK, 2300, 0}},
     7},
    {"after a burst ran, a lone change runs at once again",
     500,
     {{NOTE, 1000, 0}, {NOTE, 1001, 0}, {ASK, 1501, 0}, {NOTE, 2000, 0}, {ASK, 2002, 0}},
     5},
    {"short quiet time: gap follows it",
     20,
     {{NOTE, 1000, 0},
      {ASK, 1001, 0},
      {NOTE, 1025, 0},
      {ASK, 1026, 0},
      {NOTE, 1030, 0},
      {NOTE, 1031, 0},
      {ASK, 1032, 19},
      {ASK, 1051, 0}},
     8},
};

static void t_scenarios(void)
{
	for (size_t s = 0; s < LP_TEST_COUNT(scenarios); s++) {
		const struct scenario *sc = &scenarios[s];
		struct lp_debounce d;

		lp_debounce_init(&d, sc->quiet);
		for (size_t i = 0; i < sc->n; i++) {
			const struct step *st = &sc->steps[i];
			uint64_t got;
			if (st->op != ASK) {
				lp_debounce_note(&d, st->t, st->op == NOTE_BUSY);
				continue;
			}
			got = lp_debounce_wait(&d, st->t);
			if (got != st->want)
				lp_test_fail(__FILE__, __LINE__,
				             "%s: step %zu at %llu: wait %llu, want %llu", sc->name,
				             i, (unsigned long long)st->t, (unsigned long long)got,
				             (unsigned long long)st->want);
			if (got == 0)
				lp_debounce_ran(&d);
		}
	}
}

/* A change every 10 ms never goes quiet: the run comes max_wait after the first. */
static void t_steady_stream_bounded(void)
{
	struct lp_debounce d;
	uint64_t t, ran_at = 0;

	lp_debounce_init(&d, 500);
	LP_CHECK_INT(d.max_wait_ms, 5000);
	for (t = 1000; t <= 20000 && !ran_at; t += 10) {
		lp_debounce_note(&d, t, 0);
		if (t > 1000 && lp_debounce_wait(&d, t) == 0)
			ran_at = t;
	}
	LP_CHECK_INT(ran_at, 6000);
	lp_debounce_ran(&d);
	LP_CHECK_INT(lp_debounce_wait(&d, ran_at), 0); /* the run took them all */
	lp_debounce_note(&d, ran_at + 10, 0);          /* the stream goes on: a burst */
	LP_CHECK_INT(lp_debounce_wait(&d, ran_at + 10), 500);
}

static void t_defaults(void)
{
	struct lp_debounce d;

	lp_debounce_init(&d, 0);
	LP_CHECK_INT(d.quiet_ms, 500);
	LP_CHECK_INT(d.gap_ms, LP_DEBOUNCE_GAP_MS);
	LP_CHECK_INT(d.max_wait_ms, 5000);
	lp_debounce_init(&d, 2000);
	LP_CHECK_INT(d.gap_ms, LP_DEBOUNCE_GAP_MS);
	LP_CHECK_INT(d.max_wait_ms, 20000);
	lp_debounce_init(&d, 10);
	LP_CHECK_INT(d.gap_ms, 10);
	LP_CHECK_INT(d.max_wait_ms, 5000);
}

static const struct lp_test tests[] = {
    {"scenarios", t_scenarios},
    {"steady_stream_bounded", t_steady_stream_bounded},
    {"defaults", t_defaults},
};

int main(void)
{
	return lp_test_main("reconcile_debounce", tests, LP_TEST_COUNT(tests));
}
