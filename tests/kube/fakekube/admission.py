"""Mutating admission webhooks, called the way kube-apiserver calls them
(k8s.io/apiserver/pkg/admission/plugin/webhook): every MutatingWebhookConfiguration in name order,
each webhook in order, filtered by rules, namespaceSelector and objectSelector; an
admission.k8s.io/v1 AdmissionReview POSTed over HTTPS (certificate verified against caBundle for
the service's DNS name) to `<url>?timeout=<N>s`; the returned base64 JSONPatch applied to the
object the next webhook sees; failurePolicy deciding what a failed call means.

Service and URL hosts are dialed through `host_map` ("name.ns.svc:443" -> "127.0.0.1:PORT"),
since these machines have no cluster DNS. Not implemented: matchConditions (CEL),
reinvocationPolicy IfNeeded, validating webhooks, admissionReviewVersions other than v1.
"""
import base64
import http.client
import json
import socket
import ssl
import threading
import urllib.parse
import uuid

from . import patch, selectors
from .status import ApiError, internal


class Admission:
    def __init__(self, store, log):
        self.store = store
        self.log = log
        self.lock = threading.Lock()
        self.host_map = {}
        self.calls = []       # (webhook name, outcome) for the admin port counters

    def set_hosts(self, mapping):
        with self.lock:
            self.host_map.update(mapping)

    def _webhooks(self):
        configs = sorted(self.store.entries("admissionregistration.k8s.io/"
                                            "mutatingwebhookconfigurations"),
                         key=lambda e: e.name)
        for e in configs:
            for w in e.obj().get("webhooks") or []:
                yield w

    def mutate(self, rt, operation, obj, old, namespace_obj, user, options, subresource=""):
        """Runs every matching webhook; returns the (possibly patched) object or raises."""
        for w in self._webhooks():
            if not _rules_match(w, rt, operation, subresource):
                continue
            if not _namespace_matches(w, rt, obj, namespace_obj):
                continue
            labels = ((obj or old or {}).get("metadata") or {}).get("labels")
            if not selectors.label_selector_object_matches(w.get("objectSelector"), labels):
                continue
            obj = self._call(w, rt, operation, obj, old, user, options, subresource)
        return obj

    def _call(self, w, rt, operation, obj, old, user, options, subresource):
        name = w.get("name", "")
        meta = (obj or old or {}).get("metadata") or {}
        uid = str(uuid.uuid4())
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        gvr = {"group": rt.group, "version": rt.version, "resource": rt.resource}
        request = {"uid": uid, "kind": gvk, "resource": gvr, "requestKind": gvk,
                   "requestResource": gvr}
        if subresource:
            request["subResource"] = subresource
            request["requestSubResource"] = subresource
        if meta.get("name"):
            request["name"] = meta["name"]
        if meta.get("namespace"):
            request["namespace"] = meta["namespace"]
        request.update({"operation": operation, "userInfo": user, "object": obj,
                        "oldObject": old, "dryRun": False, "options": options})
        review = {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1",
                  "request": request}
        try:
            response = self._post(w, review)
            resp = (response or {}).get("response")
            if not isinstance(resp, dict):
                raise WebhookError("received empty response")
            if resp.get("uid") != uid:
                raise WebhookError(f"expected response.uid=\"{uid}\", got \"{resp.get('uid')}\"")
        except WebhookError as e:
            self.calls.append((name, "error"))
            if w.get("failurePolicy", "Fail") == "Ignore":
                self.log(f"admission: webhook {name} failed open: {e}")
                return obj
            raise internal(f'failed calling webhook "{name}": {e}')
        if not resp.get("allowed"):
            self.calls.append((name, "denied"))
            result = dict(resp.get("status") or {})
            code = max(int(result.get("code") or 0), 400)
            denied = f'admission webhook "{name}" denied the request'
            if result.get("message"):
                message = f"{denied}: {result['message']}"
            elif result.get("reason"):
                message = f"{denied}: {result['reason']}"
            else:
                message = f"{denied} without explanation"
            raise ApiError(code, result.get("reason", ""), message, result.get("details"))
        self.calls.append((name, "allowed"))
        if resp.get("patch"):
            if resp.get("patchType") != "JSONPatch":
                raise internal(f'failed calling webhook "{name}": unsupported patch type '
                               f'"{resp.get("patchType")}"')
            try:
                ops = json.loads(base64.b64decode(resp["patch"]))
                obj = patch.json_patch(obj, ops)
            except (ValueError, ApiError) as e:
                raise internal(f'failed calling webhook "{name}": JSON patch failed: {e}')
        return obj

    def _post(self, w, review):
        cc = w.get("clientConfig") or {}
        timeout = int(w.get("timeoutSeconds") or 10)
        if cc.get("url"):
            u = urllib.parse.urlsplit(cc["url"])
            host, port, path = u.hostname, u.port or 443, u.path or "/"
            if u.query:
                path += "?" + u.query
            display = cc["url"]
        elif cc.get("service"):
            svc = cc["service"]
            host = f"{svc.get('name')}.{svc.get('namespace')}.svc"
            port, path = int(svc.get("port") or 443), svc.get("path") or "/"
            display = f"https://{host}:{port}{path}"
        else:
            raise WebhookError("webhook has no clientConfig url or service")
        path += ("&" if "?" in path else "?") + f"timeout={timeout}s"
        display += ("&" if "?" in display else "?") + f"timeout={timeout}s"
        with self.lock:
            target = self.host_map.get(f"{host}:{port}", f"{host}:{port}")
        dial_host, _, dial_port = target.rpartition(":")
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        ctx.set_alpn_protocols(["http/1.1"])
        if cc.get("caBundle"):
            try:
                ctx = ssl.create_default_context(
                    cadata=base64.b64decode(cc["caBundle"]).decode())
            except (ValueError, ssl.SSLError) as e:
                raise WebhookError(f"failed to call webhook: bad caBundle: {e}")
        body = json.dumps(review).encode()
        try:
            raw = socket.create_connection((dial_host, int(dial_port)), timeout=timeout)
            sock = ctx.wrap_socket(raw, server_hostname=host)
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
            conn.sock = sock
            conn.request("POST", path, body, {"Content-Type": "application/json",
                                              "Accept": "application/json, */*"})
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        except (OSError, ssl.SSLError, http.client.HTTPException) as e:
            raise WebhookError(f'failed to call webhook: Post "{display}": '
                               f'{_go_error(e, host, target)}')
        if resp.status != 200:
            raise WebhookError(f"received unexpected status code {resp.status}: {data[:200]!r}")
        try:
            return json.loads(data)
        except ValueError as e:
            raise WebhookError(f"failed to call webhook: invalid JSON response: {e}")


