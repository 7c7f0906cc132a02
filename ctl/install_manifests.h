// What `remoractl install` puts in a cluster: the manifests of examples/kubernetes/ (but the
// sample application), embedded at build time so the two can never drift, rendered for a
// namespace and an image hub/tag, and read into typed objects to apply or delete. Pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kube/resource_type.h"
#include "nlohmann/json.hpp"

namespace remora::ctl {

struct ManifestFile {
  std::string name;  // "20-control-plane.yaml"
  std::string yaml;
};

// examples/kubernetes/*.yaml but 40-sample-app.yaml, in file-name order (generated source).
const std::vector<ManifestFile>& EmbeddedManifests();

inline constexpr char kDefaultNamespace[] = "remora-system";
inline constexpr char kDefaultHub[] = "remora";
inline constexpr char kDefaultTag[] = "latest";

struct InstallOptions {
  std::string namespace_name = kDefaultNamespace;  // the control plane's namespace
  std::string hub = kDefaultHub;                   // images are <hub>/remora-<x>:<tag>
  std::string tag = kDefaultTag;
};

// The files with the namespace and images substituted: every `remora-system` (the control
// plane's namespace, also in flags, DNS names and selectors) becomes `namespace_name`, every
// `remora/remora-<x>:latest` image becomes `<hub>/remora-<x>:<tag>`. With the default options the
// text is the files' own. Refuses a namespace that is not a DNS-1123 label, and a hub or tag
// that cannot be part of an image reference.
absl::StatusOr<std::vector<ManifestFile>> RenderManifests(const std::vector<ManifestFile>& files,
                                                          const InstallOptions& options);

// One object to create or delete.
struct InstallObject {
  kube::ResourceType type;
  std::string namespace_name;  // "" for cluster-scoped objects
  std::string name;
  nlohmann::json object;
  // kubectl's way to name it: "deployment.apps/remora-control".
  std::string Display() const;
};

// The objects of the rendered files, in order. Refuses a document whose apiVersion/kind is not
// one install knows how to write (so a manifest added to examples/kubernetes/ with a new kind
// fails the tests, not an operator's install), naming the file and the document.
absl::StatusOr<std::vector<InstallObject>> ManifestObjects(const std::vector<ManifestFile>& files);

// The resource types install and uninstall write, by apiVersion and kind; NotFound otherwise.
absl::StatusOr<kube::ResourceType> InstallResourceType(const std::string& api_version,
                                                       const std::string& kind);

// True when every field `desired` sets has the same value in `live` (objects compared key by key,
// lists element by element with equal lengths): applying `desired` would change nothing.
bool Contains(const nlohmann::json& live, const nlohmann::json& desired);

// The object to PUT over `live` so that it matches `desired`: `desired` with live's
// resourceVersion, plus what the cluster owns and `desired` leaves out: each webhook's
// clientConfig.caBundle (remora-control keeps it on the mesh roots) and a Service's allocated
// cluster IPs (immutable).
nlohmann::json UpdateFor(const nlohmann::json& live, const nlohmann::json& desired);

}  // namespace remora::ctl
