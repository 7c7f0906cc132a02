"""The fake API server's wire protocol checked directly over HTTPS: the resourceVersion, watch,
bookmark, 410, paging, conflict and TokenReview semantics Remora's Kubernetes client relies on,
with the exact Status objects a real server sends."""
import unittest

from kube_test_support import FakeApiServer

NS = "/api/v1/namespaces"


def cm(name, ns="t", labels=None, data=None):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "data": data or {"k": "v"}}


class HttpApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = FakeApiServer("--bookmark-interval=0.2")
        for ns in ("t", "paging", "sel", "tok"):
            status, _, body = cls.s.request("POST", NS, {"metadata": {"name": ns}})
            assert status == 201, body

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def create(self, path, obj, expect=201):
        status, _, body = self.s.request("POST", path, obj)
        self.assertEqual(status, expect, body)
        return body

    # ---- authentication ------------------------------------------------------------------------
    def test_requests_without_a_valid_token_get_a_401_status(self):
        for token in (False, "not-a-token"):
            status, _, body = self.s.request("GET", "/api/v1/pods", token=token)
            self.assertEqual(status, 401)
            self.assertEqual(body, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                    "status": "Failure", "message": "Unauthorized",
                                    "reason": "Unauthorized", "code": 401})

    # ---- discovery -----------------------------------------------------------------------------
    def test_discovery_lists_groups_and_resources(self):
        _, _, apis = self.s.request("GET", "/apis")
        names = {g["name"]: [v["version"] for v in g["versions"]] for g in apis["groups"]}
        self.assertEqual(names["security.istio.io"], ["v1", "v1beta1"])
        for g in ("discovery.k8s.io", "networking.k8s.io", "events.k8s.io",
                  "admissionregistration.k8s.io", "coordination.k8s.io", "authentication.k8s.io"):
            self.assertIn(g, names)
        _, _, core = self.s.request("GET", "/api/v1")
        pods = next(r for r in core["resources"] if r["name"] == "pods")
        self.assertEqual(pods["shortNames"], ["po"])
        self.assertIn("watch", pods["verbs"])
        self.assertTrue(any(r["name"] == "pods/status" for r in core["resources"]))
        token = next(r for r in core["resources"] if r["name"] == "serviceaccounts/token")
        self.assertEqual(token["kind"], "TokenRequest")
        _, _, version = self.s.request("GET", "/version")
        self.assertEqual(version["minor"], "32")

    # ---- create/get/update ---------------------------------------------------------------------
    def test_missing_object_is_a_404_status_naming_it(self):
        status, _, body = self.s.request("GET", f"{NS}/t/configmaps/nope")
        self.assertEqual(status, 404)
        self.assertEqual(body["message"], 'configmaps "nope" not found')
        self.assertEqual(body["details"], {"name": "nope", "kind": "configmaps"})
        status, _, body = self.s.request(
            "GET", "/apis/networking.k8s.io/v1/namespaces/t/networkpolicies/nope")
        self.assertEqual(body["message"], 'networkpolicies.networking.k8s.io "nope" not found')

    def test_create_assigns_uid_and_resource_versions_from_one_counter(self):
        a = self.create(f"{NS}/t/configmaps", cm("rv-a"))
        b = self.create(f"{NS}/t/configmaps", cm("rv-b"))
        self.assertGreater(int(b["metadata"]["resourceVersion"]),
                           int(a["metadata"]["resourceVersion"]))
        self.assertNotEqual(a["metadata"]["uid"], b["metadata"]["uid"])
        status, _, body = self.s.request("POST", f"{NS}/t/configmaps", cm("rv-a"))
        self.assertEqual(status, 409)
        self.assertEqual(body["reason"], "AlreadyExists")
        self.assertEqual(body["message"], 'configmaps "rv-a" already exists')
        gen = self.create(f"{NS}/t/configmaps",
                          {"metadata": {"generateName": "gen-"}, "data": {}})
        self.assertRegex(gen["metadata"]["name"], r"^gen-[a-z0-9]{5}$")

    def test_update_with_a_stale_resource_version_is_a_409_conflict(self):
        obj = self.create(f"{NS}/t/configmaps", cm("occ"))
        obj["data"] = {"k": "first"}
        status, _, updated = self.s.request("PUT", f"{NS}/t/configmaps/occ", obj)
        self.assertEqual(status, 200, updated)
        obj["data"] = {"k": "stale"}
        status, _, body = self.s.request("PUT", f"{NS}/t/configmaps/occ", obj)
        self.assertEqual(status, 409)
        self.assertEqual(body["reason"], "Conflict")
        self.assertEqual(body["message"], 'Operation cannot be fulfilled on configmaps "occ": the '
                         'object has been modified; please apply your changes to the latest '
                         'version and try again')
        # A write that changes nothing keeps the resourceVersion (no event either).
        status, _, same = self.s.request("PUT", f"{NS}/t/configmaps/occ", updated)
        self.assertEqual(same["metadata"]["resourceVersion"],
                         updated["metadata"]["resourceVersion"])

    def test_patch_types_merge_lists_as_a_real_server_does(self):
        self.create(f"{NS}/t/serviceaccounts", {"metadata": {"name": "default"}}, expect=409)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "smp"},
               "spec": {"containers": [{"name": "a", "image": "x:1"},
                                       {"name": "b", "image": "y:1"}]}}
        self.create(f"{NS}/t/pods", pod)
        path = f"{NS}/t/pods/smp"
        status, _, body = self.s.request(
            "PATCH", path, {"spec": {"containers": [{"name": "b", "image": "y:2"}]}},
            content_type="application/strategic-merge-patch+json")
        self.assertEqual(status, 200, body)
        self.assertEqual([(c["name"], c["image"]) for c in body["spec"]["containers"]],
                         [("a", "x:1"), ("b", "y:2")])
        status, _, body = self.s.request(
            "PATCH", path, [{"op": "replace", "path": "/spec/containers/0/image", "value": "x:2"}],
            content_type="application/json-patch+json")
        self.assertEqual(body["spec"]["containers"][0]["image"], "x:2")
        status, _, body = self.s.request("PATCH", path, {"metadata": {"labels": {"m": "1"}}},
                                         content_type="application/merge-patch+json")
        self.assertEqual(body["metadata"]["labels"], {"m": "1"})
        # Custom resources refuse strategic merge patch.
        self.create("/apis/security.istio.io/v1/namespaces/t/authorizationpolicies",
                    {"metadata": {"name": "ap"}, "spec": {"action": "DENY"}})
        status, _, body = self.s.request(
            "PATCH", "/apis/security.istio.io/v1/namespaces/t/authorizationpolicies/ap",
            {"spec": {}}, content_type="application/strategic-merge-patch+json")
        self.assertEqual(status, 415)
        self.assertEqual(body["reason"], "UnsupportedMediaType")

    # ---- list ----------------------------------------------------------------------------------
    def test_list_pages_with_limit_and_continue_from_one_snapshot(self):
        for i in range(7):
            self.create(f"{NS}/paging/configmaps", cm(f"p{i}", "paging"))
        path = f"{NS}/paging/configmaps?limit=3"
        _, _, page1 = self.s.request("GET", path)
        self.assertEqual([i["metadata"]["name"] for i in page1["items"]],
                         ["kube-root-ca.crt", "p0", "p1"])
        self.assertEqual(page1["metadata"]["remainingItemCount"], 5)
        token = page1["metadata"]["continue"]
        # Changes after the first page do not show in the rest of this list.
        self.create(f"{NS}/paging/configmaps", cm("p10", "paging"))
        self.s.request("DELETE", f"{NS}/paging/configmaps/p5")
        names = []
        while token:
            status, _, page = self.s.request("GET", f"{path}&continue={token}")
            self.assertEqual(status, 200, page)
            self.assertEqual(page["metadata"]["resourceVersion"],
                             page1["metadata"]["resourceVersion"])
            names += [i["metadata"]["name"] for i in page["items"]]
            token = page["metadata"].get("continue")
        self.assertEqual(names, ["p2", "p3", "p4", "p5", "p6"])
        self.assertGreaterEqual(self.s.counters()["list_continues"], 2)

    def test_list_with_exact_resource_version_reads_the_past(self):
        a = self.create(f"{NS}/t/configmaps", cm("past", labels={"era": "old"}))
        rv = a["metadata"]["resourceVersion"]
        self.s.request("PATCH", f"{NS}/t/configmaps/past", {"data": {"k": "new"}},
                       content_type="application/merge-patch+json")
        _, _, old = self.s.request("GET", f"{NS}/t/configmaps?resourceVersion={rv}"
                                          f"&resourceVersionMatch=Exact&labelSelector=era")
        self.assertEqual(old["items"][0]["data"], {"k": "v"})
        self.assertEqual(old["metadata"]["resourceVersion"], rv)
        status, _, body = self.s.request("GET", f"{NS}/t/configmaps?resourceVersion=99999999")
        self.assertEqual(status, 504)
        self.assertEqual(body["details"]["causes"][0]["reason"], "ResourceVersionTooLarge")

    def test_label_and_field_selectors(self):
        for name, labels in (("a", {"app": "web", "tier": "fe"}), ("b", {"app": "db"}),
                             ("c", {"app": "web"})):
            self.create(f"{NS}/sel/configmaps", cm(name, "sel", labels))

        def names(query):
            status, _, body = self.s.request("GET", f"{NS}/sel/configmaps?{query}")
            self.assertEqual(status, 200, body)
            return sorted(i["metadata"]["name"] for i in body["items"])
        self.assertEqual(names("labelSelector=app%3Dweb"), ["a", "c"])
        self.assertEqual(names("labelSelector=app+in+(web,db),!tier"), ["b", "c"])
        self.assertEqual(names("labelSelector=app!%3Dweb"), ["b", "kube-root-ca.crt"])
        self.assertEqual(names("labelSelector=tier"), ["a"])
        self.assertEqual(names("fieldSelector=metadata.name%3Db"), ["b"])
        self.assertEqual(names("fieldSelector=metadata.namespace%3Dsel,metadata.name!%3Da"
                               "&labelSelector=app"), ["b", "c"])
        status, _, body = self.s.request("GET", "/api/v1/pods?fieldSelector=status.phase%3D"
                                                "Running,spec.nodeName%3Dn1")
        self.assertEqual(status, 200, body)
        status, _, body = self.s.request("GET", f"{NS}/sel/configmaps?fieldSelector=data.k%3Dv")
        self.assertEqual(status, 400)
        self.assertEqual(body["message"], "field label not supported: data.k")

    # ---- watch ---------------------------------------------------------------------------------
    def test_watch_from_a_resource_version_sends_only_later_events(self):
        first = self.create(f"{NS}/t/configmaps", cm("w1"))
        rv = first["metadata"]["resourceVersion"]
        self.create(f"{NS}/t/configmaps", cm("w2"))
        self.s.request("DELETE", f"{NS}/t/configmaps/w1")
        w = self.s.watch(f"{NS}/t/configmaps?watch=1&resourceVersion={rv}"
                         f"&fieldSelector=metadata.name%21%3Dkube-root-ca.crt")
        try:
            self.assertEqual(w.status, 200)
            ev = w.next()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "w2"))
            ev = w.next()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("DELETED", "w1"))
            self.assertGreater(int(ev["object"]["metadata"]["resourceVersion"]), int(rv))
        finally:
            w.close()

    def test_watch_without_resource_version_starts_with_the_current_state(self):
        w = self.s.watch(f"{NS}/sel/configmaps?watch=true&labelSelector=app%3Dweb")
        try:
            got = {w.next()["object"]["metadata"]["name"] for _ in range(2)}
            self.assertEqual(got, {"a", "c"})
            # Relabelling out of the selector is a DELETED for this watcher.
            self.s.request("PATCH", f"{NS}/sel/configmaps/c", {"metadata": {"labels": {
                "app": "other"}}}, content_type="application/merge-patch+json")
            ev = w.next()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("DELETED", "c"))
        finally:
            w.close()
        self.s.request("PATCH", f"{NS}/sel/configmaps/c", {"metadata": {"labels": {
            "app": "web"}}}, content_type="application/merge-patch+json")

    def test_watch_bookmarks_carry_the_current_resource_version(self):
        _, _, lst = self.s.request("GET", f"{NS}/t/secrets")
        w = self.s.watch(f"{NS}/t/secrets?watch=1&allowWatchBookmarks=true"
                         f"&resourceVersion={lst['metadata']['resourceVersion']}")
        try:
            self.create(f"{NS}/t/configmaps", cm("bump-rv"))
            ev = w.next_matching(lambda e: e["type"] == "BOOKMARK" and int(
                e["object"]["metadata"]["resourceVersion"]) > int(lst["metadata"][
                    "resourceVersion"]))
            self.assertEqual(ev["object"]["kind"], "Secret")
            self.assertEqual(ev["object"]["apiVersion"], "v1")
        finally:
            w.close()

    def test_watch_ends_at_timeout_seconds(self):
        _, _, lst = self.s.request("GET", f"{NS}/t/secrets")
        w = self.s.watch(f"{NS}/t/secrets?watch=1&timeoutSeconds=1"
                         f"&resourceVersion={lst['metadata']['resourceVersion']}")
        try:
            self.assertEqual(w.next(), None)
            self.assertTrue(w.ended)
        finally:
            w.close()

    def test_send_initial_events_ends_with_an_annotated_bookmark(self):
        w = self.s.watch(f"{NS}/sel/configmaps?watch=1&sendInitialEvents=true"
                         f"&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
                         f"&resourceVersion=0")
        try:
            ev = w.next_matching(lambda e: e["type"] == "BOOKMARK")
            self.assertEqual(ev["object"]["metadata"]["annotations"],
                             {"k8s.io/initial-events-end": "true"})
        finally:
            w.close()

    # ---- writes Remora makes ----------------------------------------------------------------
    def test_events_written_as_events_k8s_io_read_back_as_core_events(self):
        ev = self.create("/apis/events.k8s.io/v1/namespaces/t/events", {
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"generateName": "ap-refused."}, "eventTime": "2024-01-01T00:00:00.000000Z",
            "reportingController": "remora.io/remora-control", "reportingInstance": "rc-0",
            "action": "Compile", "reason": "PolicyRefused", "type": "Warning",
            "note": "rules[0].from[0]: bad", "regarding": {
                "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "namespace": "t", "name": "ap"}})
        name = ev["metadata"]["name"]
        _, _, core = self.s.request("GET", f"{NS}/t/events/{name}")
        self.assertEqual(core["apiVersion"], "v1")
        self.assertEqual(core["involvedObject"]["name"], "ap")
        self.assertEqual(core["message"], "rules[0].from[0]: bad")
        self.assertEqual(core["reportingComponent"], "remora.io/remora-control")
        _, _, by_field = self.s.request(
            "GET", f"{NS}/t/events?fieldSelector=involvedObject.kind%3DAuthorizationPolicy,"
                   f"reason%3DPolicyRefused")
        self.assertEqual([e["metadata"]["name"] for e in by_field["items"]], [name])

    def test_lease_and_secret_writes_are_race_safe(self):
        lease = self.create("/apis/coordination.k8s.io/v1/namespaces/t/leases", {
            "metadata": {"name": "remora-control"},
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}})
        lease["spec"]["holderIdentity"] = "b"
        status, _, won = self.s.request(
            "PUT", "/apis/coordination.k8s.io/v1/namespaces/t/leases/remora-control", lease)
        self.assertEqual(status, 200, won)
        lease["spec"]["holderIdentity"] = "c"   # raced with b: stale resourceVersion
        status, _, _ = self.s.request(
            "PUT", "/apis/coordination.k8s.io/v1/namespaces/t/leases/remora-control", lease)
        self.assertEqual(status, 409)
        secret = {"metadata": {"name": "remora-ca"}, "type": "Opaque", "data": {"k": "AA=="}}
        self.create(f"{NS}/t/secrets", secret)
        status, _, body = self.s.request("POST", f"{NS}/t/secrets", secret)
        self.assertEqual((status, body["reason"]), (409, "AlreadyExists"))

    def test_delete_collection_and_namespace_deletion_remove_contents(self):
        self.create(NS, {"metadata": {"name": "gone"}})
        for i in range(3):
            self.create(f"{NS}/gone/configmaps", cm(f"c{i}", "gone", {"del": "yes"}))
        status, _, body = self.s.request("DELETE", f"{NS}/gone/configmaps?labelSelector=del")
        self.assertEqual((status, len(body["items"])), (200, 3))
        w = self.s.watch(f"{NS}/gone/serviceaccounts?watch=1")
        try:
            self.assertEqual(w.next()["type"], "ADDED")   # default
            status, _, ns = self.s.request("DELETE", f"{NS}/gone")
            self.assertEqual(ns["status"]["phase"], "Terminating")
            self.assertEqual(w.next()["type"], "DELETED")
        finally:
            w.close()
        status, _, _ = self.s.request("GET", f"{NS}/gone")
        self.assertEqual(status, 404)

    # ---- TokenRequest / TokenReview ------------------------------------------------------------
    def _token(self, pod=None, audiences=("remora-control",), expiration=600):
        spec = {"audiences": list(audiences), "expirationSeconds": expiration}
        if pod:
            spec["boundObjectRef"] = {"kind": "Pod", "apiVersion": "v1", "name": pod}
        status, _, body = self.s.request("POST", f"{NS}/tok/serviceaccounts/default/token",
                                         {"apiVersion": "authentication.k8s.io/v1",
                                          "kind": "TokenRequest", "spec": spec})
        self.assertEqual(status, 201, body)
        return body

    def _review(self, token, audiences=("remora-control",), caller=None):
        status, _, body = self.s.request(
            "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
             "spec": {"token": token, "audiences": list(audiences)}}, token=caller)
        return status, body

    def test_token_review_authenticates_a_pod_bound_token(self):
        pod = self.create(f"{NS}/tok/pods", {"metadata": {"name": "p1"}, "spec": {
            "containers": [{"name": "c", "image": "i"}]}})
        tr = self._token(pod="p1")
        self.assertRegex(tr["status"]["expirationTimestamp"], r"Z$")
        self.assertEqual(tr["spec"]["boundObjectRef"]["uid"], pod["metadata"]["uid"])
        status, review = self._review(tr["status"]["token"])
        self.assertEqual(status, 201)
        st = review["status"]
        self.assertTrue(st["authenticated"])
        self.assertEqual(st["audiences"], ["remora-control"])
        self.assertEqual(st["user"]["username"], "system:serviceaccount:tok:default")
        self.assertEqual(st["user"]["groups"], ["system:serviceaccounts",
                                                "system:serviceaccounts:tok",
                                                "system:authenticated"])
        extra = st["user"]["extra"]
        self.assertEqual(extra["authentication.kubernetes.io/pod-name"], ["p1"])
        self.assertEqual(extra["authentication.kubernetes.io/pod-uid"], [pod["metadata"]["uid"]])
        # Deleting the pod revokes its tokens.
        self.s.request("DELETE", f"{NS}/tok/pods/p1")
        _, review = self._review(tr["status"]["token"])
        self.assertEqual(review["status"], {"user": {},
                                            "error": "service account token has been invalidated"})

    def test_token_review_refuses_a_wrong_audience_and_garbage(self):
        token = self._token(audiences=["other"])["status"]["token"]
        _, review = self._review(token)
        self.assertNotIn("authenticated", review["status"])
        self.assertEqual(review["status"]["error"], 'token audiences ["other"] is invalid for '
                                                    'the target audiences ["remora-control"]')
        _, review = self._review("garbage")
        self.assertEqual(review["status"], {"user": {}})
        _, review = self._review(token[:-4] + "AAAA", audiences=["other"])
        self.assertIn("error in cryptographic primitive", review["status"]["error"])

    def test_token_review_caller_must_be_authenticated(self):
        token = self._token()["status"]["token"]
        status, body = self._review(token, caller="bad-caller-token")
        self.assertEqual(status, 401)
        # A service-account token for the API audience authenticates API calls too.
        api_token = self._token(audiences=[])["status"]["token"]
        status, body = self._review(token, caller=api_token)
        self.assertEqual(status, 201, body)

    def test_token_review_refuses_an_expired_token(self):
        s = FakeApiServer()
        try:
            s.request("POST", f"{NS}/default/serviceaccounts/default/token",
                      {"spec": {"audiences": ["a"]}})
            _, _, tr = s.request("POST", f"{NS}/default/serviceaccounts/default/token",
                                 {"spec": {"audiences": ["a"], "expirationSeconds": 600}})
            s.admin("POST", "/clock/advance?seconds=661")
            _, _, review = s.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                                     {"spec": {"token": tr["status"]["token"],
                                               "audiences": ["a"]}})
            self.assertEqual(review["status"]["error"], "service account token has expired")
            status, _, body = s.request("POST", f"{NS}/default/serviceaccounts/default/token",
                                        {"spec": {"expirationSeconds": 599}})
            self.assertEqual(status, 422)
            self.assertIn("may not specify a duration less than 10 minutes", body["message"])
        finally:
            s.stop()


class ScaleTest(unittest.TestCase):
    def test_holds_10000_pods_and_lists_them_paged(self):
        s = FakeApiServer("--history-size=1000")
        try:
            s.request("POST", NS, {"metadata": {"name": "bench"}})
            pods = [{"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": f"p{i:05d}", "namespace": "bench", "labels": {"app": f"a{i % 100}"}},
                "spec": {"containers": [{"name": "c", "image": "img:1",
                                         "ports": [{"containerPort": 8080}]}]}}
                for i in range(10000)]
            for i in range(0, 10000, 2000):
                self.assertEqual(s.admin("POST", "/objects", {"objects": pods[i:i + 2000]})[
                    "created"], 2000)
            seen, token, pages = 0, "", 0
            while True:
                status, _, page = s.request("GET", f"/api/v1/pods?limit=500&continue={token}")
                self.assertEqual(status, 200)
                seen += len(page["items"])
                pages += 1
                token = page["metadata"].get("continue")
                if not token:
                    break
            self.assertEqual((seen, pages), (10000, 20))
            _, _, sel = s.request("GET", "/api/v1/namespaces/bench/pods?labelSelector=app%3Da7")
            self.assertEqual(len(sel["items"]), 100)
        finally:
            s.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
