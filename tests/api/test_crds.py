#!/usr/bin/env python3
"""The CRDs in crds/: generated from hack/gen-crds.py, structural, without
defaults, and accepting every example while rejecting typical mistakes.
Run with Debian's python3 (needs python3-yaml). Prints PASS/FAIL lines."""
import os
import re
import subprocess
import sys

import yaml

TOP = os.environ.get("LP_TOP") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
failures = 0


def report(name, problems):
    global failures
    if problems:
        failures += 1
        print("FAIL crds:%s: %s" % (name, "; ".join(str(p) for p in problems[:5])))
    else:
        print("PASS crds:%s" % name)


def load(rel):
    with open(os.path.join(TOP, rel)) as f:
        return list(d for d in yaml.safe_load_all(f) if d)


# ---------- a small structural-schema validator (what the API server checks) ----------

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def validate(schema, value, path, out):
    t = schema.get("type")
    if t == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            out.append("%s: must be an integer" % path)
            return
    elif t in TYPES and not isinstance(value, TYPES[t]):
        out.append("%s: must be %s" % (path, t))
        return
    if "enum" in schema and value not in schema["enum"]:
        out.append("%s: unsupported value %r" % (path, value))
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append("%s: does not match %s" % (path, schema["pattern"]))
        if len(value) > schema.get("maxLength", 1 << 30):
            out.append("%s: too long" % path)
        if len(value) < schema.get("minLength", 0):
            out.append("%s: too short" % path)
    if t == "integer":
        if value < schema.get("minimum", -(1 << 62)) or value > schema.get("maximum", 1 << 62):
            out.append("%s: out of range" % path)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 1 << 30):
            out.append("%s: wrong number of items" % path)
        for i, v in enumerate(value):
            validate(schema.get("items", {}), v, "%s[%d]" % (path, i), out)
    if isinstance(value, dict):
        if len(value) < schema.get("minProperties", 0) or \
                len(value) > schema.get("maxProperties", 1 << 30):
            out.append("%s: wrong number of properties" % path)
        for r in schema.get("required", []):
            if r not in value:
                out.append("%s.%s: required" % (path, r))
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if props is not None and k in props:
                validate(props[k], v, "%s.%s" % (path, k), out)
            elif isinstance(extra, dict):
                validate(extra, v, "%s.%s" % (path, k), out)
            elif props is not None:
                out.append("%s.%s: unknown field" % (path, k))


def walk_schema(s, path, fn):
    fn(s, path)
    for k, v in (s.get("properties") or {}).items():
        walk_schema(v, path + "." + k, fn)
    if isinstance(s.get("items"), dict):
        walk_schema(s["items"], path + "[]", fn)
    if isinstance(s.get("additionalProperties"), dict):
        walk_schema(s["additionalProperties"], path + ".*", fn)


crds = {}
problems = []
for rel in ("crds/logpipelines.yaml", "crds/logoutputs.yaml"):
    docs = load(rel)
    if len(docs) != 1:
        problems.append("%s: want one document" % rel)
        continue
    crds[docs[0]["spec"]["names"]["kind"]] = docs[0]
report("two_crds", problems if len(crds) == 2 else problems + ["missing CRDs"])

# generated file is current
r = subprocess.run([sys.executable, os.path.join(TOP, "hack/gen-crds.py"), "--check"],
                   capture_output=True, text=True)
report("generated_up_to_date", [] if r.returncode == 0 else [r.stdout.strip() or r.stderr.strip()])

# names, scope, subresource, printer columns
for kind, short in (("LogPipeline", "lp"), ("LogOutput", "lo")):
    p = []
    c = crds.get(kind)
    if not c:
        report("names/" + kind, ["missing"])
        continue
    sp = c["spec"]
    if c["apiVersion"] != "apiextensions.k8s.io/v1":
        p.append("apiVersion")
    if sp["group"] != "logplane.io" or sp["scope"] != "Namespaced":
        p.append("group/scope")
    if sp["names"].get("shortNames") != [short] or sp["names"].get("categories") != ["logplane"]:
        p.append("shortNames/categories")
    v = sp["versions"]
    if [x["name"] for x in v] != ["v1alpha1"] or not v[0]["served"] or not v[0]["storage"]:
        p.append("versions")
    if v[0].get("subresources") != {"status": {}}:
        p.append("status subresource")
    cols = [x["name"] for x in v[0].get("additionalPrinterColumns", [])]
    want = (["Type"] if kind == "LogOutput" else []) + ["Ready", "Reason"] + \
        (["Pipelines"] if kind == "LogOutput" else []) + ["Age"]
    if cols != want:
        p.append("printer columns %s, want %s" % (cols, want))
    report("names/" + kind, p)

