// The manifests the end-to-end test and the demo apply to their "shop" namespace, kept in one place
// so the demo shows exactly what the test proves.
#pragma once

namespace remora::e2e {

// Registered with the control plane the way Kubernetes would: pods with label app=web serve the
// service "web" on 8080 (HTTP) and 9000 (TCP).
inline constexpr char kWebService[] = R"(apiVersion: remora.io/v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 8080, targetPort: 8080, protocol: http}
  - {name: echo, port: 9000, targetPort: 9000, protocol: tcp}
)";

// The same service in Kubernetes mode, for `kubectl apply` (ports named for their protocol, as
// Istio selects it); its EndpointSlice is KubeMesh::PublishEndpoints's.
inline constexpr char kKubeWebService[] = R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 8080, targetPort: 8080}
  - {name: echo, port: 9000, targetPort: 9000}
)";

// Only frontend's SPIFFE identity may call web (HTTP requests from others get 403).
inline constexpr char kAllowFrontend[] = R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-allow-frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/frontend"]}}]
)";

// Only pods labelled app=frontend may connect to web at all (layer 4).
inline constexpr char kIngressFromFrontend[] = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-ingress-from-frontend, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
)";

}  // namespace remora::e2e
