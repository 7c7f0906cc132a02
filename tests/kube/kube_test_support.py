"""Helpers for tests that drive the fake API server: start it, run the real kubectl against it,
speak HTTPS to it directly (requests, streaming watches), call its admin hooks."""
import http.client
import json
import os
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
KUBECTL = os.environ.get("KUBECTL", "/usr/bin/kubectl")


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class FakeApiServer:
    def __init__(self, *extra_args):
        base = os.environ.get("TEST_TMPDIR") or tempfile.gettempdir()
        self.dir = tempfile.mkdtemp(prefix="fake-apiserver-", dir=base)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.ready_file = os.path.join(self.dir, "ready.json")
        self.log_path = os.path.join(self.dir, "server.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(HERE, "fake_apiserver.py"), f"--kubeconfig={self.kubeconfig}",
             f"--ready-file={self.ready_file}", f"--cert-dir={self.dir}/certs", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.ready_file) or self.proc.poll() is not None,
                 60, "the fake apiserver's ready file")
        if self.proc.poll() is not None:
            raise AssertionError(f"fake apiserver exited: {self.server_log()}")
        with open(self.ready_file) as f:
            self.ready = json.load(f)
        self.port, self.token = self.ready["port"], self.ready["token"]
        self.admin_url = self.ready["adminUrl"]
        self.ssl_ctx = ssl.create_default_context(cafile=self.ready["caFile"])
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home, exist_ok=True)

    def server_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    # ---- kubectl -------------------------------------------------------------------------------
    def kubectl(self, *args, input=None, check=True, timeout=60):
        env = dict(os.environ, HOME=self.home, KUBECONFIG=self.kubeconfig)
        r = subprocess.run([KUBECTL, f"--cache-dir={self.dir}/kube-cache", *args], env=env,
                           input=input.encode() if isinstance(input, str) else input,
                           capture_output=True, timeout=timeout)
        r.out, r.err = r.stdout.decode(), r.stderr.decode()
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}):\n"
                                 f"{r.err}\n{r.out}")
        return r

    def kubectl_json(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json").out)

    # ---- HTTPS ---------------------------------------------------------------------------------
    def connect(self, timeout=30):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl_ctx,
                                           timeout=timeout)

    def request(self, method, path, body=None, token=None, content_type="application/json",
                headers=None):
        """(status, headers, parsed JSON body or raw text)."""
        conn = self.connect()
        h = {"Accept": "application/json"}
        if token is not False:
            h["Authorization"] = f"Bearer {token or self.token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = content_type
        h.update(headers or {})
        conn.request(method, path, data, h)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, dict(resp.getheaders()), parsed

    def watch(self, path, timeout=30):
        return Watch(self, path, timeout)

    # ---- admin port ----------------------------------------------------------------------------
    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.admin_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def counters(self):
        return self.admin("GET", "/counters")


class Watch:
    """An open watch: events() yields parsed events; ended tells whether the stream finished."""

    def __init__(self, server, path, timeout):
        self.conn = server.connect(timeout)
        self.conn.request("GET", path, headers={"Authorization": f"Bearer {server.token}",
                                                "Accept": "application/json"})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.ended = False

    def next(self):
        """The next event, or None once the server ended the stream."""
        line = self.resp.readline()
        if not line:
            self.ended = True
            return None
        return json.loads(line)

    def next_matching(self, predicate, limit=10000):
        for _ in range(limit):
            ev = self.next()
            if ev is None or predicate(ev):
                return ev
        raise AssertionError("no matching watch event")

    def close(self):
        self.conn.close()


def openssl_cert(directory, cn, dns):
    """A CA and a serving certificate for `dns` (for webhook servers in tests)."""
    ca_key, ca = f"{directory}/{cn}-ca.key", f"{directory}/{cn}-ca.crt"
    key, csr, crt = f"{directory}/{cn}.key", f"{directory}/{cn}.csr", f"{directory}/{cn}.crt"
    ext = f"{directory}/{cn}.ext"

    def run(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "30", "-subj", f"/CN={cn}-ca",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", f"/CN={cn}")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:{dns}\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
        "-days", "30", "-extfile", ext)
    return crt, key, ca
