"""Field ownership for server-side apply, kept as sets of paths and served as
metadata.managedFields (FieldsV1) like a real API server. A field set is a set of paths; a path is a tuple of elements
'f:<key>' (map key), 'k:<json>' (list item by key fields) or 'v:<json>' (set
item). Item nodes are paths too, so a manager that stops applying an item
removes it. Conflicts arise only for apply requests, as upstream."""
import copy
import json

from ks_patch import MERGE_KEYS, MERGE_PRIMITIVES

SKIP_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
             "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"}


class Conflict(Exception):
    def __init__(self, conflicts):
        super().__init__("conflict")
        self.conflicts = conflicts   # [(manager, apiVersion, path)]


def fmt_path(p):
    out = []
    for e in p:
        if e.startswith("f:"):
            out.append("." + e[2:])
        elif e.startswith("k:"):
            out.append("[" + ",".join("%s=%s" % (k, json.dumps(v)) for k, v in json.loads(e[2:]).items()) + "]")
        else:
            out.append("[=" + e[2:] + "]")
    return "".join(out)


def _child_schema(s, key):
    if not isinstance(s, dict):
        return None
    props = s.get("properties")
    if props and key in props:
        return props[key]
    addl = s.get("additionalProperties")
    return addl if isinstance(addl, dict) else None


def _list_kind(field, schema, items, in_meta, builtin):
    """('map', [keys]) | ('set', None) | ('atomic', None) for the list under `field`."""
    if builtin or in_meta or schema is None:
        if field in MERGE_PRIMITIVES:
            return "set", None
        if field == "ports":
            for e in items or []:
                if isinstance(e, dict) and "containerPort" in e:
                    return "map", ["containerPort"]
            return "map", ["port"]
        k = MERGE_KEYS.get(field)
        if k:
            return "map", [k]
        return "atomic", None
    lt = schema.get("x-kubernetes-list-type")
    if lt == "map":
        return "map", list(schema.get("x-kubernetes-list-map-keys") or [])
    if lt == "set":
        return "set", None
    return "atomic", None


def _item_id(kind, keys, e):
    if kind == "set":
        return "v:" + json.dumps(e, sort_keys=True)
    if not isinstance(e, dict) or any(k not in e for k in keys):
        return None
    return "k:" + json.dumps({k: e[k] for k in keys}, sort_keys=True, separators=(",", ":"))


def leaves(obj, schema, builtin, skip_status):
    """{path: value} of every owned leaf and list item of obj (None for item nodes)."""
    out = {}

    def walk(v, s, path, in_meta, field):
        if isinstance(v, dict) and v:
            for k, x in v.items():
                walk(x, _child_schema(s, k), path + ("f:" + k,), in_meta, k)
        elif isinstance(v, list) and v:
            kind, keys = _list_kind(field, s, v, in_meta, builtin)
            if kind == "atomic":
                out[path] = v
                return
            items_s = s.get("items") if isinstance(s, dict) else None
            for e in v:
                iid = _item_id(kind, keys, e)
                if iid is None:
                    out[path] = v
                    return
            for e in v:
                ip = path + (_item_id(kind, keys, e),)
                out[ip] = None
                if kind == "map":
                    walk(e, items_s, ip, in_meta, None)
        else:
            out[path] = v

    for k, v in obj.items():
        if k in ("apiVersion", "kind") or (k == "status" and skip_status):
            continue
        if k == "metadata" and isinstance(v, dict):
            for mk, mv in v.items():
                if mk not in SKIP_META:
                    walk(mv, None, ("f:metadata", "f:" + mk), True, mk)
            continue
        walk(v, _child_schema(schema, k), ("f:" + k,), False, k)
    return out


def merge(live, applied, schema, builtin, in_meta=False, field=None):
    """Merge an applied configuration into the live object (lists by their keys)."""
    if isinstance(applied, dict):
        out = copy.deepcopy(live) if isinstance(live, dict) else {}
        for k, v in applied.items():
            sub_meta = in_meta or (field is None and k == "metadata" and not in_meta)
            out[k] = merge(out.get(k), v, _child_schema(schema, k), builtin, sub_meta, k)
        return out
    if isinstance(applied, list):
        kind, keys = _list_kind(field, schema, applied, in_meta, builtin)
        if kind == "atomic" or not isinstance(live, list):
            return copy.deepcopy(applied)
        items_s = schema.get("items") if isinstance(schema, dict) else None
        ids = [_item_id(kind, keys, e) for e in applied]
        if None in ids:
            return copy.deepcopy(applied)
        live_by = {}
        for e in live:
            i = _item_id(kind, keys, e)
            if i is not None:
                live_by[i] = e
        out = []
        for i, e in zip(ids, applied):
            out.append(merge(live_by.get(i), e, items_s, builtin, in_meta, None) if kind == "map" else e)
        seen = set(ids)
        for e in live:
            i = _item_id(kind, keys, e)
            if i not in seen:
                out.append(copy.deepcopy(e))
        return out
    return copy.deepcopy(applied)


