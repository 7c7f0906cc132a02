"""The fake API server's fault hooks and its mutating admission webhook calls."""
import base64
import http.server
import json
import socket
import ssl
import threading
import unittest
import urllib.error

from kube_test_support import FakeApiServer, openssl_cert, wait_for

NS = "/api/v1/namespaces"
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "app", "image": "app:1"}]}}


class FaultHooksTest(unittest.TestCase):
    def setUp(self):
        self.s = FakeApiServer("--bookmark-interval=3600")

    def tearDown(self):
        self.s.stop()

    def test_drop_watches_ends_every_open_stream(self):
        w1 = self.s.watch(f"{NS}/default/configmaps?watch=1")
        w2 = self.s.watch("/api/v1/pods?watch=1")
        try:
            self.assertEqual(w1.next()["type"], "ADDED")   # kube-root-ca.crt
            wait_for(lambda: self.s.counters()["watchesOpenTotal"] == 2, what="two watches")
            self.assertEqual(self.s.admin("POST", "/watches/drop")["dropped"], 2)
            self.assertIsNone(w1.next())
            self.assertIsNone(w2.next())
            wait_for(lambda: self.s.counters()["watchesOpenTotal"] == 0, what="no watches")
        finally:
            w1.close()
            w2.close()
        w3 = self.s.watch(f"{NS}/default/configmaps?watch=1")
        try:
            w3.next()
            self.s.admin("POST", "/watches/drop?mode=reset")
            with self.assertRaises((ConnectionError, OSError, ValueError)):
                while w3.next() is not None:
                    pass
                raise ConnectionResetError("stream ended cleanly instead of a reset")
        finally:
            w3.close()

    def test_expired_history_gives_410_to_watch_and_continue(self):
        self.s.request("POST", f"{NS}/default/configmaps", {"metadata": {"name": "a-first"}})
        _, _, lst = self.s.request("GET", f"{NS}/default/configmaps?limit=1")
        rv = lst["metadata"]["resourceVersion"]
        self.s.request("POST", f"{NS}/default/configmaps", {"metadata": {"name": "x"}})
        expired_at = self.s.admin("POST", "/history/expire")["resourceVersion"]
        w = self.s.watch(f"{NS}/default/configmaps?watch=1&resourceVersion={rv}")
        try:
            ev = w.next()
            self.assertEqual(ev, {"type": "ERROR", "object": {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": f"too old resource version: {rv} ({expired_at})", "reason": "Expired",
                "code": 410}})
            self.assertIsNone(w.next())
        finally:
            w.close()
        status, _, body = self.s.request(
            "GET", f"{NS}/default/configmaps?limit=1&continue={lst['metadata']['continue']}")
        self.assertEqual(status, 410)
        self.assertEqual(body["reason"], "Expired")
        self.assertIn("use the continue token in this response", body["message"])
        status, _, rest = self.s.request(
            "GET", f"{NS}/default/configmaps?limit=5&continue={body['metadata']['continue']}")
        self.assertEqual(status, 200, rest)
        self.assertEqual([i["metadata"]["name"] for i in rest["items"]],
                         ["kube-root-ca.crt", "x"])
        self.assertEqual(self.s.counters()["watch_gone"], 1)
        # The current resourceVersion is still good to watch from.
        w = self.s.watch(f"{NS}/default/configmaps?watch=1&resourceVersion={expired_at}"
                         f"&timeoutSeconds=1")
        try:
            self.assertIsNone(w.next())
        finally:
            w.close()

    def test_injected_500s_hit_the_next_n_requests(self):
        self.s.admin("POST", "/faults", {"code": 500, "count": 2})
        for _ in range(2):
            status, _, body = self.s.request("GET", "/api/v1/pods")
            self.assertEqual(status, 500)
            self.assertEqual(body["reason"], "InternalError")
        status, _, _ = self.s.request("GET", "/api/v1/pods")
        self.assertEqual(status, 200)

    def test_injected_429s_only_on_a_path_prefix_with_retry_after(self):
        self.s.admin("POST", "/faults", {"code": 429, "seconds": 3600,
                                         "pathPrefix": "/api/v1/namespaces/default/pods",
                                         "retryAfterSeconds": 2})
        status, headers, body = self.s.request("GET", "/api/v1/namespaces/default/pods")
        self.assertEqual(status, 429)
        self.assertEqual(headers["Retry-After"], "2")
        self.assertEqual(body["details"], {"retryAfterSeconds": 2})
        status, _, _ = self.s.request("GET", "/api/v1/namespaces/default/services")
        self.assertEqual(status, 200)
        self.s.admin("DELETE", "/faults")
        status, _, _ = self.s.request("GET", "/api/v1/namespaces/default/pods")
        self.assertEqual(status, 200)
        self.assertEqual(self.s.counters()["codes"]["429"], 1)

    def test_down_refuses_connections_and_up_keeps_state_and_port(self):
        self.s.request("POST", f"{NS}/default/configmaps", {"metadata": {"name": "kept"}})
        w = self.s.watch(f"{NS}/default/configmaps?watch=1")
        w.next()
        self.s.admin("POST", "/down")
        with self.assertRaises(OSError):
            while w.next() is not None:
                pass
            raise ConnectionResetError("watch ended cleanly instead of being reset")
        w.close()
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", self.s.port), timeout=5).close()
        self.assertEqual(self.s.admin("POST", "/up")["port"], self.s.port)
        status, _, body = self.s.request("GET", f"{NS}/default/configmaps/kept")
        self.assertEqual(status, 200, body)

    def test_bookmark_interval_hook_and_counters(self):
        self.s.admin("POST", "/bookmarks?intervalSeconds=0.1")
        w = self.s.watch(f"{NS}/default/configmaps?watch=1&allowWatchBookmarks=true")
        try:
            self.assertEqual(w.next_matching(lambda e: e["type"] == "BOOKMARK")["type"],
                             "BOOKMARK")
        finally:
            w.close()
        self.s.request("GET", "/api/v1/namespaces/default/pods?limit=1")
        c = self.s.counters()
        self.assertEqual(c["requests"]["list pods"], 1)
        self.assertEqual(c["requests"]["watch configmaps"], 1)
        self.assertGreaterEqual(c["watch_bookmarks"], 1)


