#!/usr/bin/python3
"""A fake Kubernetes API server for Remora's tests: HTTPS, bearer tokens, discovery, the resources
Remora reads and writes, list/watch with resourceVersion semantics, TokenRequest/TokenReview,
mutating admission webhooks, and fault hooks on a plain-HTTP admin port. Python standard library
only; run it with /usr/bin/python3. See README.md beside this file.

  /usr/bin/python3 tests/kube/fake_apiserver.py --kubeconfig=/tmp/kc --ready-file=/tmp/ready
"""
import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakekube import admission as admission_mod  # noqa: E402
from fakekube import auth as auth_mod  # noqa: E402
from fakekube import clock  # noqa: E402
from fakekube.admin import AdminServer, Counters, Faults  # noqa: E402
from fakekube.api import Api, Request, Route  # noqa: E402
from fakekube import resources  # noqa: E402
from fakekube.resources import BY_GVR  # noqa: E402
from fakekube.server import ApiFront  # noqa: E402
from fakekube.status import ApiError  # noqa: E402
from fakekube.store import Store, encode  # noqa: E402


def log(msg):
    sys.stderr.write(time.strftime("%H:%M:%S ") + msg + "\n")
    sys.stderr.flush()


def write_atomic(path, data, mode=0o600):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def openssl(*args):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"fake-apiserver: openssl {' '.join(args[:2])} failed: {r.stderr}")


def make_certs(directory):
    """A CA and a serving certificate for 127.0.0.1/localhost/kubernetes.default.svc."""
    ca_key, ca_crt = f"{directory}/ca.key", f"{directory}/ca.crt"
    key, csr, crt = f"{directory}/tls.key", f"{directory}/tls.csr", f"{directory}/tls.crt"
    ext = f"{directory}/ext.cnf"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", ca_key, "-out", ca_crt, "-days", "3650",
            "-subj", "/CN=fake-kube-apiserver-ca",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=kube-apiserver")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes,"
                "DNS:kubernetes.default,DNS:kubernetes.default.svc,"
                "DNS:kubernetes.default.svc.cluster.local\n"
                "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n"
                "basicConstraints=critical,CA:FALSE\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", "825", "-extfile", ext)
    return crt, key, ca_crt


def kubeconfig(server, ca_pem, token):
    ca = base64.b64encode(ca_pem.encode()).decode()
    return (f"apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n"
            f"    server: {server}\n    certificate-authority-data: {ca}\n"
            f"users:\n- name: admin\n  user:\n    token: {token}\n"
            f"contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: admin\n"
            f"    namespace: default\ncurrent-context: fake\n")