def delete_path(obj, path):
    cur = obj
    for i, e in enumerate(path):
        last = i == len(path) - 1
        if e.startswith("f:"):
            if not isinstance(cur, dict) or e[2:] not in cur:
                return
            if last:
                del cur[e[2:]]
                return
            cur = cur[e[2:]]
        else:
            if not isinstance(cur, list):
                return
            want = json.loads(e[2:])
            idx = None
            for j, item in enumerate(cur):
                if e.startswith("v:") and item == want:
                    idx = j
                elif e.startswith("k:") and isinstance(item, dict) and all(item.get(k) == v for k, v in want.items()):
                    idx = j
                if idx is not None:
                    break
            if idx is None:
                return
            if last:
                cur.pop(idx)
                return
            cur = cur[idx]


def apply(live, applied, managed, manager, api_version, force, schema, builtin, skip_status):
    """Server-side apply. Returns (new_object, new_managed); raises Conflict."""
    a_leaves = leaves(applied, schema, builtin, skip_status)
    l_leaves = leaves(live, schema, builtin, skip_status)
    conflicts = []
    managed = {m: dict(v, fields=set(v["fields"])) for m, v in (managed or {}).items()}
    for m, ent in managed.items():
        if m == manager:
            continue
        for p in ent["fields"] & a_leaves.keys():
            if a_leaves[p] is None:
                continue
            if l_leaves.get(p) != a_leaves[p]:
                conflicts.append((m, ent.get("apiVersion", ""), p))
    if conflicts and not force:
        raise Conflict(sorted(conflicts, key=lambda c: (c[0], fmt_path(c[2]))))
    for m, _, p in conflicts:
        managed[m]["fields"].discard(p)
    before = managed.get(manager, {}).get("fields", set())
    removed = before - a_leaves.keys()
    out = merge(live, applied, schema, builtin)
    others = set()
    for m, ent in managed.items():
        if m != manager:
            others |= ent["fields"]
    doomed = {p for p in removed if p not in others and not any(o[:len(p)] == p for o in others)}
    for p in sorted(doomed, key=len, reverse=True):
        if any(p[:i] in doomed for i in range(1, len(p))):
            continue       # an enclosing item goes as a whole
        delete_path(out, p)
    managed[manager] = {"operation": "Apply", "apiVersion": api_version, "fields": set(a_leaves.keys())}
    return out, {m: v for m, v in managed.items() if v["fields"]}


def update(old, new, managed, manager, api_version, schema, builtin, skip_status):
    """Ownership after a non-apply write: the writer owns what it changed."""
    o = leaves(old, schema, builtin, skip_status) if old is not None else {}
    n = leaves(new, schema, builtin, skip_status)
    changed = {p for p, v in n.items() if p not in o or o[p] != v}
    gone = o.keys() - n.keys()
    out = {}
    for m, ent in (managed or {}).items():
        f = set(ent["fields"]) - changed - gone
        if m == manager:
            continue
        if f:
            out[m] = dict(ent, fields=f)
    mine = set((managed or {}).get(manager, {}).get("fields", ())) - gone
    mine |= changed
    if mine:
        out[manager] = {"operation": "Update", "apiVersion": api_version, "fields": mine}
    return out


def conflict_message(conflicts):
    if len(conflicts) == 1:
        m, av, p = conflicts[0]
        return 'Apply failed with 1 conflict: conflict with "%s" using %s: %s' % (m, av, fmt_path(p))
    by = {}
    for m, av, p in conflicts:
        by.setdefault((m, av), []).append(fmt_path(p))
    parts = []
    for (m, av), ps in by.items():
        parts.append('conflicts with "%s" using %s:\n%s' % (m, av, "\n".join("- " + x for x in ps)))
    return "Apply failed with %d conflicts: %s" % (len(conflicts), "\n".join(parts))


def to_json(managed):
    return {m: {"operation": v["operation"], "apiVersion": v.get("apiVersion", ""),
                "fields": [list(p) for p in sorted(v["fields"])]} for m, v in (managed or {}).items()}


def from_json(d):
    return {m: {"operation": v.get("operation", "Update"), "apiVersion": v.get("apiVersion", ""),
                "fields": {tuple(p) for p in v.get("fields", [])}} for m, v in (d or {}).items()}


def fields_v1(fields):
    """A set of paths as FieldsV1: nested {"f:a": {"f:b": {}}}; a path that is
    also the prefix of another (an owned item or map) gets "." inside."""
    root = {}
    for p in sorted(fields):
        node = root
        for e in p:
            node = node.setdefault(e, {})
    for p in fields:
        node = root
        for e in p:
            node = node[e]
        if node:
            node["."] = {}
    return root


def managed_fields(managed, previous, when):
    """metadata.managedFields for managed ({manager: {operation, apiVersion,
    fields}}): entries whose fields did not change keep their time from
    previous (the old object's managedFields), the others get when."""
    old = {(m.get("manager"), m.get("operation")): m for m in previous or []}
    out = []
    for name in sorted(managed):
        v = managed[name]
        fv1 = fields_v1(v["fields"])
        prev = old.get((name, v["operation"]))
        t = prev.get("time") if prev and prev.get("fieldsV1") == fv1 else when
        out.append({"manager": name, "operation": v["operation"], "apiVersion": v.get("apiVersion", ""),
                    "time": t, "fieldsType": "FieldsV1", "fieldsV1": fv1})
    return out