AP = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: default}
spec: {}
"""


class IstioCrdsLaterTest(unittest.TestCase):
    """--without-istio-crds, then POST /crds/istio: a cluster where Istio's CRDs are applied
    after the fact. Discovery, list, watch, bulk loads and kubectl agree before and after."""

    def setUp(self):
        self.s = FakeApiServer("--without-istio-crds")

    def tearDown(self):
        self.s.stop()

    def test_istio_types_are_served_only_once_installed(self):
        aps = "/apis/security.istio.io/v1/namespaces/default/authorizationpolicies"
        _, _, groups = self.s.request("GET", "/apis")
        self.assertNotIn("security.istio.io", [g["name"] for g in groups["groups"]])
        self.assertEqual(self.s.request("GET", "/apis/security.istio.io")[0], 404)
        self.assertEqual(self.s.request("GET", "/apis/security.istio.io/v1")[0], 404)
        self.assertEqual(self.s.request("GET", aps)[0], 404)
        self.assertEqual(self.s.request("GET", aps + "?watch=1")[0], 404)
        with self.assertRaises(urllib.error.HTTPError):
            self.s.admin("POST", "/objects", [yaml_free_ap("bulk")])
        # (--validate=false: without the group kubectl's schema check would fall back to
        # /openapi/v2, which the fake does not serve; the mapping error is what a user sees.)
        r = self.s.kubectl("apply", "--validate=false", "-f", "-", input=AP, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('no matches for kind "AuthorizationPolicy" in version "security.istio.io/v1"',
                      r.err)

        installed = self.s.admin("POST", "/crds/istio")["installed"]
        self.assertIn("security.istio.io/authorizationpolicies", installed)
        _, _, groups = self.s.request("GET", "/apis")
        self.assertIn("security.istio.io", [g["name"] for g in groups["groups"]])
        for version in ("v1", "v1beta1"):
            status, _, doc = self.s.request("GET", f"/apis/security.istio.io/{version}")
            self.assertEqual(status, 200, doc)
            self.assertIn("peerauthentications", [r["name"] for r in doc["resources"]])
        w = self.s.watch(aps + "?watch=1")
        try:
            self.assertEqual(w.status, 200)
            # The same kubectl discovery cache as the refused apply: kubectl re-reads
            # discovery on a kind it does not know, as it does against a real server.
            self.s.kubectl("apply", "-f", "-", input=AP)
            ev = w.next()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]),
                             ("ADDED", "deny-all"))
        finally:
            w.close()
        self.assertEqual(self.s.admin("POST", "/objects", [yaml_free_ap("bulk")])["created"], 1)
        names = [i["metadata"]["name"] for i in self.s.request("GET", aps)[2]["items"]]
        self.assertEqual(names, ["bulk", "deny-all"])


def yaml_free_ap(name):
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": "default"}, "spec": {}}


class _Webhook(http.server.BaseHTTPRequestHandler):
    """A mutating webhook that adds a label and a sidecar container, or denies on request."""
    reviews = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Webhook.reviews.append((self.path, review))
        req = review["request"]
        resp = {"uid": req["uid"], "allowed": True}
        if req["object"]["metadata"].get("labels", {}).get("deny") == "yes":
            resp = {"uid": req["uid"], "allowed": False,
                    "status": {"code": 403, "message": "pods labelled deny=yes are refused"}}
        else:
            ops = [{"op": "add", "path": "/metadata/labels/injected", "value": "true"},
                   {"op": "add", "path": "/spec/containers/-",
                    "value": {"name": "sidecar", "image": "proxy:1"}}]
            resp.update({"patchType": "JSONPatch",
                         "patch": base64.b64encode(json.dumps(ops).encode()).decode()})
        data = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class AdmissionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = FakeApiServer()
        crt, key, ca = openssl_cert(cls.s.dir, "injector", "injector.hooks.svc")
        with open(ca, "rb") as f:
            cls.ca_bundle = base64.b64encode(f.read()).decode()
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        cls.httpd.socket = ctx.wrap_socket(cls.httpd.socket, server_side=True)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.s.admin("POST", "/webhook-hosts",
                    {"injector.hooks.svc:443": f"127.0.0.1:{cls.httpd.server_address[1]}"})
        for ns, labels in (("injected", {"inject": "on"}), ("plain", {})):
            cls.s.request("POST", NS, {"metadata": {"name": ns, "labels": labels}})

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.s.stop()

    def configure(self, name, failure_policy="Fail", ca_bundle=None, service="injector"):
        cfg = {"apiVersion": "admissionregistration.k8s.io/v1",
               "kind": "MutatingWebhookConfiguration", "metadata": {"name": name},
               "webhooks": [{
                   "name": f"{name}.example.com", "admissionReviewVersions": ["v1"],
                   "sideEffects": "None", "failurePolicy": failure_policy,
                   "clientConfig": {"service": {"name": service, "namespace": "hooks",
                                                "path": "/mutate"},
                                    "caBundle": ca_bundle or self.ca_bundle},
                   "namespaceSelector": {"matchLabels": {"inject": "on"}},
                   "objectSelector": {"matchExpressions": [
                       {"key": "skip", "operator": "DoesNotExist"}]},
                   "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                              "apiVersions": ["v1"], "resources": ["pods"]}]}]}
        status, _, body = self.s.request(
            "POST", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", cfg)
        self.assertEqual(status, 201, body)
        self.addCleanup(self.s.request, "DELETE", "/apis/admissionregistration.k8s.io/v1/"
                                                  f"mutatingwebhookconfigurations/{name}")

    def create_pod(self, ns, name, labels=None):
        pod = json.loads(json.dumps(POD))
        pod["metadata"]["name"] = name
        pod["metadata"]["labels"].update(labels or {})
        return self.s.request("POST", f"{NS}/{ns}/pods", pod)

    def test_webhook_patch_is_applied_to_pods_in_selected_namespaces(self):
        self.configure("inject")
        _Webhook.reviews.clear()
        status, _, pod = self.create_pod("injected", "a")
        self.assertEqual(status, 201, pod)
        self.assertEqual(pod["metadata"]["labels"]["injected"], "true")
        self.assertEqual([c["name"] for c in pod["spec"]["containers"]], ["app", "sidecar"])
        path, review = _Webhook.reviews[-1]
        self.assertEqual(path, "/mutate?timeout=10s")
        req = review["request"]
        self.assertEqual((req["operation"], req["namespace"], req["name"]),
                         ("CREATE", "injected", "a"))
        self.assertEqual(req["kind"], {"group": "", "version": "v1", "kind": "Pod"})
        self.assertNotIn("uid", req["object"]["metadata"])   # not yet assigned at admission
        self.assertEqual(req["object"]["spec"]["serviceAccountName"], "default")
        # Not selected: another namespace, or a pod the objectSelector excludes.
        _, _, plain = self.create_pod("plain", "b")
        self.assertEqual(len(plain["spec"]["containers"]), 1)
        _, _, skipped = self.create_pod("injected", "c", {"skip": "1"})
        self.assertEqual(len(skipped["spec"]["containers"]), 1)
        self.assertEqual(len(_Webhook.reviews), 1)

    def test_denial_is_reported_with_the_webhooks_message(self):
        self.configure("inject")
        status, _, body = self.create_pod("injected", "d", {"deny": "yes"})
        self.assertEqual(status, 403)
        self.assertEqual(body["message"], 'admission webhook "inject.example.com" denied the '
                                          'request: pods labelled deny=yes are refused')

    def test_failure_policy_decides_when_the_webhook_is_unreachable(self):
        self.configure("broken", service="nowhere")
        status, _, body = self.create_pod("injected", "e")
        self.assertEqual(status, 500)
        self.assertIn('failed calling webhook "broken.example.com": failed to call webhook: '
                      'Post "https://nowhere.hooks.svc:443/mutate?timeout=10s"', body["message"])
        self.s.request("DELETE", "/apis/admissionregistration.k8s.io/v1/"
                                 "mutatingwebhookconfigurations/broken")
        self.configure("lenient", failure_policy="Ignore", service="nowhere")
        status, _, pod = self.create_pod("injected", "f")
        self.assertEqual(status, 201, pod)

    def test_a_certificate_the_ca_bundle_does_not_trust_fails_the_call(self):
        _, _, other_ca = openssl_cert(self.s.dir, "other", "other.example")
        with open(other_ca, "rb") as f:
            self.configure("untrusted", ca_bundle=base64.b64encode(f.read()).decode())
        status, _, body = self.create_pod("injected", "g")
        self.assertEqual(status, 500)
        self.assertIn("x509", body["message"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
