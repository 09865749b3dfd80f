#!/usr/bin/env bash
# Runs every libFuzzer target in build/fuzz/bin for FUZZ_SECONDS each (default
# 60), starting from its committed seed corpus fuzz/corpus/NAME/ (which also
# holds every input that once crashed: they replay first, as regression tests).
# New corpus entries go to build/fuzz/corpus/NAME/, crashes to
# build/fuzz/crash/NAME-*. Prints "PASS fuzz:NAME (N execs, M s)" or
# "FAIL fuzz:NAME: ..." per target and a table of executions per target.
# FUZZ_TARGETS="resource aws" narrows the run.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
secs="${FUZZ_SECONDS:-60}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
out="$top/build/fuzz"
mkdir -p "$out/crash" "$out/logs"
rc=0
table=""
for bin in "$out"/bin/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	if [ -n "${FUZZ_TARGETS:-}" ] && ! [[ " $FUZZ_TARGETS " == *" $name "* ]]; then
		continue
	fi
	seeds="fuzz/corpus/$name"
	work="$out/corpus/$name"
	log="$out/logs/$name.log"
	mkdir -p "$work"
	dict=()
	[ -f "fuzz/$name.dict" ] && dict=(-dict="fuzz/$name.dict")
	timeout -k 10 $((secs + 120)) "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 -artifact_prefix="$out/crash/$name-" "${dict[@]}" \
		"$work" "$seeds" >"$log" 2>&1
	r=$?
	execs=$(grep -a '^stat::number_of_executed_units:' "$log" | tail -1 | awk '{print $2}')
	t=$(grep -a '^stat::' "$log" >/dev/null && grep -a 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | sed 's/.*in \([0-9]*\) second.*/\1/')
	execs=${execs:-0}
	if [ "$r" -eq 0 ] && [ "$execs" -gt 0 ]; then
		echo "PASS fuzz:$name ($execs execs, ${t:-?} s)"
	else
		echo "FAIL fuzz:$name: exit $r after $execs execs (see $log):"
		grep -a -m1 -A 14 -E 'ERROR: |runtime error|deadly signal' "$log" | sed 's/^/    /'
		ls "$out"/crash/"$name"-* 2>/dev/null | tail -1 | sed 's/^/    input: /'
		rc=1
	fi
	table="$table$(printf '%-12s %12s execs  %s s  corpus %s\n' "$name" "$execs" "${t:-?}" "$(ls "$work" | wc -l)")\n"
done
printf '%b' "$table"
exit $rc