class Controller:
    """Owns the parts and answers the admin port."""

    def __init__(self, args):
        self.args = args
        self.cleanup_dir = None
        cert_dir = args.cert_dir
        if args.tls_cert:
            crt, key, ca = args.tls_cert, args.tls_key, args.ca_cert
        else:
            if not cert_dir:
                cert_dir = self.cleanup_dir = tempfile.mkdtemp(prefix="fake-apiserver-")
            os.makedirs(cert_dir, exist_ok=True)
            crt, key, ca = make_certs(cert_dir)
        with open(ca) as f:
            self.ca_pem = f.read()
        self.ca_file = ca
        static = {}
        self.admin_token = args.token or secrets.token_urlsafe(32)
        static[self.admin_token] = auth_mod.static_user("admin", "admin-uid",
                                                        ["system:masters"])
        if args.token_file:
            static.update(auth_mod.load_token_file(args.token_file))
        if args.without_istio_crds:
            resources.uninstall(resources.ISTIO_STORAGE)
        self.store = Store(history_size=args.history_size, initial_rv=args.initial_rv)
        self.counters = Counters()
        self.faults = Faults()
        self.auth = auth_mod.Authenticator(self.store, static, issuer=args.issuer,
                                           api_audiences=args.api_audiences.split(","))
        self.admission = admission_mod.Admission(self.store, log)
        for m in args.webhook_host:
            src, _, dst = m.partition("=")
            self.admission.set_hosts({src: dst})
        self.api = Api(self.store, self.auth, self.admission, self.counters, log, self.ca_pem,
                       watch_timeout=args.watch_timeout)
        self.front = ApiFront(self.api, self.auth, self.faults, self.counters, crt, key,
                              args.bind, args.port, log)
        self.front.bookmark_interval = args.bookmark_interval
        self.front.verbose = args.verbose
        self.admin = None
        self.up_timer = None

    def bootstrap(self):
        """What a fresh cluster has: the four system namespaces (each with its default service
        account and kube-root-ca.crt), and the `kubernetes` Service with its EndpointSlice."""
        admin_user = {"username": "system:apiserver", "groups": ["system:masters"]}
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self._create(("", "v1", "namespaces"), None, {"metadata": {"name": ns}}, admin_user)
        self._create(("", "v1", "services"), "default", {
            "metadata": {"name": "kubernetes", "labels": {
                "component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{
                "name": "https", "port": 443, "protocol": "TCP",
                "targetPort": self.front.port}]}}, admin_user)
        self._create(("discovery.k8s.io", "v1", "endpointslices"), "default", {
            "metadata": {"name": "kubernetes", "labels": {
                "kubernetes.io/service-name": "kubernetes",
                "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [self.args.bind], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": self.front.port, "protocol": "TCP"}]},
            admin_user)

    def _create(self, gvr, ns, obj, user, keep_status=False):
        rt = BY_GVR[gvr]
        req = Request("POST", "", {}, encode(obj), "application/json", "", user,
                      "kube-apiserver/v1.32.0")
        self.api.create(req, Route(rt, ns, None, None), system=True, keep_status=keep_status)

    def admin_call(self, method, path, p, body):
        if method == "GET" and path == "/counters":
            return self.counters.snapshot(self.store)
        if method == "GET" and path == "/healthz":
            return {"up": self.front.is_up}
        if method == "POST" and path == "/counters/reset":
            self.counters.reset()
            return {"ok": True}
        if method == "POST" and path == "/watches/drop":
            mode = p.get("mode", "close")
            if mode not in ("close", "reset"):
                raise ValueError("mode must be close or reset")
            watchers = self.store.watchers()
            for w in watchers:
                w.close(mode)
            self.counters.bump("watches_dropped", len(watchers))
            return {"dropped": len(watchers)}
        if method == "POST" and path == "/history/expire":
            return {"resourceVersion": str(self.store.expire_history())}
        if method == "POST" and path == "/faults":
            return {"id": self.faults.add(**{k: v for k, v in p.items()})}
        if method == "DELETE" and path == "/faults":
            self.faults.clear()
            return {"ok": True}
        if method == "POST" and path == "/down":
            self.front.down()
            if p.get("seconds"):
                self.up_timer = threading.Timer(float(p["seconds"]), self.front.up)
                self.up_timer.daemon = True
                self.up_timer.start()
            return {"up": False, "port": self.front.port}
        if method == "POST" and path == "/up":
            self.front.up()
            return {"up": True, "port": self.front.port}
        if method == "POST" and path == "/bookmarks":
            self.front.bookmark_interval = float(p.get("intervalSeconds", 60))
            return {"intervalSeconds": self.front.bookmark_interval}
        if method == "POST" and path == "/clock/advance":
            return {"offsetSeconds": clock.advance(float(p.get("seconds", 0)))}
        if method == "POST" and path == "/webhook-hosts":
            if not isinstance(body, dict):
                raise ValueError('body must be {"host:port": "127.0.0.1:port"}')
            self.admission.set_hosts({str(k): str(v) for k, v in body.items()})
            return {"hosts": self.admission.host_map}
        if method == "POST" and path == "/objects":
            if isinstance(body, dict):
                return self.load_objects(body.get("objects"), bool(body.get("keepStatus")))
            return self.load_objects(body)
        if method == "POST" and path == "/crds/istio":
            resources.install(resources.ISTIO_STORAGE)
            return {"installed": sorted(resources.ISTIO_STORAGE)}
        if method == "GET" and path == "/tokens":
            return {"tokens": list(self.auth.issued)}
        return None

    def load_objects(self, objects, keep_status=False):
        """Bulk creation for benchmarks and big fixtures: the create path without webhooks.
        keep_status keeps each object's status (what kubelets and controllers would have written
        since), so 10,000 Running pods need no 10,000 status updates."""
        if not isinstance(objects, list):
            raise ValueError('body must be {"objects": [ {apiVersion, kind, metadata, ...} ]}')
        created = 0
        for obj in objects:
            gv, kind = obj.get("apiVersion", ""), obj.get("kind", "")
            group, _, version = gv.rpartition("/")
            rt = next((t for t in resources.served_types() if t.group == group
                       and t.version == version and t.kind == kind and t.verbs != ["create"]),
                      None)
            if rt is None:
                raise ValueError(f"objects[{created}]: no resource serves {gv} {kind}")
            ns = (obj.get("metadata") or {}).get("namespace") if rt.namespaced else None
            try:
                self._create((rt.group, rt.version, rt.resource), ns, obj,
                             {"username": "admin"}, keep_status)
            except ApiError as e:
                raise ValueError(f"objects[{created}]: {e.message}")
            created += 1
        return {"created": created, "resourceVersion": str(self.store.rv)}

    def write_files(self):
        a = self.args
        server = f"https://{a.bind}:{self.front.port}"
        if a.kubeconfig:
            write_atomic(a.kubeconfig, kubeconfig(server, self.ca_pem, self.admin_token))
        if a.port_file:
            write_atomic(a.port_file, f"{self.front.port}\n", 0o644)
        if a.admin_port_file and self.admin:
            write_atomic(a.admin_port_file, f"{self.admin.port}\n", 0o644)
        if a.ready_file:
            write_atomic(a.ready_file, json.dumps({
                "server": server, "port": self.front.port,
                "adminPort": self.admin.port if self.admin else None,
                "adminUrl": f"http://127.0.0.1:{self.admin.port}" if self.admin else None,
                "kubeconfig": a.kubeconfig, "caFile": self.ca_file, "token": self.admin_token,
                "pid": os.getpid()}, indent=1) + "\n")

    def run(self):
        self.front.up()
        self.bootstrap()
        if self.args.admin_port >= 0:
            self.admin = AdminServer(self, self.args.admin_port, log)
            self.admin.start()
        self.write_files()
        log(f"fake-apiserver: serving https://{self.args.bind}:{self.front.port}"
            + (f", admin http://127.0.0.1:{self.admin.port}" if self.admin else ""))
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(3600):
            pass
        log("fake-apiserver: terminating")
        self.front.down()
        if self.admin:
            self.admin.stop()
        if self.cleanup_dir:
            shutil.rmtree(self.cleanup_dir, ignore_errors=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=0, help="HTTPS port (0: any free port)")
    p.add_argument("--admin-port", type=int, default=0,
                   help="plain-HTTP admin/fault port on 127.0.0.1 (0: any, -1: none)")
    p.add_argument("--kubeconfig", help="write a kubeconfig (server, CA, admin token) here")
    p.add_argument("--port-file", help="write the bound HTTPS port here")
    p.add_argument("--admin-port-file", help="write the bound admin port here")
    p.add_argument("--ready-file", help="write JSON {server, port, adminPort, kubeconfig, "
                                        "caFile, token, pid} here, last, once serving")
    p.add_argument("--cert-dir", help="generate the CA and serving certificate here "
                                      "(default: a temporary directory removed at exit)")
    p.add_argument("--tls-cert", help="serving certificate (PEM) instead of generating one")
    p.add_argument("--tls-key", help="its private key (PEM)")
    p.add_argument("--ca-cert", help="CA that signed --tls-cert (goes into the kubeconfig)")
    p.add_argument("--token", help="the admin bearer token (default: random)")
    p.add_argument("--token-file", help="more static tokens, kube-apiserver --token-auth-file "
                                        "CSV: token,user,uid,\"group1,group2\"")
    p.add_argument("--issuer", default=auth_mod.API_AUDIENCE,
                   help="service-account token issuer")
    p.add_argument("--api-audiences", default=auth_mod.API_AUDIENCE,
                   help="comma-separated audiences the API server itself accepts")
    p.add_argument("--history-size", type=int, default=10000,
                   help="watch history kept per resource (older resourceVersions get 410)")
    p.add_argument("--initial-rv", type=int, default=1000, help="first resourceVersion")
    p.add_argument("--bookmark-interval", type=float, default=60.0,
                   help="seconds between BOOKMARK events on watches that allow them")
    p.add_argument("--watch-timeout", type=int, default=1800,
                   help="server-side watch timeout when the client sets no timeoutSeconds")
    p.add_argument("--webhook-host", action="append", default=[],
                   help="HOST:PORT=ADDR:PORT: where admission dials a webhook host, e.g. "
                        "remora-control.remora-system.svc:15017=127.0.0.1:40123")
    p.add_argument("--without-istio-crds", action="store_true",
                   help="start as a cluster without Istio's CRDs: security.istio.io is not "
                        "served until POST /crds/istio on the admin port installs them")
    p.add_argument("--verbose", action="store_true", help="log every request")
    args = p.parse_args(argv)
    if args.tls_cert and not (args.tls_key and args.ca_cert):
        p.error("--tls-cert needs --tls-key and --ca-cert")
    return args


def main(argv):
    Controller(parse_args(argv)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
