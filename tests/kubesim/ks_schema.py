"""Structural-schema validation, pruning and defaulting for custom resources,
and the OpenAPI v3 documents kubectl and helm read.

validate(schema, obj) returns (causes, unknown_fields): causes are dicts
{reason, field, message} as a real API server puts in a 422 Status; unknown
fields are dotted paths of fields the schema does not declare (they are pruned
from obj in place).
"""
import copy
import hashlib
import json
import re

_TYPE_NAMES = {"object": dict, "array": list, "string": str, "boolean": bool}
_re_cache = {}


def _fmt_value(v):
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if v is None:
        return "null"
    if isinstance(v, dict):
        return '"object"'
    if isinstance(v, list):
        return '"array"'
    return json.dumps(str(v))


def _type_ok(t, v):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool) or (isinstance(v, float) and v.is_integer())
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t in _TYPE_NAMES:
        py = _TYPE_NAMES[t]
        if py is bool:
            return isinstance(v, bool)
        return isinstance(v, py)
    return True


def _json_type(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _go_regex(p):
    """Translate the few Go RE2 spellings Python lacks."""
    r = _re_cache.get(p)
    if r is None:
        try:
            r = re.compile(p.replace(r"\z", r"\Z"))
        except re.error:
            r = re.compile(re.escape(p))
        _re_cache[p] = r
    return r


_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_HOSTNAME = re.compile(r"^(?=.{1,255}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}"
                       r"[A-Za-z0-9])?)*\.?$")


def _is_b64(v):
    import base64
    import binascii
    try:
        base64.b64decode(v, validate=True)
        return True
    except (binascii.Error, ValueError):
        return False


def _is_ip(v, version=None):
    import ipaddress
    try:
        a = ipaddress.ip_address(v)
        return version is None or a.version == version
    except ValueError:
        return False


def _is_cidr(v):
    import ipaddress
    try:
        ipaddress.ip_network(v, strict=False)
        return "/" in v
    except ValueError:
        return False


# string formats a real API server checks (those that cannot give false alarms here)
_FORMATS = {
    "date-time": lambda v: bool(_DATETIME.match(v)), "datetime": lambda v: bool(_DATETIME.match(v)),
    "date": lambda v: bool(_DATE.match(v)), "byte": _is_b64,
    "uuid": lambda v: bool(_UUID.match(v)), "ipv4": lambda v: _is_ip(v, 4), "ipv6": lambda v: _is_ip(v, 6),
    "cidr": _is_cidr, "hostname": lambda v: bool(_HOSTNAME.match(v)),
}


class _Walk:
    def __init__(self):
        self.causes = []
        self.unknown = []

    def add(self, reason, field, message):
        self.causes.append({"reason": reason, "field": field, "message": message})

    def invalid(self, field, value, text):
        self.add("FieldValueInvalid", field, "Invalid value: %s: %s" % (_fmt_value(value), text))

    def walk(self, s, v, path, top=False):
        if s is None:
            return
        if v is None:
            if s.get("nullable"):
                return
            if top:
                return
            self.add("FieldValueTypeInvalid", path,
                     "Invalid value: \"null\": %s in body must be of type %s: \"null\""
                     % (path, s.get("type", "object")))
            return
        if s.get("x-kubernetes-int-or-string"):
            if not (isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))):
                self.add("FieldValueTypeInvalid", path,
                         "Invalid value: %s: %s in body must be of type integer,string: %s"
                         % (_fmt_value(v), path, json.dumps(_json_type(v))))
                return
        else:
            t = s.get("type")
            if t and not _type_ok(t, v):
                self.add("FieldValueTypeInvalid", path,
                         "Invalid value: %s: %s in body must be of type %s: %s"
                         % (_fmt_value(v), path, t, json.dumps(_json_type(v))))
                return
        if "enum" in s and v not in s["enum"]:
            self.add("FieldValueNotSupported", path, "Unsupported value: %s: supported values: %s"
                     % (_fmt_value(v), ", ".join(_fmt_value(e) for e in s["enum"])))
        if isinstance(v, str):
            fmt = s.get("format")
            if fmt in _FORMATS and not _FORMATS[fmt](v):
                self.invalid(path, v, "%s in body must be of type %s: %s" % (path, fmt, json.dumps(v)))
            if "pattern" in s and not _go_regex(s["pattern"]).search(v):
                self.invalid(path, v, "%s in body should match '%s'" % (path, s["pattern"]))
            if "maxLength" in s and len(v) > s["maxLength"]:
                self.add("FieldValueTooLong", path,
                         "Too long: may not be more than %d bytes" % s["maxLength"])
            if "minLength" in s and len(v) < s["minLength"]:
                self.invalid(path, v, "%s in body should be at least %d chars long"
                             % (path, s["minLength"]))
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if "minimum" in s:
                if s.get("exclusiveMinimum") is True and v <= s["minimum"]:
                    self.invalid(path, v, "%s in body should be greater than %s" % (path, s["minimum"]))
                elif v < s["minimum"]:
                    self.invalid(path, v, "%s in body should be greater than or equal to %s"
                                 % (path, s["minimum"]))
            if "maximum" in s:
                if s.get("exclusiveMaximum") is True and v >= s["maximum"]:
                    self.invalid(path, v, "%s in body should be less than %s" % (path, s["maximum"]))
                elif v > s["maximum"]:
                    self.invalid(path, v, "%s in body should be less than or equal to %s"
                                 % (path, s["maximum"]))
        if isinstance(v, list):
            if "maxItems" in s and len(v) > s["maxItems"]:
                self.add("FieldValueTooMany", path, "Too many: %d: must have at most %d items"
                         % (len(v), s["maxItems"]))
            if "minItems" in s and len(v) < s["minItems"]:
                self.invalid(path, v, "%s in body should have at least %d items" % (path, s["minItems"]))
            items = s.get("items")
            for i, e in enumerate(v):
                self.walk(items, e, "%s[%d]" % (path, i))
            lt = s.get("x-kubernetes-list-type")
            if lt == "set":
                seen = set()
                for i, e in enumerate(v):
                    k = json.dumps(e, sort_keys=True)
                    if k in seen:
                        self.add("FieldValueDuplicate", "%s[%d]" % (path, i),
                                 "Duplicate value: %s" % _fmt_value(e))
                    seen.add(k)
            elif lt == "map":
                keys = s.get("x-kubernetes-list-map-keys") or []
                seen = set()
                for i, e in enumerate(v):
                    if isinstance(e, dict):
                        k = tuple(json.dumps(e.get(x)) for x in keys)
                        if k in seen:
                            self.add("FieldValueDuplicate", "%s[%d]" % (path, i),
                                     "Duplicate value: %s" % json.dumps({x: e.get(x) for x in keys}))
                        seen.add(k)
        if isinstance(v, dict):
            if "maxProperties" in s and len(v) > s["maxProperties"]:
                self.add("FieldValueTooMany", path, "Too many: %d: must have at most %d items"
                         % (len(v), s["maxProperties"]))
            if "minProperties" in s and len(v) < s["minProperties"]:
                self.invalid(path, v, "%s in body should have at least %d properties"
                             % (path, s["minProperties"]))
            for r in s.get("required") or []:
                if r not in v:
                    self.add("FieldValueRequired", _join(path, r), "Required value")
            props = s.get("properties")
            addl = s.get("additionalProperties")
            preserve = s.get("x-kubernetes-preserve-unknown-fields")
            for k in list(v.keys()):
                if top and k in ("apiVersion", "kind", "metadata"):
                    continue
                sub = _join(path, k)
                if props is not None and k in props:
                    self.walk(props[k], v[k], sub)
                elif isinstance(addl, dict):
                    self.walk(addl, v[k], sub)
                elif addl is True or preserve:
                    continue
                elif props is not None or addl is False or s.get("type") == "object":
                    self.unknown.append(sub)
                    del v[k]


