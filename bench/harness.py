#!/usr/bin/env python3
"""The benchmark driver behind bench/run (issue 8): remora-proxy side by side with HAProxy, nginx
and stunnel on loopback, every contestant in the same topology:

    loadgen -> client-side sidecar -> mTLS -> server-side sidecar -> nginx backend

Both sidecars are pinned to one core, the load generator and the backend to the other. Runs are
interleaved (every contestant once per run, the order rotated between runs), each figure is the
median of the runs with its spread, and every remora/peer ratio is taken within one run.
Prints a markdown report on stdout; the raw numbers go to <workdir>/results.json.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

SIDECAR_CPU = 1
GEN_CPU = 0

BACKEND_PORT = 24080
POLICY_PATH = "/api/items/42"  # what every request asks for: allowed by the L7 policies

# Every contestant: (name, layer, client port, server port). "direct" has no sidecars.
CONTESTANTS = [
    ("direct", "-", BACKEND_PORT, None),
    ("remora-l4", "L4", 24101, 24102),
    ("haproxy-tcp", "L4", 24121, 24122),
    ("nginx-stream", "L4", 24141, 24142),
    ("stunnel", "L4", 24161, 24162),
    ("remora-l7", "L7", 24111, 24112),
    ("haproxy-http", "L7", 24131, 24132),
    ("nginx-http", "L7", 24151, 24152),
]
REMORA_FOR = {"L4": "remora-l4", "L7": "remora-l7"}


# ------------------------------------------------------------------------------------------------
# Small helpers: processes, /proc counters, statistics.

def log(*parts):
    print("[bench]", *parts, file=sys.stderr, flush=True)


def pin(cpu):
    return lambda: os.sched_setaffinity(0, {cpu})


def wait_port(port, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def children(pid):
    """pid and all its descendants (nginx master + worker)."""
    out = [pid]
    try:
        kids = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
        todo = [pid]
        while todo:
            p = todo.pop()
            for k in kids.get(p, []):
                out.append(k)
                todo.append(k)
    except OSError:
        pass
    return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            pass
    return total


def memory_kib(pids):
    """(PSS, RSS) in KiB, summed over `pids`. PSS splits shared pages fairly between processes."""
    pss = rss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            pass
    return pss, rss


def core_times(cpu):
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                idle = v[3] + v[4]
                return sum(v[:8]), idle
    return 0, 0


class CoreBusy:
    def __init__(self, cpu):
        self.cpu = cpu
        self.start = core_times(cpu)

    def percent(self):
        total, idle = core_times(self.cpu)
        dt = total - self.start[0]
        return 100.0 * (dt - (idle - self.start[1])) / dt if dt > 0 else 0.0


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=0):
    if value is None:
        return "—"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def spread(values, digits=0):
    """'median (min–max)' of the runs."""
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    m = statistics.median(values)
    if len(values) == 1:
        return fmt(m, digits)
    return f"{fmt(m, digits)} ({fmt(min(values), digits)}–{fmt(max(values), digits)})"


def ratio_cell(remora_values, peer_values, higher_is_better=True):
    """Median of per-run ratios remora/peer; runs are paired by index."""
    ratios = []
    for r, p in zip(remora_values, peer_values):
        if r is not None and p not in (None, 0):
            ratios.append(r / p)
    if not ratios:
        return "—"
    m = statistics.median(ratios)
    return f"{m:.2f}×"


def run_json(cmd, cpu, timeout):
    """Runs a tool that prints JSON lines; returns them parsed."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       preexec_fn=pin(cpu), timeout=timeout)
    out = []
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    if p.returncode != 0 and not out:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    return out


# ------------------------------------------------------------------------------------------------
# Configuration of every contestant.

