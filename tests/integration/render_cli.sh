#!/usr/bin/env bash
# logplane render end to end: exit codes, stdout vs -o DIR, env.json, problems,
# determinism, directory input, --fields-table. Prints PASS/FAIL per case.
set -u
top="${LP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${LP_BIN:-$top/build/asan/bin}/logplane"
cases="$top/tests/data/render/cases"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lp-render-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
[ -x "$py" ] || py=python3

pass() { echo "PASS render_cli:$1"; }
fail() { echo "FAIL render_cli:$1: $2"; }

if [ ! -x "$bin" ]; then
	fail setup "no $bin (build with make asan-bins)"
	exit 1
fi

# 1. usage errors exit 2
"$bin" render >/dev/null 2>"$tmp/err"; rc=$?
if [ "$rc" -eq 2 ] && grep -q usage "$tmp/err"; then pass usage; else fail usage "rc=$rc"; fi
"$bin" render -f "$tmp/does-not-exist.yaml" >/dev/null 2>"$tmp/err"; rc=$?
if [ "$rc" -eq 2 ] && grep -q "does-not-exist" "$tmp/err"; then pass missing_file; else fail missing_file "rc=$rc"; fi
"$bin" render -f "$cases/out-s3.yaml" -o /proc/logplane-x >/dev/null 2>"$tmp/err"; rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q 'cannot create -o /proc/logplane-x: ' "$tmp/err"; then
	pass unwritable_output_dir
else
	fail unwritable_output_dir "rc=$rc stderr: $(cat "$tmp/err")"
fi
"$bin" render -f "$cases/out-s3.yaml" --bogus >/dev/null 2>&1; rc=$?
if [ "$rc" -eq 2 ]; then pass unknown_flag; else fail unknown_flag "rc=$rc"; fi

# 2. without -o: the entry file on stdout, the summary on stderr
"$bin" render -f "$cases/out-s3.yaml" >"$tmp/out.yaml" 2>"$tmp/sum"; rc=$?
if [ "$rc" -eq 0 ] && head -1 "$tmp/out.yaml" | grep -q '^service:' &&
	grep -q '^  - name: s3$' "$tmp/out.yaml" && grep -q '^LogPipeline logplane-system/p1: ' "$tmp/sum" &&
	grep -q '^shipper: 1 file(s), [0-9]* bytes, sha256 [0-9a-f]\{64\}$' "$tmp/sum"; then
	pass stdout
else
	fail stdout "rc=$rc $(head -c 300 "$tmp/sum")"
fi
if "$py" -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert d["pipeline"]["outputs"][0]["name"] == "s3"' "$tmp/out.yaml" 2>"$tmp/pyerr"; then
	pass stdout_is_yaml
else
	fail stdout_is_yaml "$(tail -1 "$tmp/pyerr")"
fi

# 3. -o DIR: files, env.json naming Secrets, nothing secret in the text
"$bin" render -f "$cases/out-http.yaml" -o "$tmp/http" >"$tmp/sum" 2>&1; rc=$?
if [ "$rc" -eq 0 ] && [ -s "$tmp/http/shipper/fluent-bit.yaml" ] && [ -s "$tmp/http/env.json" ] &&
	"$py" - "$tmp/http/env.json" "$tmp/http/shipper/fluent-bit.yaml" <<'PY'
import json, re, sys
env = json.load(open(sys.argv[1]))
names = {e["name"] for e in env["env"]}
assert any(e["secretName"] == "ingest-token" and e["secretKey"] == "token" for e in env["env"]), env
text = open(sys.argv[2]).read()
used = set(re.findall(r"\$\{([A-Z0-9_]+)\}", text)) - {"NODE_IP", "NODE_NAME"}
assert used and used <= names, (used, names)
assert len(env["shipperHash"]) == 64
PY
then
	pass output_dir_env
else
	fail output_dir_env "rc=$rc $(cat "$tmp/sum" | head -3)"
fi

