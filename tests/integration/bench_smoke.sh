#!/usr/bin/env bash
# Smoke form of `make bench` (issue 8): every scenario at tiny sizes, so the
# benchmark cannot rot. No targets are asserted; the checks are that the table
# is printed, that the JSON results are written with every scenario present and
# no scenario failed, and that the figures are plausible (positive times,
# memory between sane bounds, the churn end state correct).
# Uses the release binaries in bin/ (make test builds them); bench/run.sh
# builds the render benchmark and the allocation shim under build/bench.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lp-bench-smoke-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
[ -x "$py" ] || py=python3

if [ ! -x bin/logplane-operator ]; then
	echo "FAIL bench_smoke:binaries: bin/logplane-operator missing (make all)"
	exit 1
fi
export BENCH_NO_BUILD=1 BENCH_OUT="$tmp/latest.json" BENCH_REPEAT=1 BENCH_TIMEOUT=60
export BENCH_IDLE_PIPELINES=3 BENCH_IDLE_SECONDS=2
export BENCH_SCALE=40 BENCH_SCALE_NAMESPACES=4
export BENCH_LATENCY_CHANGES=5 BENCH_LATENCY_PIPELINES=2
export BENCH_BURST=20 BENCH_NOOP_SECONDS=4 BENCH_NOOP_RESYNC=1s BENCH_NOOP_PIPELINES=2
export BENCH_RENDER=50 BENCH_RENDER_ROUNDS=3 BENCH_SHAPE_SIZES=1,10
export BENCH_CHURN_CHANGES=60 BENCH_CHURN_PIPELINES=6 BENCH_CHURN_DROP_EVERY=0.3
export BENCH_KUBESIM_OBJECTS=200 BENCH_KUBESIM_WATCHES=3
# the real API server's side (bench/run.sh's second run): one tiny scenario proves the wiring
export BENCH_REAL_SCENARIOS=latency BENCH_OUT_REAL="$tmp/latest-real.json"
export BENCH_ADMISSION_PIPELINES=40 BENCH_ADMISSION_NAMESPACES=4 BENCH_ADMISSION_REVIEWS=40
export BENCH_HUB_RECORDS=2000 BENCH_HUB_IDLE_SUBS=20
timeout -k 5 180 bash bench/run.sh >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
if [ "$rc" -eq 0 ]; then
	echo "PASS bench_smoke:run_exit_0"
else
	echo "FAIL bench_smoke:run_exit_0: bench/run.sh exited $rc: $(tail -n 8 "$tmp/stderr" "$tmp/stdout" | tr '\n' ' ' | cut -c1-600)"
fi
# the data-path shape table (bench/shape.py): printed, and one namespace's
# record meets the same work at 10 pipelines as at 1 (12 output instances:
# 10 routes, lp_discard and the metrics exporter)
if grep -q '^shape: per-record work at 10 pipelines equals that at 1$' "$tmp/stdout" &&
	grep -Eq '^ +10 +1 +1 +1 +3 +12 ' "$tmp/stdout"; then
	echo "PASS bench_smoke:shape"
else
	echo "FAIL bench_smoke:shape: $(grep '^shape' "$tmp/stdout" | tr '\n' ' ' | cut -c1-300)"
fi
"$py" - "$tmp/latest-real.json" <<'PYEOF'
import json
import sys
try:
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    rows = [r for r in doc["rows"] if r["scenario"] == "latency@real"]
    ok = rows and not doc["failures"] and any(r["figure"] == "ConfigMap updated p50" and r["median"] > 0 for r in rows)
    why = "failures %s, %d rows" % (doc["failures"], len(rows))
except (OSError, ValueError, KeyError, TypeError) as e:
    ok, why = False, e
print("PASS bench_smoke:real_apiserver_latency" if ok else "FAIL bench_smoke:real_apiserver_latency: %s" % why)
PYEOF
"$py" - "$tmp/latest.json" "$tmp/stdout" <<'PYEOF'
import json
import sys

failed = 0


def check(name, ok, why=""):
    global failed
    if ok:
        print("PASS bench_smoke:%s" % name)
    else:
        failed += 1
        print("FAIL bench_smoke:%s: %s" % (name, " ".join(str(why).split())[:500]))


