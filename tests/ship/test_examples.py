"""The examples mean what they say.

- Namespaces live in examples/00-namespaces.yaml only, so `kubectl delete -f
  examples/03-...` against the in-repo API server deletes that example's
  objects and leaves logplane-system (and every other namespace) in place.
- Example 05 promises a per-pod throttle: its rendered config has the per-pod
  Lua token bucket at the promised rate and no pipeline-wide throttle filter.
- Example 04 keeps "kubernetes" (the pod metadata) and flattens afterwards: the
  rendered keepFields allowlist names kubernetes, and comes before the flatten."""
import glob
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "operator"))
from harness import TOP, Env, Reporter, apply_crds  # noqa: E402

import yaml  # noqa: E402

T = Reporter("examples")
BIN = os.environ.get("LP_BIN") or os.path.join(TOP, "build", "asan", "bin")


def docs(path):
    return [d for d in yaml.safe_load_all(open(path)) if d]


def render(example):
    out = tempfile.mkdtemp(prefix="lp-ex-")
    r = subprocess.run([os.path.join(BIN, "logplane"), "render", "-f", os.path.join(TOP, "examples", example),
                        "-o", out], capture_output=True, text=True, timeout=120)
    files = {}
    for f in glob.glob(os.path.join(out, "shipper", "*")):
        files[os.path.basename(f)] = open(f).read()
    subprocess.run(["rm", "-rf", out], check=False)
    return r, files


def namespaces_apart():
    files = sorted(glob.glob(os.path.join(TOP, "examples", "*.yaml")))
    ns_file = os.path.join(TOP, "examples", "00-namespaces.yaml")
    bad = [os.path.basename(f) for f in files if f != ns_file
           and any(d.get("kind") == "Namespace" for d in docs(f))]
    T.check("namespaces_in_own_file", os.path.exists(ns_file) and not bad
            and all(d.get("kind") == "Namespace" for d in docs(ns_file)),
            f"Namespace objects in {bad}")
    env = Env("examples")
    try:
        apply_crds(env)
        r = env.kubectl("apply", "-f", os.path.join(TOP, "examples") + "/", check=False, timeout=300)
        if not T.check("apply_all", r.returncode == 0, r.stderr[-400:]):
            return
        ex3 = os.path.join(TOP, "examples", "03-opensearch-slack-errors.yaml")
        r = env.kubectl("delete", "-f", ex3, "--wait=false", check=False)
        gone = env.get("logpipeline", "search-and-alerts", "logplane-system")
        ns = env.get("namespace", "logplane-system")
        T.check("delete_example_keeps_control_namespace",
                r.returncode == 0 and ns is not None and not ns["metadata"].get("deletionTimestamp")
                and (gone is None or gone["metadata"].get("deletionTimestamp"))
                and env.get("logoutput", "app-stream", "logplane-system") is not None,
                f"delete rc={r.returncode} {r.stderr[-300:]}; namespace {ns and ns.get('metadata')}")
    finally:
        env.close()


def throttle_per_pod():
    doc = [d for d in docs(os.path.join(TOP, "examples", "05-tenant-namespace.yaml")) if d["kind"] == "LogPipeline"][0]
    th = [t["throttle"] for t in doc["spec"]["transforms"] if "throttle" in t][0]
    r, files = render("05-tenant-namespace.yaml")
    lua = files.get("logplane.lua", "")
    conf = files.get("fluent-bit.yaml", "")
    T.check("example05_per_pod_throttle",
            r.returncode == 0 and th.get("perPod") is True
            and re.search(r"lp_make_pod_throttle\(%d," % th["rate"], lua)
            and not re.search(r"name: throttle\b", conf),
            f"rc={r.returncode} perPod={th.get('perPod')} lua has pod throttle: {'lp_make_pod_throttle(' in lua}")


def keep_before_flatten():
    r, files = render("04-json-flatten-cloudwatch.yaml")
    conf = files.get("fluent-bit.yaml", "")
    m = re.search(r"allowlist_key:\n((?:\s+- .*\n)+)", conf)
    keys = re.findall(r"- (\S+)", m.group(1)) if m else []
    keep_at = conf.find("allowlist_key:")
    lua = files.get("logplane.lua", "")
    flat_fn = re.search(r"(lp_fn_\d+) = lp_make_flatten", lua)
    flat_at = conf.find("call: " + flat_fn.group(1)) if flat_fn else -1
    T.check("example04_keeps_kubernetes_before_flatten",
            r.returncode == 0 and "kubernetes" in keys and 0 <= keep_at < flat_at,
            f"rc={r.returncode} allowlist {keys}, keep at {keep_at}, flatten call at {flat_at}")


def main():
    namespaces_apart()
    throttle_per_pod()
    keep_before_flatten()


if __name__ == "__main__":
    T.run(main)
