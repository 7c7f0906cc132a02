// Kubelet probe rewriting. Under STRICT mTLS the sidecar refuses the kubelet's plaintext probes to
// the app's ports, so each HTTP or TCP liveness/readiness/startup probe of an app container is
// pointed at the proxy's health port instead (httpGet :15021/app-health/<container>/<kind>) and the
// proxy runs the original probe against the app over loopback. gRPC and exec probes are left as
// they are (exec runs inside the container; a gRPC probe's port must be excluded from capture).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inject/pod_json.h"

namespace remora::inject {

inline constexpr int kHealthPort = 15021;

struct ProbeRewrite {
  // RFC 6902 "replace" operations on `<containers_path>/<i>/<kind>Probe`.
  std::vector<OrderedJson> ops;
  // "/app-health/<container>/<readyz|livez|startupz>" -> the original probe in the proxy's
  // configuration form: {http_get: {port, path, scheme, host, headers: [{name, value}]}} or
  // {tcp_socket: {port[, host]}}; named ports resolved to numbers. An object, possibly empty.
  OrderedJson app_probes = OrderedJson::object();
  // The same keys -> the original Kubernetes probe handler ({"httpGet": {...}}), for the pod's
  // rewrittenProbes annotation.
  OrderedJson original = OrderedJson::object();
  // Probes that could not or need not be rewritten but may fail under STRICT mTLS.
  std::vector<std::string> warnings;
};

// Rewrites the probes of `containers` (the pod's spec.containers), whose JSON Pointer is
// `containers_path` ("/spec/containers"). Errors name the field with the wrong type.
absl::StatusOr<ProbeRewrite> RewriteProbes(const Json& containers,
                                           absl::string_view containers_path);

}  // namespace remora::inject