class WebhookError(Exception):
    pass


def _go_error(e, host, target):
    """Python's socket/TLS errors in the words Go's net/http uses, which the real message has."""
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"tls: failed to verify certificate: x509: {e.verify_message}"
    if isinstance(e, ConnectionRefusedError):
        return f"dial tcp {target}: connect: connection refused"
    if isinstance(e, socket.gaierror):
        return f"dial tcp: lookup {host}: no such host"
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "context deadline exceeded"
    return str(e)


def _rules_match(w, rt, operation, subresource):
    resource = rt.resource + ("/" + subresource if subresource else "")
    for r in w.get("rules") or []:
        ops = r.get("operations") or []
        if "*" not in ops and operation not in ops:
            continue
        if not _in(rt.group, r.get("apiGroups")):
            continue
        # matchPolicy Equivalent: another served version of the same resource matches too.
        versions = r.get("apiVersions") or []
        if "*" not in versions and rt.version not in versions:
            if w.get("matchPolicy", "Equivalent") != "Equivalent":
                continue
            from .resources import TYPES
            if not any(t.storage == rt.storage and t.version in versions for t in TYPES):
                continue
        if not any(_resource_matches(p, resource) for p in r.get("resources") or []):
            continue
        scope = r.get("scope", "*")
        if scope == "Namespaced" and not rt.namespaced or scope == "Cluster" and rt.namespaced:
            continue
        return True
    return False


def _in(value, patterns):
    return "*" in (patterns or []) or value in (patterns or [])


def _resource_matches(pattern, resource):
    if pattern == "*/*":
        return True
    if pattern == "*":
        return "/" not in resource
    if pattern.endswith("/*"):
        return resource.split("/")[0] == pattern[:-2] and "/" in resource
    if pattern.startswith("*/"):
        return "/" in resource and resource.split("/", 1)[1] == pattern[2:]
    return pattern == resource


def _namespace_matches(w, rt, obj, namespace_obj):
    sel = w.get("namespaceSelector")
    if rt.resource == "namespaces" and not rt.group:
        labels = ((obj or {}).get("metadata") or {}).get("labels")
        return selectors.label_selector_object_matches(sel, labels)
    if not rt.namespaced:
        return True
    labels = ((namespace_obj or {}).get("metadata") or {}).get("labels")
    return selectors.label_selector_object_matches(sel, labels)