# 3b. AWS outputs with secretRef: one profile each in env.json, no AWS keys in env
"$bin" render -f "$cases/aws-profiles.yaml" -o "$tmp/aws" >"$tmp/sum" 2>&1; rc=$?
if [ "$rc" -eq 0 ] && [ -s "$tmp/aws/env.json" ] &&
	"$py" - "$tmp/aws/env.json" "$tmp/aws/shipper/fluent-bit.yaml" <<'PY'
import json, sys
env = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
assert not any(e["name"].startswith("AWS_") for e in env["env"]), env["env"]
prof = {(p["secretNamespace"], p["secretName"]): p for p in env["awsProfiles"]}
assert set(prof) == {("team-a", "a-keys"), ("team-b", "b-keys")}, prof
a, b = prof[("team-a", "a-keys")], prof[("team-b", "b-keys")]
assert a["profile"] != b["profile"] and "sessionTokenKey" not in a, prof
assert (b["accessKeyIdKey"], b["secretAccessKeyKey"], b["sessionTokenKey"]) == ("id", "secret", "token"), b
assert "profile: " + a["profile"] + "\n" in text and "aws_profile: " + b["profile"] + "\n" in text
PY
then
	pass aws_profiles_env
else
	fail aws_profiles_env "rc=$rc $(head -3 "$tmp/sum")"
fi

# 4. aggregator: both configs written, Fluentd syntax for the fluentd engine
"$bin" render -f "$cases/aggregator-fluentd.yaml" -o "$tmp/agg" >"$tmp/sum" 2>&1; rc=$?
if [ "$rc" -eq 0 ] && [ -s "$tmp/agg/aggregator/fluent.conf" ] && grep -q '^<source>' "$tmp/agg/aggregator/fluent.conf" &&
	grep -q 'aggregator (fluentd): 1 file(s)' "$tmp/sum" && grep -q 'name: forward' "$tmp/agg/shipper/fluent-bit.yaml"; then
	pass aggregator_fluentd
else
	fail aggregator_fluentd "rc=$rc"
fi

# 5. one invalid resource is left out, the rest render, exit 1
"$bin" render -f "$cases/invalid-left-out.yaml" >"$tmp/out.yaml" 2>"$tmp/sum"; rc=$?
n=$(grep -c '^problem: ' "$tmp/sum")
if [ "$rc" -eq 1 ] && [ "$n" -ge 3 ] && grep -q 'problem: LogPipeline logplane-system/dangling spec.routes\[0\].outputRef' "$tmp/sum" &&
	grep -q '^LogPipeline logplane-system/good: ' "$tmp/sum" && grep -q 'name: stdout' "$tmp/out.yaml"; then
	pass invalid_left_out
else
	fail invalid_left_out "rc=$rc problems=$n"
fi

# 6. deterministic: same input, same bytes and hash
"$bin" render -f "$cases/route-match.yaml" -o "$tmp/d1" >/dev/null 2>&1
"$bin" render -f "$cases/route-match.yaml" -o "$tmp/d2" >/dev/null 2>&1
if cmp -s "$tmp/d1/shipper/fluent-bit.yaml" "$tmp/d2/shipper/fluent-bit.yaml" && cmp -s "$tmp/d1/env.json" "$tmp/d2/env.json"; then
	pass deterministic
else
	fail deterministic "outputs differ"
fi

# 7. a directory: every YAML under it (the examples), Secrets and Namespaces skipped
"$bin" render -f "$top/examples" -o "$tmp/ex" >"$tmp/sum" 2>&1; rc=$?
np=$(grep -c '^LogPipeline ' "$tmp/sum")
if [ "$rc" -eq 0 ] && [ "$np" -ge 5 ] && [ -s "$tmp/ex/shipper/fluent-bit.yaml" ]; then
	pass directory
else
	fail directory "rc=$rc pipelines=$np"
fi

# 8. --fields-table is docs/fields.md
"$bin" render --fields-table >"$tmp/fields.md"; rc=$?
if [ "$rc" -eq 0 ] && cmp -s "$tmp/fields.md" "$top/docs/fields.md"; then
	pass fields_table
else
	fail fields_table "rc=$rc or docs/fields.md is stale"
fi
