"""The REST semantics of kube-apiserver's generic registry for every type in resources.TYPES:
get, list, watch, create, update, patch, delete, deletecollection and the status subresource
(serviceaccounts/token and tokenreviews are in tokens.py). HTTP-free: `Api.handle(Request)` returns
a Response, or a WatchStream the HTTP layer drains (server.py).
"""
import copy
import json
import random
import uuid

from . import clock, defaults, managed_fields, patch, protobuf, selectors, tokens
from .resources import lookup, storage_type
from .status import (ApiError, already_exists, bad_request, conflict, forbidden, invalid,
                     method_not_allowed, not_found, path_not_found, too_large_rv)
from .store import Filter, canonical, encode

NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"   # k8s.io/apiserver/pkg/storage/names


class Request:
    def __init__(self, method, path, query, body=b"", content_type="", accept="", user=None,
                 user_agent=""):
        self.method, self.path, self.query, self.body = method, path, query, body
        self.content_type, self.accept, self.user, self.user_agent = \
            content_type, accept, user, user_agent

    def param(self, name, default=""):
        v = self.query.get(name)
        return v[-1] if v else default

    def flag(self, name):
        return self.param(name).lower() in ("true", "1")


class Response:
    def __init__(self, code, body, content_type="application/json", headers=None):
        self.code, self.body, self.content_type = code, body, content_type
        self.headers = headers or {}


class WatchStream:
    def __init__(self, rt, watcher=None, error=None, bookmarks=False, timeout=1800, table=None):
        self.rt, self.watcher, self.error = rt, watcher, error
        self.bookmarks, self.timeout, self.table = bookmarks, timeout, table


def json_response(code, obj):
    return Response(code, encode(obj))


class Route:
    """A parsed resource path: /api/v1/namespaces/ns/pods/name/status and the like."""

    def __init__(self, rt, namespace, name, sub):
        self.rt, self.namespace, self.name, self.sub = rt, namespace, name, sub

    @property
    def key(self):
        return f"{self.namespace}/{self.name}" if self.rt.namespaced else self.name


def parse_route(path):
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None, False
    legacy_watch = rest[:1] == ["watch"]
    if legacy_watch:
        rest = rest[1:]
    if not rest:
        return None, False
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        t = lookup((group, version, rest[2]))
        if t is not None and t.namespaced:
            namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise path_not_found()
    rt = lookup((group, version, rest[0]))
    if rt is None:
        raise path_not_found()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if (sub and sub not in rt.subresources) or (namespace and not rt.namespaced) or \
            (name is not None and rt.namespaced and namespace is None):
        raise path_not_found()
    return Route(rt, namespace, name, sub), legacy_watch


