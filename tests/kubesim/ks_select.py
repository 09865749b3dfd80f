"""Label selectors, field selectors and the JSONPath subset used by printer
columns. parse_* raise ValueError with a message fit for a 400 Status."""
import json
import re


def _split_top(s):
    """Split on commas that are not inside parentheses."""
    out, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [x.strip() for x in out if x.strip()]


_SET_RE = re.compile(r"^([A-Za-z0-9_./-]+)\s+(in|notin)\s*\(([^)]*)\)$")
_OP_RE = re.compile(r"^([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)$")
_KEY_RE = re.compile(r"^(!?)\s*([A-Za-z0-9_./-]+)$")


def parse_label_selector(s):
    """Returns a list of (key, op, values); op in =, !=, in, notin, exists, !."""
    reqs = []
    if not s:
        return reqs
    for part in _split_top(s):
        m = _SET_RE.match(part)
        if m:
            vals = [v.strip() for v in m.group(3).split(",") if v.strip()]
            reqs.append((m.group(1), m.group(2), vals))
            continue
        m = _OP_RE.match(part)
        if m:
            op = "=" if m.group(2) in ("=", "==") else "!="
            reqs.append((m.group(1), op, [m.group(3)]))
            continue
        m = _KEY_RE.match(part)
        if m:
            reqs.append((m.group(2), "!" if m.group(1) else "exists", []))
            continue
        raise ValueError("unable to parse requirement: %s" % json.dumps(part))
    return reqs


def label_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "=" and not (has and v == vals[0]):
            return False
        if op == "!=" and has and v == vals[0]:
            return False
        if op == "in" and not (has and v in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
    return True


EVENT_FIELDS = {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"}
EXTRA_FIELDS = {
    ("", "events"): EVENT_FIELDS,
    ("", "secrets"): {"type"},
    ("", "namespaces"): {"status.phase"},
    ("", "pods"): {"spec.nodeName", "status.phase", "spec.serviceAccountName"},
    ("apps", "replicasets"): {"status.replicas"},
}


def parse_field_selector(s, key):
    reqs = []
    if not s:
        return reqs
    allowed = EXTRA_FIELDS.get(key, set())
    for part in _split_top(s):
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise ValueError("invalid selector: '%s'; can't understand '%s'" % (s, part))
        field = m.group(1)
        if field not in ("metadata.name", "metadata.namespace") and field not in allowed:
            raise ValueError("field label not supported: %s" % field)
        reqs.append((field, "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return reqs


def _field_value(obj, field):
    if field == "source":
        return (obj.get("source") or {}).get("component", "")
    cur = obj
    for p in field.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def field_match(reqs, obj):
    for field, op, val in reqs:
        v = _field_value(obj, field)
        if (v == val) != (op == "="):
            return False
    return True


# ---------------- JSONPath subset ----------------
_TOKEN = re.compile(r"\.\.?([A-Za-z0-9_\-$/]+)|\[(\*|-?\d+|\?\(@\.([A-Za-z0-9_.\-]+)\s*(==|!=)\s*"
                    r"(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.\-]+)\)|'[^']*'|\"[^\"]*\")\]|\.(\*)")


def jsonpath(obj, path):
    """Evaluate a printer-column JSONPath ('.status.conditions[?(@.type=="Ready")].status');
    returns the list of results."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    if p.startswith("$"):
        p = p[1:]
    cur = [obj]
    pos = 0
    while pos < len(p):
        m = _TOKEN.match(p, pos)
        if not m:
            raise ValueError("unrecognized JSONPath %r" % path)
        pos = m.end()
        nxt = []
        if m.group(1) is not None:
            for c in cur:
                if isinstance(c, dict) and m.group(1) in c:
                    nxt.append(c[m.group(1)])
        elif m.group(6) is not None:
            for c in cur:
                if isinstance(c, dict):
                    nxt.extend(c.values())
                elif isinstance(c, list):
                    nxt.extend(c)
        else:
            br = m.group(2)
            if br == "*":
                for c in cur:
                    if isinstance(c, list):
                        nxt.extend(c)
                    elif isinstance(c, dict):
                        nxt.extend(c.values())
            elif br.startswith("?"):
                fld, op, val = m.group(3), m.group(4), m.group(5)
                if val[:1] in ("'", '"'):
                    val = val[1:-1]
                for c in cur:
                    for e in (c if isinstance(c, list) else []):
                        v = e
                        for f in fld.split("."):
                            v = v.get(f) if isinstance(v, dict) else None
                        sv = v if isinstance(v, str) else json.dumps(v)
                        if (sv == val) == (op == "=="):
                            nxt.append(e)
            elif br[:1] in ("'", '"'):
                for c in cur:
                    if isinstance(c, dict) and br[1:-1] in c:
                        nxt.append(c[br[1:-1]])
            else:
                i = int(br)
                for c in cur:
                    if isinstance(c, list) and -len(c) <= i < len(c):
                        nxt.append(c[i])
        cur = nxt
    return cur
