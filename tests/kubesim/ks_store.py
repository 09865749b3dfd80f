"""Object store: every object of every kind, a global resourceVersion counter,
a bounded event history and the watchers. One lock (store.lock) guards all of
it; the API layer holds it across read-modify-write sequences."""
import bisect
import collections
import datetime
import json
import threading

import ks_ssa

from ks_select import field_match, label_match


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class Entry:
    """A stored object (never mutated after it is stored) and its JSON bytes."""
    __slots__ = ("obj", "_raw", "managed")

    def __init__(self, obj, managed=None):
        self.obj = obj
        self._raw = None
        self.managed = managed    # field ownership (ks_ssa), never served

    @property
    def raw(self):
        r = self._raw
        if r is None:
            r = self._raw = dumps(self.obj)
        return r


class Event:
    __slots__ = ("rv", "key", "ns", "type", "entry", "old")

    def __init__(self, rv, key, ns, type_, entry, old):
        self.rv, self.key, self.ns, self.type, self.entry, self.old = rv, key, ns, type_, entry, old


class Expired(Exception):
    pass


class Watcher:
    """One watch request. The store pushes (type, Entry) under its lock; the HTTP
    thread pops. Selector transitions are resolved at push time."""
    MAX_QUEUE = 100000

    def __init__(self, key, ns, lsel, fsel):
        self.key, self.ns, self.lsel, self.fsel = key, ns, lsel, fsel
        self.q = collections.deque()
        self.cv = threading.Condition(threading.Lock())
        self.closed = None   # reason string once closed
        self.last_rv = 0

    def matches(self, obj):
        md = obj.get("metadata") or {}
        if self.lsel and not label_match(self.lsel, md.get("labels")):
            return False
        if self.fsel and not field_match(self.fsel, obj):
            return False
        return True

    def offer(self, ev):
        """Translate a store event for this watcher (None when it does not see it)."""
        if self.ns is not None and ev.ns != self.ns:
            return None
        if ev.type == "DELETED":
            return "DELETED" if self.matches(ev.entry.obj) else None
        now = self.matches(ev.entry.obj)
        if ev.type == "ADDED" or ev.old is None:
            return "ADDED" if now else None
        before = self.matches(ev.old.obj)
        if before and now:
            return "MODIFIED"
        if now:
            return "ADDED"
        if before:
            return "DELETED"
        return None

    def push(self, type_, entry, rv):
        with self.cv:
            if self.closed:
                return
            if len(self.q) >= self.MAX_QUEUE:
                self.closed = "too slow"
                self.q.clear()
            else:
                self.q.append((type_, entry))
                self.last_rv = rv
            self.cv.notify()

    def close(self, reason):
        with self.cv:
            if not self.closed:
                self.closed = reason
            self.cv.notify()

    def pop(self, timeout):
        """Returns a list of queued (type, Entry), possibly empty after timeout."""
        with self.cv:
            if not self.q and not self.closed:
                self.cv.wait(timeout)
            items = list(self.q)
            self.q.clear()
            return items


