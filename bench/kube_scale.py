"""Scenario 9 of bench/run: remora-control in Kubernetes mode at cluster scale (issue 18).

The cluster is the fake API server of the tests (tests/kube/fake_apiserver.py), bulk-loaded with
--pods pods shaped like a real injected Deployment pod (`kubectl get pod -o json`: managedFields,
probes, env, volumes, container statuses; xds/kube/testdata/injected_pod.json), one Service and
one EndpointSlice per ten pods, and --policies policies (half NetworkPolicies, half
AuthorizationPolicies). Three measurements:

  * memory: remora-control's PSS once it has listed and mapped the whole cluster, minus its PSS
    against an empty cluster, per 1,000 pods. The anchor is Istio's published figure: istiod
    needs about 1.5 GB for 2,000 sidecars (istio.io, "Performance and Scalability"), so about
    750 MB per 1,000; the aim is a tenth. (istiod's figure includes the proxies' connections;
    ours per connected proxy is scenario 7's, and the convergence step below reports it again.)
  * re-list after 410 Gone: the fake forgets its watch history and drops every watch, so each
    informer's resume answers 410 and it lists afresh. Timed from the drop to the moment the
    control plane's remora_kube_lists_completed_total has grown by one list per watched resource.
  * convergence: --proxies simulated proxies (bench/xds_sim, one ADS stream each, on the
    plaintext development port) are the pods sim/sim-<i>; each round `kubectl apply`s a mesh-wide
    AuthorizationPolicy and times from kubectl's start to the last proxy's ACK. kubectl's own
    run (process start, discovery from its cache, the request) is inside that time: it is the
    path a user takes.

remora-control runs on the sidecar core; the fake API server (Python), kubectl and xds_sim on the
other. The fake is slower than kube-apiserver at listing (it is a test double in Python), so the
re-list time is an upper bound on what the control plane itself costs.
"""

import copy
import json
import os
import shutil
import subprocess
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WATCHED = 7  # namespaces, pods, services, endpointslices, networkpolicies, 2 istio kinds
# Where remora-control keeps its CA Secret (examples/kubernetes/00-namespace.yaml).
CONTROL_NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "remora-system"}}


def _admin(url, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"{}")


