#!/usr/bin/env bash
# Runs every test: the unit test programs (build/asan/tests/test_*), then the
# integration scripts (tests/integration/*.sh, tests/*/test_*.py). Each prints
# "PASS name" / "FAIL name: why" lines; a program that exits non-zero without a
# FAIL line (a crash, a sanitizer report) counts as one failure. Ends with the
# line "N passed, N failed" and exits non-zero on any failure.
# TESTS="glob [glob...]" runs only the programs whose file name matches one of the globs.
# Test programs run in parallel (LP_JOBS at a time, default 6 on two cores: most
# of them wait on servers rather than compute, ~0.25 of a core each on average);
# each has its own servers on ports the kernel
# picked. A program's lines are printed together when it ends, with its wall
# time and its CPU time (user+sys of it and the children it waited for); the
# longest programs start first (by the previous run's times, build/test-logs/
# durations.txt, else by tests/durations.txt, the committed expected times, so a
# fresh clone does not end on one long program alone). The total wall time is
# printed before the closing line.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export LP_TOP="$top" LP_BIN="$top/build/asan/bin" LP_REL_BIN="$top/bin"
export PATH="$top/.deps/bin:$PATH"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
logs="$top/build/test-logs"
mkdir -p "$logs"
pass=0
fail=0
pattern="${TESTS:-*}"
per_test_timeout="${LP_TEST_TIMEOUT:-600}"
jobs_max="${LP_JOBS:-6}"
durations="$logs/durations.txt" # "seconds name" of the last run, for the start order
expected="$top/tests/durations.txt" # "seconds name", committed: the order of a first run
suite_start=$(date +%s.%N)

report_one() { # name, exit code, seconds: print its lines, add its counts
	local name="$1" rc="$2" secs="$3" log="$logs/$1.log" p f cpu
	cpu=$(cat "$logs/$1.cpu" 2>/dev/null)
	rm -f "$logs/$1.cpu"
	grep -aE '^(PASS|FAIL) ' "$log"
	p=$(grep -ac '^PASS ' "$log")
	f=$(grep -ac '^FAIL ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited $rc without a FAIL line (see $log):"
		tail -n 20 "$log" | sed 's/^/    /'
		f=1
	elif [ "$f" -gt 0 ] && grep -aq 'Sanitizer' "$log"; then
		grep -a -A 12 'Sanitizer' "$log" | head -n 20 | sed 's/^/    /'
	fi
	printf 'TIME %-34s %6.1f s  cpu %6s s  %d passed, %d failed\n' "$name" "$secs" "${cpu:-?}" "$p" "$f"
	echo "$secs $name" >>"$durations.new"
	pass=$((pass + p))
	fail=$((fail + f))
}

wanted() { # file name: matches one of the TESTS globs
	local g
	set -f
	for g in $pattern; do
		set +f
		# shellcheck disable=SC2254
		case "$1" in $g) return 0 ;; esac
		set -f
	done
	set +f
	return 1
}

# The programs: "name<TAB>command words", one a line.
list=""
add() { list="$list$1	$2
"; }
for t in build/asan/tests/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	wanted "$n" && add "$n" "$t"
done
if [ -z "${TESTS_ONLY_UNIT:-}" ]; then
	for t in tests/integration/*.sh tests/*/test_*.py; do
		[ -f "$t" ] || continue
		n=$(basename "$t")
		wanted "$n" || continue
		case "$t" in
		*.py) add "$n" "/usr/bin/python3 $t" ;;
		*) add "$n" "bash $t" ;;
		esac
	done
	# The shared end-to-end tests again against the real API server (tests/apiserver).
	if [ "${LP_APISERVER:-both}" = both ]; then
		for t in $(grep -l '^# lp-apiserver: both' tests/*/test_*.py 2>/dev/null); do
			n="$(basename "$t" .py)@real.py"
			wanted "$n" || wanted "$(basename "$t")" || continue
			add "$n" "env LP_APISERVER=real /usr/bin/python3 $t"
		done
	fi
fi
# Longest first (by the last run's times, else the expected ones; unknown ones
# first of all).
order=$(printf '%s' "$list" | while IFS='	' read -r n cmd; do
	d=$(awk -v n="$n" '$2 == n { print $1 }' "$durations" 2>/dev/null | tail -n 1)
	[ -n "$d" ] || d=$(awk -v n="$n" '$2 == n { print $1 }' "$expected" 2>/dev/null | tail -n 1)
	printf '%s\t%s\t%s\n' "${d:-99999}" "$n" "$cmd"
done | sort -t '	' -k1,1 -gr | cut -f2-)
: >"$durations.new"

declare -A started=() names=()
running=0
finish_one() { # wait for any program, report it
	local pid rc
	wait -n -p pid
	rc=$?
	[ -n "${pid:-}" ] || return 0
	local n="${names[$pid]}"
	report_one "$n" "$rc" "$(echo "$(date +%s.%N) ${started[$pid]}" | awk '{ printf "%.1f", $1 - $2 }')"
	unset "names[$pid]" "started[$pid]"
	running=$((running - 1))
}
# interrupted (Ctrl-C, TERM): the running programs are stopped (they clean up
# their servers), not left to run out their time limit
trap 'trap - INT TERM; for p in "${!names[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait; exit 130' INT TERM
while IFS='	' read -r n cmd; do
	[ -n "$n" ] || continue
	while [ "$running" -ge "$jobs_max" ]; do finish_one; done
	# the subshell's `times` (second line: its children) is the program's CPU
	# shellcheck disable=SC2086
	(
		# timeout puts the program in a process group of its own, so a signal to
		# this script would not reach it: TERM is passed on (see the trap below)
		timeout -k 10 "$per_test_timeout" $cmd </dev/null >"$logs/$n.log" 2>&1 &
		t=$!
		trap 'kill -TERM "$t" 2>/dev/null' TERM
		wait "$t"
		rc=$?
		while kill -0 "$t" 2>/dev/null; do # a trapped TERM ended the wait, not the program
			wait "$t"
			rc=$?
		done
		times >"$logs/$n.cpu" # not in a pipeline: that would be another process
		awk 'NR == 2 { printf "%.1f", cpu($1) + cpu($2) }
			function cpu(t, m) { split(t, m, "m"); return m[1] * 60 + m[2] }' "$logs/$n.cpu" >"$logs/$n.cpu2"
		mv -f "$logs/$n.cpu2" "$logs/$n.cpu"
		exit $rc
	) &
	names[$!]="$n"
	started[$!]=$(date +%s.%N)
	running=$((running + 1))
done <<<"$order"
while [ "$running" -gt 0 ]; do finish_one; done
# keep the times of programs this run skipped (TESTS=...)
awk 'NR == FNR { seen[$2] = 1; print; next } !($2 in seen)' "$durations.new" "$durations" 2>/dev/null >"$durations.tmp"
mv -f "$durations.tmp" "$durations"
rm -f "$durations.new"
total=$(echo "$(date +%s.%N) $suite_start" | awk '{ printf "%.0f", $1 - $2 }')
since=""
[ -n "${LP_MAKE_START:-}" ] && since="; $(($(date +%s) - LP_MAKE_START)) s since make test started (deps and build included)"
echo "total wall time: ${total} s for the tests ($jobs_max programs at a time)$since"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
