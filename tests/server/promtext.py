"""A strict parser for the Prometheus text exposition format 0.0.4.

parse(text) returns {family_name: Family} or raises PromError naming the line.
Checks beyond syntax: TYPE before samples and at most once, HELP at most once,
a family's lines contiguous, no duplicate series or label names, valid metric
and label names, only the escapes the format allows, counters non-negative,
histograms with ascending `le` buckets, cumulative counts, a +Inf bucket equal
to _count, and _sum/_count present for every bucket set.
Standard library only.
"""
import math
import re

NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")


class PromError(Exception):
    pass


class Family:
    def __init__(self, name):
        self.name = name
        self.type = None
        self.help = None
        self.samples = []  # (sample_name, labels dict, value)


def _value(s, lineno):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not FLOAT_RE.fullmatch(s):
        raise PromError("line %d: bad value %r" % (lineno, s))
    return float(s)


def _unescape(s, allowed, lineno):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s) or s[i + 1] not in allowed:
                raise PromError("line %d: bad escape in %r" % (lineno, s))
            out.append({"\\": "\\", "n": "\n", '"': '"'}[s[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _parse_sample(line, lineno):
    m = NAME_RE.match(line)
    if not m:
        raise PromError("line %d: bad metric name" % lineno)
    name, i, labels = m.group(0), m.end(), {}
    if i < len(line) and line[i] == "{":
        i += 1
        while True:
            if i < len(line) and line[i] == "}":
                i += 1
                break
            lm = LABEL_RE.match(line, i)
            if not lm:
                raise PromError("line %d: bad label name at column %d" % (lineno, i + 1))
            lname = lm.group(0)
            i = lm.end()
            if line[i:i + 2] != '="':
                raise PromError("line %d: expected =\" after label %s" % (lineno, lname))
            i += 2
            j = i
            while j < len(line) and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            if j >= len(line):
                raise PromError("line %d: unterminated label value" % lineno)
            if lname in labels:
                raise PromError("line %d: duplicate label %s" % (lineno, lname))
            labels[lname] = _unescape(line[i:j], '\\"n', lineno)
            i = j + 1
            if i < len(line) and line[i] == ",":
                i += 1
            elif i < len(line) and line[i] == "}":
                i += 1
                break
            else:
                raise PromError("line %d: expected , or } after label value" % lineno)
    if i >= len(line) or line[i] != " ":
        raise PromError("line %d: expected a space before the value" % lineno)
    rest = line[i + 1:].split(" ")
    if len(rest) not in (1, 2) or "" in rest:
        raise PromError("line %d: expected value [timestamp]" % lineno)
    value = _value(rest[0], lineno)
    if len(rest) == 2 and not re.fullmatch(r"-?\d+", rest[1]):
        raise PromError("line %d: bad timestamp %r" % (lineno, rest[1]))
    return name, labels, value


def _family_of(sample_name, families):
    for suffix in ("_bucket", "_sum", "_count"):
        if sample_name.endswith(suffix):
            base = sample_name[: -len(suffix)]
            f = families.get(base)
            if f and f.type in ("histogram", "summary"):
                return base
    return sample_name


def _check_histogram(f):
    groups = {}
    for sname, labels, value in f.samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        g = groups.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sname == f.name + "_bucket":
            if "le" not in labels:
                raise PromError("%s: bucket without le" % f.name)
            g["buckets"].append((_value(labels["le"], 0), value))
        elif sname == f.name + "_sum":
            g["sum"] = value
        elif sname == f.name + "_count":
            g["count"] = value
        else:
            raise PromError("%s: unexpected sample %s in a histogram" % (f.name, sname))
    for key, g in groups.items():
        b = g["buckets"]
        if not b or b[-1][0] != math.inf:
            raise PromError("%s%s: no +Inf bucket" % (f.name, dict(key)))
        if g["sum"] is None or g["count"] is None:
            raise PromError("%s%s: _sum or _count missing" % (f.name, dict(key)))
        for (le1, c1), (le2, c2) in zip(b, b[1:]):
            if not le2 > le1:
                raise PromError("%s: le not ascending (%s then %s)" % (f.name, le1, le2))
            if c2 < c1:
                raise PromError("%s: bucket counts not cumulative" % f.name)
        if b[-1][1] != g["count"]:
            raise PromError("%s: +Inf bucket %s != _count %s" % (f.name, b[-1][1], g["count"]))


def parse(text):
    if text and not text.endswith("\n"):
        raise PromError("output does not end with a newline")
    families, order, current, seen = {}, [], None, set()
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME_RE.fullmatch(name):
                    raise PromError("line %d: bad metric name %r" % (lineno, name))
                f = families.get(name)
                if f is None:
                    f = families[name] = Family(name)
                    order.append(name)
                elif current != name:
                    raise PromError("line %d: %s lines are not contiguous" % (lineno, name))
                current = name
                if parts[1] == "TYPE":
                    if f.type is not None:
                        raise PromError("line %d: second TYPE for %s" % (lineno, name))
                    if f.samples:
                        raise PromError("line %d: TYPE after samples of %s" % (lineno, name))
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise PromError("line %d: bad TYPE line" % lineno)
                    f.type = parts[3]
                else:
                    if f.help is not None:
                        raise PromError("line %d: second HELP for %s" % (lineno, name))
                    f.help = _unescape(parts[3] if len(parts) == 4 else "", "\\n", lineno)
            continue
        sname, labels, value = _parse_sample(line, lineno)
        fname = _family_of(sname, families)
        f = families.get(fname)
        if f is None:
            f = families[fname] = Family(fname)
            order.append(fname)
            f.type = "untyped"
        elif current != fname:
            raise PromError("line %d: samples of %s are not contiguous" % (lineno, fname))
        current = fname
        key = (sname, tuple(sorted(labels.items())))
        if key in seen:
            raise PromError("line %d: duplicate series %s%s" % (lineno, sname, labels))
        seen.add(key)
        if f.type == "counter" and not value >= 0:
            raise PromError("line %d: negative or NaN counter %s" % (lineno, sname))
        if f.type in ("counter", "gauge", "untyped") and sname != fname:
            raise PromError("line %d: sample %s does not match family %s" % (lineno, sname, fname))
        f.samples.append((sname, labels, value))
    for f in families.values():
        if f.type == "histogram":
            _check_histogram(f)
    return families
