#!/usr/bin/env bash
# `make bench`: builds the optimised binaries (make all: -O2, no sanitizers),
# the render benchmark and the allocation-counting shim, then runs the
# scenarios of bench/bench.py against kubesim. Arguments go to bench.py
# (e.g. --scenarios render,latency). Sizes and repeats come from BENCH_*
# environment variables (see bench/bench.py and BENCHMARKS.md).
# BENCH_NO_BUILD=1 skips the build (the smoke test uses the test build's bin/).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=build/bench
mkdir -p "$out"
if [ -z "${BENCH_NO_BUILD:-}" ]; then
	make --no-print-directory -j"$(nproc)" all >&2
fi
pkgs="libcurl openssl yaml-0.1 jansson libwebsockets oniguruma"
cflags="-std=c17 -Wall -Wextra -Wpedantic -Werror -Wformat=2 -Wshadow -Wno-unused-parameter"
cflags="$cflags -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -O2 -g"
# The render benchmark links the release objects make all just built.
objs=()
while IFS= read -r src; do
	objs+=("build/rel/${src%.c}.o")
done < <(find pkg -name '*.c' | sort)
if [ ! -x "$out/render_bench" ] || [ bench/render_bench.c -nt "$out/render_bench" ] ||
	[ -n "$(find "${objs[@]}" -newer "$out/render_bench" 2>/dev/null | head -n 1)" ]; then
	# shellcheck disable=SC2046,SC2086
	cc $cflags $(pkg-config --cflags $pkgs) -c bench/render_bench.c -o "$out/render_bench.o"
	# shellcheck disable=SC2046,SC2086
	cc -O2 -o "$out/render_bench" "$out/render_bench.o" "${objs[@]}" $(pkg-config --libs $pkgs) -lm -lpthread
fi
if [ ! -f "$out/alloc_count.so" ] || [ bench/alloc_count.c -nt "$out/alloc_count.so" ]; then
	# shellcheck disable=SC2086
	cc $cflags -fPIC -shared -o "$out/alloc_count.so" bench/alloc_count.c
fi
py=/usr/bin/python3
[ -x "$py" ] || py=python3
# The same scenarios against kubesim, then scale-10k, latency, burst and churn
# against the real API server (etcd + kube-apiserver, tests/apiserver), side by
# side (rows SCENARIO@real). BENCH_REAL_SCENARIOS= (empty) skips the second run.
rc=0
"$py" bench/bench.py "$@" || rc=$?
# The data path's shape: what a record of one namespace meets among N tenant
# pipelines, output instances, threads and open files (bench/shape.py).
"$py" bench/shape.py || rc=$?
real_scenarios="${BENCH_REAL_SCENARIOS-scale-10k,latency,burst,churn}"
if [ -n "$real_scenarios" ] && [ -x .deps/bin/kube-apiserver ]; then
	BENCH_APISERVER=real "$py" bench/bench.py --scenarios "$real_scenarios" \
		--out "${BENCH_OUT_REAL:-bench/results/latest-real.json}" || rc=$?
elif [ -n "$real_scenarios" ]; then
	echo "bench: .deps/bin/kube-apiserver missing (hack/build-apiserver.sh): no real-server figures" >&2
	rc=1
fi
exit "$rc"
