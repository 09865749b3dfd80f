#!/usr/bin/env bash
# One verdict: every case under tests/data (render cases, bad twins), every
# example, and cases for the rules validation once missed (Loki label values
# with a space or quote or '$', a tenant's namespaces.exclude, an externalId
# with a space, a pipeline too large alone for a config part) go through
# `logplane validate` and `logplane render`; both must name the same resources
# as bad, and validate must name the field. (The injection corpus gets the
# same check in-process: tests/unit/test_render.c, case injection.)
set -u
top="${LP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${LP_BIN:-$top/build/asan/bin}/logplane"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lp-verdict.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
cd "$top" || exit 1

pass() { echo "PASS verdict_cli:$1"; }
fail() { echo "FAIL verdict_cli:$1: $2"; }

if [ ! -x "$bin" ]; then
	fail setup "no $bin (build with make asan-bins)"
	exit 1
fi

mkdir -p "$tmp/cases"
hdr_o='apiVersion: logplane.io/v1alpha1
kind: LogOutput'
hdr_p='apiVersion: logplane.io/v1alpha1
kind: LogPipeline'
for v in 'a b' 'say "hi"' "it's" 'cost$5'; do
	n=$(printf '%s' "$v" | tr -c 'a-z' '_')
	cat >"$tmp/cases/loki-label-$n.yaml" <<Y
$hdr_o
metadata: {name: loki, namespace: logplane-system}
spec:
  type: loki
  loki:
    host: loki.local
    labels: {app: '$(printf '%s' "$v" | sed "s/'/''/g")'}
---
$hdr_p
metadata: {name: p, namespace: logplane-system}
spec:
  input: {application: {}}
  routes: [{outputRef: loki}]
Y
done
cat >"$tmp/cases/tenant-exclude.yaml" <<Y
$hdr_o
metadata: {name: out, namespace: team-a}
spec: {type: stdout}
---
$hdr_p
metadata: {name: p, namespace: team-a}
spec:
  input: {application: {namespaces: {exclude: [team-a]}}}
  routes: [{outputRef: out}]
Y
cat >"$tmp/cases/external-id-space.yaml" <<Y
$hdr_o
metadata: {name: k, namespace: logplane-system}
spec:
  type: kinesis
  aws:
    region: eu-west-1
    credentials: {roleArn: "arn:aws:iam::123456789012:role/w", externalId: "two words"}
  kinesis: {stream: logs}
---
$hdr_p
metadata: {name: p, namespace: logplane-system}
spec:
  input: {application: {}}
  routes: [{outputRef: k}]
Y
# a pipeline whose own text is larger than a config part (900 KiB)
"$py" - "$tmp/cases/too-large-alone.yaml" <<'PY'
import sys
rules = "\n".join("      - {key: f%d, regex: '%s'}" % (i, "x" * 500) for i in range(32))
transforms = "\n".join("  - grep:\n      exclude:\n%s" % rules for _ in range(64))
open(sys.argv[1], "w").write("""apiVersion: logplane.io/v1alpha1
kind: LogOutput
metadata: {name: out, namespace: logplane-system}
spec: {type: stdout}
---
apiVersion: logplane.io/v1alpha1
kind: LogPipeline
metadata: {name: big, namespace: logplane-system}
spec:
  input: {application: {}}
  transforms:
%s
  routes: [{outputRef: out}]
""" % transforms)
PY

# bad resources as "Kind ns/name", one a line, sorted
bad_validate() { sed -n 's/^[^:]*:[0-9]*: \(Log[A-Za-z]*\) \([^:]*\): .*/\1 \2/p' "$1" | sort -u; }
bad_render() { sed -n 's/^problem: \(Log[A-Za-z]*\) \([^ ]*\) .*/\1 \2/p' "$1" | sort -u; }

n=0
for f in tests/data/render/cases/*.yaml tests/data/invalid/*.yaml examples/*.yaml "$tmp"/cases/*.yaml; do
	name=$(basename "$(dirname "$f")")/$(basename "$f" .yaml)
	"$bin" validate -f "$f" >"$tmp/v.out" 2>"$tmp/v.err"
	vrc=$?
	"$bin" render -f "$f" -o "$tmp/r" >"$tmp/r.out" 2>"$tmp/r.err"
	rrc=$?
	bad_validate "$tmp/v.out" >"$tmp/v.bad"
	bad_render "$tmp/r.out" >"$tmp/r.bad"
	n=$((n + 1))
	if [ "$vrc" -gt 1 ] || [ "$rrc" -gt 1 ]; then
		fail "$name" "validate exit $vrc, render exit $rrc: $(head -c 300 "$tmp/v.err" "$tmp/r.err")"
	elif ! cmp -s "$tmp/v.bad" "$tmp/r.bad"; then
		fail "$name" "validate says bad: [$(tr '\n' ';' <"$tmp/v.bad")] render left out: [$(tr '\n' ';' <"$tmp/r.bad")]"
	else
		pass "$name"
	fi
	rm -rf "$tmp/r"
done
# the new cases are refused, with the field named
check() { # file field
	if grep -q ": $2" "$tmp/$1.v"; then pass "field/$1"; else fail "field/$1" "no \"$2\" in: $(head -c 400 "$tmp/$1.v")"; fi
}
for c in loki-label-a_b external-id-space tenant-exclude too-large-alone; do
	"$bin" validate -f "$tmp/cases/$c.yaml" >"$tmp/$c.v" 2>&1
done
check loki-label-a_b 'spec.loki.labels'
check external-id-space 'spec.aws.credentials.externalId'
check tenant-exclude 'spec.input.application.namespaces.exclude'
check too-large-alone 'spec: '
if [ "$n" -ge 40 ]; then pass case_count; else fail case_count "$n cases"; fi