def _metric(admin, name):
    try:
        with urllib.request.urlopen(f"http://{admin}/stats/prometheus", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def _wait(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def cluster_objects(pods, policies, sim_pods):
    """The objects to load: namespaces, service accounts, pods, services, slices, policies."""
    with open(os.path.join(REPO, "xds/kube/testdata/injected_pod.json")) as f:
        template = json.load(f)
    namespaces = ["sim"] + [f"ns-{i}" for i in range(max(1, (pods - sim_pods + 99) // 100))]
    out = [CONTROL_NAMESPACE] + [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns, "labels": {"remora-injection": "enabled"}}}
        for ns in namespaces]
    out += [{"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": "web", "namespace": ns}} for ns in namespaces]
    placed = []  # (namespace, name, ip)
    for i in range(pods):
        ns = "sim" if i < sim_pods else namespaces[1 + (i - sim_pods) // 100]
        name = f"sim-{i}" if i < sim_pods else f"web-{i}"
        ip = f"10.{100 + i // 65536}.{(i // 256) % 256}.{i % 256}"
        pod = copy.deepcopy(template)
        meta = pod["metadata"]
        meta.update({"name": name, "namespace": ns})
        meta["labels"]["app"] = f"app-{i // 10}"
        meta["ownerReferences"][0]["name"] = f"web-{i // 10}"
        pod["status"]["podIP"] = ip
        pod["status"]["podIPs"] = [{"ip": ip}]
        out.append(pod)
        placed.append((ns, name, ip))
    for s in range(0, pods, 10):
        ns = placed[s][0]
        members = [p for p in placed[s:s + 10] if p[0] == ns]
        svc = f"app-{s // 10}"
        out.append({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": svc, "namespace": ns},
                    "spec": {"selector": {"app": svc}, "clusterIP": f"10.96.{s // 2560}.{(s // 10) % 256}",
                             "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
        out.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": f"{svc}-abcde", "namespace": ns,
                                 "labels": {"kubernetes.io/service-name": svc}},
                    "addressType": "IPv4",
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                    "endpoints": [{"addresses": [ip], "conditions": {"ready": True},
                                   "targetRef": {"kind": "Pod", "name": name, "namespace": pns}}
                                  for pns, name, ip in members]})
    for k in range(policies):
        ns = namespaces[k % len(namespaces)]
        if k % 2 == 0:
            out.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                        "metadata": {"name": f"np-{k}", "namespace": ns},
                        "spec": {"podSelector": {"matchLabels": {"app": f"app-{k}"}},
                                 "policyTypes": ["Ingress"],
                                 "ingress": [{"from": [{"podSelector": {"matchLabels": {
                                     "app": f"app-{k + 1}"}}}],
                                     "ports": [{"port": 8080}]}]}})
        else:
            out.append({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                        "metadata": {"name": f"ap-{k}", "namespace": ns},
                        "spec": {"selector": {"matchLabels": {"app": f"app-{k}"}},
                                 "action": "ALLOW",
                                 "rules": [{"from": [{"source": {"principals": [
                                     f"cluster.local/ns/{ns}/sa/web"]}}],
                                     "to": [{"operation": {"methods": ["GET"],
                                                           "paths": [f"/api/{k}/*"]}}]}]}})
    return out


class KubeScale:
    def __init__(self, bench, pods, policies, proxies, rounds, relists, memory_kib, run_json):
        self.b = bench
        self.memory_kib, self.run_json = memory_kib, run_json
        self.pods, self.policies, self.proxies = pods, policies, proxies
        self.rounds, self.relists = rounds, relists
        self.dir = os.path.join(bench.work, "kube-scale")

    def start_fake(self, name):
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        ready = os.path.join(d, "ready.json")
        self.b.spawn("kube-fake", ["/usr/bin/python3", os.path.join(REPO, "tests/kube/fake_apiserver.py"),
                                   f"--kubeconfig={d}/kubeconfig", f"--ready-file={ready}",
                                   f"--cert-dir={d}/certs", "--history-size=100000",
                                   "--bookmark-interval=60"],
                     0, f"kube-fake-{name}.log")
        _wait(lambda: os.path.exists(ready), 60, "the fake API server")
        with open(ready) as f:
            return json.load(f)

    def start_control(self, name, fake):
        d = os.path.join(self.dir, name)
        ports = f"{d}/ports.json"
        cp = self.b.spawn("kube-control", [
            f"{self.b.bin}/xds/remora-control", f"--state-dir={d}/state",
            f"--kubeconfig={fake['kubeconfig']}", "--listen=127.0.0.1:0",
            "--dev-listen=127.0.0.1:0", "--admin=127.0.0.1:0", f"--bound-ports-file={ports}",
            "--log-level=warn"], 1, f"kube-control-{name}.log")
        _wait(lambda: os.path.exists(ports) and os.path.getsize(ports), 60, "remora-control's ports")
        with open(ports) as f:
            bound = json.load(f)
        return cp, bound

    def synced(self, bound):
        return _metric(bound["admin"], "remora_kube_synced") == 1

    def settle_pss(self, cp):
        """PSS once it stops moving (two readings 1 s apart within 1%), at most 20 s."""
        last = self.memory_kib([cp.pid])[0]
        for _ in range(20):
            time.sleep(1)
            now = self.memory_kib([cp.pid])[0]
            if abs(now - last) <= max(1, last // 100):
                return now
            last = now
        return last

    def run(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        res = {"pods": self.pods, "policies": self.policies, "proxies": self.proxies}
        # 1. The empty cluster: the baseline.
        fake = self.start_fake("empty")
        _admin(fake["adminUrl"], "POST", "/objects", {"objects": [CONTROL_NAMESPACE]})
        cp, bound = self.start_control("empty", fake)
        _wait(lambda: self.synced(bound), 120, "the empty cluster's sync")
        res["pss_empty_kib"] = self.settle_pss(cp)
        self.b.stop_procs("kube-control")
        self.b.stop_procs("kube-fake")

        # 2. The loaded cluster.
        fake = self.start_fake("full")
        objects = cluster_objects(self.pods, self.policies, min(self.proxies, self.pods))
        t = time.time()
        for i in range(0, len(objects), 2000):
            _admin(fake["adminUrl"], "POST", "/objects",
                   {"objects": objects[i:i + 2000], "keepStatus": True})
        res["load_s"] = time.time() - t
        res["objects"] = len(objects)
        t = time.time()
        cp, bound = self.start_control("full", fake)
        _wait(lambda: self.synced(bound), 900, "the loaded cluster's sync")
        res["first_sync_s"] = time.time() - t
        res["cached_objects"] = _metric(bound["admin"], "remora_kube_cached_objects")
        res["refused_objects"] = _metric(bound["admin"], "remora_kube_refused_objects")
        res["pss_full_kib"] = self.settle_pss(cp)
        res["kib_per_1000_pods"] = (res["pss_full_kib"] - res["pss_empty_kib"]) * 1000 / self.pods

        # 3. Re-list after 410.
        res["relist_s"] = []
        for i in range(self.relists):
            before = _metric(bound["admin"], "remora_kube_lists_completed_total") or 0
            # A write the informers do not watch moves the resourceVersion past theirs; forgetting
            # the history then makes every resume older than the server keeps: 410 Gone.
            _admin(fake["adminUrl"], "POST", "/objects", {"objects": [
                {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": f"bench-tick-{i}", "namespace": "default"}}]})
            _admin(fake["adminUrl"], "POST", "/history/expire")
            t = time.time()
            _admin(fake["adminUrl"], "POST", "/watches/drop?mode=close")
            _wait(lambda: (_metric(bound["admin"], "remora_kube_lists_completed_total") or 0)
                  >= before + WATCHED, 900, "the re-lists after 410")
            res["relist_s"].append(time.time() - t)

        # 4. kubectl apply to the last ACK, with --proxies simulated proxies.
        res["rounds"] = []
        res["connected"] = None
        if self.proxies > 0 and os.path.exists("/usr/bin/kubectl"):
            cache = os.path.join(self.dir, "kubectl-cache")
            for r in range(1, self.rounds + 1):
                with open(os.path.join(self.dir, f"round-{r}.yaml"), "w") as f:
                    f.write("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
                            "metadata: {name: bench-audit, namespace: remora-system}\n"
                            "spec:\n  action: AUDIT\n"
                            f"  rules: [{{to: [{{operation: {{paths: [\"/round-{r}\"]}}}}]}}]\n")
            out = self.run_json([f"{self.b.bin}/bench/xds_sim", f"--dev={bound['dev']}",
                            f"--server={bound['grpc']}", f"--state-dir={self.dir}/full/state",
                            f"--proxies={self.proxies}", f"--rounds={self.rounds}",
                            f"--control-pid={cp.pid}",
                            f"--kube-apply=/usr/bin/kubectl --kubeconfig={fake['kubeconfig']} "
                            f"--cache-dir={cache} apply -f {self.dir}/round-{{round}}.yaml "
                            ">/dev/null"], 0, 900)
            res["connected"] = next((o for o in out if o.get("phase") == "connected"), None)
            res["rounds"] = [o for o in out if o.get("phase") == "apply"]
        self.b.stop_procs("kube-control")
        self.b.stop_procs("kube-fake")
        return res
