"""The HTTPS front: TLS, bearer-token authentication, injected faults, discovery and OpenAPI,
then the REST verbs of api.py; watches stream as chunked JSON lines. It tracks every open
connection so the admin port can take the server down (listening socket closed, connections
reset) and bring it back on the same port with the same store.
"""
import socket
import ssl
import struct
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn

from . import discovery
from .api import Request, WatchStream
from .status import ApiError, internal, path_not_found, unauthorized
from .store import encode


class _TlsServer(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, handler, front):
        self.front = front
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # Headers and body go out in separate writes: without NODELAY, Nagle and the client's
        # delayed ACK add 40 ms to every small response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The handshake happens on the handler's thread, at its first read.
        return self.front.ssl_ctx.wrap_socket(sock, server_side=True,
                                              do_handshake_on_connect=False), addr

    def process_request(self, request, client_address):
        self.front.track(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        if self.front.untrack(request):
            try:
                request.close()   # SO_LINGER 0 is set: the peer gets a RST
            except OSError:
                pass
        else:
            super().shutdown_request(request)

    def handle_error(self, request, client_address):
        pass   # a client that went away mid-request is not the fake's problem


class ApiFront:
    def __init__(self, api, auth, faults, counters, cert, key, host, port, log):
        self.api, self.auth, self.faults, self.counters = api, auth, faults, counters
        self.log, self.host, self.port = log, host, port
        self.ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_ctx.load_cert_chain(cert, key)
        self.ssl_ctx.set_alpn_protocols(["http/1.1"])
        self.lock = threading.Lock()
        self.conns = {}            # socket -> reset flag
        self.httpd = None
        self.bookmark_interval = 60.0
        self.verbose = False

    # ---- lifecycle -----------------------------------------------------------------------------
    def up(self):
        with self.lock:
            if self.httpd is not None:
                return False
            handler = type("ApiHandler", (_ApiHandler,), {"front": self})
            self.httpd = _TlsServer((self.host, self.port), handler, self)
            self.port = self.httpd.server_address[1]
            threading.Thread(target=self.httpd.serve_forever, args=(0.1,), daemon=True,
                             name="api").start()
            return True

    def down(self):
        """Stop accepting and reset every open connection (watches included)."""
        with self.lock:
            httpd, self.httpd = self.httpd, None
        if httpd is None:
            return False
        httpd.shutdown()
        httpd.server_close()
        for w in self.api.store.watchers():
            w.close("reset")
        self.reset_all()
        return True

    @property
    def is_up(self):
        return self.httpd is not None

    def track(self, sock):
        with self.lock:
            self.conns[sock] = False

    def untrack(self, sock):
        with self.lock:
            return self.conns.pop(sock, False)

    def reset(self, sock):
        with self.lock:
            if sock not in self.conns:
                return
            self.conns[sock] = True
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # Wake a thread blocked reading this socket without tearing down its SSL object.
            socket.socket.shutdown(sock, socket.SHUT_RD)
        except OSError:
            pass

    def was_reset(self, sock):
        with self.lock:
            return self.conns.get(sock, True)

    def reset_all(self):
        with self.lock:
            socks = list(self.conns)
        for s in socks:
            self.reset(s)


def _status_response(handler, err):
    handler.front.counters.code(err.code)
    handler.send_bytes(err.code, err.body(), headers=err.headers)


class _ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver"
    timeout = 600
    front = None

    def log_message(self, fmt, *args):
        if self.front.verbose:
            self.front.log("api: " + (fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_bytes(self, code, data, content_type="application/json", headers=None):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", "00000000-0000-0000-0000-000000000000")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def dispatch(self):
        f = self.front
        # A connection reset by `down` may still deliver a request the client sent right after:
        # Linux hands queued bytes to a reader even after shutdown(SHUT_RD), and a busy machine
        # may run this thread only then. A server that is down answers nothing.
        if not f.is_up or f.was_reset(self.connection):
            self.close_connection = True
            return
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        try:
            body = self.read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        try:
            fault = f.faults.check(self.command, path)
            if fault is not None:
                f.counters.bump("faults_injected")
                raise fault
            if path in ("/healthz", "/livez", "/readyz"):
                return self.send_bytes(200, b"ok", "text/plain; charset=utf-8")
            user = self.authenticate()
            result = self.route(path, query, body, user)
            if isinstance(result, WatchStream):
                return self.stream(result)
            f.counters.code(result.code)
            self.send_bytes(result.code, result.body, result.content_type, result.headers)
        except ApiError as e:
            _status_response(self, e)
        except (OSError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:   # the one catch site: a bug in the fake becomes a 500
            f.log("api: internal error on %s %s:\n%s" % (self.command, self.path,
                                                         traceback.format_exc()))
            _status_response(self, internal(f"fake apiserver bug: {e!r}"))

    def authenticate(self):
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            user, _, _ = self.front.auth.authenticate(header[len("Bearer "):].strip())
            if user is not None:
                return {k: v for k, v in user.items() if v}
        self.front.counters.bump("unauthorized")
        raise unauthorized()

    def route(self, path, query, body, user):
        f = self.front
        from .api import json_response
        if path == "/version":
            return json_response(200, discovery.VERSION)
        if path == "/api":
            f.counters.request("discovery", "/api")
            return json_response(200, discovery.api_versions(f"{f.host}:{f.port}"))
        if path == "/apis":
            f.counters.request("discovery", "/apis")
            return json_response(200, discovery.api_group_list())
        if path == "/openapi/v3":
            return json_response(200, discovery.openapi_root())
        if path.startswith("/openapi/v3/"):
            doc = discovery.find_openapi_gv(path)
            if doc is None:
                raise path_not_found()
            return json_response(200, doc)
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2 or parts[0] == "apis" and len(parts) == 3:
            group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
            f.counters.request("discovery", path)
            doc = discovery.resource_list(group, version)
            if doc is None:
                raise path_not_found()
            return json_response(200, doc)
        if parts[0] == "apis" and len(parts) == 2:
            doc = discovery.api_group(parts[1])
            if doc is None:
                raise path_not_found()
            return json_response(200, doc)
        req = Request(self.command, path, query, body, self.headers.get("Content-Type", ""),
                      self.headers.get("Accept", ""), user, self.headers.get("User-Agent", ""))
        return f.api.handle(req)

    # ---- watch ---------------------------------------------------------------------------------
    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def event(self, ws, kind, payload):
        return b'{"type":"' + kind.encode() + b'","object":' + payload + b"}\n"

    def stream(self, ws):
        f = self.front
        f.counters.code(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if ws.error is not None:
            try:
                self.write_chunk(self.event(ws, "ERROR", ws.error.body()))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True
            return
        w, rt = ws.watcher, ws.rt
        store = f.api.store
        f.counters.bump("watches_started")
        start = time.monotonic()
        deadline = start + ws.timeout
        last_bookmark, closing, first = start, False, True
        try:
            while True:
                now = time.monotonic()
                if now >= deadline and not closing:
                    if not ws.bookmarks:
                        break
                    closing = True           # one last bookmark, then end the stream
                    store.bookmark(w)
                wait = 0.5 if closing else deadline - now
                if ws.bookmarks and not closing:
                    due = last_bookmark + f.bookmark_interval
                    if now >= due:
                        store.bookmark(w)
                        last_bookmark = now
                        due = now + f.bookmark_interval
                    wait = min(wait, due - now)
                item = w.get(max(wait, 0.01))
                if item is None:
                    if closing:
                        break
                    continue
                kind, val = item
                if kind == "CLOSED":
                    if val == "reset":
                        f.reset(self.connection)
                        self.close_connection = True
                        return
                    break
                if kind.startswith("BOOKMARK"):
                    if not ws.bookmarks:
                        continue
                    meta = {"resourceVersion": str(val)}
                    if kind == "BOOKMARK-END":
                        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
                    payload = encode({"kind": rt.kind, "apiVersion": rt.api_version,
                                      "metadata": meta})
                    self.write_chunk(self.event(ws, "BOOKMARK", payload))
                    f.counters.bump("watch_bookmarks")
                    if closing and kind == "BOOKMARK":
                        break
                    continue
                if ws.table is not None:
                    obj = rt.to_version(val.obj())
                    table = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                             "metadata": {"resourceVersion": str(val.rv)},
                             "columnDefinitions": ws.table.definitions() if first else [],
                             "rows": [{"cells": ws.table.row(obj), "object": {
                                 "kind": "PartialObjectMetadata",
                                 "apiVersion": "meta.k8s.io/v1",
                                 "metadata": obj["metadata"]}}]}
                    payload = encode(table)
                else:
                    payload = f.api.out(rt, val)
                first = False
                self.write_chunk(self.event(ws, kind, payload))
                f.counters.bump("watch_events")
            self.wfile.write(b"0\r\n\r\n")
        except (OSError, ssl.SSLError, ValueError):
            self.close_connection = True
        finally:
            store.unwatch(w)
