// Sidecar injection as a pure function: given a Pod (or a pod template), whether its namespace
// enables injection, and the injector settings, decide whether to inject and compute the change
// as an RFC 6902 JSON Patch against that exact object. The admission webhook returns the patch;
// `remoractl kube-inject` applies it to the manifest: one code path for both.
//
// A pod is injected when its namespace is enabled (label remora-injection=enabled) or it opts in
// (sidecar.remora.io/inject: "true"), unless it opts out ("false"), uses the host network (capture
// rules would apply to the node), is a static pod's mirror (the API server refuses to change it),
// or is already injected (sidecar.remora.io/status, or a remora-proxy container: idempotence).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inject/pod_json.h"
#include "inject/settings.h"

namespace remora::inject {

struct InjectionResult {
  bool injected = false;
  // One line for logs: why the pod was skipped, or what was added ("native sidecar; 2 probes
  // rewritten").
  std::string reason;
  // The RFC 6902 operations; empty when not injected. Paths are valid against the input object
  // ("add /spec/initContainers" when it has none, "/spec/initContainers/0" when it has some).
  OrderedJson patch = OrderedJson::array();
  // Things the pod's owner should know (a gRPC probe that was not rewritten, a classic sidecar in
  // a Job); the webhook returns them as admission warnings.
  std::vector<std::string> warnings;
};

// Whether these namespace labels turn injection on (remora-injection=enabled).
bool NamespaceEnablesInjection(const std::map<std::string, std::string>& labels);

// Decides and computes the injection of `pod` (an object with metadata and spec). InvalidArgument
// for a pod that is to be injected but cannot be: an invalid sidecar.remora.io annotation, a
// container using a port the proxy needs, a volume or container name the injector uses, or a
// field of the wrong type; the message names the field or annotation.
absl::StatusOr<InjectionResult> ComputeInjection(const Json& pod, bool namespace_enabled,
                                                 const InjectorSettings& settings);

}  // namespace remora::inject
