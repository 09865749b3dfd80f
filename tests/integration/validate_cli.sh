#!/usr/bin/env bash
# `logplane validate` end to end: the examples are valid, every bad twin under
# tests/data/invalid/ exits 1 with the lines of its .expect file, usage errors
# exit 2 with one line on stderr.
set -u
top="${LP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${LP_BIN:-$top/build/asan/bin}/logplane"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$top" || exit 1

pass() { echo "PASS validate_cli:$1"; }
fail() { echo "FAIL validate_cli:$1: $2"; }

# run NAME ARGS...: runs the binary, sets rc, out, err
run() {
	"$bin" validate "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

if [ ! -x "$bin" ]; then
	fail setup "no binary at $bin"
	exit 1
fi

run -f examples/
if [ "$rc" -eq 0 ] && grep -q ': all valid$' "$tmp/out" && [ ! -s "$tmp/err" ]; then
	pass examples_valid
else
	fail examples_valid "exit $rc: $(head -c 600 "$tmp/out" "$tmp/err")"
fi

for f in examples/*.yaml; do
	n=$(basename "$f" .yaml)
	run -f "$f"
	if [ "$rc" -eq 0 ]; then pass "example/$n"; else fail "example/$n" "exit $rc: $(head -c 400 "$tmp/out")"; fi
done

count=0
for f in tests/data/invalid/*.yaml; do
	n=$(basename "$f" .yaml)
	exp="${f%.yaml}.expect"
	count=$((count + 1))
	run -f "$f"
	why=""
	[ "$rc" -eq 1 ] || why="exit $rc, want 1"
	if [ -z "$why" ] && [ -f "$exp" ]; then
		while IFS= read -r line; do
			[ -n "$line" ] || continue
			grep -qF -- "$line" "$tmp/out" || { why="missing line: $line"; break; }
		done <"$exp"
	elif [ -z "$why" ]; then
		why="no $exp"
	fi
	if [ -z "$why" ]; then pass "bad_twin/$n"; else fail "bad_twin/$n" "$why; got: $(head -c 800 "$tmp/out")"; fi
done
if [ "$count" -ge 5 ]; then pass bad_twin_count; else fail bad_twin_count "$count twins, want 5"; fi

# FILE:LINE is a line number: the line where the object starts (its apiVersion
# or kind key), in every problem line of every twin
why=""
for f in tests/data/invalid/*.yaml; do
	run -f "$f"
	while IFS=: read -r file line _; do
		case "$line" in '' | *[!0-9]*) continue ;; esac
		l=$(sed -n "${line}p" "$file")
		case "$l" in apiVersion:* | kind:*) ;; *) why="$file:$line is \"$l\", not the start of an object" ;; esac
	done <"$tmp/out"
done
if [ -z "$why" ]; then pass line_numbers_are_lines; else fail line_numbers_are_lines "$why"; fi

# the version flag and "did you mean"
if out=$("$bin" --version 2>&1) && printf '%s' "$out" | grep -q '^logplane [0-9]'; then
	pass version_flag
else
	fail version_flag "$out"
fi
printf 'apiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: {name: o, namespace: logplane-system}\nspec:\n  type: stdout\n  delivry: {mode: atMostOnce}\n' >"$tmp/typo.yaml"
run -f "$tmp/typo.yaml"
if [ "$rc" -eq 1 ] && grep -q 'typo.yaml:1: LogOutput logplane-system/o: spec.delivry: unknown field (did you mean "delivery"?)' "$tmp/out"; then
	pass did_you_mean
else
	fail did_you_mean "exit $rc: $(cat "$tmp/out")"
fi

# --check-secrets: the examples carry the Secrets they reference
run -f examples/ --check-secrets
if [ "$rc" -eq 0 ] && grep -q ': all valid$' "$tmp/out"; then
	pass check_secrets_examples
else
	fail check_secrets_examples "exit $rc: $(head -c 600 "$tmp/out" "$tmp/err")"
fi
# without the Secret documents, the references fail and name the field
grep -v '^#' examples/03-opensearch-slack-errors.yaml | awk 'BEGIN{RS="---\n"; ORS="---\n"} !/kind: Secret/' >"$tmp/nosecret.yaml"
run -f "$tmp/nosecret.yaml" --check-secrets
if [ "$rc" -eq 1 ] && grep -qF 'spec.opensearch.auth.secretRef: Secret "opensearch-writer" not found in namespace "logplane-system"' "$tmp/out"; then
	pass check_secrets_missing
else
	fail check_secrets_missing "exit $rc: $(head -c 800 "$tmp/out")"
fi
run -f "$tmp/nosecret.yaml"
if [ "$rc" -eq 0 ]; then pass check_secrets_off_by_default; else fail check_secrets_off_by_default "exit $rc: $(head -c 400 "$tmp/out")"; fi
# a Secret without the key named
sed 's/^  password: change-me$/  passwd: change-me/' examples/03-opensearch-slack-errors.yaml >"$tmp/nokey.yaml"
run -f "$tmp/nokey.yaml" --check-secrets
if [ "$rc" -eq 1 ] && grep -qF 'has no key "password"' "$tmp/out" && ! grep -q 'change-me' "$tmp/out"; then
	pass check_secrets_missing_key
else
	fail check_secrets_missing_key "exit $rc: $(head -c 800 "$tmp/out")"
fi
# the same object twice is reported at its second definition
{ cat examples/05-tenant-namespace.yaml; echo ---; cat examples/05-tenant-namespace.yaml; } >"$tmp/twice.yaml"
run -f "$tmp/twice.yaml"
if [ "$rc" -eq 1 ] && grep -q 'metadata.name: .* is also defined at ' "$tmp/out"; then
	pass duplicate_object
else
	fail duplicate_object "exit $rc: $(head -c 800 "$tmp/out")"
fi

# a directory mixing valid and invalid files fails, and reports only the bad one
mkdir -p "$tmp/mixed/sub"
cp examples/03-opensearch-slack-errors.yaml "$tmp/mixed/"
cp tests/data/invalid/04-json-flatten-cloudwatch.yaml "$tmp/mixed/sub/bad.yml"
run -f "$tmp/mixed"
if [ "$rc" -eq 1 ] && grep -q "sub/bad.yml:27: LogPipeline logplane-system/json-to-cloudwatch: spec.transforms\[0\]" "$tmp/out" &&
	! grep -q "03-opensearch" "$tmp/out"; then
	pass mixed_dir_recursive
else
	fail mixed_dir_recursive "exit $rc: $(head -c 600 "$tmp/out")"
fi

# cross-file references resolve within the whole set; a duplicate is reported
cat >"$tmp/out1.yaml" <<'Y'
apiVersion: logplane.io/v1alpha1
kind: LogOutput
metadata: {name: console, namespace: team-b}
spec: {type: stdout}
Y
cat >"$tmp/pipe.yaml" <<'Y'
apiVersion: logplane.io/v1alpha1
kind: LogPipeline
metadata: {name: p, namespace: team-b}
spec:
  routes: [{outputRef: console}]
Y
run -f "$tmp/pipe.yaml" -f "$tmp/out1.yaml"
if [ "$rc" -eq 0 ]; then pass cross_file_ref; else fail cross_file_ref "exit $rc: $(cat "$tmp/out")"; fi
run -f "$tmp/pipe.yaml"
if [ "$rc" -eq 1 ] && grep -qF 'pipe.yaml:1: LogPipeline team-b/p: spec.routes[0].outputRef: LogOutput "console" not found in namespace "team-b"' "$tmp/out"; then
	pass missing_ref
else
	fail missing_ref "exit $rc: $(cat "$tmp/out")"
fi
cp "$tmp/out1.yaml" "$tmp/out2.yaml"
run -f "$tmp/out1.yaml" -f "$tmp/out2.yaml"
if [ "$rc" -eq 1 ] && grep -q 'out2.yaml:1: LogOutput team-b/console: metadata.name: LogOutput team-b/console is also defined at .*out1.yaml:1' "$tmp/out"; then
	pass duplicate_object
else
	fail duplicate_object "exit $rc: $(cat "$tmp/out")"
fi

# default namespace, and --control-namespace moves the control plane
cat >"$tmp/sys.yaml" <<'Y'
apiVersion: logplane.io/v1alpha1
kind: LogPipeline
metadata: {name: sys}
spec:
  input: {system: {enabled: true}}
  routes: [{outputRef: out}]
---
apiVersion: logplane.io/v1alpha1
kind: LogOutput
metadata: {name: out}
spec: {type: stdout}
Y
run -f "$tmp/sys.yaml"
if [ "$rc" -eq 1 ] && grep -qF 'sys.yaml:1: LogPipeline default/sys: spec.input.system: only pipelines in the control namespace "logplane-system"' "$tmp/out"; then
	pass default_namespace
else
	fail default_namespace "exit $rc: $(cat "$tmp/out")"
fi
run --control-namespace default -f "$tmp/sys.yaml"
if [ "$rc" -eq 0 ]; then pass control_namespace_flag; else fail control_namespace_flag "exit $rc: $(cat "$tmp/out")"; fi

# malformed YAML, unknown logplane kind: exit 1 with file and line; a missing
# file is a usage error (exit 2, one line on stderr), as in render
printf 'apiVersion: v1\nkind: ConfigMap\n---\nkey: [1, 2\n' >"$tmp/broken.yaml"
run -f "$tmp/broken.yaml"
if [ "$rc" -eq 1 ] && grep -q 'broken.yaml:5: column 1: did not find expected' "$tmp/out"; then
	pass malformed_yaml
else
	fail malformed_yaml "exit $rc: $(cat "$tmp/out")"
fi
printf 'apiVersion: logplane.io/v1alpha1\nkind: LogFilter\nmetadata: {name: x}\n' >"$tmp/kind.yaml"
run -f "$tmp/kind.yaml"
if [ "$rc" -eq 1 ] && grep -q 'kind.yaml:1: kind: unknown kind' "$tmp/out"; then
	pass unknown_kind
else
	fail unknown_kind "exit $rc: $(cat "$tmp/out")"
fi
run -f "$tmp/does-not-exist.yaml"
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
	grep -q 'logplane validate: .*does-not-exist.yaml: No such file or directory' "$tmp/err"; then
	pass missing_file
else
	fail missing_file "exit $rc: $(cat "$tmp/out")"
fi

# standard input, and -v notes the skipped objects
"$bin" validate -f - -v <tests/data/invalid/05-tenant-namespace.yaml >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -qF '<stdin>:46: LogPipeline team-a/team-a-logs: spec.input.system:' "$tmp/out" &&
	grep -qF '<stdin>:11: note: Secret team-a-aws skipped' "$tmp/out"; then
	pass stdin_and_notes
else
	fail stdin_and_notes "exit $rc: $(cat "$tmp/out" "$tmp/err")"
fi

# usage errors: exit 2, exactly one line on stderr, nothing on stdout
for args in "--bogus" "-f" "" "-f examples --frobnicate"; do
	# shellcheck disable=SC2086
	run $args
	name="usage/${args:-no_args}"
	name=${name// /_}
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && [ ! -s "$tmp/out" ]; then
		pass "$name"
	else
		fail "$name" "exit $rc, stderr: $(cat "$tmp/err")"
	fi
done
run --help
if [ "$rc" -eq 0 ] && grep -q 'usage: logplane validate' "$tmp/out"; then pass help; else fail help "exit $rc"; fi
exit 0
