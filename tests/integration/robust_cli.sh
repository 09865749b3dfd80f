#!/usr/bin/env bash
# Bounded input and every CLI path under the sanitizer build: an alias bomb is
# refused as "excessive aliasing" by validate and render; a file of 100,000
# documents is read (growth is geometric, not one element at a time); empty,
# comment-only, malformed, non-mapping and output-less inputs go through
# validate, render and render -o with the exit code documented and no
# sanitizer report. Prints PASS/FAIL per case.
set -u
top="${LP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${LP_BIN:-$top/build/asan/bin}/logplane"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lp-robust-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
[ -x "$py" ] || py=python3

pass() { echo "PASS robust_cli:$1"; }
fail() { echo "FAIL robust_cli:$1: $2"; }

if [ ! -x "$bin" ]; then
	fail setup "no $bin (build with make asan-bins)"
	exit 1
fi

# clean ERRFILE: no sanitizer report in it
clean() { ! grep -qE 'Sanitizer|runtime error|LeakSanitizer' "$1"; }

# 1. the alias bomb: 9 levels of 10 aliases each (10^9 scalars when expanded)
"$py" - "$tmp/bomb.yaml" <<'PY'
import sys
lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for i in range(1, 9):
    lines.append("a%d: &a%d [%s]" % (i, i, ",".join(["*a%d" % (i - 1)] * 10)))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
timeout 60 "$bin" validate -f "$tmp/bomb.yaml" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ "$rc" -eq 1 ] && grep -q 'bomb.yaml:[0-9]*: column [0-9]*: excessive aliasing' "$tmp/out" && clean "$tmp/err"; then
	pass alias_bomb_validate
else
	fail alias_bomb_validate "rc=$rc $(head -c 300 "$tmp/out" "$tmp/err")"
fi
timeout 60 "$bin" render -f "$tmp/bomb.yaml" -o "$tmp/bomb-out" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ "$rc" -eq 1 ] && grep -q 'excessive aliasing' "$tmp/out" && clean "$tmp/err"; then
	pass alias_bomb_render
else
	fail alias_bomb_render "rc=$rc $(head -c 300 "$tmp/out" "$tmp/err")"
fi
# a few aliases that stay small still work
cat >"$tmp/alias-ok.yaml" <<'Y'
apiVersion: logplane.io/v1alpha1
kind: LogOutput
metadata: &m {name: console, namespace: logplane-system}
spec: &s {type: stdout}
---
apiVersion: logplane.io/v1alpha1
kind: LogPipeline
metadata: {name: p, namespace: logplane-system}
spec:
  routes: [{outputRef: console}]
Y
"$bin" validate -f "$tmp/alias-ok.yaml" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ "$rc" -eq 0 ] && clean "$tmp/err"; then pass alias_small_ok; else fail alias_small_ok "rc=$rc $(cat "$tmp/out")"; fi

# 2. one file with 100,000 documents (quadratic growth took minutes under ASan;
# the bound here is generous, the figure belongs to the log, not the verdict)
"$py" - "$tmp/many.yaml" <<'PY'
import sys
doc = ("apiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata:\n  name: o%d\n"
       "  namespace: logplane-system\nspec:\n  type: stdout\n---\n")
with open(sys.argv[1], "w") as f:
    for i in range(100000):
        f.write(doc % i)
PY
start=$(date +%s)
timeout 240 "$bin" validate -f "$tmp/many.yaml" >"$tmp/out" 2>"$tmp/err"; rc=$?
secs=$(($(date +%s) - start))
if [ "$rc" -eq 0 ] && grep -q '^1 file, 0 LogPipelines, 100000 LogOutputs: all valid$' "$tmp/out" && clean "$tmp/err"; then
	pass "many_documents_validate (${secs}s)"
else
	fail many_documents_validate "rc=$rc after ${secs}s $(tail -c 300 "$tmp/out" "$tmp/err")"
fi
start=$(date +%s)
timeout 240 "$bin" render -f "$tmp/many.yaml" -o "$tmp/many-out" >"$tmp/out" 2>"$tmp/err"; rc=$?
secs=$(($(date +%s) - start))
if [ "$rc" -eq 0 ] && [ -s "$tmp/many-out/shipper/fluent-bit.yaml" ] && clean "$tmp/err"; then
	pass "many_documents_render (${secs}s)"
else
	fail many_documents_render "rc=$rc after ${secs}s $(tail -c 300 "$tmp/out" "$tmp/err")"
