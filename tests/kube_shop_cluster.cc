#include "tests/kube_shop_cluster.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace remora::testing {

std::string ShopCluster(uint16_t app_port) {
  const uint16_t port = app_port;
  const std::string p = absl::StrCat(port);
  return absl::StrCat(R"(
apiVersion: v1
kind: Namespace
metadata: {name: remora-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: frontend, namespace: shop}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-0
  namespace: shop
  labels: {app: web}
  annotations: {sidecar.remora.io/status: '{"containers":["remora-proxy"]}'}
spec:
  serviceAccountName: web
  containers:
  - name: app
    image: web:1
    ports: [{name: http, containerPort: )",
                      p, R"(}]
  - {name: remora-proxy, image: remora-proxy:1}
---
apiVersion: v1
kind: Pod
metadata:
  name: frontend-0
  namespace: shop
  labels: {app: frontend}
  annotations: {sidecar.remora.io/status: '{"containers":["remora-proxy"]}'}
spec:
  serviceAccountName: frontend
  containers:
  - {name: app, image: frontend:1}
  - {name: remora-proxy, image: remora-proxy:1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: )",
                      p, ", targetPort: ", p, R"(}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abcde, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: )",
                      p, R"(, protocol: TCP}]
endpoints:
- addresses: ["127.0.0.2"]
  conditions: {ready: true}
  targetRef: {kind: Pod, name: web-0, namespace: shop}
)");
}

std::string HttpStatusLine(const std::string& address, const std::string& path) {
  absl::StatusOr<Conn> conn = Conn::Dial(address);
  if (!conn.ok()) return "connect failed";
  if (!conn->SendAll(absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: web\r\n\r\n")).ok()) {
    return "send failed";
  }
  std::string response;
  while (response.size() < 12) {
    absl::StatusOr<std::string> more = conn->ReadExactly(1);
    if (!more.ok()) return response.empty() ? "closed" : response;
    response += *more;
  }
  return response;
}

KubectlResult MarkShopPodRunning(const FakeApiServer& kube, const std::string& pod,
                                 const std::string& ip) {
  return kube.Kubectl({"patch", "pod", pod, "-n", "shop", "--subresource=status", "--type=merge",
                       "-p",
                       absl::StrCat(R"({"status":{"phase":"Running","podIP":")", ip,
                                    R"(","conditions":[{"type":"Ready","status":"True"}]}})")});
}

absl::StatusOr<std::string> ShopPodToken(const FakeApiServer& kube, const std::string& dir,
                                         const std::string& sa, const std::string& pod,
                                         const std::string& audience) {
  KubectlResult token = kube.Kubectl({"create", "token", sa, "-n", "shop", "--audience", audience,
                                      "--bound-object-kind", "Pod", "--bound-object-name", pod});
  if (token.exit_code != 0) {
    return absl::InternalError(absl::StrCat("kubectl create token ", sa, ": ", token.output));
  }
  const std::string path = absl::StrCat(dir, "/", pod, "-", audience, ".token");
  WriteFileOrDie(path, std::string(absl::StripAsciiWhitespace(token.output)));
  return path;
}

std::string ControlAdminGet(const ControlPlaneProcess& control, const std::string& path) {
  absl::StatusOr<Conn> conn = Conn::Dial(control.admin());
  if (!conn.ok()) return "";
  (void)conn->SendAll(
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  return conn->ReadToEof().value_or("");
}

std::string ControlMetric(const ControlPlaneProcess& control, const std::string& name) {
  const std::string body = ControlAdminGet(control, "/stats/prometheus");
  const size_t at = body.find("\n" + name + " ");
  if (at == std::string::npos) return "";
  const size_t start = at + name.size() + 2;
  return body.substr(start, body.find('\n', start) - start);
}

}  // namespace remora::testing
