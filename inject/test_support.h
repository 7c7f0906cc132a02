// Helpers shared by the injection tests: fixtures, an independent JSON Patch implementation
// (python3-jsonpatch, run as a subprocess) and Kubernetes' $(VAR) expansion of env values.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "inject/pod_json.h"

namespace remora::inject::testing {

// Parses inject/testdata/<name> from the runfiles (aborts the test binary if it is missing).
Json LoadFixture(const std::string& name);

// Applies `patch` (a JSON array of operations) to `pod` with Debian's python3-jsonpatch.
absl::StatusOr<Json> ApplyWithPython(const Json& pod, const std::string& patch);

// What the kubelet does to an env value (k8s.io/kubernetes third_party/forked/golang/expansion):
// "$(NAME)" becomes the value of an earlier variable when there is one, "$$" becomes "$".
std::string ExpandEnv(const std::string& value, const std::map<std::string, std::string>& vars);

// The container named `name` in spec.containers or spec.initContainers, or nullptr.
const Json* FindContainer(const Json& pod, const std::string& list, const std::string& name);

}  // namespace remora::inject::testing