fi
rm -f "$tmp/many.yaml"
rm -rf "$tmp/many-out"

# 3. every path with odd input: NAME WANT_VALIDATE WANT_RENDER CONTENT
: >"$tmp/empty.yaml"
printf -- '---\n---\n' >"$tmp/separators.yaml"
printf '# only a comment\n\n' >"$tmp/comment.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\n---\nkey: [1, 2\n' >"$tmp/broken.yaml"
printf 'just a scalar\n---\n- a\n- list\n' >"$tmp/scalar.yaml"
printf '\t\x01\xff: x\n' >"$tmp/binary.yaml"
printf 'apiVersion: logplane.io/v1alpha1\nkind: LogPipeline\nmetadata: {name: p, namespace: logplane-system}\nspec:\n  input: {}\n' >"$tmp/no-output.yaml"
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n' >"$tmp/other-kind.yaml"
printf '{"apiVersion": "logplane.io/v1alpha1", "kind": "LogOutput", "metadata": {"name": "o", "namespace": "logplane-system"}, "spec": {"type": "stdout"}}\n' >"$tmp/json.yaml"
# validate exit codes: empty-ish inputs are valid (nothing to check), broken ones 1
for c in empty:0:0 separators:0:0 comment:0:0 broken:1:1 scalar:1:0 binary:1:1 no-output:1:1 other-kind:0:0 json:0:0; do
	n=${c%%:*}
	rest=${c#*:}
	wv=${rest%%:*}
	wr=${rest#*:}
	f="$tmp/$n.yaml"
	"$bin" validate -f "$f" >"$tmp/out" 2>"$tmp/err"; rc=$?
	if [ "$rc" -eq "$wv" ] && clean "$tmp/err" && [ -s "$tmp/out" ]; then
		pass "validate/$n"
	else
		fail "validate/$n" "rc=$rc want $wv: $(head -c 400 "$tmp/out" "$tmp/err")"
	fi
	"$bin" validate -f - <"$f" >"$tmp/out" 2>"$tmp/err"; rc=$?
	if [ "$rc" -eq "$wv" ] && clean "$tmp/err"; then
		pass "validate_stdin/$n"
	else
		fail "validate_stdin/$n" "rc=$rc want $wv: $(head -c 400 "$tmp/out" "$tmp/err")"
	fi
	"$bin" render -f "$f" >"$tmp/out" 2>"$tmp/err"; rc=$?
	if [ "$rc" -eq "$wr" ] && clean "$tmp/err" && head -1 "$tmp/out" | grep -q '^service:'; then
		pass "render/$n"
	else
		fail "render/$n" "rc=$rc want $wr: $(head -c 400 "$tmp/out" "$tmp/err")"
	fi
	"$bin" render -f "$f" -o "$tmp/o-$n" >"$tmp/out" 2>"$tmp/err"; rc=$?
	if [ "$rc" -eq "$wr" ] && clean "$tmp/err" && [ -s "$tmp/o-$n/shipper/fluent-bit.yaml" ] && [ -s "$tmp/o-$n/env.json" ]; then
		pass "render_dir/$n"
	else
		fail "render_dir/$n" "rc=$rc want $wr: $(head -c 400 "$tmp/out" "$tmp/err")"
	fi
done
# an empty directory
mkdir -p "$tmp/emptydir"
"$bin" validate -f "$tmp/emptydir" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ "$rc" -eq 0 ] && clean "$tmp/err"; then pass validate/empty_dir; else fail validate/empty_dir "rc=$rc $(cat "$tmp/out" "$tmp/err")"; fi
"$bin" render -f "$tmp/emptydir" -o "$tmp/o-emptydir" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ "$rc" -eq 0 ] && clean "$tmp/err"; then pass render/empty_dir; else fail render/empty_dir "rc=$rc $(cat "$tmp/out" "$tmp/err")"; fi
# usage paths of both commands: exit 2, one line, no report
for args in "validate" "render" "render -o" "validate --control-namespace" "render --bogus" "bogus" ""; do
	# shellcheck disable=SC2086
	"$bin" $args >"$tmp/out" 2>"$tmp/err"; rc=$?
	name="usage/${args:-no_command}"
	name=${name// /_}
	if [ "$rc" -eq 2 ] && clean "$tmp/err" && [ -s "$tmp/err" ]; then
		pass "$name"
	else
		fail "$name" "rc=$rc $(head -c 300 "$tmp/err")"
	fi
done
