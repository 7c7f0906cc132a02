// Offline injection of Kubernetes manifests (`remoractl kube-inject`): the same ComputeInjection
// as the webhook, its patch applied to each pod or pod template of a multi-document YAML stream.
// Pods, and the templates of Deployments, StatefulSets, DaemonSets, ReplicaSets,
// ReplicationControllers, Jobs and CronJobs (spec.jobTemplate), also inside a `kind: List`, are
// injected; every other document is passed through as written.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "inject/settings.h"

namespace remora::inject {

struct KubeInjectOptions {
  // Offline there is no namespace to look at: by default every pod is injected unless it opts
  // out. false behaves like a namespace without remora-injection=enabled (only opt-ins).
  bool namespace_enabled = true;
};

struct KubeInjectOutput {
  std::string yaml;  // the documents, "---"-separated; untouched ones byte for byte
  // One line per pod template skipped or warned about: "document 2 (Deployment shop/web): ...".
  std::vector<std::string> notes;
};

// `what` names the input in errors ("deploy.yaml", "stdin"). Any document that cannot be read or
// injected fails the whole call (InvalidArgument naming the document), so a partial result is
// never printed.
absl::StatusOr<KubeInjectOutput> InjectManifests(absl::string_view text, absl::string_view what,
                                                 const InjectorSettings& settings,
                                                 const KubeInjectOptions& options);

}  // namespace remora::inject
