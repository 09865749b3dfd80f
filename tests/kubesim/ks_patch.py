"""Patch algorithms: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and a
strategic merge patch that knows the merge keys of the built-in kinds kubesim
serves. All functions return a new object and never modify their inputs.
Errors raise PatchError(message)."""
import copy
import json


class PatchError(Exception):
    pass


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---------------- JSON patch ----------------
def _unescape(tok):
    return tok.replace("~1", "/").replace("~0", "~")


def _split(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError("invalid JSON pointer %r" % path)
    return [_unescape(t) for t in path[1:].split("/")]


def _container(doc, toks, path):
    cur = doc
    for t in toks[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError("doc is missing path: %s" % path)
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[int(t)]
            except (ValueError, IndexError):
                raise PatchError("doc is missing path: %s" % path)
        else:
            raise PatchError("doc is missing path: %s" % path)
    return cur


def _get(doc, path):
    toks = _split(path)
    if not toks:
        return doc
    c = _container(doc, toks, path)
    t = toks[-1]
    if isinstance(c, dict):
        if t not in c:
            raise PatchError("doc is missing path: %s" % path)
        return c[t]
    if isinstance(c, list):
        try:
            return c[int(t)]
        except (ValueError, IndexError):
            raise PatchError("doc is missing path: %s" % path)
    raise PatchError("doc is missing path: %s" % path)


def _add(doc, path, value):
    toks = _split(path)
    if not toks:
        return value
    c = _container(doc, toks, path)
    t = toks[-1]
    if isinstance(c, dict):
        c[t] = value
    elif isinstance(c, list):
        if t == "-":
            c.append(value)
        else:
            try:
                i = int(t)
            except ValueError:
                raise PatchError("invalid index %r in %s" % (t, path))
            if i < 0 or i > len(c):
                raise PatchError("add operation does not apply: index out of range: %s" % path)
            c.insert(i, value)
    else:
        raise PatchError("doc is missing path: %s" % path)
    return doc


def _remove(doc, path):
    toks = _split(path)
    if not toks:
        raise PatchError("cannot remove the whole document")
    c = _container(doc, toks, path)
    t = toks[-1]
    try:
        if isinstance(c, dict):
            return c.pop(t) if t in c else (_ for _ in ()).throw(KeyError(t))
        if isinstance(c, list):
            return c.pop(int(t))
    except (KeyError, ValueError, IndexError):
        pass
    raise PatchError("unable to remove nonexistent key: %s: missing value" % path)


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError("invalid json patch operation %s" % json.dumps(op))
        o = op["op"]
        path = op.get("path", "")
        if o == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif o == "remove":
            _remove(doc, path)
        elif o == "replace":
            _get(doc, path)
            toks = _split(path)
            if not toks:
                doc = copy.deepcopy(op.get("value"))
            else:
                c = _container(doc, toks, path)
                if isinstance(c, list):
                    c[int(toks[-1])] = copy.deepcopy(op.get("value"))
                else:
                    c[toks[-1]] = copy.deepcopy(op.get("value"))
        elif o == "move":
            v = _remove(doc, op.get("from", ""))
            doc = _add(doc, path, v)
        elif o == "copy":
            v = copy.deepcopy(_get(doc, op.get("from", "")))
            doc = _add(doc, path, v)
        elif o == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError("testing value %s failed: test failed" % path)
        else:
            raise PatchError("Unexpected kind: %s" % o)
    return doc


# ---------------- strategic merge patch ----------------
# field name -> merge key (lists merged by key); fields not here are replaced.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "ownerReferences": "uid", "conditions": "type",
    "hostAliases": "ip", "topologySpreadConstraints": "topologyKey", "secrets": "name",
    "resourceClaims": "name", "readinessGates": "conditionType",
}
# primitive lists merged as sets
MERGE_PRIMITIVES = {"finalizers"}


def _ports_key(items):
    for e in items or []:
        if isinstance(e, dict) and "containerPort" in e:
            return "containerPort"
    return "port"


def _merge_key(field, patch_list, orig_list):
    if field == "ports":
        return _ports_key((patch_list or []) + (orig_list or []))
    return MERGE_KEYS.get(field)


def strategic_merge(orig, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        p = {k: v for k, v in patch.items() if k != "$patch"}
        return _strip(p)
    if patch.get("$patch") == "delete":
        return None
    out = copy.deepcopy(orig) if isinstance(orig, dict) else {}
    retain = patch.get("$retainKeys")
    orders = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k[len("$setElementOrder/"):]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k[len("$deleteFromPrimitiveList/"):]
            if isinstance(out.get(f), list) and isinstance(v, list):
                out[f] = [e for e in out[f] if e not in v]
            continue
        if v is None:
            out.pop(k, None)
            continue
        cur = out.get(k)
        if isinstance(v, dict):
            r = strategic_merge(cur, v)
            if r is None:
                out.pop(k, None)
            else:
                out[k] = r
        elif isinstance(v, list):
            out[k] = _merge_list(k, cur if isinstance(cur, list) else [], v)
        else:
            out[k] = v
    for f, order in orders.items():
        if isinstance(out.get(f), list) and isinstance(order, list):
            out[f] = _apply_order(f, out[f], order)
    if isinstance(retain, list):
        for k in list(out.keys()):
            if k not in retain and k not in patch:
                del out[k]
    return out


def _strip(v):
    if isinstance(v, dict):
        return {k: _strip(x) for k, x in v.items() if not k.startswith("$")}
    if isinstance(v, list):
        return [_strip(x) for x in v]
    return v


def _merge_list(field, orig, patch):
    if field in MERGE_PRIMITIVES:
        out = list(orig)
        for e in patch:
            if e not in out:
                out.append(e)
        return out
    key = _merge_key(field, patch, orig)
    if key is None or not all(isinstance(e, dict) for e in patch):
        if any(isinstance(e, dict) and e.get("$patch") == "replace" for e in patch):
            return [_strip(e) for e in patch if not (isinstance(e, dict) and "$patch" in e)]
        return _strip(copy.deepcopy(patch))
    out = copy.deepcopy(orig)
    for e in patch:
        if e.get("$patch") == "replace":
            return [_strip(x) for x in patch if x.get("$patch") is None]
        kv = e.get(key)
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == kv), None)
        if e.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_strip(e))
        else:
            out[idx] = strategic_merge(out[idx], e)
    return out


def _apply_order(field, items, order):
    if not items or not all(isinstance(e, dict) for e in items):
        if all(not isinstance(e, dict) for e in items):
            pos = {json.dumps(v): i for i, v in enumerate(order)}
            return sorted(items, key=lambda e: pos.get(json.dumps(e), len(pos)))
        return items
    key = _merge_key(field, order, items)
    if key is None:
        return items
    pos = {json.dumps(o.get(key)): i for i, o in enumerate(order) if isinstance(o, dict)}
    return sorted(items, key=lambda e: pos.get(json.dumps(e.get(key)), len(pos)))


def apply_merge(live, applied):
    """Server-side apply, simplified: the applied configuration is merged into the
    live object; lists with a known merge key are merged by key, others replaced."""
    return strategic_merge(live, applied)
