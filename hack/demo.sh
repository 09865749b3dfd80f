#!/usr/bin/env bash
# make demo: logplane end to end on this machine, without a cluster.
#
# Starts the in-repo API server (tests/kubesim, TLS + token) and the AWS
# emulators (kinesalite, s3rver, and the signature-checking fakes for
# Firehose, CloudWatch Logs, STS and the S3 bucket settings) on 127.0.0.1,
# applies crds/ and examples/ with kubectl, runs the operator, waits (bounded)
# for Ready, and prints what there is to see.
#
# The examples point at real AWS. The demo applies a patched copy: every AWS
# output gets spec.aws.endpoint of a local emulator (Kinesis: kinesalite; S3,
# Firehose, CloudWatch Logs: the fakes, which also implement the bucket
# settings s3rver lacks). Credentials stay as the examples write them: an
# output in the control namespace assumes its roleArn (through the fake STS,
# on top of the operator's own identity, the fakes' test key, from its
# environment); a tenant's output keeps its own Secret, rendered as its own
# AWS profile. Only the Secret's values are swapped for the test key, the one
# key the signature-checking fakes know.
# Everything stays up until Ctrl-C; DEMO_EXIT=1 stops after printing.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
demo="$top/build/demo"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
wait_s=${DEMO_WAIT_SECONDS:-90}
ks_pid=""
op_pid=""
aws_started=0

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() {
	echo "demo: $*" >&2
	exit 1
}