def _join(path, k):
    return k if not path else path + "." + k


def apply_defaults(s, v):
    """Fill `default` values of the schema into v (in place)."""
    if s is None or not isinstance(v, (dict, list)):
        return
    if isinstance(v, dict):
        for k, ps in (s.get("properties") or {}).items():
            if k not in v and "default" in ps:
                v[k] = copy.deepcopy(ps["default"])
            if k in v:
                apply_defaults(ps, v[k])
        addl = s.get("additionalProperties")
        if isinstance(addl, dict):
            for k in v:
                if not (s.get("properties") and k in s["properties"]):
                    apply_defaults(addl, v[k])
    else:
        for e in v:
            apply_defaults(s.get("items"), e)


def validate(schema, obj):
    """Prune, default and validate obj (a CR dict, mutated in place) against the
    CRD version's openAPIV3Schema. Returns (causes, unknown_field_paths)."""
    w = _Walk()
    if schema is None:
        return [], []
    w.walk(schema, obj, "", top=True)
    apply_defaults(schema, obj)
    return w.causes, w.unknown


# ---------------- names ----------------
_DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def name_causes(name, label_only=False):
    if label_only:
        if len(name) > 63 or not _DNS1123_LABEL.match(name):
            return [{"reason": "FieldValueInvalid", "field": "metadata.name",
                     "message": "Invalid value: %s: a lowercase RFC 1123 label must consist of lower case "
                                "alphanumeric characters or '-', and must start and end with an alphanumeric "
                                "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
                                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')" % json.dumps(name)}]
        return []
    if len(name) > 253 or not _DNS1123_SUB.match(name):
        return [{"reason": "FieldValueInvalid", "field": "metadata.name",
                 "message": "Invalid value: %s: a lowercase RFC 1123 subdomain must consist of lower case "
                            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                            "character (e.g. 'example.com', regex used for validation is "
                            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                            % json.dumps(name)}]
    return []


def label_causes(labels):
    out = []
    if not isinstance(labels, dict):
        return out
    for k, v in labels.items():
        name = k.split("/", 1)[-1]
        if not name or len(name) > 63 or not _QUALIFIED.match(name):
            out.append({"reason": "FieldValueInvalid", "field": "metadata.labels",
                        "message": "Invalid value: %s: name part must consist of alphanumeric characters, "
                                   "'-', '_' or '.', and must start and end with an alphanumeric character"
                                   % json.dumps(k)})
        if not isinstance(v, str) or len(v) > 63 or not _LABEL_VALUE.match(v):
            out.append({"reason": "FieldValueInvalid", "field": "metadata.labels",
                        "message": "Invalid value: %s: a valid label must be an empty string or consist of "
                                   "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                                   "alphanumeric character" % json.dumps(v)})
    return out


# ---------------- OpenAPI v3 ----------------
OBJECT_META_REF = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

_OBJECT_META = {
    "description": "ObjectMeta is metadata that all persisted resources must have, which includes all "
                   "objects users must create.",
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Name must be unique within a namespace."},
        "generateName": {"type": "string", "description": "Optional prefix used to generate a unique name."},
        "namespace": {"type": "string", "description": "Namespace defines the space within which each name "
                                                       "must be unique."},
        "uid": {"type": "string", "description": "UID is the unique in time and space value for this object."},
        "resourceVersion": {"type": "string", "description": "An opaque value that represents the internal "
                                                             "version of this object."},
        "generation": {"type": "integer", "format": "int64",
                       "description": "A sequence number representing a specific generation of the desired "
                                      "state."},
        "creationTimestamp": {"type": "string", "format": "date-time",
                              "description": "Time when this object was created."},
        "deletionTimestamp": {"type": "string", "format": "date-time",
                              "description": "Time at which this resource will be deleted."},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "default": ""},
                   "description": "Map of string keys and values used to organize and categorize objects."},
        "annotations": {"type": "object", "additionalProperties": {"type": "string", "default": ""},
                        "description": "Unstructured key value map stored with a resource."},
        "finalizers": {"type": "array", "items": {"type": "string", "default": ""},
                       "x-kubernetes-list-type": "set",
                       "description": "Must be empty before the object is deleted from the registry."},
        "ownerReferences": {"type": "array", "items": {"type": "object"},
                            "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge",
                            "description": "List of objects depended by this object."},
    },
}


def _gv_schema_prefix(group, version):
    if group == "":
        return "io.k8s.api.core." + version
    if group.endswith(".k8s.io") or "." not in group:
        base = group[:-len(".k8s.io")] if group.endswith(".k8s.io") else group
        if group == "apiextensions.k8s.io":
            return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions." + version
        return "io.k8s.api." + base.replace(".", "") + "." + version
    return ".".join(reversed(group.split("."))) + "." + version


def _params(names):
    desc = {
        "dryRun": "When present, indicates that modifications should not be persisted.",
        "fieldManager": "fieldManager is a name associated with the actor or entity that is making these "
                        "changes.",
        "fieldValidation": "fieldValidation instructs the server on how to handle objects in the request "
                           "containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.",
        "force": "Force is going to \"force\" Apply requests.",
        "pretty": "If 'true', then the output is pretty printed.",
    }
    out = []
    for n in names:
        p = {"name": n, "in": "query", "description": desc.get(n, n), "schema": {"type": "string",
                                                                                 "uniqueItems": True}}
        if n == "force":
            p["schema"] = {"type": "boolean", "uniqueItems": True}
        out.append(p)
    return out


def openapi_gv_doc(group, version, resources):
    """The /openapi/v3/apis/G/V document for the given Resources of one group version."""
    prefix = _gv_schema_prefix(group, version)
    schemas = {"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": _OBJECT_META,
               "io.k8s.apimachinery.pkg.apis.meta.v1.Status": {
                   "type": "object", "description": "Status is a return value for calls that don't return "
                                                    "other objects.",
                   "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                                  "reason": {"type": "string"}, "status": {"type": "string"}}}}
    paths = {}
    base = "/api/" + version if group == "" else "/apis/%s/%s" % (group, version)
    for r in resources:
        gvk = {"group": group, "version": version, "kind": r.kind}
        sname = "%s.%s" % (prefix, r.kind)
        ref = {"$ref": "#/components/schemas/" + sname}
        content_json = {"application/json": {"schema": ref}, "application/yaml": {"schema": ref}}
        if r.schema is not None:
            s = copy.deepcopy(r.schema)
            s.setdefault("type", "object")
            props = s.setdefault("properties", {})
            props["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema "
                                                                    "of this representation of an object."}
            props["kind"] = {"type": "string", "description": "Kind is a string value representing the REST "
                                                              "resource this object represents."}
            props["metadata"] = {"allOf": [{"$ref": OBJECT_META_REF}],
                                 "description": "Standard object's metadata."}
            s["x-kubernetes-group-version-kind"] = [gvk]
            schemas[sname] = s
            schemas[sname + "List"] = {
                "type": "object", "required": ["items"],
                "description": "%sList is a list of %s" % (r.kind, r.kind),
                "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                               "items": {"type": "array", "items": ref},
                               "metadata": {"type": "object"}},
                "x-kubernetes-group-version-kind": [{"group": group, "version": version,
                                                     "kind": r.kind + "List"}]}
        else:
            schemas[sname] = {"type": "object", "description": "%s (kubesim: schema not served)" % r.kind,
                              "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                             "metadata": {"allOf": [{"$ref": OBJECT_META_REF}]}}}
        scopes = []
        if r.namespaced:
            scopes.append(base + "/namespaces/{namespace}/" + r.plural)
        else:
            scopes.append(base + "/" + r.plural)
        for coll in scopes:
            op = "%s%s" % (r.kind, version)
            paths[coll] = {
                "get": {"operationId": "list" + op, "parameters": _params(["pretty"]),
                        "responses": {"200": {"description": "OK", "content": content_json}},
                        "x-kubernetes-action": "list", "x-kubernetes-group-version-kind": gvk},
                "post": {"operationId": "create" + op,
                         "parameters": _params(["dryRun", "fieldManager", "fieldValidation"]),
                         "requestBody": {"content": {"*/*": {"schema": ref}}},
                         "responses": {"201": {"description": "Created", "content": content_json}},
                         "x-kubernetes-action": "post", "x-kubernetes-group-version-kind": gvk}}
            item = {
                "get": {"operationId": "read" + op, "responses": {"200": {"description": "OK",
                                                                         "content": content_json}},
                        "x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk},
                "put": {"operationId": "replace" + op,
                        "parameters": _params(["dryRun", "fieldManager", "fieldValidation"]),
                        "requestBody": {"content": {"*/*": {"schema": ref}}},
                        "responses": {"200": {"description": "OK", "content": content_json}},
                        "x-kubernetes-action": "put", "x-kubernetes-group-version-kind": gvk},
                "patch": {"operationId": "patch" + op,
                          "parameters": _params(["dryRun", "fieldManager", "fieldValidation", "force"]),
                          "requestBody": {"content": {
                              t: {"schema": {"type": "object"}} for t in
                              ["application/apply-patch+yaml", "application/json-patch+json",
                               "application/merge-patch+json"] + (
                                  ["application/strategic-merge-patch+json"] if r.builtin else [])}},
                          "responses": {"200": {"description": "OK", "content": content_json}},
                          "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk},
                "delete": {"operationId": "delete" + op, "parameters": _params(["dryRun"]),
                           "responses": {"200": {"description": "OK", "content": content_json}},
                           "x-kubernetes-action": "delete", "x-kubernetes-group-version-kind": gvk},
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string", "uniqueItems": True}}]}
            paths[coll + "/{name}"] = item
            if r.status:
                paths[coll + "/{name}/status"] = {k: copy.deepcopy(v) for k, v in item.items() if k != "delete"}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": schemas}}


def doc_hash(doc):
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()
