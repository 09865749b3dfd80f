#!/usr/bin/env bash
# The Helm charts and the kustomize config: lint, render with defaults and with
# every optional switch on (output parsed as YAML), CRDs equal to crds/, the
# kustomize build equal to the chart's objects, every value documented.
# Prints one PASS/FAIL line per case.
set -u
top="${LP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$top"
helm="$top/.deps/bin/helm"
py=/usr/bin/python3
check="$top/tests/ship/chartcheck.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp/home" HELM_CACHE_HOME="$tmp/helm/cache" HELM_CONFIG_HOME="$tmp/helm/config" \
	HELM_DATA_HOME="$tmp/helm/data"
mkdir -p "$HOME"
rel=logplane
ns=logplane-system
fails=0

pass() { echo "PASS chart:$1"; }
fail() {
	echo "FAIL chart:$1: $2"
	fails=$((fails + 1))
}
# run NAME CMD...: PASS when CMD succeeds, else FAIL with its last output lines
run() {
	local name="$1" out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"
	fi
}

if [ ! -x "$helm" ]; then
	fail setup "helm not found at $helm (run hack/install-deps.sh)"
	exit 1
fi

all_switches=(--set serviceMonitor.enabled=true --set prometheusRule.enabled=true
	--set grafanaDashboard.enabled=true --set podDisruptionBudget.enabled=true
	--set networkPolicy.enabled=true --set replicaCount=2
	--set-string 'serviceAccount.annotations.eks\.amazonaws\.com/role-arn=arn:aws:iam::111122223333:role/logplane'
	--set aws.region=eu-west-1 --set 'extraArgs[0]=--log-level=debug')

run lint "$helm" lint --strict charts/logplane
run lint_all_switches "$helm" lint --strict charts/logplane "${all_switches[@]}"
run lint_crds_chart "$helm" lint --strict charts/logplane-crds

tpl() { # out-file, args...
	local out="$1"
	shift
	"$helm" template "$rel" charts/logplane -n "$ns" "$@" >"$out"
}
if tpl "$tmp/default.yaml"; then
	run template_defaults "$py" "$check" defaults "$tmp/default.yaml"
else
	fail template_defaults "helm template failed"
fi
if tpl "$tmp/all.yaml" "${all_switches[@]}"; then
	run template_all_switches "$py" "$check" switches "$tmp/all.yaml"
else
	fail template_all_switches "helm template failed"
fi

# another release name: the hub's Service, token and alerts Secrets all follow it
if "$helm" template other charts/logplane -n "$ns" >"$tmp/other.yaml"; then
	run hub_secret_names "$py" "$check" hubnames "$tmp/other.yaml"
else
	fail hub_secret_names "helm template failed"
fi

if tpl "$tmp/control.yaml" --set controlNamespace=logging-agents --set serviceMonitor.enabled=true; then
	run template_control_namespace "$py" "$check" control "$tmp/control.yaml" logging-agents
else
	fail template_control_namespace "helm template failed"
fi

# the open-files helper: the operator image by default (also by digest), another
# image when set, none when switched off
nofile_case() { # name, want, helm args...
	local name="$1" want="$2"
	shift 2
	if tpl "$tmp/nofile.yaml" "$@"; then
		run "$name" "$py" "$check" nofile "$tmp/nofile.yaml" "$want"
	else
		fail "$name" "helm template failed"
	fi
}
nofile_case nofile_helper_default @operator
if tpl "$tmp/limits.yaml" && "$py" "$check" limits "$tmp/limits.yaml" 200,100,16,1Mi >/dev/null &&
	tpl "$tmp/limits.yaml" --set limits.alertOutputsPerNamespace=4 --set limits.outputsPerNamespace=7 &&
	"$py" "$check" limits "$tmp/limits.yaml" 200,7,4,1Mi >/dev/null; then
	pass limits_reach_operator
else
	fail limits_reach_operator "the limits values do not reach the operator's arguments"
fi
nofile_case nofile_helper_follows_digest @operator --set image.digest=sha256:0123456789abcdef
nofile_case nofile_helper_image reg.example/helper:2 --set fluentBit.openFilesHelper.image=reg.example/helper:2
nofile_case nofile_helper_off "" --set fluentBit.openFilesHelper.enabled=false

# a bad value gets a clear error naming the key
if out=$(tpl "$tmp/bad.yaml" --set serviceAccount.create=false 2>&1); then
	fail bad_value_rejected "serviceAccount.create=false without a name was accepted"
elif ! printf '%s' "$out" | grep -q 'serviceAccount.name is required'; then
	fail bad_value_rejected "error does not name serviceAccount.name: $out"
else
	pass bad_value_rejected
fi

run crds_synced bash hack/sync-crds.sh --check
run crds_equal_in_chart "$py" "$check" crds "$tmp/default.yaml" crds
if "$helm" template logplane-crds charts/logplane-crds >"$tmp/crds.yaml" 2>"$tmp/crds.err"; then
	run crds_equal_in_crds_chart "$py" "$check" crds "$tmp/crds.yaml" crds
else
	fail crds_equal_in_crds_chart "$(tail -n 3 "$tmp/crds.err")"
fi
if tpl "$tmp/nocrds.yaml" --set crds.install=false &&
	! grep -q 'kind: CustomResourceDefinition' "$tmp/nocrds.yaml"; then
	pass crds_switch_off
else
	fail crds_switch_off "crds.install=false still renders CRDs"
fi

if kubectl kustomize config/default >"$tmp/kustomize.yaml" 2>"$tmp/kustomize.err"; then
	run kustomize_matches_chart "$py" "$check" same "$tmp/default.yaml" "$tmp/kustomize.yaml"
else
	fail kustomize_matches_chart "kubectl kustomize config/default: $(tail -n 3 "$tmp/kustomize.err")"
fi
if kubectl kustomize config/samples >"$tmp/samples.yaml" 2>"$tmp/samples.err"; then
	pass kustomize_samples
else
	fail kustomize_samples "$(tail -n 3 "$tmp/samples.err")"
fi

run values_documented "$py" "$check" values charts/logplane/values.yaml docs/helm.md
exit $((fails > 0))