try:
    with open(sys.argv[1]) as f:
        doc = json.load(f)
except (OSError, ValueError) as e:
    check("json_written", False, e)
    sys.exit(1)
check("json_written", True)
with open(sys.argv[2]) as f:
    table = f.read()
rows = doc.get("rows", [])
by = {(r["scenario"], r["figure"]): r for r in rows}
scen = ["idle-10", "scale-10k", "latency", "burst", "noop", "render", "churn", "kubesim", "admission"]
check("no_scenario_failed", not doc.get("failures"), doc.get("failures"))
header = table.splitlines()[0].split() if table.strip() else []
check("table_header", header == ["scenario", "figure", "median", "min", "max", "unit", "target", "met?"], header)
for s in scen:
    check("scenario_%s_present" % s, any(r["scenario"] == s and r["figure"] != "FAILED" for r in rows)
          and any(line.startswith(s + " ") for line in table.splitlines()), s)
check("machine_described", doc.get("machine", {}).get("nproc", 0) >= 1 and doc["machine"].get("memory_mib", 0) > 0,
      doc.get("machine"))


def fig(s, f):
    r = by.get((s, f))
    return None if r is None else r.get("median")


def between(name, s, f, lo, hi):
    v = fig(s, f)
    check(name, v is not None and lo <= v <= hi, "%s %s = %r, want %s..%s" % (s, f, v, lo, hi))


# Figures a working benchmark cannot get wrong by much, whatever the machine.
between("idle_rss_plausible", "idle-10", "RSS", 1, 1024)
between("idle_anon_plausible", "idle-10", "anonymous", 0.1, 1024)
check("idle_anon_below_rss", (fig("idle-10", "anonymous") or 1e9) < (fig("idle-10", "RSS") or 0))
between("idle_cpu_plausible", "idle-10", "CPU", 0, 100)
between("scale_sync_plausible", "scale-10k", "caches synced", 0.001, 120)
between("scale_ready_plausible", "scale-10k", "all statuses written", 0.001, 120)
check("scale_sync_before_ready", (fig("scale-10k", "caches synced") or 1e9) <= (fig("scale-10k", "all statuses written") or 0))
check("scale_peak_at_least_settled", (fig("scale-10k", "peak RSS") or 0) >= (fig("scale-10k", "settled RSS") or 1e9) * 0.9)
between("scale_configmaps", "scale-10k", "ConfigMaps", 1, 100)
between("scale_rendered_bytes", "scale-10k", "rendered config", 1e-4, 1024)
between("scale_status_writes", "scale-10k", "status writes", 80, 1000)   # 40 pipelines + 40 outputs
between("latency_floor_plausible", "latency", "floor (kubesim) p50", 0.05, 5000)
check("latency_ready_after_floor", (fig("latency", "Ready observed p50") or 0) > (fig("latency", "floor (kubesim) p50") or 1e9))
check("latency_ready_after_configmap", (fig("latency", "Ready observed p50") or 0) >= (fig("latency", "ConfigMap updated p50") or 1e9))
between("burst_ready_plausible", "burst", "all Ready", 0.001, 60)
between("burst_config_writes", "burst", "config writes", 1, 1000)
between("noop_writes_counted", "noop", "writes", 0, 1e6)
between("noop_requests_counted", "noop", "API requests", 0, 1e6)
between("render_time_plausible", "render", "render 50 pipelines", 0.001, 10000)
between("render_allocations_counted", "render", "allocations per render", 50, 1e8)
between("churn_final_state", "churn", "final state correct", 1, 1)
between("churn_writes_counted", "churn", "operator writes", 1, 1e6)
between("kubesim_list_plausible", "kubesim", "list 200", 1e-5, 60)
between("kubesim_watch_events", "kubesim", "watch events delivered", 600, 600)
for r in rows:
    if r.get("target"):
        check("met_is_bool_%s_%s" % (r["scenario"], r["figure"].replace(" ", "_")), r.get("met") in (True, False), r)
sys.exit(1 if failed else 0)
PYEOF
