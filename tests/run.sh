#!/usr/bin/env bash
# Runs every test: the unit test programs (build/asan/tests/test_*), then the
# integration scripts (tests/integration/*.sh, tests/*/test_*.py). Each prints
# "PASS name" / "FAIL name: why" lines; a program that exits non-zero without a
# FAIL line (a crash, a sanitizer report) counts as one failure. Ends with the
# line "N passed, N failed" and exits non-zero on any failure.
# TESTS="glob [glob...]" runs only the programs whose file name matches one of the globs.
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

run_one() { # name, command...
	local name="$1"; shift
	local log="$logs/$name.log" rc p f
	timeout -k 10 "$per_test_timeout" "$@" >"$log" 2>&1
	rc=$?
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

for t in build/asan/tests/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	wanted "$n" || continue
	run_one "$n" "$t"
done
if [ -z "${TESTS_ONLY_UNIT:-}" ]; then
	for t in tests/integration/*.sh tests/*/test_*.py; do
		[ -f "$t" ] || continue
		n=$(basename "$t")
		wanted "$n" || continue
		case "$t" in
		*.py) run_one "$n" /usr/bin/python3 "$t" ;;
		*) run_one "$n" bash "$t" ;;
		esac
	done
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
