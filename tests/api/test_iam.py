"""The operator's IAM policy comes from one table (pkg/aws/iam.c), printed by
`logplane iam-policy`:
- policy_json: the JSON is an IAM policy document listing every action of the table;
- every_call_in_table: every AWS operation the code under pkg/aws calls (the
  operation names it passes to its call helpers) has its action in the table;
- every_action_called: every action of the table maps to an operation the code calls;
- <doc>_table: the IAM tables of docs/aws.md and docs/helm.md are the table's
  Markdown (`logplane iam-policy --markdown`) between the iam-policy markers.
The operations the AWS scenario test really makes are checked against the
table in tests/operator/test_operator_aws.py (aws_calls_in_policy)."""
import glob
import json
import os
import re
import subprocess
import sys

TOP = os.environ.get("LP_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("LP_BIN") or os.path.join(TOP, "build", "asan", "bin")
BEGIN = "<!-- iam-policy: begin (generated: logplane iam-policy --markdown) -->\n"
END = "<!-- iam-policy: end -->\n"
failed = 0
passed = 0


def check(name, ok, why=""):
    global failed, passed
    passed += 1 if ok else 0
    print(f"PASS iam:{name}" if ok else f"FAIL iam:{name}: {why}", flush=True)
    failed += 0 if ok else 1


def cli(*args):
    r = subprocess.run([os.path.join(BIN, "logplane"), "iam-policy", *args], capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


SERVICE_OF_FILE = {"kinesis.c": "kinesis", "firehose.c": "firehose", "cloudwatch.c": "logs",
                   "s3.c": "s3", "sts.c": "sts"}
CALL = re.compile(r'(?:lp_aws_json_send|lp_aws_json_call|\breq|get_cfg)\(\s*\w+,\s*'
                  r'(?:[^,;]*\?\s*"([A-Za-z]+)"\s*:\s*)?"([A-Za-z]+)"')
QUERY = re.compile(r'"Action",\s*"([A-Za-z]+)"')


def called_operations():
    """(service, operation) of every call the code under pkg/aws makes."""
    ops = set()
    for f in sorted(glob.glob(os.path.join(TOP, "pkg", "aws", "*.c"))):
        svc = SERVICE_OF_FILE.get(os.path.basename(f))
        if not svc:
            continue
        text = open(f).read()
        for m in CALL.finditer(text):
            ops |= {(svc, g) for g in m.groups() if g}
        ops |= {(svc, m.group(1)) for m in QUERY.finditer(text)}
    return ops


def main():
    rc, out, err = cli()
    rc2, calls_out, err2 = cli("--calls")
    rc3, md, err3 = cli("--markdown")
    rc4, _, err4 = cli("--bogus")
    check("cli_runs", rc == 0 and rc2 == 0 and rc3 == 0 and rc4 == 2 and err4.count("\n") == 1,
          f"rc {rc} {rc2} {rc3} {rc4}: {err}{err2}{err3}{err4}")
    rows = [line.split("\t") for line in calls_out.splitlines()]
    table = {r[0]: (r[1], r[2]) for r in rows if len(r) == 3}
    try:
        doc = json.loads(out)
        acts = [a for s in doc["Statement"] for a in s["Action"]]
        ok = (doc["Version"] == "2012-10-17" and all(s["Effect"] == "Allow" for s in doc["Statement"])
              and len(acts) == len(set(acts))
              and set(acts) == set(table) - {"sts:AssumeRoleWithWebIdentity"})
        why = f"policy {sorted(acts)} vs table {sorted(table)}"
    except (ValueError, KeyError, TypeError) as e:
        ok, why = False, f"{e!r}: {out[:300]}"
    check("policy_json", ok and len(table) >= 30, why)

    called = called_operations()
    in_table = {v for v in table.values()}
    missing = sorted(f"{s}:{o}" for s, o in called - in_table)
    check("every_call_in_table", len(called) >= 30 and not missing,
          f"called but not in pkg/aws/iam.c: {missing} (found {len(called)} calls)")
    dangling = sorted(a for a, v in table.items() if v not in called)
    check("every_action_called", not dangling, f"actions whose operation the code never calls: {dangling}")

    for name in ("aws.md", "helm.md"):
        text = open(os.path.join(TOP, "docs", name)).read()
        i, j = text.find(BEGIN), text.find(END)
        got = text[i + len(BEGIN):j] if 0 <= i < j else None
        check(f"{name}_table", got is not None and md and got.strip("\n") == md.strip("\n"),
              f"docs/{name}: the block between the iam-policy markers differs from "
              f"`logplane iam-policy --markdown` (paste its output there)"
              if got is not None else f"docs/{name} has no iam-policy markers")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
