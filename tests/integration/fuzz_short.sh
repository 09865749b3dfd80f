#!/usr/bin/env bash
# A short run of every libFuzzer target (fuzz/run.sh, LP_FUZZ_SECONDS each,
# default 3): replays the committed seed corpora, crash regressions included,
# then fuzzes briefly. `make fuzz` is the long form.
set -u
top="${LP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}"
n=$(ls "$top"/build/fuzz/bin/fuzz_* 2>/dev/null | wc -l)
want=$(ls "$top"/fuzz/fuzz_*.c | wc -l)
if [ "$n" -lt "$want" ]; then
	echo "FAIL fuzz_short:setup: $n of $want fuzz targets built (make fuzz-bins needs clang and libFuzzer)"
	exit 1
fi
FUZZ_SECONDS="${LP_FUZZ_SECONDS:-3}" bash "$top/fuzz/run.sh"