class Api:
    def __init__(self, store, auth, admission, counters, log, ca_pem="", watch_timeout=1800):
        self.store, self.auth, self.admission = store, auth, admission
        self.counters, self.log, self.ca_pem = counters, log, ca_pem
        self.watch_timeout = watch_timeout
        self.next_ip = 10 << 24 | 96 << 16 | 0 << 8 | 10   # 10.96.0.10 onwards

    # ---- dispatch ------------------------------------------------------------------------------
    def handle(self, req):
        route, legacy_watch = parse_route(req.path)
        if route is None:
            raise path_not_found()
        rt, m = route.rt, req.method
        if route.name is None:
            if m == "GET":
                watch = legacy_watch or req.flag("watch")
                self.counters.request("watch" if watch else "list", rt.resource)
                return self.watch(req, route) if watch else self.list(req, route)
            if m == "POST":
                self.counters.request("create", rt.resource)
                if rt.resource == "tokenreviews":
                    return tokens.token_review(self, req)
                return self.create(req, route)
            if m == "DELETE":
                self.counters.request("deletecollection", rt.resource)
                return self.delete_collection(req, route)
            raise method_not_allowed()
        if rt.verbs == ["create"]:
            raise method_not_allowed()
        label = rt.resource + ("/" + route.sub if route.sub else "")
        if route.sub == "token":
            if m != "POST":
                raise method_not_allowed()
            self.counters.request("create", label)
            return tokens.token_request(self, req, route)
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(m)
        if verb is None or (verb == "delete" and route.sub):
            raise method_not_allowed()
        self.counters.request(verb, label)
        return getattr(self, verb)(req, route)

    # ---- helpers -------------------------------------------------------------------------------
    def out(self, rt, entry):
        if rt.api_version == rt.storage_version and rt.to_version_fn is None:
            return entry.data
        return encode(canonical(rt.to_version(entry.obj())))

    def decode(self, req, rt, kind=None):
        ctype = (req.content_type or "application/json").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf":
            obj = protobuf.to_json_object(req.body)
        elif ctype not in ("application/json", "*/*", ""):
            raise ApiError(415, "UnsupportedMediaType",
                           'the body of the request was in an unknown format - accepted media '
                           'types include: application/json, application/yaml, '
                           'application/vnd.kubernetes.protobuf', {})
        else:
            try:
                obj = json.loads(req.body or b"null")
            except ValueError as e:
                raise bad_request(f"couldn't get version/kind; json parse error: {e}")
        if not isinstance(obj, dict):
            raise bad_request("couldn't get version/kind; json parse error: not an object")
        kind = kind or rt.kind
        api_version = "authentication.k8s.io/v1" if kind in ("TokenRequest",) else rt.api_version
        if obj.get("apiVersion", api_version) != api_version or obj.get("kind", kind) != kind:
            raise bad_request(f"the API version in the data ({obj.get('apiVersion')}) does not "
                              f"match the expected API version ({api_version})")
        obj["apiVersion"], obj["kind"] = api_version, kind
        if not isinstance(obj.setdefault("metadata", {}), dict):
            raise bad_request("metadata must be an object")
        return obj

    def manager(self, req):
        return req.param("fieldManager") or (req.user_agent.split("/")[0] or "unknown")[:128]

    def wants_table(self, req):
        return "as=Table" in req.accept

    def table(self, rt, entries, req, list_meta=None):
        cols = rt.columns
        include = req.param("includeObject", "Metadata")
        rows = []
        for e in entries:
            obj = rt.to_version(e.obj())
            row = {"cells": cols.row(obj)}
            if include == "Object":
                row["object"] = obj
            elif include != "None":
                row["object"] = {"kind": "PartialObjectMetadata",
                                 "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
            rows.append(row)
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                "metadata": list_meta or {"resourceVersion": str(self.store.rv)},
                "columnDefinitions": cols.definitions(), "rows": rows}

    def random_suffix(self, n=5):
        return "".join(random.choice(NAME_CHARS) for _ in range(n))

    def allocate_cluster_ip(self):
        ip = self.next_ip
        self.next_ip += 1
        return ".".join(str(ip >> s & 255) for s in (24, 16, 8, 0))

    def namespace_entry(self, name):
        return self.store.get("/namespaces", name)

    # ---- reads ---------------------------------------------------------------------------------
    def get(self, req, route):
        rt = route.rt
        entry = self.store.get(rt.storage, route.key)
        if entry is None:
            raise not_found(rt, route.name)
        if self.wants_table(req):
            return json_response(200, self.table(rt, [entry], req))
        return Response(200, self.out(rt, entry))

    def filter(self, req, route):
        rt = route.rt
        labels = selectors.parse_label_selector(req.param("labelSelector"))
        supported = storage_type(rt.storage).field_labels({"metadata": {}}).keys()
        fields = selectors.parse_field_selector(req.param("fieldSelector"), supported)
        return Filter(route.namespace, labels, fields)

    def _requested_rv(self, req):
        rv = req.param("resourceVersion")
        if rv == "":
            return None
        try:
            return int(rv)
        except ValueError:
            raise bad_request(f'resourceVersion: Invalid value: "{rv}": must be an integer')

    def list(self, req, route):
        rt = route.rt
        flt = self.filter(req, route)
        try:
            limit = int(req.param("limit") or 0)
        except ValueError:
            raise bad_request("limit: must be an integer")
        token = req.param("continue")
        rv = self._requested_rv(req)
        match = req.param("resourceVersionMatch")
        if match and rv is None:
            raise bad_request("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden "
                              "unless resourceVersion is provided")
        if token and rv:
            raise bad_request("specifying resource version is not allowed when using continue")
        snapshot_rv = None
        if rv:
            if rv > self.store.rv:
                raise too_large_rv(rv, self.store.rv)
            if match == "Exact":
                snapshot_rv = rv
            elif match not in ("", "NotOlderThan"):
                raise bad_request(f'resourceVersionMatch: Unsupported value: "{match}"')
        if token:
            self.counters.bump("list_continues")
        list_rv, entries, cont, remaining = self.store.list(rt.storage, flt, limit, token or None,
                                                            snapshot_rv)
        meta = {"resourceVersion": str(list_rv)}
        if cont:
            meta["continue"] = cont
        if remaining is not None:
            meta["remainingItemCount"] = remaining
        if self.wants_table(req):
            return json_response(200, self.table(rt, entries, req, meta))
        head = encode({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
        body = head[:-1] + b',"items":[' + b",".join(self.out(rt, e) for e in entries) + b"]}"
        return Response(200, body)

    def watch(self, req, route):
        rt = route.rt
        flt = self.filter(req, route)
        rv = self._requested_rv(req)
        bookmarks = req.flag("allowWatchBookmarks")
        send_initial = req.param("sendInitialEvents")
        match = req.param("resourceVersionMatch")
        if send_initial:
            if match != "NotOlderThan" or not bookmarks:
                raise ApiError(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: "
                               "sendInitialEvents: Forbidden: sendInitialEvents requires setting "
                               "resourceVersionMatch to NotOlderThan and allowWatchBookmarks",
                               {"kind": "ListOptions", "group": "meta.k8s.io"})
        elif match:
            raise ApiError(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: "
                           "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden "
                           "for watch unless sendInitialEvents is provided",
                           {"kind": "ListOptions", "group": "meta.k8s.io"})
        timeout = self.watch_timeout
        if req.param("timeoutSeconds"):
            try:
                timeout = max(0, int(req.param("timeoutSeconds")))
            except ValueError:
                raise bad_request("timeoutSeconds: must be an integer")
        table = rt.columns if self.wants_table(req) else None
        if rv and rv > self.store.rv:
            return WatchStream(rt, error=too_large_rv(rv, self.store.rv))
        initial = send_initial.lower() == "true"
        try:
            w = self.store.watch(rt.storage, flt, rv, send_initial=initial,
                                 initial_end_bookmark=initial)
        except ApiError as e:
            # Once a watch is admitted, the real server reports even 410 as an ERROR event.
            self.counters.bump("watch_gone")
            return WatchStream(rt, error=e)
        return WatchStream(rt, w, bookmarks=bookmarks, timeout=timeout, table=table)

    # ---- writes --------------------------------------------------------------------------------
    class _Ctx:
        """What defaulting may ask of the server (ClusterIP allocation, SA token automount)."""

        def __init__(self, api, creating, old=None):
            self.api, self.creating, self.old = api, creating, old

        def random_suffix(self):
            return self.api.random_suffix()

        def allocate_cluster_ip(self):
            old_ip = ((self.old or {}).get("spec") or {}).get("clusterIP")
            return old_ip or self.api.allocate_cluster_ip()

        def automount_token(self, pod):
            if not self.creating:
                return False
            if pod["spec"].get("automountServiceAccountToken") is False:
                return False
            meta = pod["metadata"]
            sa = self.api.store.get("/serviceaccounts",
                                    f"{meta.get('namespace')}/{pod['spec']['serviceAccountName']}")
            return sa is None or b'"automountServiceAccountToken":false' not in sa.data

    def _check_namespace(self, route, meta):
        rt = route.rt
        if not rt.namespaced:
            meta.pop("namespace", None)
            return
        if meta.get("namespace") and meta["namespace"] != route.namespace:
            raise bad_request("the namespace of the provided object does not match the namespace "
                              "sent on the request")
        meta["namespace"] = route.namespace

    def create(self, req, route, system=False, keep_status=False):
        rt = route.rt
        obj = self.decode(req, rt)
        meta = obj["metadata"]
        self._check_namespace(route, meta)
        name = meta.get("name", "")
        if not name and not meta.get("generateName"):
            raise invalid(rt, "", [("metadata.name", "FieldValueRequired",
                                    "Required value: name or generateName is required")])
        ns_obj = None
        if rt.namespaced:
            ns_entry = self.namespace_entry(route.namespace)
            if ns_entry is None:
                raise ApiError(404, "NotFound", f'namespaces "{route.namespace}" not found',
                               {"name": route.namespace, "kind": "namespaces"})
            ns_obj = ns_entry.obj()
            if ns_obj.get("metadata", {}).get("deletionTimestamp"):
                raise forbidden(rt, name, f"unable to create new content in namespace "
                                          f"{route.namespace} because it is being terminated")
        for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "generation", "managedFields", "selfLink"):
            meta.pop(k, None)
        if rt.status_subresource and not keep_status:
            obj.pop("status", None)
        if rt.resource == "pods" and not rt.group:
            sa = (obj.get("spec") or {}).get("serviceAccountName") or \
                (obj.get("spec") or {}).get("serviceAccount") or "default"
            if self.store.get("/serviceaccounts", f"{route.namespace}/{sa}") is None:
                raise forbidden(rt, name, f"error looking up service account "
                                          f"{route.namespace}/{sa}: serviceaccount \"{sa}\" "
                                          f"not found")
        if rt.default_fn:
            rt.default_fn(obj, self._Ctx(self, True))
        dry_run = "All" in req.query.get("dryRun", [])
        if not system:
            options = {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
            if req.param("fieldManager"):
                options["fieldManager"] = req.param("fieldManager")
            obj = self.admission.mutate(rt, "CREATE", obj, None, ns_obj, req.user, options)
            meta = obj["metadata"]
        self._validate(rt, obj, meta.get("name") or meta.get("generateName", ""))
        with self.store.lock:
            if not meta.get("name"):
                while True:
                    meta["name"] = meta["generateName"] + self.random_suffix()
                    route.name = meta["name"]
                    if self.store.get(rt.storage, route.key) is None:
                        break
            route.name = meta["name"]
            if self.store.get(rt.storage, route.key) is not None:
                raise already_exists(rt, route.name)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = clock.rfc3339()
            if rt.generation:
                meta["generation"] = 1
            meta["managedFields"] = managed_fields.on_write(
                None, obj, self.manager(req), rt.api_version,
                "main-no-status" if rt.status_subresource else "main")
            if dry_run:
                return json_response(201, canonical(obj))
            meta["resourceVersion"] = str(self.store.next_rv())
            entry = self._commit(rt, route.key, obj, "ADDED")
        if rt.resource == "namespaces" and not rt.group:
            self.on_namespace_created(meta["name"])
        return Response(201, self.out(rt, entry))

    def _commit(self, rt, key, obj, event_type):
        """Stores `obj` (in `rt`'s version) in storage form; field selectors read that form."""
        stored = rt.from_version(copy.deepcopy(obj))
        return self.store.commit(rt.storage, key, stored,
                                 storage_type(rt.storage).field_labels(stored), event_type)

    def _validate(self, rt, obj, name):
        meta = obj["metadata"]
        if meta.get("name"):
            why = defaults.validate_name(rt.name_rule, meta["name"])
            if why:
                raise invalid(rt, meta["name"], [("metadata.name", "FieldValueInvalid",
                                                  f'Invalid value: "{meta["name"]}": {why}')])
        causes = rt.validate_fn(obj) if rt.validate_fn else []
        if causes:
            raise invalid(rt, name, causes)

    def on_namespace_created(self, ns):
        """The service-account and root-CA-publisher controllers of kube-controller-manager."""
        from .resources import BY_GVR as T
        req = Request("POST", "", {}, user_agent="kube-controller-manager/v1.32.0")
        for rt, obj in ((T[("", "v1", "serviceaccounts")],
                         {"metadata": {"name": "default", "namespace": ns}}),
                        (T[("", "v1", "configmaps")],
                         {"metadata": {"name": "kube-root-ca.crt", "namespace": ns,
                                       "annotations": {"kubernetes.io/description": (
                                           "Contains a CA bundle that can be used to verify the "
                                           "kube-apiserver when using internal endpoints such as "
                                           "the internal service IP or kubernetes.default.svc. "
                                           "No other usage is guaranteed across distributions of "
                                           "Kubernetes clusters.")}},
                          "data": {"ca.crt": self.ca_pem}})):
            req.body = encode(obj)
            try:
                self.create(req, Route(rt, ns, None, None), system=True)
            except ApiError as e:
                if e.code != 409:
                    raise

    def update(self, req, route):
        rt = route.rt
        body = self.decode(req, rt)
        if body["metadata"].get("name", route.name) != route.name:
            raise bad_request(f"the name of the object ({body['metadata'].get('name')}) does not "
                              f"match the name on the URL ({route.name})")
        with self.store.lock:
            entry = self.store.get(rt.storage, route.key)
            if entry is None:
                raise not_found(rt, route.name)
            rv = body["metadata"].get("resourceVersion")
            if rv:
                if rv != str(entry.rv):
                    raise conflict(rt, route.name)
            elif not rt.strategic:
                raise invalid(rt, route.name, [("metadata.resourceVersion", "FieldValueInvalid",
                                                "Invalid value: 0x0: must be specified for an "
                                                "update")])
            return self.write(req, route, entry, body)

    def patch(self, req, route):
        rt = route.rt
        with self.store.lock:
            entry = self.store.get(rt.storage, route.key)
            if entry is None:
                raise not_found(rt, route.name)
            current = rt.to_version(entry.obj())
            patched = patch.apply(req.content_type, current, req.body, rt.strategic)
            if not isinstance(patched, dict):
                raise bad_request("patch did not produce an object")
            meta = patched.setdefault("metadata", {})
            if meta.get("resourceVersion") not in (None, str(entry.rv)):
                raise conflict(rt, route.name)
            if meta.get("uid") not in (None, entry.uid):
                raise conflict(rt, route.name, f"Precondition failed: UID in precondition: "
                                               f"{meta.get('uid')}, UID in object meta: {entry.uid}")
            return self.write(req, route, entry, patched)

    def write(self, req, route, entry, new):
        """Update `entry` to `new` (caller holds the store lock): the main resource keeps the
        stored status, the status subresource keeps everything but status."""
        rt = route.rt
        old = rt.to_version(entry.obj())
        old_meta = old["metadata"]
        if route.sub == "status":
            result = copy.deepcopy(old)
            result["status"] = new.get("status") or {}
        else:
            result = copy.deepcopy(new)
            if rt.status_subresource:
                if "status" in old:
                    result["status"] = old["status"]
                else:
                    result.pop("status", None)
        meta = result.setdefault("metadata", {})
        for k in ("name", "namespace", "uid", "creationTimestamp", "generation",
                  "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if rt.resource == "pods" and not rt.group:
            defaults.sync_pod_ips(result.setdefault("status", {}))
            self._check_pod_update(rt, old, result)
        elif rt.default_fn and route.sub != "status":
            rt.default_fn(result, self._Ctx(self, False, old))

        def content(o):
            o = dict(o)
            m = dict(o.get("metadata") or {})
            m.pop("managedFields", None)
            o["metadata"] = m
            return o
        if content(result) == content(old):
            return Response(200, self.out(rt, entry))   # a no-op write is not stored
        if rt.generation and {k: v for k, v in result.items() if k not in ("metadata", "status")} \
                != {k: v for k, v in old.items() if k not in ("metadata", "status")}:
            meta["generation"] = int(old_meta.get("generation", 0)) + 1
        self._validate(rt, result, route.name)
        if old_meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._remove(route, entry, result, req)
        part = "status" if route.sub == "status" else \
            ("main-no-status" if rt.status_subresource else "main")
        meta["managedFields"] = managed_fields.on_write(old, result, self.manager(req),
                                                        rt.api_version, part, route.sub)
        meta["resourceVersion"] = str(self.store.next_rv())
        stored = self._commit(rt, route.key, result, "MODIFIED")
        return Response(200, self.out(rt, stored))

    def _check_pod_update(self, rt, old, new):
        # pkg/apis/core/validation ValidatePodUpdate: only images, activeDeadlineSeconds and
        # tolerations (additions) may change in a pod's spec.
        def mutable_removed(spec):
            spec = copy.deepcopy(spec or {})
            for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                c.pop("image", None)
            for k in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
                spec.pop(k, None)
            return spec
        if mutable_removed(old.get("spec")) != mutable_removed(new.get("spec")):
            raise invalid(rt, old["metadata"]["name"], [(
                "spec", "FieldValueForbidden",
                "Forbidden: pod updates may not change fields other than `spec.containers[*]."
                "image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                "`spec.tolerations` (only additions to existing tolerations),"
                "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                "previously negative)")])

    # ---- deletes -------------------------------------------------------------------------------
    def delete(self, req, route):
        rt = route.rt
        opts = {}
        if req.body:
            try:
                opts = json.loads(req.body) or {}
            except ValueError as e:
                raise bad_request(f"couldn't decode DeleteOptions: {e}")
        policy = opts.get("propagationPolicy") or req.param("propagationPolicy") or "Background"
        with self.store.lock:
            entry = self.store.get(rt.storage, route.key)
            if entry is None:
                raise not_found(rt, route.name)
            pre = opts.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != entry.uid:
                raise conflict(rt, route.name, f"Precondition failed: UID in precondition: "
                                               f"{pre['uid']}, UID in object meta: {entry.uid}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != str(entry.rv):
                raise conflict(rt, route.name, f"Precondition failed: ResourceVersion in "
                                               f"precondition: {pre['resourceVersion']}, "
                                               f"ResourceVersion in object meta: {entry.rv}")
            obj = rt.to_version(entry.obj())
            meta = obj["metadata"]
            if "All" in req.query.get("dryRun", []) + (opts.get("dryRun") or []):
                return Response(200, self.out(rt, entry))
            if meta.get("finalizers"):
                # Finalizers hold the object until a writer empties them (then write() deletes).
                if not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = clock.rfc3339()
                    meta["deletionGracePeriodSeconds"] = 0
                    meta["resourceVersion"] = str(self.store.next_rv())
                    entry = self._commit(rt, route.key, obj, "MODIFIED")
                return Response(200, self.out(rt, entry))
            return self._remove(route, entry, obj, req, policy)

    def _remove(self, route, entry, obj, req, policy="Background"):
        rt = route.rt
        meta = obj["metadata"]
        if rt.resource == "namespaces" and not rt.group:
            # The namespace controller empties the namespace; here it happens at once.
            for storage, r in list(self.store.resources.items()):
                for e in [e for e in r.objects.values() if e.namespace == meta["name"]]:
                    self._remove_entry(storage, e)
            meta["deletionTimestamp"] = clock.rfc3339()
            obj.setdefault("status", {})["phase"] = "Terminating"
        final = copy.deepcopy(obj)
        final["metadata"]["resourceVersion"] = str(self.store.next_rv())
        stored = rt.from_version(copy.deepcopy(final))
        self.store.remove(rt.storage, route.key, stored,
                          storage_type(rt.storage).field_labels(stored))
        if policy != "Orphan":
            self._collect_garbage(entry.uid, entry.namespace)
        if rt.resource in ("pods", "services", "namespaces") and not rt.group:
            return json_response(200, canonical(final))
        details = {"name": route.name}
        if rt.group:
            details["group"] = rt.group
        details.update({"kind": rt.resource, "uid": entry.uid})
        return json_response(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                   "status": "Success", "details": details})

    def _remove_entry(self, storage, e):
        obj = e.obj()
        obj["metadata"]["resourceVersion"] = str(self.store.next_rv())
        self.store.remove(storage, e.key, obj, storage_type(storage).field_labels(obj))
        return obj

    def _collect_garbage(self, owner_uid, namespace):
        """The garbage collector, synchronously: dependents whose ownerReferences name the
        deleted owner go too (background propagation)."""
        needle = owner_uid.encode()
        for storage, r in list(self.store.resources.items()):
            for e in list(r.objects.values()):
                if needle not in e.data or (namespace and e.namespace != namespace):
                    continue
                refs = e.obj()["metadata"].get("ownerReferences") or []
                if any(ref.get("uid") == owner_uid for ref in refs):
                    self._remove_entry(storage, e)
                    self._collect_garbage(e.uid, e.namespace)

    def delete_collection(self, req, route):
        rt = route.rt
        flt = self.filter(req, route)
        deleted = []
        with self.store.lock:
            for e in self.store.entries(rt.storage):
                if flt.matches(e) or (flt.empty and not flt.namespace):
                    r = Route(rt, e.namespace or None, e.name, None)
                    obj = rt.to_version(e.obj())
                    self._remove(r, e, obj, req)
                    deleted.append(obj)
        return json_response(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                                   "metadata": {"resourceVersion": str(self.store.rv)},
                                   "items": deleted})
