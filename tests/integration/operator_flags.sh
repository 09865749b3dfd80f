#!/usr/bin/env bash
# logplane-operator's command line: --help prints the flag table (every flag
# with its environment variable and default), a bad flag or value is one line
# on stderr and exit 2, and an unreachable configuration fails cleanly (exit 1).
set -u
top="${LP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}"
op="${LP_BIN:-$top/build/asan/bin}/logplane-operator"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "PASS operator_flags:$1"; }
fail() { echo "FAIL operator_flags:$1: $2"; }

if [ ! -x "$op" ]; then
	fail setup "no operator binary at $op"
	exit 1
fi

out=$(timeout 20 "$op" --help 2>&1); rc=$?
missing=""
for f in kubeconfig control-namespace leader-elect lease-name resync debounce metrics-addr health-addr \
	log-format log-level fluentbit-image aggregator-image id agent-config; do
	echo "$out" | grep -q -- "--$f " || missing="$missing $f"
done
if [ "$rc" -eq 0 ] && [ -z "$missing" ] && echo "$out" | grep -q "LOGPLANE_RESYNC" &&
	echo "$out" | grep -q "default fluent/fluent-bit:5.1.1"; then
	pass help_table
else
	fail help_table "rc=$rc missing:$missing"
fi

check_bad() { # name, expected text, args...
	local name="$1" want="$2"
	shift 2
	timeout 20 "$op" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$? lines
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "$want" "$tmp/err" && [ ! -s "$tmp/out" ]; then
		pass "$name"
	else
		fail "$name" "rc=$rc lines=$lines stderr=$(head -c 300 "$tmp/err")"
	fi
}
check_bad unknown_flag 'unknown flag "--nope"' --nope
check_bad bad_duration '"--resync": "5 parsecs" is not a duration\|--resync: "5 parsecs" is not a duration' --resync "5 parsecs"
check_bad bad_choice 'not one of json|text' --log-format xml
check_bad missing_value 'needs a value' --kubeconfig
check_bad bad_addr 'is not an address' --health-addr nowhere
LOGPLANE_LOG_LEVEL=chatty check_bad bad_env '\$LOGPLANE_LOG_LEVEL' --help
check_bad bad_event_window '"--event-window": "soon" is not a duration\|--event-window: "soon" is not a duration' --event-window soon
if echo "$out" | grep -q -e "event-window" -e "aws-requeue"; then
	fail hidden_flags "--help shows the tests' --event-window or --aws-requeue"
else
	pass hidden_flags
fi
check_bad stray_argument 'unexpected argument' run
printf '{"fluentBit": {"tolerations": {"operator": "Exists"}}}' >"$tmp/agents-bad.json"
check_bad bad_agent_config 'agents-bad.json: fluentBit.tolerations: must be an array' \
	--agent-config "$tmp/agents-bad.json"
printf '{"fluentBit": {"image": "x"},' >"$tmp/agents-trunc.json"
check_bad agent_config_not_json 'agents-trunc.json: not JSON' --agent-config "$tmp/agents-trunc.json"
LOGPLANE_AGENT_CONFIG="$tmp/agents-missing.json" check_bad agent_config_missing \
	'--agent-config: .*agents-missing.json: No such file'

timeout 20 "$op" --kubeconfig "$tmp/none.yaml" --metrics-addr 0 --health-addr 0 >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q "none.yaml" "$tmp/out" && ! grep -q Sanitizer "$tmp/out"; then
	pass missing_kubeconfig
else
	fail missing_kubeconfig "rc=$rc $(head -c 300 "$tmp/out")"
fi
