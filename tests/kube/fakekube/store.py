"""The object store: etcd's role (one global resourceVersion counter, objects as serialized JSON)
plus the watch cache's (a bounded per-resource event history that watches resume from and that
410 Gone comes out of, consistent list snapshots for limit/continue paging).

Objects are held as their serialized bytes plus the few fields selectors need, so 10,000 pods
cost their JSON size, and a list or watch writes stored bytes without re-encoding them.
All mutation happens under `Store.lock`; handlers read-modify-write while holding it.
"""
import base64
import collections
import json
import threading

from . import selectors
from .status import ApiError, bad_request, too_old_rv

# Go's encoding order of ObjectMeta fields, so stored objects read like a real server's.
_META_ORDER = ["name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
               "generation", "creationTimestamp", "deletionTimestamp",
               "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
               "finalizers", "managedFields"]

CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.")
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list.")


def canonical(obj):
    """Key order kind, apiVersion, metadata (Go field order), then the rest with status last."""
    out = {}
    for k in ("kind", "apiVersion"):
        if k in obj:
            out[k] = obj[k]
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {k: meta[k] for k in _META_ORDER if k in meta}
        out["metadata"].update({k: v for k, v in meta.items() if k not in out["metadata"]})
    for k, v in obj.items():
        if k not in out and k != "status":
            out[k] = v
    if "status" in obj:
        out["status"] = obj["status"]
    return out