# structural: every node typed, no defaults, status fully typed
for kind, c in crds.items():
    p = []
    root = c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]

    def check(s, path):
        if "type" not in s:
            p.append("%s: no type" % path)
        if "default" in s:
            p.append("%s: has a default" % path)
        if s.get("x-kubernetes-preserve-unknown-fields"):
            p.append("%s: preserves unknown fields" % path)
        if s.get("type") == "object" and path not in (".metadata",) and \
                "properties" not in s and "additionalProperties" not in s:
            p.append("%s: untyped object" % path)
        if s.get("type") == "array" and "items" not in s:
            p.append("%s: array without items" % path)
    walk_schema(root, "", check)
    report("structural/" + kind, p)

# every schema field is known to the C parser (same spelling)
src = ""
for f in sorted(os.listdir(os.path.join(TOP, "pkg/api"))):
    if f.endswith(".c"):
        with open(os.path.join(TOP, "pkg/api", f)) as fh:
            src += fh.read()
# a descriptor macro stringifies its first argument (AWS_DESC(cloudwatch, ...): "cloudwatch")
src += " ".join('"%s"' % m for m in re.findall(r"\b[A-Z]+_DESC\(\s*([a-z0-9]+)\s*,", src))
for kind, c in crds.items():
    p = []
    spec = c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]

    def known(s, path):
        for k in (s.get("properties") or {}):
            if '"%s"' % k not in src:
                p.append("%s.%s not parsed by pkg/api" % (path, k))
    walk_schema(spec, "spec", known)
    report("fields_match_parser/" + kind, p)


# every key the C parser accepts is in the schema (else the API server would drop or reject it)
parser_keys = set()
# (the lists of accepted keys, not the descriptors' Fluent Bit key tables: struct lp_out_key)
for m in re.finditer(r"char \*const \w*(?:known|keys)\[\]\s*=\s*\{([^}]*)\}", src):
    parser_keys.update(re.findall(r'"([A-Za-z]+)"', m.group(1)))
schema_keys = set()
for kind, c in crds.items():
    root = c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    walk_schema(root, "", lambda s, path: schema_keys.update((s.get("properties") or {}).keys()))
report("parser_keys_in_schema", ["%s accepted by pkg/api but not in the CRDs" % k
                                 for k in sorted(parser_keys - schema_keys)] +
       ([] if len(parser_keys) > 100 else ["only %d parser keys found" % len(parser_keys)]))


# an object with every schema field set: the parser reports no "unknown field"
def sample(s):
    t = s.get("type")
    if "enum" in s:
        return s["enum"][0]
    if t == "object":
        if "properties" in s:
            return {k: sample(v) for k, v in s["properties"].items()}
        return {"k": sample(s.get("additionalProperties", {"type": "string"}))}
    if t == "array":
        return [sample(s.get("items", {}))]
    if t == "integer":
        return s.get("minimum", 1)
    if t == "boolean":
        return True
    return "x"


def maximal():
    binp = os.path.join(os.environ.get("LP_BIN") or os.path.join(TOP, "build/asan/bin"), "logplane")
    if not os.access(binp, os.X_OK):
        return ["no binary at %s" % binp]
    docs = []
    for kind, c in sorted(crds.items()):
        spec = c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        docs.append({"apiVersion": "logplane.io/v1alpha1", "kind": kind,
                     "metadata": {"name": "max", "namespace": "logplane-system"},
                     "spec": sample(spec)})
    r = subprocess.run([binp, "validate", "-f", "-"], input=yaml.safe_dump_all(docs),
                       capture_output=True, text=True, timeout=60)
    if r.returncode not in (0, 1) or "LogPipeline" not in r.stdout or "LogOutput" not in r.stdout:
        return ["exit %d: %s %s" % (r.returncode, r.stdout[-400:], r.stderr[-400:])]
    return [line for line in r.stdout.splitlines() if "unknown field" in line]


report("schema_fields_parsed", maximal())

# examples pass the schema
def logplane_objects(rel_dir):
    for f in sorted(os.listdir(os.path.join(TOP, rel_dir))):
        if f.endswith(".yaml"):
            for i, d in enumerate(load(os.path.join(rel_dir, f))):
                if d.get("apiVersion", "").startswith("logplane.io/"):
                    yield f, i + 1, d


n = 0
for f, i, d in logplane_objects("examples"):
    n += 1
    out = []
    schema = crds[d["kind"]]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    validate(schema, d, d["kind"], out)
    report("example/%s:%d" % (f, i), out)
report("examples_found", [] if n >= 10 else ["only %d objects" % n])

