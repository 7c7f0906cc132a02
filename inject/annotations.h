// The pod annotations (and the one label) through which a workload talks to the injector, and
// their validation into the effective options for one pod.
//
// Validation policy: an invalid value of a `sidecar.remora.io/*` annotation on a pod that is being
// injected is an error, and the webhook denies the pod with a message naming the annotation (as
// Istio does). Ignoring it would start the pod with capture or resources its owner did not ask for
// (an app that cannot reach the database it excluded, or a proxy killed for memory), and the
// warning would be invisible for pods created by controllers. Skipping injection instead would
// start the pod outside the mesh. Pods that are not injected (opted out, host network, already
// injected) are never refused for their annotations.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inject/settings.h"

namespace remora::inject {

// Namespace label that turns injection on (the webhook's namespaceSelector matches it).
inline constexpr char kNamespaceLabel[] = "remora-injection";
inline constexpr char kNamespaceLabelEnabled[] = "enabled";

inline constexpr char kAnnotationPrefix[] = "sidecar.remora.io/";
// "true" opts a pod in (even in a namespace without the label), "false" opts it out. Also read
// as a label, so the webhook's objectSelector can keep opted-out pods away from the webhook
// entirely (they are then created even while the control plane is down).
inline constexpr char kInjectKey[] = "sidecar.remora.io/inject";
// Written by the injector: marks an injected pod (idempotence) and records what was added.
inline constexpr char kStatusAnnotation[] = "sidecar.remora.io/status";
// Written by the injector: the kubelet probes it rewrote to the proxy's health port, with their
// original handlers, so the rewrite is visible on the pod.
inline constexpr char kRewrittenProbesAnnotation[] = "sidecar.remora.io/rewrittenProbes";

inline constexpr char kExcludeInboundPorts[] = "sidecar.remora.io/excludeInboundPorts";
inline constexpr char kExcludeOutboundPorts[] = "sidecar.remora.io/excludeOutboundPorts";
inline constexpr char kExcludeOutboundIPRanges[] = "sidecar.remora.io/excludeOutboundIPRanges";
inline constexpr char kIncludeOutboundIPRanges[] = "sidecar.remora.io/includeOutboundIPRanges";
inline constexpr char kProxyCPU[] = "sidecar.remora.io/proxyCPU";
inline constexpr char kProxyMemory[] = "sidecar.remora.io/proxyMemory";
inline constexpr char kProxyCPULimit[] = "sidecar.remora.io/proxyCPULimit";
inline constexpr char kProxyMemoryLimit[] = "sidecar.remora.io/proxyMemoryLimit";
inline constexpr char kLogLevel[] = "sidecar.remora.io/logLevel";
inline constexpr char kNativeSidecar[] = "sidecar.remora.io/nativeSidecar";
// "true": the proxy forwards inbound connections to 127.0.0.1:<port> (inbound.forward_to:
// localhost), the behaviour before issue 16, for apps that listen on localhost only. The default
// ("false") forwards to the pod's own address, as Istio does since 1.10, so a listener the app
// bound to 127.0.0.1 (pprof, actuator, a local Redis) is never reachable from the network.
inline constexpr char kForwardInboundToLocalhost[] = "sidecar.remora.io/forwardInboundToLocalhost";

// What a pod's labels and annotations say about injecting it.
enum class InjectIntent { kUnset, kOptIn, kOptOut };

// Reads `sidecar.remora.io/inject` from the labels and the annotations ("true" / "false"). Any
// other value, or a label and an annotation that disagree, is InvalidArgument.
absl::StatusOr<InjectIntent> ReadInjectIntent(
    const std::map<std::string, std::string>& labels,
    const std::map<std::string, std::string>& annotations);

// The injector's knobs for one pod: settings overridden by the pod's annotations.
struct PodOptions {
  std::vector<int> exclude_inbound_ports;  // in addition to the proxy's own ports
  std::vector<int> exclude_outbound_ports;
  std::vector<std::string> exclude_outbound_cidrs;
  std::optional<std::vector<std::string>> outbound_cidrs;  // unset: remora-init's default (all)
  ResourceSettings proxy_resources;
  std::string log_level;
  bool native_sidecar = true;
  bool forward_inbound_to_localhost = false;
};

// Validates every `sidecar.remora.io/*` annotation (unknown keys under that prefix are refused, so
// a typo does not silently do nothing) and merges them over `settings`. Errors name the
// annotation: `sidecar.remora.io/excludeInboundPorts: "80,x" ...: "x" is not a port number`.
absl::StatusOr<PodOptions> ResolvePodOptions(const std::map<std::string, std::string>& annotations,
                                             const InjectorSettings& settings);

}  // namespace remora::inject
