// `tools/demo --kube`: the demo's mesh in Kubernetes mode (tests/e2e/kube_mesh.h), narrated for a
// new user: pods are created with kubectl and injected by remora-control's webhook, their proxies
// get certificates by TokenReview, and kubectl, not remoractl, changes policy.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "examples/demo/narration.h"
#include "tests/e2e/kube_mesh.h"

namespace remora::demo {

class KubeDemo {
 public:
  KubeDemo(Narrator& n, bool keep) : n_(n), keep_(keep) {}
  absl::Status Run();
  // The mesh, once started (for the logs of a failed run); null before.
  e2e::KubeMesh* kube() { return kube_.get(); }

 private:
  absl::Status StartNode();
  absl::Status StartPods();
  absl::Status AllowedCall();
  absl::Status DeniedCall();
  absl::Status RefusedConnection();
  absl::Status RootConfigMap();
  void WhereToLook();
  // Repeats `call` until it returns true (or 60 s pass): a policy is enforced once every proxy it
  // affects has received it, which takes a moment after kubectl returns.
  absl::Status Until(const std::string& what, const std::function<bool()>& call);

  Narrator& n_;
  bool keep_;
  std::unique_ptr<e2e::KubeMesh> kube_;
};

}  // namespace remora::demo
