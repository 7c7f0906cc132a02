"""Test hooks: request counters, injected faults, and the plain-HTTP admin port that drives them.

Admin port (127.0.0.1 only, no auth; every answer is JSON):
  GET  /counters                     requests by "verb resource", codes, watches open, events
  POST /counters/reset
  POST /watches/drop?mode=close|reset end every open watch (cleanly, or with a TCP reset)
  POST /history/expire               forget all history: any older resourceVersion gets 410
  POST /faults  {"code":500|429, "count":N, "seconds":T, "pathPrefix":"/api/v1/pods",
                 "method":"GET", "retryAfterSeconds":1}          -> {"id": n}
  DELETE /faults                     clear every fault
  POST /down[?seconds=T]             stop accepting, reset open connections (up again after T)
  POST /up                           listen again on the same port, with the same state
  POST /bookmarks?intervalSeconds=S  period of BOOKMARK events on watches that allow them
  POST /clock/advance?seconds=S      move the fake's clock (token expiry, timestamps)
  POST /webhook-hosts {"name.ns.svc:443": "127.0.0.1:PORT", ...}  where admission dials
  GET  /tokens                       the service-account tokens issued so far (claims only)
  GET  /healthz
"""
import collections
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .status import internal, too_many_requests


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = collections.Counter()
            self.codes = collections.Counter()
            self.misc = collections.Counter()

    def request(self, verb, resource):
        with self.lock:
            self.requests[f"{verb} {resource}"] += 1

    def code(self, code):
        with self.lock:
            self.codes[str(code)] += 1

    def bump(self, name, n=1):
        with self.lock:
            self.misc[name] += n

    def snapshot(self, store):
        open_watches = collections.Counter(w.storage for w in store.watchers())
        with self.lock:
            out = {"requests": dict(self.requests), "codes": dict(self.codes)}
            out.update(self.misc)
        out["watchesOpen"] = dict(open_watches)
        out["watchesOpenTotal"] = sum(open_watches.values())
        with store.lock:
            out["resourceVersion"] = store.rv
            out["objects"] = {k: len(r.objects) for k, r in store.resources.items() if r.objects}
        return out


class Faults:
    """Rules that answer 500 or 429 instead of serving, for N requests or T seconds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.next_id = 1

    def add(self, code=500, count=None, seconds=None, pathPrefix="/", method=None,
            retryAfterSeconds=1, **_):
        if int(code) not in (429, 500, 503):
            raise ValueError(f"code {code}: only 429, 500 and 503 are injectable")
        with self.lock:
            rule = {"id": self.next_id, "code": int(code), "prefix": pathPrefix or "/",
                    "method": method, "retry": int(retryAfterSeconds),
                    "remaining": int(count) if count is not None else None,
                    "until": time.monotonic() + float(seconds) if seconds is not None else None}
            if rule["remaining"] is None and rule["until"] is None:
                rule["remaining"] = 1
            self.rules.append(rule)
            self.next_id += 1
            return rule["id"]

    def clear(self):
        with self.lock:
            self.rules = []

    def check(self, method, path):
        with self.lock:
            now = time.monotonic()
            self.rules = [r for r in self.rules if (r["remaining"] is None or r["remaining"] > 0)
                          and (r["until"] is None or r["until"] > now)]
            for r in self.rules:
                if not path.startswith(r["prefix"]) or (r["method"] and r["method"] != method):
                    continue
                if r["remaining"] is not None:
                    r["remaining"] -= 1
                if r["code"] == 429:
                    return too_many_requests(r["retry"])
                err = internal("injected fault (fake apiserver admin port)")
                if r["code"] == 503:
                    err.code, err.reason = 503, "ServiceUnavailable"
                return err
        return None


class AdminServer:
    def __init__(self, controller, port, log):
        self.controller, self.log = controller, log
        handler = type("AdminHandler", (_AdminHandler,), {"controller": controller})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True,
                         name="admin").start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _AdminHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    controller = None

    def log_message(self, fmt, *args):
        pass

    def _reply(self, code, obj):
        data = json.dumps(obj, indent=1, sort_keys=True).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = {}
        if length:
            try:
                body = json.loads(self.rfile.read(length)) or {}
            except ValueError as e:
                return self._reply(400, {"error": f"body is not JSON: {e}"})
        params = dict(body) if isinstance(body, dict) else {}
        params.update(q)
        c = self.controller
        try:
            result = c.admin_call(method, url.path, params, body)
        except (ValueError, TypeError) as e:
            return self._reply(400, {"error": str(e)})
        if result is None:
            return self._reply(404, {"error": f"no admin hook {method} {url.path}; see "
                                              f"tests/kube/README.md"})
        self._reply(200, result)
