"""Minimal decoder of Kubernetes protobuf request bodies: the `k8s\\0` envelope
(runtime.Unknown) around ConfigMap, Secret, Namespace, ServiceAccount,
ObjectMeta and DeleteOptions. decode(raw) returns a JSON-shaped dict or raises
ValueError naming what it could not decode."""
import base64
import datetime

MAGIC = b"k8s\x00"


def _varint(buf, i):
    shift = 0
    out = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        if not b & 0x80:
            return out, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def fields(buf):
    """Yield (field_number, wire_type, value) of one message; value is int or bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        fn, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ValueError("truncated field %d" % fn)
            v = bytes(buf[i:i + n])
            i += n
        elif wt == 1:
            v = int.from_bytes(buf[i:i + 8], "little")
            i += 8
        elif wt == 5:
            v = int.from_bytes(buf[i:i + 4], "little")
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield fn, wt, v


def _s(b):
    return b.decode("utf-8")


def _map_entry(b, value_bytes=False):
    k, v = "", b"" if value_bytes else ""
    for fn, _, val in fields(b):
        if fn == 1:
            k = _s(val)
        elif fn == 2:
            v = val if value_bytes else _s(val)
    return k, v


def _time(b):
    secs = 0
    for fn, _, val in fields(b):
        if fn == 1:
            secs = val
    return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner_ref(b):
    o = {}
    for fn, _, v in fields(b):
        if fn == 1:
            o["kind"] = _s(v)
        elif fn == 3:
            o["name"] = _s(v)
        elif fn == 4:
            o["uid"] = _s(v)
        elif fn == 5:
            o["apiVersion"] = _s(v)
        elif fn == 6:
            o["controller"] = bool(v)
        elif fn == 7:
            o["blockOwnerDeletion"] = bool(v)
    return o


def object_meta(b):
    md = {}
    for fn, _, v in fields(b):
        if fn == 1:
            md["name"] = _s(v)
        elif fn == 2:
            md["generateName"] = _s(v)
        elif fn == 3:
            md["namespace"] = _s(v)
        elif fn == 5:
            md["uid"] = _s(v)
        elif fn == 6:
            md["resourceVersion"] = _s(v)
        elif fn == 7:
            md["generation"] = v
        elif fn == 8:
            md["creationTimestamp"] = _time(v)
        elif fn == 11:
            k, val = _map_entry(v)
            md.setdefault("labels", {})[k] = val
        elif fn == 12:
            k, val = _map_entry(v)
            md.setdefault("annotations", {})[k] = val
        elif fn == 13:
            md.setdefault("ownerReferences", []).append(_owner_ref(v))
        elif fn == 14:
            md.setdefault("finalizers", []).append(_s(v))
    return {k: v for k, v in md.items() if v not in ("", None)}


def _configmap(b):
    o = {"apiVersion": "v1", "kind": "ConfigMap"}
    for fn, _, v in fields(b):
        if fn == 1:
            o["metadata"] = object_meta(v)
        elif fn == 2:
            k, val = _map_entry(v)
            o.setdefault("data", {})[k] = val
        elif fn == 3:
            k, val = _map_entry(v, True)
            o.setdefault("binaryData", {})[k] = base64.b64encode(val).decode()
        elif fn == 4:
            o["immutable"] = bool(v)
    return o


def _secret(b):
    o = {"apiVersion": "v1", "kind": "Secret"}
    for fn, _, v in fields(b):
        if fn == 1:
            o["metadata"] = object_meta(v)
        elif fn == 2:
            k, val = _map_entry(v, True)
            o.setdefault("data", {})[k] = base64.b64encode(val).decode()
        elif fn == 3:
            o["type"] = _s(v)
        elif fn == 4:
            k, val = _map_entry(v)
            o.setdefault("stringData", {})[k] = val
        elif fn == 5:
            o["immutable"] = bool(v)
    return o


def _namespace(b):
    o = {"apiVersion": "v1", "kind": "Namespace"}
    for fn, _, v in fields(b):
        if fn == 1:
            o["metadata"] = object_meta(v)
    return o


def _service_account(b):
    o = {"apiVersion": "v1", "kind": "ServiceAccount"}
    for fn, _, v in fields(b):
        if fn == 1:
            o["metadata"] = object_meta(v)
        elif fn == 4:
            o["automountServiceAccountToken"] = bool(v)
    return o


def _delete_options(b):
    o = {"apiVersion": "v1", "kind": "DeleteOptions"}
    for fn, _, v in fields(b):
        if fn == 1:
            o["gracePeriodSeconds"] = v
        elif fn == 2:
            pre = {}
            for pf, _, pv in fields(v):
                if pf == 1:
                    pre["uid"] = _s(pv)
                elif pf == 2:
                    pre["resourceVersion"] = _s(pv)
            o["preconditions"] = pre
        elif fn == 3:
            o["orphanDependents"] = bool(v)
        elif fn == 4:
            o["propagationPolicy"] = _s(v)
        elif fn == 5:
            o.setdefault("dryRun", []).append(_s(v))
    return o


def _resource_attributes(b):
    names = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"}
    return {names[fn]: _s(v) for fn, _, v in fields(b) if fn in names}


def _non_resource_attributes(b):
    names = {1: "path", 2: "verb"}
    return {names[fn]: _s(v) for fn, _, v in fields(b) if fn in names}


def _access_review_spec(b):
    spec = {}
    for fn, _, v in fields(b):
        if fn == 1:
            spec["resourceAttributes"] = _resource_attributes(v)
        elif fn == 2:
            spec["nonResourceAttributes"] = _non_resource_attributes(v)
        elif fn == 3:
            spec["user"] = _s(v)
        elif fn == 4:
            spec.setdefault("groups", []).append(_s(v))
        elif fn == 6:
            spec["uid"] = _s(v)
    return spec


def _review(kind):
    def dec(b):
        o = {"apiVersion": "authorization.k8s.io/v1", "kind": kind}
        for fn, _, v in fields(b):
            if fn == 1:
                o["metadata"] = object_meta(v)
            elif fn == 2:
                o["spec"] = _access_review_spec(v)
        return o
    return dec


DECODERS = {"SelfSubjectAccessReview": _review("SelfSubjectAccessReview"),
            "SubjectAccessReview": _review("SubjectAccessReview"),"ConfigMap": _configmap, "Secret": _secret, "Namespace": _namespace,
            "ServiceAccount": _service_account, "DeleteOptions": _delete_options}


def decode(raw):
    if not raw.startswith(MAGIC):
        raise ValueError("protobuf body lacks the k8s envelope")
    api_version, kind, inner = "", "", b""
    for fn, _, v in fields(raw[len(MAGIC):]):
        if fn == 1:
            for tf, _, tv in fields(v):
                if tf == 1:
                    api_version = _s(tv)
                elif tf == 2:
                    kind = _s(tv)
        elif fn == 2:
            inner = v
    dec = DECODERS.get(kind)
    if dec is None:
        raise ValueError("kubesim cannot decode protobuf for kind %r (%s)" % (kind, api_version))
    obj = dec(inner)
    if api_version:
        obj["apiVersion"] = api_version
    return obj


# ---- encoder (tests only): builds the same envelope ----
def _key(fn, wt):
    return _uvarint((fn << 3) | wt)


def _uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(fn, b):
    return _key(fn, 2) + _uvarint(len(b)) + b


def encode_configmap(name, namespace, data, labels=None):
    md = _ld(1, name.encode()) + _ld(3, namespace.encode())
    for k, v in (labels or {}).items():
        md += _ld(11, _ld(1, k.encode()) + _ld(2, v.encode()))
    body = _ld(1, md)
    for k, v in data.items():
        body += _ld(2, _ld(1, k.encode()) + _ld(2, v.encode()))
    tm = _ld(1, b"v1") + _ld(2, b"ConfigMap")
    return MAGIC + _ld(1, tm) + _ld(2, body) + _ld(4, b"application/vnd.kubernetes.protobuf")