class Store:
    def __init__(self, history=10000):
        self.lock = threading.RLock()
        self.rv = 1
        self.buckets = collections.defaultdict(dict)   # key -> {(ns, name): Entry}
        self.history = collections.deque()
        self.history_max = history
        self.floor = 1                 # events with rv > floor are all in history
        self.watchers = collections.defaultdict(set)
        self.uids = {}                 # uid -> (key, ns, name)
        self.dependents = collections.defaultdict(set)   # owner uid -> {(key, ns, name)}
        self.listeners = []            # callables(type, key, entry, old) after each write
        self._sorted = {}              # key -> sorted [(ns, name)] (see sorted_keys)

    # ---------- reads ----------
    def get(self, key, ns, name):
        return self.buckets[key].get((ns or "", name))

    def sorted_keys(self, key):
        """Sorted (ns, name) keys of a bucket, cached until an object is added or removed."""
        ks = self._sorted.get(key)
        if ks is None:
            ks = self._sorted[key] = sorted(self.buckets.get(key) or ())
        return ks

    def items(self, key, ns=None, after=None, limit=0, pred=None):
        """Entries of a bucket in (namespace, name) order; only namespace ns if given, only
        keys greater than `after`, at most `limit` (0 = all) of those passing pred(entry)."""
        b = self.buckets.get(key) or {}
        ks = self.sorted_keys(key)
        if ns is not None:
            lo = bisect.bisect_left(ks, (ns,))
            hi = bisect.bisect_left(ks, (ns + "\0",))
        else:
            lo, hi = 0, len(ks)
        if after is not None:
            lo = max(lo, bisect.bisect_right(ks, tuple(after)))
        out = []
        for i in range(lo, hi):
            e = b[ks[i]]
            if pred is None or pred(e):
                out.append(e)
                if limit and len(out) >= limit:
                    break
        return out

    def items_at(self, key, ns, rv, after):
        """Entries of a bucket as they were at resourceVersion rv (namespace ns if given, keys
        greater than `after`), rebuilt by undoing later events. Raises Expired when the
        history no longer reaches back to rv."""
        if rv < self.floor:
            raise Expired("too old resource version: %d (%d)" % (rv, self.floor + 1))
        after = tuple(after) if after is not None else None

        def wanted(k):
            return (ns is None or k[0] == ns) and (after is None or k > after)
        cur = {k: e for k, e in (self.buckets.get(key) or {}).items() if wanted(k)}
        for ev in reversed(self.history):
            if ev.rv <= rv:
                break
            if ev.key != key:
                continue
            k = (ev.ns, ev.entry.obj["metadata"]["name"])
            if not wanted(k):
                continue
            if ev.old is None:
                cur.pop(k, None)
            else:
                cur[k] = ev.old
        return [cur[k] for k in sorted(cur)]

    def count(self):
        return sum(len(b) for b in self.buckets.values())

    # ---------- writes (caller holds self.lock) ----------
    def next_rv(self):
        self.rv += 1
        return self.rv

    def _index(self, key, ns, name, obj, add):
        md = obj.get("metadata") or {}
        uid = md.get("uid")
        ref = (key, ns, name)
        if uid:
            if add:
                self.uids[uid] = ref
            else:
                self.uids.pop(uid, None)
        for o in md.get("ownerReferences") or []:
            u = o.get("uid")
            if not u:
                continue
            if add:
                self.dependents[u].add(ref)
            else:
                s = self.dependents.get(u)
                if s is not None:
                    s.discard(ref)
                    if not s:
                        del self.dependents[u]

    def put(self, key, obj, type_, managed=None):
        """Store obj (its metadata.resourceVersion already set by the caller via
        next_rv()) and publish the event. Returns the new Entry."""
        md = obj["metadata"]
        ns, name = md.get("namespace", ""), md["name"]
        b = self.buckets[key]
        old = b.get((ns, name))
        if old is not None:
            self._index(key, ns, name, old.obj, False)
        else:
            self._sorted.pop(key, None)
        if managed:
            md["managedFields"] = ks_ssa.managed_fields(
                managed, (old.obj["metadata"].get("managedFields") if old is not None else None),
                datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        else:
            md.pop("managedFields", None)
        e = Entry(obj, managed)
        b[(ns, name)] = e
        self._index(key, ns, name, obj, True)
        self._publish(int(md["resourceVersion"]), key, ns, type_, e, old)
        return e

    def remove(self, key, obj):
        """Remove the object (obj carries the deletion resourceVersion)."""
        md = obj["metadata"]
        ns, name = md.get("namespace", ""), md["name"]
        old = self.buckets[key].pop((ns, name), None)
        if old is not None:
            self._index(key, ns, name, old.obj, False)
            self._sorted.pop(key, None)
        e = Entry(obj)
        self._publish(int(md["resourceVersion"]), key, ns, "DELETED", e, old)
        return e

    def _publish(self, rv, key, ns, type_, entry, old):
        ev = Event(rv, key, ns, type_, entry, old)
        if len(self.history) >= self.history_max:
            self.floor = self.history.popleft().rv
        self.history.append(ev)
        for w in list(self.watchers.get(key, ())):
            t = w.offer(ev)
            if t:
                w.push(t, entry, rv)
        for fn in self.listeners:
            fn(type_, key, entry, old)

    def load(self, key, obj, managed=None):
        """Insert without an event (state restore)."""
        md = obj["metadata"]
        ns, name = md.get("namespace", ""), md["name"]
        self.buckets[key][(ns, name)] = Entry(obj, managed)
        self._sorted.pop(key, None)
        self._index(key, ns, name, obj, True)

    # ---------- watch ----------
    def watch(self, key, ns, lsel, fsel, rv):
        """Register a watcher. rv None = start with synthetic ADDED of the current
        state; else replay history after rv (raises Expired if too old).
        Returns (watcher, [(type, Entry), ...] initial events)."""
        w = Watcher(key, ns, lsel, fsel)
        init = []
        if rv is None:
            for e in self.items(key, ns):
                if w.matches(e.obj):
                    init.append(("ADDED", e))
        else:
            if rv < self.floor:
                raise Expired("too old resource version: %d (%d)" % (rv, self.floor + 1))
            for ev in self.history:
                if ev.rv > rv and ev.key == key:
                    t = w.offer(ev)
                    if t:
                        init.append((t, ev.entry))
        w.last_rv = self.rv
        self.watchers[key].add(w)
        return w, init

    def unwatch(self, w):
        s = self.watchers.get(w.key)
        if s is not None:
            s.discard(w)

    def watch_count(self):
        return sum(len(s) for s in self.watchers.values())

    def close_watches(self, reason="closed by fault injection"):
        for s in self.watchers.values():
            for w in list(s):
                w.close(reason)

    def expire_history(self):
        self.history.clear()
        self.floor = self.rv

    # ---------- persistence ----------
    def snapshot(self, managed_to_json):
        objs = []
        managed = {}
        for b in self.buckets.values():
            for e in b.values():
                objs.append(e.obj)
                if e.managed:
                    managed[e.obj["metadata"]["uid"]] = managed_to_json(e.managed)
        return {"resourceVersion": self.rv, "objects": objs, "managed": managed}
