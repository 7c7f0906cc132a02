// The cluster the Kubernetes-mode tests share (issue 18): namespace shop with pods web-0 and
// frontend-0 (sidecar injected), Service web and its EndpointSlice, the control plane's own
// namespace, the policies they apply, and the test-side "kubelet" steps (a pod marked Running, its
// projected token). Real kubectl against the fake API server (tests/kube) does every step.
#pragma once

#include <cstdint>
#include <string>

#include "tests/kube/fake_apiserver_process.h"
#include "tests/support/control_plane_harness.h"

namespace remora::testing {

// The manifests; web-0's app listens on `app_port` (also the Service's port).
std::string ShopCluster(uint16_t app_port);

// DENY on web for paths /secret*.
inline constexpr char kDenySecretPolicy[] = R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-secret, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/secret*"]}}]}]
)";

// Only pods labelled app=admin may reach web: frontend is refused.
inline constexpr char kOnlyAdminPolicy[] = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-admin, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: admin}}}]}]
)";

// `GET path` through `address`: the status line's first 12 bytes ("HTTP/1.1 200"), or "connect
// failed", "send failed", "closed".
std::string HttpStatusLine(const std::string& address, const std::string& path);

// As the kubelet would: pod `pod` of namespace shop Running and Ready at `ip`.
KubectlResult MarkShopPodRunning(const FakeApiServer& kube, const std::string& pod,
                                 const std::string& ip);

// The pod's projected token for `audience`, bound to the pod, written under `dir`; its path.
absl::StatusOr<std::string> ShopPodToken(const FakeApiServer& kube, const std::string& dir,
                                         const std::string& sa, const std::string& pod,
                                         const std::string& audience = "remora-control");

// `GET path` of the control plane's admin port: the whole answer ("" when unreachable).
std::string ControlAdminGet(const ControlPlaneProcess& control, const std::string& path);
// One sample of the control plane's Prometheus metrics ("" when absent).
std::string ControlMetric(const ControlPlaneProcess& control, const std::string& name);

}  // namespace remora::testing
