"""CHANGELOG.md lists every CRD field change: the fields of crds/ (kind,
version, path) are compared with tests/data/crd-fields-0.1.0.txt, the fields
of the last release, and every field added or removed since must be named
(in backquotes) in the changelog's "## Unreleased" section."""
import glob
import os
import re
import sys

import yaml

TOP = os.environ.get("LP_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
failed = 0


def check(name, ok, why=""):
    global failed
    print(f"PASS changelog:{name}" if ok else f"FAIL changelog:{name}: {why}", flush=True)
    failed += 0 if ok else 1


def walk(s, path, out):
    for k, v in (s.get("properties") or {}).items():
        p = f"{path}.{k}" if path else k
        out.add(p)
        walk(v, p, out)
    if isinstance(s.get("items"), dict):
        walk(s["items"], path + "[]", out)
    if isinstance(s.get("additionalProperties"), dict):
        walk(s["additionalProperties"], path + ".*", out)


def fields():
    out = set()
    for f in sorted(glob.glob(os.path.join(TOP, "crds", "*.yaml"))):
        crd = yaml.safe_load(open(f))
        for v in crd["spec"]["versions"]:
            paths = set()
            walk(v["schema"]["openAPIV3Schema"], "", paths)
            out |= {f"{crd['spec']['names']['kind']} {v['name']} {p}" for p in paths}
    return out


def main():
    base = {ln.strip() for ln in open(os.path.join(TOP, "tests", "data", "crd-fields-0.1.0.txt"))
            if ln.strip() and not ln.startswith("#")}
    now = fields()
    check("baseline_read", len(base) > 100 and len(now) > 100, f"{len(base)} baseline, {len(now)} now")
    text = open(os.path.join(TOP, "CHANGELOG.md")).read()
    m = re.search(r"^## Unreleased\n(.*?)(?=^## )", text, re.S | re.M)
    check("unreleased_section", m is not None, "CHANGELOG.md has no '## Unreleased' section before a release")
    section = m.group(1) if m else ""
    missing = []
    for line in sorted((now - base) | (base - now)):
        path = line.split(" ", 2)[2].replace("[]", "[]")
        if f"`{path}`" not in section and f"`{path.replace('[]', '')}`" not in section:
            missing.append(("added " if line in now else "removed ") + line)
    check("every_field_change_listed", not missing, f"not in CHANGELOG.md (Unreleased): {missing[:6]}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
