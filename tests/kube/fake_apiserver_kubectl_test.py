"""The fake API server driven by the real kubectl: if the fake's wire format, discovery, status
codes or object shapes drift from a real server's, kubectl itself fails these tests."""
import json
import os
import subprocess
import unittest

from kube_test_support import FakeApiServer, read, wait_for

# Manifests shaped like examples/kubernetes/ and tests/e2e/shop_manifests.h.
SHOP = """
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {remora-injection: enabled}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-0
  namespace: shop
  labels: {app: web}
spec:
  serviceAccountName: web
  containers:
  - name: web
    image: nginxinc/nginx-unprivileged:1.25
    ports:
    - {name: http, containerPort: 8080}
    readinessProbe:
      httpGet: {path: /, port: http}
    resources:
      requests: {cpu: 50m, memory: 64Mi}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc12
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports:
- {name: http, port: 8080, protocol: TCP}
endpoints:
- addresses: [10.1.0.5]
  conditions: {ready: true}
  targetRef: {kind: Pod, name: web-0, namespace: shop}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-ingress-from-frontend, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-allow-frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/frontend"]}}]
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec:
  mtls: {mode: STRICT}
"""


class KubectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = FakeApiServer()
        cls.s.kubectl("apply", "-f", "-", input=SHOP)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def test_apply_creates_every_kind_and_reapply_is_unchanged(self):
        r = self.s.kubectl("apply", "-f", "-", input=SHOP)
        lines = r.out.strip().splitlines()
        self.assertEqual(len(lines), 8, r.out)
        for line in lines:
            self.assertTrue(line.endswith(" unchanged"), line)
        self.assertIn("authorizationpolicy.security.istio.io/web-allow-frontend unchanged", r.out)
        self.assertIn("endpointslice.discovery.k8s.io/web-abc12 unchanged", r.out)

    def test_get_pod_json_has_the_shape_of_a_real_pod(self):
        pod = json.loads(self.s.kubectl("get", "pod", "web-0", "-n", "shop", "-o", "json",
                                        "--show-managed-fields").out)
        meta, spec = pod["metadata"], pod["spec"]
        self.assertRegex(meta["uid"], r"^[0-9a-f-]{36}$")
        self.assertRegex(meta["resourceVersion"], r"^\d+$")
        self.assertRegex(meta["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration", meta["annotations"])
        mf = meta["managedFields"][0]
        self.assertEqual(mf["manager"], "kubectl-client-side-apply")
        self.assertEqual(mf["operation"], "Update")
        self.assertEqual(mf["fieldsType"], "FieldsV1")
        self.assertIn('k:{"name":"web"}', mf["fieldsV1"]["f:spec"]["f:containers"])
        self.assertEqual(spec["restartPolicy"], "Always")
        self.assertEqual(spec["dnsPolicy"], "ClusterFirst")
        self.assertEqual(spec["terminationGracePeriodSeconds"], 30)
        self.assertEqual(spec["serviceAccountName"], "web")
        self.assertEqual(spec["schedulerName"], "default-scheduler")
        c = spec["containers"][0]
        self.assertEqual(c["ports"][0]["protocol"], "TCP")
        self.assertEqual(c["imagePullPolicy"], "IfNotPresent")
        self.assertEqual(c["readinessProbe"]["periodSeconds"], 10)
        self.assertEqual(c["volumeMounts"][0]["mountPath"],
                         "/var/run/secrets/kubernetes.io/serviceaccount")
        self.assertEqual(pod["status"], {"phase": "Pending", "qosClass": "Burstable"})

    def test_service_gets_a_cluster_ip_and_policy_types_are_defaulted(self):
        svc = self.s.kubectl_json("get", "svc", "web", "-n", "shop")
        self.assertRegex(svc["spec"]["clusterIP"], r"^10\.96\.\d+\.\d+$")
        self.assertEqual(svc["spec"]["ports"][0]["protocol"], "TCP")
        self.assertEqual(svc["spec"]["type"], "ClusterIP")
        np = self.s.kubectl_json("get", "networkpolicy", "web-ingress-from-frontend", "-n",
                                 "shop")
        self.assertEqual(np["metadata"]["generation"], 1)
        ns = self.s.kubectl_json("get", "ns", "shop")
        self.assertEqual(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "shop")
        self.assertEqual(ns["status"]["phase"], "Active")

    def test_both_istio_versions_read_the_same_object(self):
        v1 = self.s.kubectl_json("get", "authorizationpolicies.v1.security.istio.io",
                                 "web-allow-frontend", "-n", "shop")
        beta = self.s.kubectl_json("get", "authorizationpolicies.v1beta1.security.istio.io",
                                   "web-allow-frontend", "-n", "shop")
        self.assertEqual(v1["apiVersion"], "security.istio.io/v1")
        self.assertEqual(beta["apiVersion"], "security.istio.io/v1beta1")
        self.assertEqual(v1["metadata"]["uid"], beta["metadata"]["uid"])
        r = self.s.kubectl("get", "ap", "-n", "shop")
        self.assertIn("ACTION", r.out)
        self.assertIn("ALLOW", r.out)

    def test_apply_of_a_changed_policy_patches_it_and_bumps_generation(self):
        doc = SHOP.split("---")[6].replace("ALLOW", "DENY").replace("web-allow-frontend",
                                                                     "web-changes")
        self.s.kubectl("apply", "-f", "-", input=doc)
        before = self.s.kubectl_json("get", "ap", "web-changes", "-n", "shop")
        r = self.s.kubectl("apply", "-f", "-", input=doc.replace("DENY", "AUDIT"))
        self.assertIn("configured", r.out)
        after = self.s.kubectl_json("get", "ap", "web-changes", "-n", "shop")
        self.assertEqual(after["spec"]["action"], "AUDIT")
        self.assertEqual(after["metadata"]["generation"], before["metadata"]["generation"] + 1)
        self.assertGreater(int(after["metadata"]["resourceVersion"]),
                           int(before["metadata"]["resourceVersion"]))

    def test_status_subresource_patch_sets_pod_ips_and_phase(self):
        self.s.kubectl("run", "kubelet-target", "-n", "shop", "--image=busybox:1.36",
                       "--overrides", json.dumps({"spec": {"serviceAccountName": "web"}}))
        self.s.kubectl("patch", "pod", "kubelet-target", "-n", "shop", "--subresource=status",
                       "--type=merge", "-p", json.dumps({"status": {
                           "phase": "Running", "podIP": "10.1.0.9", "hostIP": "192.168.0.2",
                           "conditions": [{"type": "Ready", "status": "True"}]}}))
        pod = self.s.kubectl_json("get", "pod", "kubelet-target", "-n", "shop")
        self.assertEqual(pod["status"]["phase"], "Running")
        self.assertEqual(pod["status"]["podIPs"], [{"ip": "10.1.0.9"}])
        self.assertEqual(pod["status"]["hostIPs"], [{"ip": "192.168.0.2"}])
        # A status write leaves the spec alone; a spec write leaves the status alone.
        self.s.kubectl("label", "pod", "kubelet-target", "-n", "shop", "ready=yes")
        pod = self.s.kubectl_json("get", "pod", "kubelet-target", "-n", "shop")
        self.assertEqual(pod["status"]["podIP"], "10.1.0.9")
        self.s.kubectl("wait", "--for=condition=Ready", "pod/kubelet-target", "-n", "shop",
                       "--timeout=30s")

    def test_delete_removes_the_object_and_then_reports_not_found(self):
        self.s.kubectl("create", "configmap", "doomed", "-n", "shop", "--from-literal=a=b")
        r = self.s.kubectl("delete", "configmap", "doomed", "-n", "shop")
        self.assertIn('configmap "doomed" deleted', r.out)
        r = self.s.kubectl("get", "configmap", "doomed", "-n", "shop", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('Error from server (NotFound): configmaps "doomed" not found', r.err)
        r = self.s.kubectl("delete", "-f", "-", input=SHOP.split("---")[5])
        self.assertIn("networkpolicy.networking.k8s.io \"web-ingress-from-frontend\" deleted",
                      r.out)
        self.s.kubectl("apply", "-f", "-", input=SHOP.split("---")[5])

    def test_get_watch_prints_each_change(self):
        env = dict(os.environ, HOME=self.s.home, KUBECONFIG=self.s.kubeconfig)
        out_path = os.path.join(self.s.dir, "watch.out")
        with open(out_path, "wb") as out:
            watcher = subprocess.Popen(
                ["/usr/bin/kubectl", f"--cache-dir={self.s.dir}/kube-cache", "get", "cm", "-n",
                 "shop", "-w", "--output-watch-events"], stdout=out, stderr=subprocess.STDOUT,
                env=env)
        try:
            wait_for(lambda: "kube-root-ca.crt" in read(out_path), 30, "initial list")
            self.s.kubectl("create", "configmap", "watched", "-n", "shop", "--from-literal=a=1")
            self.s.kubectl("patch", "configmap", "watched", "-n", "shop", "--type=merge", "-p",
                           '{"data":{"b":"2"}}')
            self.s.kubectl("delete", "configmap", "watched", "-n", "shop")
            text = wait_for(lambda: (lambda t: t if "DELETED" in t else None)(read(out_path)),
                            30, "the DELETED line")
        finally:
            watcher.terminate()
            watcher.wait()
        lines = [line.split() for line in text.splitlines() if "watched" in line]
        self.assertEqual([(l[0], l[1], l[2]) for l in lines],
                         [("ADDED", "watched", "1"), ("MODIFIED", "watched", "2"),
                          ("DELETED", "watched", "2")])

    def test_create_token_bound_to_a_pod_passes_token_review(self):
        token = self.s.kubectl("create", "token", "web", "-n", "shop", "--audience",
                               "remora-control", "--bound-object-kind", "Pod",
                               "--bound-object-name", "web-0", "--duration", "20m").out.strip()
        self.assertEqual(token.count("."), 2)
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                  "spec": {"token": token, "audiences": ["remora-control"]}}
        r = self.s.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(review))
        status = json.loads(r.out)["status"]
        self.assertTrue(status["authenticated"])
        self.assertEqual(status["user"]["username"], "system:serviceaccount:shop:web")
        self.assertEqual(status["user"]["extra"]["authentication.kubernetes.io/pod-name"],
                         ["web-0"])

    def test_examples_manifests_apply_as_documented(self):
        examples = os.environ.get("EXAMPLES_DIR")
        if not examples:
            self.skipTest("EXAMPLES_DIR not set")
        s = FakeApiServer()
        try:
            r = s.kubectl("apply", "-f", examples)
            self.assertIn("mutatingwebhookconfiguration.admissionregistration.k8s.io/"
                          "remora-sidecar-injector created", r.out)
            self.assertIn("deployment.apps/web created", r.out)
            self.assertIn("poddisruptionbudget.policy/remora-control created", r.out)
            self.assertIn("role.rbac.authorization.k8s.io/remora-control created", r.out)
            r = s.kubectl("apply", "-f", examples)
            # kubectl always sends a PodDisruptionBudget's selector again (its patch strategy is
            # "replace"), so it says "configured" for it; the stored object does not change.
            pdb = "poddisruptionbudget.policy/remora-control configured"
            self.assertNotIn("configured", r.out.replace(pdb, ""))
            r = s.kubectl("get", "pdb", "remora-control", "-n", "remora-system", "-o",
                          "jsonpath={.metadata.generation}")
            self.assertEqual(r.out, "1")
            # The webhook selects shop: with remora-control absent, failurePolicy Fail refuses.
            r = s.kubectl("run", "p", "-n", "shop", "--image=busybox", check=False)
            self.assertIn('failed calling webhook "namespace.inject.sidecar.remora.io"', r.err)
        finally:
            s.stop()

    def test_sigterm_exits_cleanly(self):
        s = FakeApiServer()
        s.stop()
        self.assertEqual(s.proc.returncode, 0, s.server_log())
        self.assertIn("terminating", s.server_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
