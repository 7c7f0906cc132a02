// What the injector adds to a pod: the remora-init container, the remora-proxy sidecar, their
// volumes, and the proxy's configuration. Everything here is a contract with another program:
//   * remora-init's flags (iptables-init/),
//   * remora-proxy's flags and its REMORA_PROXY_CONFIG document (proxy/),
//   * the control plane's names: audience and ConfigMap of the bootstrap credential (xds/).
#pragma once

#include <string>
#include <vector>

#include "inject/annotations.h"
#include "inject/pod_json.h"
#include "inject/settings.h"

namespace remora::inject {

inline constexpr char kInitContainerName[] = "remora-init";
inline constexpr char kProxyContainerName[] = "remora-proxy";
inline constexpr int kProxyUid = 1337;
inline constexpr int kProxyGid = 1337;
inline constexpr int kInboundCapturePort = 15006;
inline constexpr int kOutboundCapturePort = 15001;
inline constexpr int kAdminPort = 15000;
inline constexpr int kPrometheusPort = 15090;
// Ports a pod's own containers must not use: the proxy binds them in the shared network namespace.
inline constexpr int kReservedPorts[] = {kAdminPort, kOutboundCapturePort, kInboundCapturePort,
                                         15021, kPrometheusPort};
// Never captured inbound: health and metrics, so the kubelet and Prometheus reach the proxy
// directly (remora-init excludes them anyway). Not 15020: Istio excludes it for its agent's merged
// metrics, but nothing of Remora listens there, so excluding it only let an app listening on 15020
// be reached without mTLS (issue 16). It is captured like any app port; reserving it instead would
// not close the hole, since an app need not declare a port to listen on it.
inline constexpr int kExcludedInboundPorts[] = {15021, kPrometheusPort};

inline constexpr char kTokenVolume[] = "remora-token";
inline constexpr char kCaVolume[] = "remora-ca";
inline constexpr char kTokenDir[] = "/var/run/secrets/remora/token";
inline constexpr char kCaDir[] = "/var/run/secrets/remora/ca";
// The projected service-account token the control plane accepts as bootstrap credential
// (checked with a TokenReview for this audience).
inline constexpr char kTokenAudience[] = "remora-control";
inline constexpr int kTokenExpirationSeconds = 3600;
// Published by the control plane in every namespace: the mesh's root certificate.
inline constexpr char kCaConfigMap[] = "remora-ca-root-cert";
inline constexpr char kCaConfigMapKey[] = "root-cert.pem";
inline constexpr char kProxyConfigEnv[] = "REMORA_PROXY_CONFIG";

// remora-init's arguments: every inbound TCP port is captured ("*") but the proxy's own and
// the excluded ones.
std::vector<std::string> InitArgs(const PodOptions& options);

// The proxy's configuration document (YAML), carried in the REMORA_PROXY_CONFIG variable.
// `app_probes` is ProbeRewrite::app_probes. Strings from the pod are escaped for Kubernetes'
// $(VAR) expansion of env values ("$" -> "$$"), so they reach the proxy unchanged.
std::string ProxyConfigYaml(const InjectorSettings& settings, const PodOptions& options,
                            const OrderedJson& app_probes);

OrderedJson InitContainer(const InjectorSettings& settings, const PodOptions& options);

// The sidecar. Native: an init container with restartPolicy Always and a startup probe, so app
// containers start once it is ready and Jobs complete. Classic: a regular container whose
// postStart hook (`remora-proxy --wait-ready=<timeout>`) holds back the containers after it.
OrderedJson ProxyContainer(const InjectorSettings& settings, const PodOptions& options,
                           const OrderedJson& app_probes);

// The bootstrap token and root CA volumes, mounted only by the proxy.
std::vector<OrderedJson> Volumes();

}  // namespace remora::inject
