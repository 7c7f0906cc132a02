#!/usr/bin/env bash
# The demo end to end, both modes: mesh-demo exits 0 only when every step showed what it narrates
# (200, TLS only, 403, refused; in --kube mode through kubectl), and says so.
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then
  echo "mesh_demo_test: skipped, needs root (network namespaces, a bridge, capture rules)"
  exit 0
fi
demo="$TEST_SRCDIR/$TEST_WORKSPACE/examples/demo/mesh-demo"
out="${TEST_UNDECLARED_OUTPUTS_DIR:-$TEST_TMPDIR}"

expect() {  # expect FILE TEXT...: each TEXT is in FILE
  local file=$1
  shift
  for text in "$@"; do
    if ! grep -qF -- "$text" "$file"; then
      echo "mesh_demo_test: \"$text\" is not in the demo's output ($file):" >&2
      cat "$file" >&2
      exit 1
    fi
  done
}

"$demo" >"$out/demo.txt" 2>&1 || { cat "$out/demo.txt" >&2; exit 1; }
expect "$out/demo.txt" "=> 200" "TLS only on the bridge" "batch (spiffe://cluster.local/ns/shop/sa/batch) gets 403" "== Done in"

"$demo" --kube >"$out/demo-kube.txt" 2>&1 || { cat "$out/demo-kube.txt" >&2; exit 1; }
expect "$out/demo-kube.txt" \
  "containers remora-init, remora-proxy, app" \
  "kubectl --kubeconfig=\$RUN/kube/kubeconfig apply -f \$RUN/manifests/allow-frontend.yaml" \
  "batch gets 403" "batch gets 200 again" \
  "batch's connection is closed before a byte reaches the echo server" \
  "remora-ca-root-cert" "== Done in"
echo "mesh_demo_test: both demos ran every step"