cleanup() {
	trap - EXIT INT TERM
	if [ -n "$op_pid" ] && kill -0 "$op_pid" 2>/dev/null; then
		kill -TERM "$op_pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$op_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$op_pid" 2>/dev/null
	fi
	if [ -n "$ks_pid" ] && kill -0 "$ks_pid" 2>/dev/null; then
		kill -TERM "$ks_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$ks_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$ks_pid" 2>/dev/null
	fi
	[ "$aws_started" = 1 ] && bash tests/aws/servers.sh stop "$demo/aws" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'echo; echo "demo: stopping"; exit 0' INT TERM

# ---- dependencies and build (both idempotent) ----
if [ -z "${DEMO_SKIP_DEPS:-}" ]; then
	bash hack/install-deps.sh || die "installing dependencies failed"
fi
make --no-print-directory -s all >/dev/null || die "build failed (run make all to see why)"
command -v kubectl >/dev/null || die "kubectl not found on PATH"

rm -rf "$demo"
mkdir -p "$demo"
kc="$demo/kubeconfig"
export KUBECONFIG="$kc"
k() { timeout 120 kubectl --request-timeout=30s "$@"; }

# ---- the API server ----
say "starting kubesim (TLS, bearer token) on 127.0.0.1"
"$py" tests/kubesim/kubesim --port 0 --tls-dir "$demo/tls" --token demo-admin-token \
	--kubeconfig-out "$kc" --admin-port 0 --nodes 3 --state "$demo/state.json" \
	>"$demo/kubesim.log" 2>&1 &
ks_pid=$!
for _ in $(seq 150); do [ -s "$kc" ] && break; sleep 0.1; done
[ -s "$kc" ] || die "kubesim did not start: $(tail -n 5 "$demo/kubesim.log")"
echo "API server: $(grep -m1 'server:' "$kc" | awk '{print $2}')"

# ---- the AWS emulators ----
say "starting the AWS emulators (kinesalite, s3rver, fakes) on 127.0.0.1"
LP_AWS_LIFETIME=${LP_AWS_LIFETIME:-86400} bash tests/aws/servers.sh start "$demo/aws" $$ ||
	die "the AWS emulators did not start (see $demo/aws/*.log)"
aws_started=1
cat "$demo/aws/ports.json"; echo

# ---- CRDs and examples ----
say "kubectl apply -f crds/"
k apply -f crds/ || die "applying the CRDs failed"
k wait --for=condition=Established crd/logpipelines.logplane.io crd/logoutputs.logplane.io \
	--timeout=30s >/dev/null || die "CRDs not established"

say "kubectl apply -f examples/ (AWS outputs pointed at the emulators)"
"$py" - "$demo/aws/ports.json" "$demo/examples.yaml" examples/*.yaml <<'EOF' || die "patching the examples failed"
import json, sys, yaml
ports = json.load(open(sys.argv[1]))
out_path, files = sys.argv[2], sys.argv[3:]
emulated = {"kinesis": "kinesalite", "s3": "s3", "firehose": "firehose", "cloudwatch": "logs"}
test_key = {"AWS_ACCESS_KEY_ID": "AKIDLOGPLANETEST",
            "AWS_SECRET_ACCESS_KEY": "logplane/test+secret/K7MDENGbPxRfiCYEXAMPLEKEY"}
docs, tenant_secrets = [], set()
for f in files:
    for d in yaml.safe_load_all(open(f)):
        if not d:
            continue
        spec = d.get("spec") or {}
        if d.get("kind") == "LogOutput" and spec.get("type") in emulated:
            ns = d["metadata"].get("namespace", "default")
            aws = spec.setdefault("aws", {})
            aws["endpoint"] = "http://127.0.0.1:%d" % ports[emulated[spec["type"]]]
            kp = (spec.get("kinesis") or {}).get("provision") or {}
            if kp.get("mode") == "onDemand":  # kinesalite has no on-demand streams
                kp["mode"] = "provisioned"
                kp["shardCount"] = 1
                print("  %s/%s: on-demand stream made provisioned (1 shard) for kinesalite"
                      % (ns, d["metadata"]["name"]))
            ref = ((aws.get("credentials") or {}).get("secretRef") or {}).get("name")
            if ref:
                tenant_secrets.add((ns, ref))
            print("  %s/%s (%s) -> %s" % (ns, d["metadata"]["name"], spec["type"], aws["endpoint"]))
        docs.append(d)
for d in docs:
    m = d.get("metadata") or {}
    if d.get("kind") == "Secret" and (m.get("namespace"), m.get("name")) in tenant_secrets:
        d.pop("data", None)
        d["stringData"] = dict(test_key)
# namespaces first
ns_docs = [d for d in docs if d.get("kind") == "Namespace"]
rest = [d for d in docs if d.get("kind") != "Namespace"]
with open(out_path, "w") as f:
    yaml.safe_dump_all(ns_docs + rest, f, sort_keys=False)
EOF
k apply -f "$demo/examples.yaml" || die "applying the examples failed"

port_of() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$demo/aws/ports.json" "$1"; }

# ---- the operator ----
say "starting logplane-operator"
AWS_ACCESS_KEY_ID=AKIDLOGPLANETEST AWS_SECRET_ACCESS_KEY=logplane/test+secret/K7MDENGbPxRfiCYEXAMPLEKEY \
	AWS_SESSION_TOKEN="" AWS_PROFILE="" \
	AWS_ENDPOINT_URL_STS="http://127.0.0.1:$(port_of sts)" \
	bin/logplane-operator --kubeconfig "$kc" --log-format text --resync 30s \
	--metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 >"$demo/operator.log" 2>&1 &
op_pid=$!
echo "operator pid $op_pid, log $demo/operator.log"

# ---- wait for Ready (bounded) ----
say "waiting up to ${wait_s}s for every LogPipeline and LogOutput to be Ready"
ready_state() {
	k get lp,lo -A -o json 2>/dev/null | "$py" -c '
import json, sys
items = json.load(sys.stdin)["items"]
def ready(o):
    st = o.get("status") or {}
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or []) \
        and st.get("observedGeneration") == o["metadata"].get("generation")
print(sum(map(ready, items)), len(items))'
}
all_ready=0
end=$((SECONDS + wait_s))
while [ $SECONDS -lt $end ]; do
	kill -0 "$op_pid" 2>/dev/null || die "the operator exited: $(tail -n 20 "$demo/operator.log")"
	read -r n total <<<"$(ready_state)"
	if [ -n "${total:-}" ] && [ "$total" -gt 0 ] && [ "$n" = "$total" ]; then
		all_ready=1
		break
	fi
	sleep 1
done
read -r n total <<<"$(ready_state)"
echo "$n of $total resources Ready"

say "kubectl get lp,lo -A"
k get lp,lo -A

say "conditions"
k get lp,lo -A -o json | "$py" -c '
import json, sys
for o in json.load(sys.stdin)["items"]:
    m = o["metadata"]
    st = o.get("status") or {}
    print("%s %s/%s (generation %s, observed %s)" % (o["kind"], m["namespace"], m["name"],
          m.get("generation"), st.get("observedGeneration")))
    for c in sorted(st.get("conditions") or [], key=lambda c: c["type"]):
        print("  %-20s %-8s %-14s %s" % (c["type"], c["status"], c.get("reason", ""), c.get("message", "")))
    if st.get("configHash"):
        print("  configHash %.12s" % st["configHash"])
    for r in st.get("outputs") or []:
        print("  -> %-17s delivered %-7s %-14s %s" % (r.get("name"), r.get("delivered"), r.get("reason", ""),
                                                      r.get("message", "")))
    if "pipelineCount" in st:
        print("  <- %d pipelines: %s" % (st["pipelineCount"], ", ".join(st.get("pipelines") or []) or "none"))
    for p in st.get("problems") or []:
        print("  problem %s: %s" % (p.get("field"), p.get("message")))
'

say "owned objects (label app.kubernetes.io/managed-by=logplane)"
k get configmaps,secrets,serviceaccounts,daemonsets,statefulsets,services,poddisruptionbudgets \
	-n logplane-system -l app.kubernetes.io/managed-by=logplane
k get clusterroles,clusterrolebindings -l app.kubernetes.io/managed-by=logplane

# the ConfigMaps are named by their content: the first one the DaemonSet's config volume lists has the entry file
cm=$(k get daemonset logplane-fluent-bit -n logplane-system \
	-o 'jsonpath={.spec.template.spec.volumes[?(@.name=="config")].projected.sources[0].configMap.name}' 2>/dev/null)
say "rendered shipper config (first 40 lines of ConfigMap logplane-system/${cm:-logplane-fluent-bit-config-...})"
k get configmap "${cm:-none}" -n logplane-system -o json 2>/dev/null | "$py" -c '
import json, sys
d = json.load(sys.stdin).get("data") or {}
name = "fluent-bit.yaml" if "fluent-bit.yaml" in d else (sorted(d)[0] if d else None)
if name:
    print("# " + name + " (" + str(len(d[name])) + " bytes; files: " + ", ".join(sorted(d)) + ")")
    print("\n".join(d[name].splitlines()[:40]))
'

echo
if [ "$all_ready" = 1 ]; then
	echo "demo: all $total resources are Ready."
else
	echo "demo: not everything became Ready within ${wait_s}s (see the conditions above and $demo/operator.log)."
fi
echo "To point kubectl at it: export KUBECONFIG=$kc"
if [ "${DEMO_EXIT:-}" = 1 ]; then
	exit 0
fi
echo "Running until Ctrl-C."
while kill -0 "$op_pid" 2>/dev/null && kill -0 "$ks_pid" 2>/dev/null; do sleep 1; done
die "a process stopped: see $demo/operator.log and $demo/kubesim.log"
