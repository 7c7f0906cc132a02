#!/usr/bin/env bash
# Remora on one machine, no Kubernetes: two sidecars on loopback in front of an ordinary HTTP app.
# Shows a mutually authenticated call that works, and calls the mesh refuses, with the log lines
# that say why. Everything it starts is stopped when it ends (or on Ctrl-C).
# Usage: examples/demo/loopback-demo.sh [--keep]   (--keep: leave it running until Ctrl-C)
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=bazel-bin
WORK=${REMORA_DEMO_DIR:-/tmp/remora-demo}
KEEP=${1:-}
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_for_file() { for _ in $(seq 100); do [[ -s "$1" ]] && return 0; sleep 0.1; done; echo "timed out waiting for $1" >&2; exit 1; }
wait_for_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "timed out waiting for port $1" >&2; exit 1; }

rm -rf "$WORK" && mkdir -p "$WORK"
say "1. A root CA for trust domain cluster.local, and one certificate per workload"
$BIN/ctl/remoractl cert root --out-dir="$WORK/ca"
$BIN/ctl/remoractl cert issue --ca-dir="$WORK/ca" --namespace=shop --service-account=web --out-dir="$WORK/web"
$BIN/ctl/remoractl cert issue --ca-dir="$WORK/ca" --namespace=shop --service-account=frontend --out-dir="$WORK/frontend"
$BIN/ctl/remoractl cert root --out-dir="$WORK/rogue-ca" >/dev/null
$BIN/ctl/remoractl cert issue --ca-dir="$WORK/rogue-ca" --namespace=shop --service-account=frontend --out-dir="$WORK/rogue"
# The impostor trusts the real root too, so it can reach web: only web's check can stop it.
cat "$WORK/ca/root.crt" >>"$WORK/rogue/bundle.pem"

say "2. The app: a plain HTTP server on 127.0.0.1:18080 that knows nothing of the mesh"
mkdir -p "$WORK/www" && echo "hello from web (served over mTLS)" > "$WORK/www/index.html"
python3 -m http.server 18080 --bind 127.0.0.1 --directory "$WORK/www" >"$WORK/app.log" 2>&1 &
pids+=($!)
wait_for_port 18080

say "3. web's sidecar: inbound 127.0.0.1:15006 -> app, STRICT mTLS"
cat >"$WORK/web.yaml" <<YAML
identity: {cert_file: $WORK/web/web.crt, key_file: $WORK/web/web.key, bundle_file: $WORK/web/bundle.pem}
listeners:
  - {name: inbound, direction: inbound, address: "127.0.0.1:15006", target: "127.0.0.1:18080"}
admin: "127.0.0.1:15000"
prometheus: "off"
health: "off"
inbound: {mode: STRICT}
YAML
$BIN/proxy/remora-proxy --config="$WORK/web.yaml" --bound-ports-file="$WORK/web.ports" >"$WORK/web-sidecar.log" 2>&1 &
pids+=($!)
wait_for_file "$WORK/web.ports"
cat "$WORK/web-sidecar.log"

say "4. frontend's sidecar: outbound 127.0.0.1:15001 -> web's sidecar, expecting identity shop/web"
cat >"$WORK/frontend.yaml" <<YAML
identity: {cert_file: $WORK/frontend/frontend.crt, key_file: $WORK/frontend/frontend.key, bundle_file: $WORK/frontend/bundle.pem}
listeners:
  - {name: outbound, direction: outbound, address: "127.0.0.1:15001", target: "127.0.0.1:15006"}
admin: "127.0.0.1:15100"
prometheus: "off"
health: "off"
outbound:
  services:
    - {name: web.shop, addresses: ["127.0.0.1:15006"], identities: ["spiffe://cluster.local/ns/shop/sa/web"]}
YAML
$BIN/proxy/remora-proxy --config="$WORK/frontend.yaml" --bound-ports-file="$WORK/frontend.ports" >"$WORK/frontend-sidecar.log" 2>&1 &
pids+=($!)
wait_for_file "$WORK/frontend.ports"

say "5. ALLOWED: frontend calls web through its sidecar (mutual TLS, both identities verified)"
echo "\$ curl http://127.0.0.1:15001/"
curl -sS --max-time 5 http://127.0.0.1:15001/
echo "web's sidecar counted the handshake:"
curl -sS http://127.0.0.1:15000/stats | grep -E 'tls_handshake_ok|plaintext_refused'

say "6. REFUSED: a plaintext call straight to web's sidecar (STRICT requires mTLS)"
echo "\$ curl http://127.0.0.1:15006/"
curl -sS --max-time 5 http://127.0.0.1:15006/ || echo "(curl failed: the sidecar closed the connection)"
sleep 0.2; grep 'refused connection' "$WORK/web-sidecar.log" | tail -1

say "7. REFUSED: an impostor sidecar for shop/frontend whose certificate comes from another CA"
sed -e "s#$WORK/frontend/#$WORK/rogue/#g" -e "s#15001#15002#; s#15100#15101#" \
    "$WORK/frontend.yaml" >"$WORK/rogue.yaml"
$BIN/proxy/remora-proxy --config="$WORK/rogue.yaml" --bound-ports-file="$WORK/rogue.ports" >"$WORK/rogue-sidecar.log" 2>&1 &
pids+=($!)
wait_for_file "$WORK/rogue.ports"
echo "\$ curl http://127.0.0.1:15002/"
curl -sS --max-time 5 http://127.0.0.1:15002/ || echo "(curl failed: the mesh refused the call)"
sleep 0.2; echo "web's sidecar says:"; grep 'refused connection' "$WORK/web-sidecar.log" | tail -1

say "Where to look"
cat <<TXT
  web's sidecar admin API:  curl http://127.0.0.1:15000/help   (/ready /certs /config_dump /stats)
  sidecar logs:             $WORK/*-sidecar.log
  configurations:           $WORK/*.yaml
TXT
if [[ "$KEEP" == "--keep" ]]; then
  say "Running; press Ctrl-C to stop everything"
  wait
else
  say "Done; stopping the app and the sidecars (run with --keep to leave them up)"
fi
