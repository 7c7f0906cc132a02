// The injector's cluster-wide settings: images, control-plane address, trust domain, default proxy
// resources and sidecar mode. They come from a small YAML file (every field optional, unknown
// fields refused); pod annotations override some of them per pod (inject/annotations.h).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace remora::inject {

// Requests and limits of one container. Empty fields are left out of the pod spec.
struct ResourceSettings {
  std::string cpu_request;
  std::string memory_request;
  std::string cpu_limit;
  std::string memory_limit;
};

struct InjectorSettings {
  std::string proxy_image = "remora/remora-proxy:latest";
  std::string init_image = "remora/remora-init:latest";
  // "" leaves imagePullPolicy to Kubernetes' default; else Always, IfNotPresent or Never.
  std::string image_pull_policy;
  std::string control_plane_address = "remora-control.remora-system.svc:15012";
  std::string trust_domain = "cluster.local";
  std::string log_level = "info";  // debug | info | warn | error
  // Kubernetes native sidecar (an init container with restartPolicy: Always; Kubernetes 1.29+, or
  // 1.28 with the SidecarContainers feature gate). false: a classic first container.
  bool native_sidecar = true;
  // The cluster-wide default of the opt-in sidecar.remora.io/forwardInboundToLocalhost: the proxy
  // reaches apps at 127.0.0.1 instead of the pod's own address (which exposes their loopback-only
  // listeners to the network). Off by default, as in Istio since 1.10.
  bool forward_inbound_to_localhost = false;
  // Classic mode: how long the proxy's postStart hook holds the app containers back waiting for
  // the proxy to be ready (`remora-proxy --wait-ready=<seconds>s`).
  absl::Duration proxy_ready_timeout = absl::Seconds(60);
  ResourceSettings proxy_resources{"100m", "128Mi", "2", "1Gi"};
  ResourceSettings init_resources{"10m", "16Mi", "100m", "64Mi"};
};

// Parses the settings YAML (one document; every field optional):
//   proxy_image: registry.example/remora-proxy:1.0
//   init_image: registry.example/remora-init:1.0
//   image_pull_policy: IfNotPresent
//   control_plane_address: remora-control.remora-system.svc:15012
//   trust_domain: cluster.local
//   log_level: info
//   native_sidecar: true
//   forward_inbound_to_localhost: false
//   proxy_ready_timeout: 60s
//   proxy_resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: "2", memory: 1Gi}}
//   init_resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 100m, memory: 64Mi}}
// A resources block replaces the default block as a whole (an omitted value means "none").
// Errors name the field: `proxy_resources.limits.cpu: "two" is not a Kubernetes quantity ...`.
absl::StatusOr<InjectorSettings> ParseSettingsYaml(absl::string_view text);

// Reads and parses a settings file; errors name the file.
absl::StatusOr<InjectorSettings> LoadSettingsFile(const std::string& path);

// Where each resource value came from, for messages ("sidecar.remora.io/proxyCPU",
// "proxy_resources.limits.cpu").
struct ResourceSources {
  std::string cpu_request;
  std::string memory_request;
  std::string cpu_limit;
  std::string memory_limit;
};

// Checks every non-empty value is a quantity and that no request exceeds its limit (Kubernetes
// would refuse the pod later with a less helpful message).
absl::Status ValidateResources(const ResourceSettings& resources, const ResourceSources& sources);

}  // namespace remora::inject