def encode(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class Entry:
    __slots__ = ("key", "namespace", "name", "rv", "data", "labels", "fields", "uid")

    def __init__(self, key, obj, data, fields):
        meta = obj["metadata"]
        self.key = key
        self.namespace = meta.get("namespace", "")
        self.name = meta["name"]
        self.rv = int(meta["resourceVersion"])
        self.data = data
        self.labels = meta.get("labels") or {}
        self.fields = fields
        self.uid = meta.get("uid", "")

    def obj(self):
        return json.loads(self.data)


class Event:
    __slots__ = ("rv", "type", "entry", "prev")

    def __init__(self, rv, type_, entry, prev):
        self.rv, self.type, self.entry, self.prev = rv, type_, entry, prev


class Resource:
    def __init__(self, floor_rv):
        self.objects = {}
        self.history = collections.deque()
        self.floor_rv = floor_rv      # every event with rv > floor_rv is in history
        self.last_change_rv = floor_rv
        self.watchers = set()
        self.sorted = None            # cached sorted entries of the current state


class Filter:
    """What a list or watch selects: a namespace, label and field requirements."""

    def __init__(self, namespace=None, labels=(), fields=()):
        self.namespace, self.labels, self.fields = namespace, list(labels), list(fields)

    @property
    def empty(self):
        return not self.labels and not self.fields

    def matches(self, entry):
        if entry is None:
            return False
        if self.namespace and entry.namespace != self.namespace:
            return False
        return selectors.matches(self.labels, entry.labels) and \
            selectors.fields_match(self.fields, entry.fields)


class Watcher:
    """One open watch: a queue of (type, entry-or-rv) the serving thread drains."""
    MAX_QUEUE = 250_000

    def __init__(self, storage, flt):
        self.storage, self.filter = storage, flt
        self.cond = threading.Condition()
        self.queue = collections.deque()
        self.closed = None            # None, "close" (end the stream) or "reset" (RST)

    def put(self, item):
        with self.cond:
            if len(self.queue) >= self.MAX_QUEUE:
                # A real server closes a watcher that cannot keep up.
                self.closed = self.closed or "close"
            else:
                self.queue.append(item)
            self.cond.notify()

    def offer(self, ev):
        """Called under the store lock for every event of the watched resource."""
        f = self.filter
        if f.empty and not f.namespace:
            self.put((ev.type, ev.entry))
            return
        now, before = f.matches(ev.entry), f.matches(ev.prev)
        if ev.type == "DELETED":
            if before:
                self.put(("DELETED", ev.entry))
        elif now and before:
            self.put(("MODIFIED", ev.entry))
        elif now:
            self.put(("ADDED", ev.entry))
        elif before:
            # Stopped matching the selector: the watcher sees it go (watch cache semantics).
            self.put(("DELETED", ev.entry))

    def close(self, how="close"):
        with self.cond:
            self.closed = self.closed or how
            self.cond.notify()

    def get(self, timeout):
        """Next item, or None on timeout; ("CLOSED", how) once closed and drained."""
        with self.cond:
            if not self.queue and not self.closed:
                self.cond.wait(timeout)
            if self.closed == "reset":
                return ("CLOSED", "reset")
            if self.queue:
                return self.queue.popleft()
            if self.closed:
                return ("CLOSED", self.closed)
            return None


class Store:
    def __init__(self, history_size=10000, initial_rv=1000):
        self.lock = threading.RLock()
        self.rv = initial_rv
        self.history_size = history_size
        self.resources = {}
        self._snapshots = collections.OrderedDict()   # (storage, rv) -> sorted entries

    def resource(self, storage):
        r = self.resources.get(storage)
        if r is None:
            r = self.resources[storage] = Resource(self.rv)
        return r

    # ---- reads -------------------------------------------------------------------------------
    def get(self, storage, key):
        with self.lock:
            return self.resource(storage).objects.get(key)

    def entries(self, storage):
        with self.lock:
            return list(self.resource(storage).objects.values())

    def _sorted_current(self, r):
        if r.sorted is None:
            r.sorted = [r.objects[k] for k in sorted(r.objects)]
        return r.sorted

    def snapshot(self, storage, rv=None):
        """(rv, entries sorted by key) of `storage` as of `rv` (None: now). Raises 410 when the
        history no longer reaches back to `rv`."""
        with self.lock:
            r = self.resource(storage)
            if rv is None or rv >= r.last_change_rv:
                return (self.rv if rv is None else rv), self._sorted_current(r)
            if rv < r.floor_rv:
                raise too_old_rv(rv, r.floor_rv)
            cached = self._snapshots.get((storage, rv))
            if cached is not None:
                self._snapshots.move_to_end((storage, rv))
                return rv, cached
            objs = dict(r.objects)
            for ev in reversed(r.history):
                if ev.rv <= rv:
                    break
                if ev.prev is None:
                    objs.pop(ev.entry.key, None)
                else:
                    objs[ev.prev.key] = ev.prev
            entries = [objs[k] for k in sorted(objs)]
            self._snapshots[(storage, rv)] = entries
            while len(self._snapshots) > 16:
                self._snapshots.popitem(last=False)
            return rv, entries

    def list(self, storage, flt, limit=0, continue_token=None, rv=None):
        """A page: (list rv, entries, continue token or "", remainingItemCount or None)."""
        start = ""
        if continue_token:
            rv, start = decode_continue(continue_token)
            if rv is not None and rv != -1:   # -1: "continue at the latest state"
                with self.lock:
                    if rv < self.resource(storage).floor_rv:
                        raise ApiError(410, "Expired", INCONSISTENT_CONTINUE,
                                       list_continue=encode_continue(-1, start))
            if rv == -1:
                rv = None
        list_rv, entries = self.snapshot(storage, rv)
        if flt.namespace and start < flt.namespace + "/":
            start = flt.namespace + "/"   # etcd reads the key range of one namespace
        i = _bisect_entries(entries, start) if start else 0
        out, everything = [], flt.empty and not flt.namespace
        while i < len(entries) and (not limit or len(out) < limit):
            e = entries[i]
            if flt.namespace and e.namespace != flt.namespace:
                i = len(entries)
                break
            i += 1
            if everything or flt.matches(e):
                out.append(e)
        token, remaining = "", None
        if limit and i < len(entries) and \
                (not flt.namespace or entries[i].namespace == flt.namespace):
            # etcd pages over keys: more keys remain, even if none would match the selector.
            token = encode_continue(list_rv, entries[i - 1].key + "\x00")
            if flt.empty:   # etcd counts the rest of the key range; selectors make it unknown
                end = _bisect_entries(entries, flt.namespace + "0") if flt.namespace \
                    else len(entries)
                remaining = end - i
        return list_rv, out, token, remaining

    # ---- writes (caller holds self.lock) -------------------------------------------------------
    def next_rv(self):
        self.rv += 1
        return self.rv

    def commit(self, storage, key, obj, fields, event_type):
        """Stores `obj` (metadata.resourceVersion already set to a fresh next_rv())."""
        r = self.resource(storage)
        data = encode(canonical(obj))
        entry = Entry(key, obj, data, fields)
        prev = r.objects.get(key)
        r.objects[key] = entry
        if prev is None:
            r.sorted = None
        elif r.sorted is not None:
            i = _bisect_entries(r.sorted, key)
            r.sorted = r.sorted[:i] + [entry] + r.sorted[i + 1:]
        self._record(r, Event(entry.rv, event_type, entry, prev))
        return entry

    def remove(self, storage, key, final_obj, fields):
        """Deletes `key`; `final_obj` (its last state, carrying the deletion's rv) is what the
        DELETED event shows."""
        r = self.resource(storage)
        prev = r.objects.pop(key)
        r.sorted = None
        entry = Entry(key, final_obj, encode(canonical(final_obj)), fields)
        self._record(r, Event(entry.rv, "DELETED", entry, prev))
        return entry

    def _record(self, r, ev):
        r.history.append(ev)
        r.last_change_rv = ev.rv
        while len(r.history) > self.history_size:
            r.floor_rv = r.history.popleft().rv
        for w in list(r.watchers):
            w.offer(ev)

    # ---- watch ---------------------------------------------------------------------------------
    def watch(self, storage, flt, rv, send_initial=False, initial_end_bookmark=False):
        """Registers a watcher. rv None/0: synthetic ADDED events for the current state first;
        otherwise every event after rv (410 ERROR when history no longer has them)."""
        with self.lock:
            r = self.resource(storage)
            w = Watcher(storage, flt)
            if rv and not send_initial:
                if rv < r.floor_rv:
                    raise too_old_rv(rv, r.floor_rv)
                for ev in r.history:
                    if ev.rv > rv:
                        w.offer(ev)
            else:
                for e in self._sorted_current(r):
                    if flt.matches(e) or (flt.empty and not flt.namespace):
                        w.put(("ADDED", e))
                if initial_end_bookmark:
                    w.put(("BOOKMARK-END", self.rv))
            r.watchers.add(w)
            return w

    def unwatch(self, w):
        with self.lock:
            self.resource(w.storage).watchers.discard(w)

    def bookmark(self, w):
        """Queues a BOOKMARK at the current rv behind every event already queued."""
        with self.lock:
            w.put(("BOOKMARK", self.rv))

    def watchers(self):
        with self.lock:
            return [w for r in self.resources.values() for w in r.watchers]

    def expire_history(self):
        """Forget all history: a watch or list from any older resourceVersion gets 410."""
        with self.lock:
            for r in self.resources.values():
                r.history.clear()
                r.floor_rv = self.rv
            self._snapshots.clear()
            return self.rv


def _bisect_entries(entries, key):
    lo, hi = 0, len(entries)
    while lo < hi:
        mid = (lo + hi) // 2
        if entries[mid].key < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


def encode_continue(rv, start):
    # k8s.io/apiserver/pkg/storage/continue.go: base64url({"v":"meta.k8s.io/v1","rv":..,"start":..})
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token):
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        c = json.loads(raw)
        if c.get("v") != "meta.k8s.io/v1" or not isinstance(c.get("rv"), int):
            raise ValueError("unknown version")
        return c["rv"], c.get("start", "")
    except (ValueError, TypeError, AttributeError) as e:
        raise bad_request(f"continue key is not valid: {e}")