def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = args.bin_dir
        self.work = args.work_dir
        self.certs = os.path.join(self.work, "certs")
        self.procs = {}  # name -> list of Popen
        self.results = {"started": datetime.datetime.now().isoformat(timespec="seconds")}
        self.sections = []
        q = args.quick
        self.runs = args.runs or (3 if q else 5)
        self.p = {
            "sat_warmup": 1.0 if q else 2.0, "sat_duration": 3.0 if q else 10.0, "sat_conns": 64,
            "lat_warmup": 0.5 if q else 1.0, "lat_duration": 3.0 if q else 10.0,
            "lat_rates": [int(r) for r in args.rates.split(",")], "lat_conns": 32,
            "churn_warmup": 0.5 if q else 1.0, "churn_duration": 3.0 if q else 10.0,
            "churn_conns": 16,
            "bulk_bytes": (256 if q else 1024) << 20,
            "mem_levels": [1000, 2000, 4000, 8000], "mem_runs": 1 if q else self.runs,
            "cp_proxies": [1000, 10000], "cp_rounds": 3 if q else 5,
            "overload_seconds": 10 if q else 30, "overload_conns": 512,
            "handshake_seconds": 2 if q else 5,
            "kube_pods": 10000, "kube_policies": 1000, "kube_proxies": 1000,
            "kube_relists": 3 if q else 5,
        }

    # --- set-up ---------------------------------------------------------------------------------
    def prepare(self):
        os.makedirs(self.work, exist_ok=True)
        subprocess.run([f"{self.bin}/bench/make_certs", self.certs], check=True,
                       stdout=subprocess.DEVNULL)
        bulk = os.path.join(self.work, "www", "bulk.bin")
        os.makedirs(os.path.dirname(bulk), exist_ok=True)
        with open(bulk, "wb") as f:
            f.truncate(self.p["bulk_bytes"])
        with open(bulk, "rb") as f:  # into the page cache: the backend then serves from memory
            while f.read(1 << 20):
                pass
        for name, _, cport, sport in CONTESTANTS:
            for port in (cport, sport):
                if port and not port_free(port):
                    raise SystemExit(f"port {port} ({name}) is in use; stop what holds it")
        self.start_backend()

    def spawn(self, key, cmd, cpu, log_name, env=None):
        logf = open(os.path.join(self.work, log_name), "ab")
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             preexec_fn=pin(cpu), env=env)
        self.procs.setdefault(key, []).append(p)
        return p

    def stop_all(self):
        for key in list(self.procs):
            self.stop_procs(key)

    def stop_procs(self, key):
        procs = self.procs.pop(key, [])
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def pids(self, key):
        out = []
        for p in self.procs.get(key, []):
            out.extend(children(p.pid))
        return out

    def alive(self, key):
        procs = self.procs.get(key, [])
        return bool(procs) and all(p.poll() is None for p in procs)

    def start_backend(self):
        d = os.path.join(self.work, "backend")
        os.makedirs(d, exist_ok=True)
        write(f"{d}/nginx.conf", f"""
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 3600s;
  default_type text/plain;
  server {{
    listen 127.0.0.1:{BACKEND_PORT} backlog=4096;
    location = /api/bulk.bin {{ alias {self.work}/www/bulk.bin; }}
    location / {{ return 200 "hello from the backend\\n"; }}
  }}
}}
""")
        self.spawn("backend", ["nginx", "-p", d, "-c", f"{d}/nginx.conf", "-e", f"{d}/error.log"],
                   GEN_CPU, "backend.log")
        if not wait_port(BACKEND_PORT):
            raise SystemExit("the nginx backend did not start; see " + d)

    def start(self, name):
        """Starts the contestant's two sidecars on the sidecar core and waits for them."""
        layer = dict((c[0], c[1]) for c in CONTESTANTS)[name]
        cport, sport = next((c[2], c[3]) for c in CONTESTANTS if c[0] == name)
        if name == "direct":
            return
        d = os.path.join(self.work, name)
        os.makedirs(d, exist_ok=True)
        kind = name.split("-")[0]
        getattr(self, f"start_{kind}")(name, layer, d, cport, sport)
        for port in (sport, cport):
            if not wait_port(port):
                self.stop_procs(name)
                raise RuntimeError(f"{name} did not start (port {port}); logs in {d}")
        # Requests end to end: the chain works before anything is measured (a longer try when
        # the first handshake is slow).
        for duration in (0.3, 1.0, 5.0):
            out = run_json([f"{self.bin}/bench/loadgen", "--mode=closed",
                            f"--target=127.0.0.1:{cport}", f"--path={POLICY_PATH}",
                            "--connections=1", f"--duration={duration}", "--warmup=0"], GEN_CPU, 30)
            if out and out[-1].get("requests", 0) > 0 and out[-1].get("errors", 1) == 0:
                break
        else:
            self.stop_procs(name)
            raise RuntimeError(f"{name}: a request through the chain failed: {out}; logs in {d}")

    def start_remora(self, name, layer, d, cport, sport):
        c = self.certs
        protocol = "http" if layer == "L7" else "tcp"
        ident = lambda who: (f'identity: {{cert_file: "{c}/{who}.crt", key_file: "{c}/{who}.key", '
                             f'bundle_file: "{c}/ca.crt", poll_interval: 10s}}\n')
        common = ('admin: "off"\nprometheus: "off"\nhealth: "off"\nlog_level: warn\n'
                  "limits: {workers: 1}\n")
        server = (ident("web") + common +
                  f'listeners:\n  - {{name: inbound, direction: inbound, address: "127.0.0.1:{sport}", '
                  f'target: "127.0.0.1:{BACKEND_PORT}"}}\n'
                  f"inbound:\n  mode: STRICT\n  ports:\n    - {{port: {BACKEND_PORT}, mode: STRICT, "
                  f"protocol: {protocol}}}\n")
        if layer == "L7":
            write(f"{d}/policy.yaml", REMORA_POLICY)
            server += f'policy_files: ["{d}/policy.yaml"]\nworkload: {{labels: {{app: web}}}}\n'
        client = (ident("client") + common +
                  f'listeners:\n  - {{name: outbound, direction: outbound, address: "127.0.0.1:{cport}", '
                  f'target: "127.0.0.1:{sport}"}}\n'
                  f'outbound:\n  services:\n    - name: web\n      addresses: ["127.0.0.1:{sport}"]\n'
                  f'      identities: ["spiffe://cluster.local/ns/bench/sa/web"]\n'
                  f"      protocol: {protocol}\n")
        write(f"{d}/server.yaml", server)
        write(f"{d}/client.yaml", client)
        proxy = f"{self.bin}/proxy/remora-proxy"
        self.spawn(name, [proxy, f"--config={d}/server.yaml"], SIDECAR_CPU, f"{name}-server.log")
        self.spawn(name, [proxy, f"--config={d}/client.yaml"], SIDECAR_CPU, f"{name}-client.log")

    def start_haproxy(self, name, layer, d, cport, sport):
        c = self.certs
        mode = "http" if layer == "L7" else "tcp"
        glob = f"""global
  nbthread 1
  maxconn 9000
  ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256
  ssl-default-bind-options ssl-min-ver TLSv1.3 no-tls-tickets
  ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256
  ssl-default-server-options ssl-min-ver TLSv1.3 no-tls-tickets
  tune.ssl.cachesize 0
defaults
  mode {mode}
  maxconn 9000
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  timeout http-keep-alive 1h
  timeout http-request 10s
"""
        authz = ""
        if layer == "L7":
            # The same small policy as remora's: only the client identity, GET/HEAD under /api/
            # and the health check, /admin never; the caller's certificate is passed on.
            authz = """  http-request deny if { path_beg /admin }
  http-request deny unless { ssl_c_used } { ssl_c_verify 0 }
  http-request deny unless { path_beg /api/ } METH_GET or { path_beg /api/ } METH_HEAD or { path /healthz }
  http-request set-header x-forwarded-client-cert "Hash=%[ssl_c_sha1,hex];Subject=%[ssl_c_s_dn]"
"""
        server_cfg = glob + f"""
frontend inbound
  bind 127.0.0.1:{sport} ssl crt {c}/web.pem ca-file {c}/ca.crt verify required curves X25519
{authz}  default_backend app
backend app
  server app 127.0.0.1:{BACKEND_PORT}
"""
        client_cfg = glob + f"""
frontend outbound
  bind 127.0.0.1:{cport}
  default_backend mesh
backend mesh
  server web 127.0.0.1:{sport} ssl crt {c}/client.pem ca-file {c}/ca.crt verify required no-ssl-reuse
"""
        write(f"{d}/server.cfg", server_cfg)
        write(f"{d}/client.cfg", client_cfg)
        self.spawn(name, ["haproxy", "-db", "-f", f"{d}/server.cfg"], SIDECAR_CPU, f"{name}-server.log")
        self.spawn(name, ["haproxy", "-db", "-f", f"{d}/client.cfg"], SIDECAR_CPU, f"{name}-client.log")

    def start_nginx(self, name, layer, d, cport, sport):
        c = self.certs
        head = lambda role: f"""load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid {d}/{role}.pid;
error_log {d}/{role}-error.log warn;
events {{ worker_connections 20000; }}
"""
        server_tls = f"""ssl_certificate {c}/web.crt;
    ssl_certificate_key {c}/web.key;
    ssl_client_certificate {c}/ca.crt;
    ssl_verify_client on;
    ssl_protocols TLSv1.3;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;
    ssl_ecdh_curve X25519;
    ssl_session_tickets off;
    ssl_session_cache off;"""
        client_tls = f"""proxy_ssl_certificate {c}/client.crt;
    proxy_ssl_certificate_key {c}/client.key;
    proxy_ssl_trusted_certificate {c}/ca.crt;
    proxy_ssl_verify on;
    proxy_ssl_name web.bench;
    proxy_ssl_protocols TLSv1.3;
    proxy_ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;
    proxy_ssl_session_reuse off;"""
        if layer == "L4":
            server_cfg = head("server") + f"""stream {{
  server {{
    listen 127.0.0.1:{sport} ssl backlog=4096;
    {server_tls}
    proxy_pass 127.0.0.1:{BACKEND_PORT};
    proxy_timeout 1h;
  }}
}}
"""
            client_cfg = head("client") + f"""stream {{
  server {{
    listen 127.0.0.1:{cport} backlog=4096;
    proxy_pass 127.0.0.1:{sport};
    proxy_ssl on;
    {client_tls}
    proxy_timeout 1h;
  }}
}}
"""
        else:
            http_common = """access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 3600s;"""
            server_cfg = head("server") + f"""http {{
  {http_common}
  upstream app {{ server 127.0.0.1:{BACKEND_PORT}; keepalive 1024; keepalive_requests 100000000; keepalive_timeout 3600s; }}
  server {{
    listen 127.0.0.1:{sport} ssl backlog=4096;
    {server_tls}
    location /admin {{ return 403; }}
    location = /healthz {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }}
    location /api/ {{
      limit_except GET {{ deny all; }}
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header x-forwarded-client-cert "Hash=$ssl_client_fingerprint;Subject=$ssl_client_s_dn";
    }}
    location / {{ return 403; }}
  }}
}}
"""
            client_cfg = head("client") + f"""http {{
  {http_common}
  upstream mesh {{ server 127.0.0.1:{sport}; keepalive 1024; keepalive_requests 100000000; keepalive_timeout 3600s; }}
  server {{
    listen 127.0.0.1:{cport} backlog=4096;
    location / {{
      proxy_pass https://mesh;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      {client_tls}
    }}
  }}
}}
"""
        write(f"{d}/server.conf", server_cfg)
        write(f"{d}/client.conf", client_cfg)
        for role in ("server", "client"):
            self.spawn(name, ["nginx", "-p", d, "-c", f"{d}/{role}.conf", "-e", f"{d}/{role}-error.log"],
                       SIDECAR_CPU, f"{name}-{role}.log")

    def start_stunnel(self, name, layer, d, cport, sport):
        c = self.certs
        common = """foreground = yes
debug = 3
syslog = no
"""
        tls = """sslVersionMin = TLSv1.3
ciphersuites = TLS_AES_128_GCM_SHA256
curves = X25519
verifyChain = yes
options = NO_TICKET
sessionResume = no
"""
        server_cfg = common + f"""pid = {d}/server.pid
[inbound]
accept = 127.0.0.1:{sport}
connect = 127.0.0.1:{BACKEND_PORT}
cert = {c}/web.crt
key = {c}/web.key
CAfile = {c}/ca.crt
requireCert = yes
{tls}"""
        client_cfg = common + f"""pid = {d}/client.pid
[outbound]
client = yes
accept = 127.0.0.1:{cport}
connect = 127.0.0.1:{sport}
cert = {c}/client.crt
key = {c}/client.key
CAfile = {c}/ca.crt
{tls}"""
        write(f"{d}/server.conf", server_cfg)
        write(f"{d}/client.conf", client_cfg)
        self.spawn(name, ["stunnel4", f"{d}/server.conf"], SIDECAR_CPU, f"{name}-server.log")
        self.spawn(name, ["stunnel4", f"{d}/client.conf"], SIDECAR_CPU, f"{name}-client.log")

    # --- measurement primitives ----------------------------------------------------------------
    def loadgen_window(self, name, args, timeout):
        """Runs loadgen with --events and reads the sidecars' CPU and both cores over exactly the
        measured window. Returns (result, sidecar_cpu_seconds, window_seconds, gen_core_busy,
        sidecar_core_busy)."""
        cmd = [f"{self.bin}/bench/loadgen", "--events=1"] + args
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=pin(GEN_CPU))
        pids = self.pids(name)
        start_cpu = end_cpu = None
        t_start = t_end = None
        gen = side = None
        gen_busy = side_busy = None
        result = None
        deadline = time.time() + timeout
        for line in p.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            obj = json.loads(line)
            if obj.get("event") == "start":
                start_cpu, t_start = cpu_seconds(pids), time.time()
                gen, side = CoreBusy(GEN_CPU), CoreBusy(SIDECAR_CPU)
            elif obj.get("event") == "end":
                end_cpu, t_end = cpu_seconds(pids), time.time()
                if gen:
                    gen_busy, side_busy = gen.percent(), side.percent()
            else:
                result = obj
            if time.time() > deadline:
                p.kill()
                break
        p.wait()
        if result is None:
            raise RuntimeError(f"loadgen gave no result: {p.stderr.read()[-500:]}")
        cpu = (end_cpu - start_cpu) if (start_cpu is not None and end_cpu is not None) else None
        window = (t_end - t_start) if (t_start and t_end) else None
        return result, cpu, window, gen_busy, side_busy

    def contestants(self, with_direct=True):
        names = [c[0] for c in CONTESTANTS if with_direct or c[0] != "direct"]
        if self.args.contestants:
            keep = set(self.args.contestants.split(","))
            names = [n for n in names if n in keep or (n == "direct" and with_direct)]
        return names

    def order(self, names, run):
        """Contestants interleaved, the order rotated from run to run so none always goes first."""
        k = run % len(names)
        return names[k:] + names[:k]

    def start_all(self, names):
        ok = []
        for n in names:
            try:
                self.start(n)
                ok.append(n)
            except RuntimeError as e:
                log(f"{n}: not measured: {e}")
                self.results.setdefault("skipped", {})[n] = str(e)
        return ok

    def stop_contestants(self):
        for key in list(self.procs):
            if key != "backend":
                self.stop_procs(key)

    # --- scenario 1: keep-alive saturation ---------------------------------------------------
    def scenario1(self):
        names = self.start_all(self.contestants())
        p = self.p
        data = {n: {"rps": [], "cpu_per_1k": [], "gen_busy": [], "side_busy": [], "errors": []}
                for n in names}
        for run in range(self.runs):
            for n in self.order(names, run):
                r, cpu, window, gen_busy, side_busy = self.loadgen_window(n, [
                    "--mode=closed", f"--target=127.0.0.1:{self.port(n)}", f"--path={POLICY_PATH}",
                    f"--connections={p['sat_conns']}", f"--warmup={p['sat_warmup']}",
                    f"--duration={p['sat_duration']}"], 120)
                d = data[n]
                d["rps"].append(r["rps"])
                d["errors"].append(r["errors"])
                d["gen_busy"].append(gen_busy)
                d["side_busy"].append(side_busy)
                d["cpu_per_1k"].append(None if n == "direct" or not cpu or not window
                                       else 1000.0 * cpu / (r["rps"] * window))
                log(f"s1 run {run + 1}/{self.runs} {n}: {r['rps']:.0f} req/s, errors {r['errors']}, "
                    f"gen core {gen_busy or 0:.0f}%")
        self.stop_contestants()
        self.results["s1"] = data
        lines = [
            "## 1. Keep-alive saturation",
            "",
            f"{p['sat_conns']} keep-alive connections, closed loop, `GET {POLICY_PATH}` (a 23-byte "
            f"body), {p['sat_duration']:g} s measured after {p['sat_warmup']:g} s of warm-up, "
            f"{self.runs} interleaved runs: median (min–max). CPU: user+system seconds of both "
            "sidecars over the measured window, per 1,000 requests. Ratios: remora at the same "
            "layer divided by the peer, per run, median.",
            "",
            "| contestant | layer | requests/s | sidecar CPU-s per 1k req | generator core busy | "
            "sidecar core busy | errors | remora/peer req/s | remora/peer CPU per req |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        layer = {c[0]: c[1] for c in CONTESTANTS}
        for n in names:
            d = data[n]
            rem = REMORA_FOR.get(layer[n])
            peer = rem is not None and rem != n and rem in data
            lines.append(
                f"| {n} | {layer[n]} | {spread(d['rps'])} | {spread(d['cpu_per_1k'], 3)} | "
                f"{spread(d['gen_busy'])} % | {spread(d['side_busy'])} % | {sum(d['errors'])} | "
                f"{ratio_cell(data[rem]['rps'], d['rps']) if peer else ''} | "
                f"{ratio_cell(data[rem]['cpu_per_1k'], d['cpu_per_1k']) if peer else ''} |")
        self.sections.append("\n".join(lines))

    def port(self, name):
        return next(c[2] for c in CONTESTANTS if c[0] == name)

    # --- scenario 2: latency at fixed rates ------------------------------------------------------
    def scenario2(self):
        names = self.start_all(self.contestants())
        p = self.p
        layer = {c[0]: c[1] for c in CONTESTANTS}
        lines = [
            "## 2. Added latency at fixed request rates",
            "",
            f"Open loop: request *i* is due at t0 + i/rate and its latency runs from that due time "
            f"(no coordinated omission); {p['lat_conns']} keep-alive connections, a due request "
            f"waits in the generator for a free one. {p['lat_duration']:g} s measured after "
            f"{p['lat_warmup']:g} s. Added latency = the contestant's percentile minus the direct "
            f"percentile of the same run, in µs; median (min–max) of {self.runs} runs. The last "
            "column is remora's added p99 over the peer's.",
            "",
        ]
        self.results["s2"] = {}
        for rate in p["lat_rates"]:
            data = {n: {k: [] for k in ("p50", "p90", "p99", "p999", "achieved", "lost")} for n in names}
            for run in range(self.runs):
                for n in self.order(names, run):
                    r, *_ = self.loadgen_window(n, [
                        "--mode=open", f"--rate={rate}", f"--target=127.0.0.1:{self.port(n)}",
                        f"--path={POLICY_PATH}", f"--connections={p['lat_conns']}",
                        f"--warmup={p['lat_warmup']}", f"--duration={p['lat_duration']}",
                        "--drain=5"], 120)
                    d = data[n]
                    for k, f in (("p50", "p50_us"), ("p90", "p90_us"), ("p99", "p99_us"), ("p999", "p999_us")):
                        d[k].append(r[f])
                    d["achieved"].append(r["achieved_rps"])
                    d["lost"].append(r["lost"] + r["unsent"] + r["errors"])
                    log(f"s2 {rate} rps run {run + 1} {n}: p50 {r['p50_us']:.0f} us p99 {r['p99_us']:.0f} us")
            self.results["s2"][rate] = data
            added = {n: {k: [(a - b) if "direct" in data else a
                             for a, b in zip(data[n][k], data.get("direct", data[n])[k])]
                         for k in ("p50", "p90", "p99", "p999")} for n in names}
            lines += [
                f"### {rate:,} requests/s",
                "",
                "| contestant | layer | p50 | p90 | p99 | p99.9 | achieved req/s | failed | "
                "remora/peer added p99 |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for n in names:
                rem = REMORA_FOR.get(layer[n])
                peer = rem is not None and rem != n and rem in data
                if n == "direct":
                    cells = [spread(data[n][k], 1) + " (absolute)" for k in ("p50", "p90", "p99", "p999")]
                else:
                    cells = [spread(added[n][k], 1) for k in ("p50", "p90", "p99", "p999")]
                # The rate was above what the contestant could serve in some run: these are queueing
                # delays, not added latency.
                over = any(a < 0.98 * rate for a in data[n]["achieved"]) or any(
                    p50 > 20000 for p50 in data[n]["p50"])
                lines.append(f"| {n}{' (over capacity)' if over else ''} | {layer[n]} | " + " | ".join(cells) +
                             f" | {spread(data[n]['achieved'])} | {sum(data[n]['lost'])} | "
                             f"{ratio_cell(added[rem]['p99'], added[n]['p99']) if peer else ''} |")
            lines.append("")
        self.stop_contestants()
        self.sections.append("\n".join(lines))

    # --- scenario 3: connection churn ----------------------------------------------------------
    def scenario3(self):
        p = self.p
        ceiling = []
        for run in range(self.runs):
            r = run_json([f"{self.bin}/bench/tls_handshake_loop", f"--certs={self.certs}",
                          f"--seconds={p['handshake_seconds']}"], SIDECAR_CPU, 120)[0]
            ceiling.append(r)
        names = self.start_all(self.contestants())
        layer = {c[0]: c[1] for c in CONTESTANTS}
        data = {n: {"cps": [], "cpu_ms": [], "p50": [], "errors": [], "gen_busy": []} for n in names}
        for run in range(self.runs):
            for n in self.order(names, run):
                r, cpu, window, gen_busy, _ = self.loadgen_window(n, [
                    "--mode=churn", f"--target=127.0.0.1:{self.port(n)}", f"--path={POLICY_PATH}",
                    f"--connections={p['churn_conns']}", f"--warmup={p['churn_warmup']}",
                    f"--duration={p['churn_duration']}", "--timeout=10"], 120)
                d = data[n]
                d["cps"].append(r["cps"])
                d["p50"].append(r["p50_us"])
                d["errors"].append(r["errors"])
                d["gen_busy"].append(gen_busy)
                d["cpu_ms"].append(None if n == "direct" or not cpu or not window or not r["cps"]
                                   else 1000.0 * cpu / (r["cps"] * window))
                log(f"s3 run {run + 1} {n}: {r['cps']:.0f} conn/s, errors {r['errors']}")
        self.stop_contestants()
        hs = [c["handshakes_per_s"] for c in ceiling]
        self.results["s3"] = {"contestants": data, "ceiling": ceiling}
        lines = [
            "## 3. Connection churn",
            "",
            f"A new connection per request (`Connection: close`), {p['churn_conns']} at a time, "
            f"{p['churn_duration']:g} s measured; every connection through a chain is one full "
            "mTLS handshake between the sidecars (no resumption anywhere: remora has none, the "
            "peers have it switched off). Ceiling: `bench/tls_handshake_loop`, full mTLS handshakes "
            "client and server in one thread over memory (no sockets) on the sidecar core, "
            f"same certificates and settings: **{spread(hs)} handshakes/s** "
            f"(client {spread([c['client_us'] for c in ceiling])} µs + server "
            f"{spread([c['server_us'] for c in ceiling])} µs of CPU each, "
            f"{ceiling[0]['cipher']}, {ceiling[0]['group']}).",
            "",
            "| contestant | layer | connections/s | % of handshake ceiling | sidecar CPU-ms per connection | "
            "p50 connect+request µs | errors | generator core busy | remora/peer conn/s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for n in names:
            d = data[n]
            rem = REMORA_FOR.get(layer[n])
            peer = rem is not None and rem != n and rem in data
            pct = [100.0 * a / b for a, b in zip(d["cps"], hs)] if n != "direct" else []
            # Far above the ceiling: the client side reuses pooled TLS connections to the server
            # side, so a new client connection costs no handshake.
            pooled = pct and median(pct) > 150
            pct_cell = "pooled: no handshake per connection" if pooled else (
                f"{spread(pct)} %" if pct else "—")
            lines.append(f"| {n} | {layer[n]} | {spread(d['cps'])} | {pct_cell} | "
                         f"{spread(d['cpu_ms'], 3)} | {spread(d['p50'])} | {sum(d['errors'])} | "
                         f"{spread(d['gen_busy'])} % | "
                         f"{ratio_cell(data[rem]['cps'], d['cps']) if peer else ''} |")
        self.sections.append("\n".join(lines))

    # --- scenario 4: bulk ----------------------------------------------------------------------
    def scenario4(self):
        p = self.p
        size = p["bulk_bytes"]
        raw, speed = [], []
        for run in range(self.runs):
            r = run_json([f"{self.bin}/bench/loadgen", "--mode=rawtcp", f"--bytes={size}",
                          f"--source-cpu={SIDECAR_CPU}", f"--sink-cpu={GEN_CPU}"], GEN_CPU, 300)[0]
            raw.append(r["mbytes_per_s"])
            speed.append(openssl_speed(SIDECAR_CPU, 1 if self.args.quick else 3))
        names = self.start_all(self.contestants())
        layer = {c[0]: c[1] for c in CONTESTANTS}
        data = {n: {"mbps": [], "cpu_s_per_gb": []} for n in names}
        for run in range(self.runs):
            for n in self.order(names, run):
                pids = self.pids(n)
                c0 = cpu_seconds(pids)
                r = run_json([f"{self.bin}/bench/loadgen", "--mode=bulk",
                              f"--target=127.0.0.1:{self.port(n)}", "--path=/api/bulk.bin",
                              "--timeout=300"], GEN_CPU, 400)[0]
                c1 = cpu_seconds(pids)
                ok = r.get("ok") and r["body_bytes"] == size
                data[n]["mbps"].append(r["mbytes_per_s"] if ok else None)
                data[n]["cpu_s_per_gb"].append((c1 - c0) / (size / 1e9) if ok and n != "direct" else None)
                log(f"s4 run {run + 1} {n}: {r['mbytes_per_s']:.0f} MB/s ok={ok}")
        self.stop_contestants()
        self.results["s4"] = {"contestants": data, "rawtcp": raw, "openssl_speed": speed}
        lines = [
            "## 4. Bulk transfer",
            "",
            f"One connection, one `GET` of a {size >> 20} MiB file (nginx `sendfile`), the response "
            "crossing both sidecars (server side encrypts, client side decrypts: two AES-GCM passes "
            f"on the one sidecar core). MB = 10^6 bytes; {self.runs} runs. References on this machine: raw "
            f"loopback TCP, one connection, writer on the sidecar core: **{spread(raw)} MB/s**; "
            f"`openssl speed -evp aes-128-gcm -bytes 16384` on the sidecar core: "
            f"**{spread(speed)} MB/s** (so ≈ {fmt(median(speed) / 2 if speed else None)} MB/s when "
            "one core both encrypts and decrypts).",
            "",
            "| contestant | layer | MB/s | sidecar CPU-s per GB | remora/peer MB/s |",
            "|---|---|---|---|---|",
        ]
        for n in names:
            d = data[n]
            rem = REMORA_FOR.get(layer[n])
            peer = rem is not None and rem != n and rem in data
            lines.append(f"| {n} | {layer[n]} | {spread(d['mbps'])} | {spread(d['cpu_s_per_gb'], 2)} | "
                         f"{ratio_cell(data[rem]['mbps'], d['mbps']) if peer else ''} |")
        self.sections.append("\n".join(lines))

    # --- scenario 5: memory per idle connection -------------------------------------------------
    def scenario5(self):
        p = self.p
        levels = p["mem_levels"]
        names = [n for n in self.contestants(with_direct=False)]
        layer = {c[0]: c[1] for c in CONTESTANTS}
        data = {n: {"base_kib": [], "kib": {lv: [] for lv in levels}, "per_conn": {lv: [] for lv in levels},
                    "alive": []} for n in names}
        for run in range(p["mem_runs"]):
            for n in self.order(names, run):
                # A fresh pair for every measurement: nothing left over from other traffic.
                try:
                    self.start(n)
                except RuntimeError as e:
                    log(f"s5 {n}: {e}")
                    continue
                time.sleep(0.5)
                pids = self.pids(n)
                base, _ = memory_kib(pids)
                data[n]["base_kib"].append(base)
                cmd = [f"{self.bin}/bench/loadgen", "--mode=idle", f"--target=127.0.0.1:{self.port(n)}",
                       f"--path={POLICY_PATH}", "--levels=" + ",".join(map(str, levels)), "--timeout=60"]
                lg = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, preexec_fn=pin(GEN_CPU))
                for lv in levels:
                    line = lg.stdout.readline()
                    if not line:
                        break
                    r = json.loads(line)
                    time.sleep(1.0)  # let the proxies settle (freed buffers, deferred work)
                    pids = self.pids(n)
                    kib, _ = memory_kib(pids)
                    if r["established"] >= 0.99 * lv and self.alive(n):
                        data[n]["kib"][lv].append(kib)
                        data[n]["per_conn"][lv].append((kib - base) / r["established"])
                    else:
                        data[n]["kib"][lv].append(None)
                        data[n]["per_conn"][lv].append(None)
                    log(f"s5 run {run + 1} {n}: {r['established']}/{lv} connections "
                        f"({r['failed']} failed), {kib / 1024:.1f} MiB, "
                        f"{(kib - base) / max(r['established'], 1):.1f} KiB/conn")
                    lg.stdin.write("next\n")
                    lg.stdin.flush()
                tail = lg.stdout.readline()
                try:
                    data[n]["alive"].append(json.loads(tail)["alive"] if tail else None)
                except (ValueError, KeyError):
                    data[n]["alive"].append(None)
                lg.wait(timeout=120)
                self.stop_procs(n)
        self.results["s5"] = data
        lines = [
            "## 5. Memory per idle mTLS connection",
            "",
            f"Connections opened through the chain up to each level, one request each, then left "
            "idle; PSS (proportional set size: shared pages split fairly) of both sidecars (every "
            "process of the contestant), one second after each level. Per connection = (PSS at the "
            "level − PSS of the fresh pair) / connections. A fresh pair per measurement; "
            f"{p['mem_runs']} run(s): median (min–max).",
            "",
            "| contestant | layer | idle pair (MiB) | " +
            " | ".join(f"KiB/conn at {lv:,}" for lv in levels) + f" | MiB at {levels[-1]:,} | "
            f"remora/peer KiB/conn at {levels[-1]:,} |",
            "|---|---|---|" + "---|" * len(levels) + "---|---|",
        ]
        top = levels[-1]
        for n in names:
            d = data[n]
            rem = REMORA_FOR.get(layer[n])
            peer = rem is not None and rem != n and rem in data
            lines.append(f"| {n} | {layer[n]} | {spread([b / 1024 for b in d['base_kib']], 1)} | " +
                         " | ".join(spread(d["per_conn"][lv], 1) for lv in levels) +
                         f" | {spread([k / 1024 if k else None for k in d['kib'][top]], 1)} | "
                         f"{ratio_cell(data[rem]['per_conn'][top], d['per_conn'][top]) if peer else ''} |")
        self.sections.append("\n".join(lines))

    # --- scenario 6: policy ---------------------------------------------------------------------
    def scenario6(self):
        runs = []
        for run in range(self.runs):
            p = subprocess.run([f"{self.bin}/filters/authz_bench"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, preexec_fn=pin(SIDECAR_CPU),
                               timeout=600)
            runs.append(parse_authz_bench(p.stdout))
            log(f"s6 run {run + 1}: {runs[-1].get('proxy path (per-workload, 1 thread)')}")
        self.results["s6"] = runs
        keys = [k for k in runs[0] if k not in ("rules", "compile_ms", "select_ms")]
        lines = [
            "## 6. Authorization decisions with 10,000 rules",
            "",
            f"`//filters:authz_bench` (built `-c opt`) on the sidecar core, {self.runs} runs: "
            f"{runs[0].get('rules', '?')} rules (100 namespaces × 10 workloads, ALLOW/DENY "
            "AuthorizationPolicies and NetworkPolicies), compiled in "
            f"{spread([r.get('compile_ms') for r in runs], 1)} ms. The proxy's path selects the "
            "workload's policies once, then evaluates per request. No peer has an equivalent "
            "(Istio-style RBAC over SPIFFE principals) to compare with here.",
            "",
            "| case | decisions/s | µs per decision |",
            "|---|---|---|",
        ]
        for k in keys:
            vals = [r.get(k) for r in runs]
            lines.append(f"| {k} | {spread(vals)} | "
                         f"{fmt(1e6 / median(vals), 2) if median(vals) else '—'} |")
        self.sections.append("\n".join(lines))

    # --- scenario 7: control plane ----------------------------------------------------------------
    def scenario7(self):
        p = self.p
        rows = []
        self.results["s7"] = {}
        for n_proxies in p["cp_proxies"]:
            d = os.path.join(self.work, f"control-{n_proxies}")
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            ports = f"{d}/ports.json"
            cp = self.spawn("control", [f"{self.bin}/xds/remora-control", f"--state-dir={d}/state",
                                        "--listen=127.0.0.1:0", "--dev-listen=127.0.0.1:0",
                                        "--admin=", f"--bound-ports-file={ports}", "--log-level=warn"],
                            SIDECAR_CPU, f"control-{n_proxies}.log")
            deadline = time.time() + 30
            while time.time() < deadline and not (os.path.exists(ports) and os.path.getsize(ports)):
                time.sleep(0.1)
            try:
                bound = json.load(open(ports))
                out = run_json([f"{self.bin}/bench/xds_sim", f"--dev={bound['dev']}",
                                f"--server={bound['grpc']}", f"--state-dir={d}/state",
                                f"--proxies={n_proxies}", f"--rounds={p['cp_rounds']}",
                                f"--control-pid={cp.pid}"], GEN_CPU, 900)
            except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
                log(f"s7 {n_proxies}: {e}")
                out = []
            self.stop_procs("control")
            self.results["s7"][n_proxies] = out
            conn = next((o for o in out if o.get("phase") == "connected"), None)
            applies = [o for o in out if o.get("phase") == "apply"]
            rows.append((n_proxies, conn, applies))
            log(f"s7 {n_proxies}: {conn} {[a.get('last_ack_ms') for a in applies]}")
        lines = [
            "## 7. Control plane: apply to last ACK",
            "",
            "`bench/xds_sim`: one ADS stream (state of the world) per simulated proxy, each on its own "
            "gRPC channel and TCP connection, over the control plane's plaintext development port "
            "(`--dev-listen`, so 10,000 TLS handshakes and CSR signings do not dominate; the "
            "handshake cost is scenario 3's). The simulated proxies use the proxy's own xDS "
            "protocol logic (`XdsProtocol`) and gRPC's callback API. Each round applies a mesh-wide "
            "AuthorizationPolicy through the operator API and times the Apply call to the last "
            "simulated proxy's ACK of the new version (default `--debounce` 10 ms). remora-control "
            "on the sidecar core, the simulator on the other. Memory: the control plane's PSS "
            "with every proxy connected minus before they connected (the registry already holding "
            f"their Workloads), per proxy. {p['cp_rounds']} rounds: median (min–max).",
            "",
            "| proxies | register (s) | connect all (s) | control plane PSS (MiB) | KiB per proxy | "
            "apply RPC (ms) | p50 ACK (ms) | last ACK (ms) | control plane's own count |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for n_proxies, conn, applies in rows:
            if not conn:
                lines.append(f"| {n_proxies:,} | failed (see the log) | | | | | | | |")
                continue
            lines.append(
                f"| {n_proxies:,} | {conn['register_s']:.2f} | {conn['connect_s']:.2f} | "
                f"{conn['control_pss_after_kib'] / 1024:.0f} | {conn['kib_per_proxy']:.1f} | "
                f"{spread([a['apply_rpc_ms'] for a in applies], 1)} | "
                f"{spread([a['p50_ack_ms'] for a in applies], 1)} | "
                f"{spread([a['last_ack_ms'] for a in applies], 1)} | "
                f"{applies[-1]['server_acked'] if applies else '—'}/"
                f"{applies[-1]['server_affected'] if applies else '—'} |")
        self.sections.append("\n".join(lines))

    # --- scenario 9: Kubernetes mode at cluster scale (bench/kube_scale.py) --------------------
    def scenario9(self):
        import kube_scale
        p = self.p
        ks = kube_scale.KubeScale(self, p["kube_pods"], p["kube_policies"], p["kube_proxies"],
                                  p["cp_rounds"], p["kube_relists"], memory_kib, run_json)
        try:
            r = ks.run()
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
            log(f"s9: {e}")
            self.stop_procs("kube-control")
            self.stop_procs("kube-fake")
            self.sections.append(f"## 9. Kubernetes mode at cluster scale\n\nfailed: {e}")
            return
        self.results["s9"] = r
        log(f"s9: {r}")
        anchor_kib_per_1000 = 1.5e9 / 2 / 1024  # istiod: about 1.5 GB for 2,000 sidecars
        conn = r.get("connected") or {}
        rounds = r.get("rounds") or []
        lines = [
            "## 9. Kubernetes mode at cluster scale",
            "",
            f"remora-control `--kubeconfig` against the tests' fake API server holding "
            f"{r['pods']:,} pods shaped like a real injected pod (`kubectl get pod -o json`), "
            f"{r['pods'] // 10:,} Services with their EndpointSlices and {r['policies']:,} policies "
            f"(half NetworkPolicies, half AuthorizationPolicies): {r['objects']:,} objects. "
            "bench/kube_scale.py says how each figure is taken.",
            "",
            "| measure | value |",
            "|---|---|",
            f"| first sync (list everything, map, publish) | {r['first_sync_s']:.1f} s |",
            f"| objects cached / refused by the engine | {r['cached_objects']:,.0f} / "
            f"{r['refused_objects']:,.0f} |",
            f"| control plane PSS, empty cluster → loaded | {r['pss_empty_kib'] / 1024:.0f} MiB → "
            f"{r['pss_full_kib'] / 1024:.0f} MiB |",
            f"| **PSS per 1,000 pods** (with their services and policies) | "
            f"**{r['kib_per_1000_pods'] / 1024:.1f} MiB** |",
            f"| istiod's published figure: about 1.5 GB for 2,000 sidecars | "
            f"{anchor_kib_per_1000 / 1024:.0f} MiB per 1,000 (remora, cluster only: "
            f"{r['kib_per_1000_pods'] / anchor_kib_per_1000:.2f}×) |",
            f"| re-list of every resource after 410 Gone | {spread(r['relist_s'], 1)} s |",
        ]
        if conn:
            lines += [
                f"| {conn['proxies']:,} simulated proxies connected | {conn['connect_s']:.1f} s; "
                f"{conn['kib_per_proxy']:.1f} KiB PSS per proxy; the control plane "
                f"{conn['control_pss_after_kib'] / 1024:.0f} MiB in all |",
                f"| `kubectl apply` to the last proxy's ACK | p50 ACK "
                f"{spread([a['p50_ack_ms'] for a in rounds], 0)} ms, last ACK "
                f"{spread([a['last_ack_ms'] for a in rounds], 0)} ms (kubectl itself: "
                f"{spread([a['apply_rpc_ms'] for a in rounds], 0)} ms) |",
            ]
        self.sections.append("\n".join(lines))

    # --- scenario 8: overload -------------------------------------------------------------------
    def scenario8(self):
        p = self.p
        names = self.contestants(with_direct=False)
        layer = {c[0]: c[1] for c in CONTESTANTS}
        sat = {n: median(self.results.get("s1", {}).get(n, {}).get("rps", [])) for n in names}
        rows = {}
        for n in names:
            try:
                self.start(n)
            except RuntimeError as e:
                log(f"s8 {n}: {e}")
                continue
            target = f"--target=127.0.0.1:{self.port(n)}"
            if not sat.get(n):
                r, *_ = self.loadgen_window(n, ["--mode=closed", target, f"--path={POLICY_PATH}",
                                                "--connections=64", "--warmup=1", "--duration=3"], 60)
                sat[n] = r["rps"]
            low = ["--mode=open", "--rate=1000", target, f"--path={POLICY_PATH}", "--connections=32",
                   "--warmup=0.5", "--duration=3", "--drain=5"]
            before, *_ = self.loadgen_window(n, low, 60)
            pids = self.pids(n)
            start_kib, _ = memory_kib(pids)
            rate = 2 * sat[n]
            cmd = [f"{self.bin}/bench/loadgen", "--mode=open", f"--rate={rate:.0f}", target,
                   f"--path={POLICY_PATH}", f"--connections={p['overload_conns']}", "--warmup=0",
                   f"--duration={p['overload_seconds']}", "--drain=10"]
            lg = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  preexec_fn=pin(GEN_CPU))
            peak = start_kib
            samples = []
            while lg.poll() is None:
                time.sleep(1)
                kib, _ = memory_kib(self.pids(n))
                samples.append(kib)
                peak = max(peak, kib)
            out = [json.loads(l) for l in lg.stdout.read().splitlines() if l.startswith("{")]
            during = out[-1] if out else {}
            alive_after = self.alive(n)
            after, *_ = self.loadgen_window(n, low, 60) if alive_after else ({}, None)
            end_kib, _ = memory_kib(self.pids(n))
            rows[n] = {"saturation": sat[n], "offered": rate, "during": during, "before": before,
                       "after": after, "start_kib": start_kib, "peak_kib": peak, "end_kib": end_kib,
                       "alive": alive_after and self.alive(n), "samples_kib": samples}
            log(f"s8 {n}: offered {rate:.0f}, achieved {during.get('achieved_rps', 0):.0f}, alive "
                f"{alive_after}, peak {peak / 1024:.1f} MiB, p99 before {before.get('p99_us')} "
                f"after {after.get('p99_us')}")
            self.stop_procs(n)
        self.results["s8"] = rows
        lines = [
            "## 8. Overload",
            "",
            f"Open loop at twice the contestant's saturation rate (scenario 1's median) for "
            f"{p['overload_seconds']} s over {p['overload_conns']} keep-alive connections (what "
            "cannot be sent waits in the generator, so the sidecars see every connection busy all the "
            "time); its latency, counted from each request's due time, is mostly that queue. "
            "\"Still queued\": requests the generator had not had answered when it gave up, 10 s "
            "after the end. PSS of both sidecars sampled every second. Latency at 1,000 req/s "
            "(open loop, 3 s) just before and right after.",
            "",
            "| contestant | layer | offered req/s | achieved req/s | p99 during (ms) | errors | "
            "still queued at the end | alive after | PSS start → peak → end (MiB) | "
            "p99 at 1k before → after (µs) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for n in names:
            if n not in rows:
                lines.append(f"| {n} | {layer[n]} | not measured | | | | | | | |")
                continue
            r = rows[n]
            d = r["during"]
            queued = d.get("lost", 0) + d.get("unsent", 0)
            lines.append(
                f"| {n} | {layer[n]} | {fmt(r['offered'])} | {fmt(d.get('achieved_rps'))} | "
                f"{fmt(d.get('p99_us', 0) / 1000, 1)} | {d.get('errors', 0)} | {fmt(queued)} | "
                f"{'yes' if r['alive'] else '**no**'} | "
                f"{r['start_kib'] / 1024:.1f} → {r['peak_kib'] / 1024:.1f} → {r['end_kib'] / 1024:.1f} | "
                f"{fmt(r['before'].get('p99_us'))} → {fmt(r['after'].get('p99_us'))} |")
        self.sections.append("\n".join(lines))

    # --- profiles ---------------------------------------------------------------------------------
    def profile(self):
        """perf record of each contestant's sidecars under keep-alive saturation."""
        names = [n for n in self.contestants(with_direct=False)]
        out = ["## Where the sidecar core's time goes (perf, keep-alive saturation)", ""]
        for n in names:
            try:
                self.start(n)
            except RuntimeError as e:
                log(f"profile {n}: {e}")
                continue
            data = os.path.join(self.work, f"perf-{n}.data")
            pids = ",".join(map(str, self.pids(n)))
            perf = subprocess.Popen(["perf", "record", "-F", "1999", "-e", "cpu-clock", "-g",
                                     "-p", pids, "-o", data, "--", "sleep", "4"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)
            run_json([f"{self.bin}/bench/loadgen", "--mode=closed",
                      f"--target=127.0.0.1:{self.port(n)}", f"--path={POLICY_PATH}",
                      "--connections=64", "--warmup=0", "--duration=4"], GEN_CPU, 60)
            perf.wait(timeout=60)
            self.stop_procs(n)
            by_dso = perf_report(data, "dso")
            by_sym = perf_report(data, "dso,sym")
            self.results.setdefault("profile", {})[n] = {"dso": by_dso, "sym": by_sym}
            out += [f"### {n}", "", "| share | where |", "|---|---|"]
            out += [f"| {pct:.1f} % | {what} |" for pct, what in by_dso[:8]]
            out += ["", "| share | symbol |", "|---|---|"]
            out += [f"| {pct:.1f} % | {what} |" for pct, what in by_sym[:20]]
            out.append("")
        self.sections.append("\n".join(out))

    # --- report -------------------------------------------------------------------------------
    def machine(self):
        def cmd(*c):
            try:
                return subprocess.run(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      timeout=20).stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                return "?"
        model = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        commit = cmd("git", "-C", repo, "rev-parse", "--short", "HEAD")
        dirty = cmd("git", "-C", repo, "status", "--porcelain", "--untracked-files=no")
        m = {
            "cores": os.cpu_count(), "cpu": model, "memory_gib": round(mem_gib, 1),
            "kernel": platform.release(), "openssl": cmd("openssl", "version"),
            "haproxy": cmd("haproxy", "-v").splitlines()[0],
            "nginx": cmd("nginx", "-v").replace("nginx version: ", ""),
            "stunnel": next((l for l in cmd("stunnel4", "-version").splitlines() if l.startswith("stunnel")), "?"),
            "compiler": cmd("gcc", "--version").splitlines()[0],
            "remora": commit + (" (with uncommitted changes)" if dirty and dirty != "?" else ""),
            "loadavg": open("/proc/loadavg").read().split()[:3],
        }
        self.results["machine"] = m
        return m

    def report(self, command):
        m = self.results["machine"]
        head = [
            "# Remora benchmark results",
            "",
            f"Command: `{command}` — {self.results['started']}"
            + (" — **quick pass** (short runs, fewer repetitions: indicative only)" if self.args.quick else ""),
            "",
            f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}; "
            f"{m['openssl']}; {m['haproxy']}; nginx {m['nginx']}; {m['stunnel']}; remora {m['remora']} "
            f"built with `-c opt` ({m['compiler']}). Load average when the run began: "
            f"{' '.join(m['loadavg'])}.",
            "",
            f"Topology: loadgen → client-side sidecar → mTLS (TLS 1.3, TLS_AES_128_GCM_SHA256, X25519, "
            f"ECDSA P-256 certificates from one CA, both sides verified) → server-side sidecar → nginx "
            f"backend (1 worker, 23-byte response), all on 127.0.0.1. Both sidecars pinned to CPU "
            f"{SIDECAR_CPU}, load generator and backend to CPU {GEN_CPU}. One worker thread per "
            "sidecar (remora `limits.workers: 1`, HAProxy `nbthread 1`, nginx `worker_processes 1`; "
            "stunnel has a thread per connection by design), logs at warning level, no access logs, "
            "no TLS session resumption. L4 = bytes relayed; L7 = every request parsed and authorized "
            "(remora: port declared `http` with a small AuthorizationPolicy; HAProxy `mode http` and "
            "nginx `http` with the equivalent method/path rules). Contestant configurations: "
            f"`{self.work}/<contestant>/`.",
        ]
        return "\n".join(head + [""] + ["\n\n".join(self.sections)]) + "\n"


REMORA_POLICY = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-api, namespace: bench}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/bench/sa/client"]}}]
    to: [{operation: {methods: ["GET", "HEAD"], paths: ["/api/*"]}}]
  - to: [{operation: {methods: ["GET"], paths: ["/healthz"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-deny-admin, namespace: bench}
spec:
  selector: {matchLabels: {app: web}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin*"]}}]
"""


def openssl_speed(cpu, seconds):
    """AES-128-GCM on 16 KiB buffers, MB/s (10^6 bytes), one core."""
    p = subprocess.run(["openssl", "speed", "-mr", "-seconds", str(seconds), "-bytes", "16384",
                        "-evp", "aes-128-gcm"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, preexec_fn=pin(cpu), timeout=120)
    for line in p.stdout.splitlines():
        if line.startswith("+F:"):
            return float(line.split(":")[-1]) / 1e6
    return None


def parse_authz_bench(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("policies:"):
            try:
                out["rules"] = int(line.split(",")[1].split()[0]) if "rules" in line else None
            except (IndexError, ValueError):
                pass
            if "rules;" in line:
                seg = line.split("+")[1]
                out["rules"] = int(seg.split(",")[1].strip().split()[0])
            if "compiled in" in line:
                out["compile_ms"] = float(line.split("compiled in")[1].split()[0])
        elif "decisions/s" in line:
            name = line.split("  ")[0].strip()
            value = float(line.split("decisions/s")[0].split()[-1])
            out[name] = value
    return out


def perf_report(data, sort):
    p = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", sort, "--stdio",
                        "-g", "none", "--percent-limit", "0.5"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=300)
    rows = []
    for line in p.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "%" not in line.split()[0]:
            continue
        parts = line.split(None, 1)
        try:
            rows.append((float(parts[0].rstrip("%")), " ".join(parts[1].split())))
        except (ValueError, IndexError):
            pass
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", required=True, help="bazel-bin of an optimized build")
    ap.add_argument("--work-dir", default="/tmp/remora-bench")
    ap.add_argument("--quick", action="store_true", help="short runs, 3 repetitions")
    ap.add_argument("--scenario", default="", help="comma-separated scenario numbers 1-9 (default: all; 0: none)")
    ap.add_argument("--runs", type=int, default=0, help="repetitions (default 5, quick 3)")
    ap.add_argument("--contestants", default="", help="comma-separated subset (direct is always kept)")
    ap.add_argument("--rates", default="1000,10000", help="scenario 2's request rates")
    ap.add_argument("--profile", action="store_true", help="also perf-record each contestant at saturation")
    ap.add_argument("--out", default="", help="also write the report to this file")
    ap.add_argument("--command", default="bench/run", help="how the run was invoked, for the report")
    args = ap.parse_args()
    if os.cpu_count() < 2:
        raise SystemExit("needs 2 cores: one for the sidecars, one for the load generator and backend")
    # --scenario=0 runs none (with --profile: only the profiles).
    scenarios = [int(s) for s in args.scenario.split(",") if s] or list(range(1, 10))
    scenarios = [s for s in scenarios if s != 0]
    b = Bench(args)
    b.machine()
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C does, so the finally below stops every
    # contestant instead of leaving them on their ports.
    signal.signal(signal.SIGTERM, lambda signo, frame: sys.exit(128 + signo))
    try:
        b.prepare()
        for s in scenarios:
            log(f"scenario {s}")
            t = time.time()
            getattr(b, f"scenario{s}")()
            log(f"scenario {s} took {time.time() - t:.0f} s")
        if args.profile:
            b.profile()
    finally:
        b.stop_all()
        with open(os.path.join(b.work, "results.json"), "w") as f:
            json.dump(b.results, f, indent=1, default=str)
    text = b.report(args.command)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
