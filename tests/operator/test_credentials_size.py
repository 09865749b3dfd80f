"""The agents' credentials stay under what a real API server accepts in one
Secret (1 MiB of keys and decoded values; kubesim refuses more, as
kube-apiserver does): two tenants whose outputs carry ~700 KB of CA bundles
each (1.4 MB together, which made one 1.4 MB credentials Secret before) get
their credentials split across Secrets that each fit, every file the
DaemonSet mounts is in one of them, and the pipelines become Ready.

Runs against kubesim and, with LP_APISERVER=real, against etcd + kube-apiserver."""
# lp-apiserver: both
import base64
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, is_ready, namespace,  # noqa: E402
                     output, pipeline, secret, template_refs, wait_until)

T = Reporter("credentials_size")
MIB = 1024 * 1024


def ca_bundle(tmp, name, size):
    """A PEM bundle of about size bytes: one fresh self-signed certificate, repeated."""
    key, crt = os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + name],
                   check=True, capture_output=True)
    with open(crt) as f:
        one = f.read()
    return one * (size // len(one))


def secret_bytes(s):
    """What the API server counts: keys plus decoded values."""
    return sum(len(k) + len(base64.b64decode(v)) for k, v in ((s or {}).get("data") or {}).items())


def main():
    env = Env("credsize")
    apply_crds(env)
    objs, big = [namespace(CTRL_NS)], []
    for t in ("a", "b"):
        ns = "big-" + t
        objs.append(namespace(ns))
        outs = []
        for i in (1, 2):
            big.append(secret(ns, f"ca{i}", {"ca.crt": ca_bundle(env.tmp, f"{ns}-{i}", 350 * 1024)}))
            objs.append(output(ns, f"loki{i}", {"type": "loki", "loki": {
                "host": f"loki{i}.example.com", "tls": {"caSecretRef": {"name": f"ca{i}"}}}}))
            outs.append(f"loki{i}")
        objs.append(pipeline(ns, "app", outs))
    env.apply(objs[:1] + [o for o in objs if o["kind"] == "Namespace"][1:])
    # created, not applied: kubectl apply's last-applied annotation would exceed 256 KiB
    env.kubectl("create", "-f", "-", input="\n".join(json.dumps(o) for o in big))
    env.apply([o for o in objs if o["kind"] != "Namespace"])
    op = env.start_operator("--resync", "5s", "--debounce", "300ms")

    def ready():
        return all(is_ready(env.get("lp", "app", "big-" + t)) for t in ("a", "b"))
    ok = wait_until(ready, 90, 0.5)
    T.check("pipelines_ready", ok, json.dumps([(env.get("lp", "app", "big-" + t) or {}).get("status")
                                               for t in ("a", "b")])[:800] + env.tail(op.log_path, 10))
    ds = env.get("daemonset", "logplane-fluent-bit", CTRL_NS) or {}
    names = template_refs(ds, "secret")
    secrets = {n: env.get("secret", n, CTRL_NS) for n in names}
    sizes = {n: secret_bytes(s) for n, s in secrets.items()}
    print(f"# credentials Secrets the DaemonSet refers to: {json.dumps(sizes)}", flush=True)
    T.check("split_across_secrets", len(names) >= 2 and all(s is not None for s in secrets.values()),
            json.dumps(sizes))
    T.check("each_under_1mib", sizes and all(v <= MIB for v in sizes.values()), json.dumps(sizes))
    T.check("together_over_1mib", sum(sizes.values()) > 1.3 * MIB, json.dumps(sizes))
    # every CA file mounted with subPath is a key of a Secret of the projected volume
    spec = ds.get("spec", {}).get("template", {}).get("spec", {})
    vol = {v["name"]: v for v in spec.get("volumes") or []}.get("credential-files") or {}
    keys = {}
    for src in (vol.get("projected") or {}).get("sources") or []:
        s = secrets.get((src.get("secret") or {}).get("name")) or {}
        for it in (src.get("secret") or {}).get("items") or []:
            if it["key"] in (s.get("data") or {}):
                keys[it["path"]] = True
    mounts = [m for m in spec.get("containers", [{}])[0].get("volumeMounts") or []
              if m.get("name") == "credential-files"]
    T.check("four_ca_files_mounted", len(mounts) == 4 and all(m.get("subPath") in keys for m in mounts),
            json.dumps(mounts)[:600])
    log = env.operator_log(op)
    T.check("no_refused_write", "Too long" not in log and "apply Secret" not in log,
            "\n".join(ln for ln in log.splitlines() if "Too long" in ln or "failed" in ln)[:600])
    clean_exit(T, env, op, "sigterm_exit_0")


if __name__ == "__main__":
    T.run(main)