# typical mistakes are rejected by the schema already
BAD = [
    ("LogOutput", {"type": "splunk"}, "spec.type: unsupported value"),
    ("LogOutput", {"type": "kinesis", "kinesis": {"stream": "s", "shards": 2}},
     "spec.kinesis.shards: unknown field"),
    ("LogOutput", {"type": "s3", "s3": {"bucket": "My_Bucket"}}, "spec.s3.bucket: does not match"),
    ("LogOutput", {"type": "firehose", "firehose": {"deliveryStream": "d", "provision": {
        "bucket": "abc", "roleArn": "arn:aws:iam::1:role/x", "bufferingSizeMiB": 512}}},
     "bufferingSizeMiB: out of range"),
    ("LogOutput", {"type": "kinesis", "aws": {"region": "us-east-1",
                                              "endpoint": "ftp://x"}, "kinesis": {"stream": "s"}},
     "spec.aws.endpoint: does not match"),
    ("LogPipeline", {"routes": []}, "spec.routes: wrong number of items"),
    ("LogPipeline", {"routes": [{"outputRef": "Out"}]}, "outputRef: does not match"),
    ("LogPipeline", {"routes": [{"outputRef": "o"}], "transforms": [{"addFields": [
        {"key": "k", "value": "a\n[OUTPUT]"}]}]}, "value: does not match"),
    ("LogPipeline", {"routes": [{"outputRef": "o"}], "transforms": [{"addFields": [
        {"key": "k", "value": "@INCLUDE x"}]}]}, "value: does not match"),
    ("LogPipeline", {"routes": [{"outputRef": "o"}], "transforms": [
        {"flatten": {}, "dropFields": ["a"], "grep": {}}]}, "wrong number of properties"),
    ("LogPipeline", {"routes": [{"outputRef": "o"}], "parse": {"format": "xml"}},
     "spec.parse.format: unsupported value"),
    ("LogPipeline", {"routes": [{"outputRef": "o"}], "aggregator": {"storageSize": "lots"}},
     "storageSize: does not match"),
]
for i, (kind, spec, want) in enumerate(BAD):
    out = []
    schema = crds[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    validate(schema, {"apiVersion": "logplane.io/v1alpha1", "kind": kind,
                      "metadata": {"name": "x"}, "spec": spec}, kind, out)
    report("rejects/%d" % i, [] if any(want in o for o in out) else
           ["want %r, got %s" % (want, out)])


# ---------- CEL rules (x-kubernetes-validations) ----------
# kubesim does not evaluate them (tests/kubesim/README.md); the real API server
# does, and refuses a CRD whose rule does not compile or costs too much. Here:
# every object-local choice the parser enforces has a rule, every rule has a
# message, and every list or string under a node with rules is bounded (the
# API server estimates a rule's cost from maxItems / maxLength).
WANT_RULES = {
    "LogPipeline": [("spec.transforms[]", "must set exactly one of flatten"),
                    ("spec.transforms[]", "overwrite: only used with addFields"),
                    ("spec.multiline", "start_state"),
                    ("spec.parse", "regex: required with format: regex"),
                    ("spec.routes[].match", "set exactly one of in or regex"),
                    ("spec.input.application.namespaces", "also in include")],
    "LogOutput": [("spec", "kinesis: not allowed with this type"),
                  ("spec", "kinesis: required for type kinesis"),
                  ("spec", "aws.region: required for this type"),
                  ("spec.http.headers[]", "set exactly one of value or valueFrom"),
                  ("spec.s3", "keyFormat: must contain $UUID or $INDEX"),
                  ("spec.aws.credentials", "externalId: needs roleArn")],
}
for kind, c in crds.items():
    p = []
    found = []
    unbounded = []
    root = c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]

    def bounded(s, path):
        if s.get("type") == "string" and "maxLength" not in s and "enum" not in s:
            unbounded.append(path)
        if s.get("type") == "array" and "maxItems" not in s:
            unbounded.append(path)

    def rules(s, path):
        for r in s.get("x-kubernetes-validations") or []:
            if not r.get("rule") or not r.get("message"):
                p.append("%s: a rule without rule or message" % path)
            found.append((path, r.get("message", "")))
        if s.get("x-kubernetes-validations"):
            walk_schema(s, path, bounded)
    walk_schema(root["properties"]["spec"], "spec", rules)
    for path, text in WANT_RULES[kind]:
        if not any(fp == path and text in m for fp, m in found):
            p.append("no rule at %s saying %r" % (path, text))
    p += ["%s: unbounded under a rule" % u for u in sorted(set(unbounded))]
    report("cel_rules/" + kind, p if found else ["no x-kubernetes-validations"])

sys.exit(1 if failures else 0)
