// The end-to-end mesh (mesh.h) in Kubernetes mode (issue 18): the same network-namespace pods,
// but the cluster is the source of truth. On the node: the fake API server (tests/kube) and
// remora-control --kubeconfig serving the sidecar injection webhook. The harness plays kubelet
// and the controllers a cluster would run:
//
//   kubectl apply (Namespace, ServiceAccount, Pod)  --> fake API server --AdmissionReview-->
//   remora-control's webhook (the shipped examples/kubernetes/30-webhook.yaml, caBundle filled in)
//   --> the Pod comes back mutated (remora-init, remora-proxy, the token and root CA volumes);
//   "kubelet": the pod's network namespace, status Running + podIP (status subresource), the
//   volumes (a TokenRequest for the projected token, the remora-ca-root-cert ConfigMap), then
//   remora-init with the init container's args and remora-proxy with the sidecar's args and env;
//   "EndpointSlice controller": PublishEndpoints.
//
// The proxy's certificate therefore comes from a TokenReview of its projected token, and policy
// changes with `kubectl apply`/`kubectl delete`. For now the webhook serves a certificate this
// harness makes with openssl (remora-control's --webhook-cert/--webhook-key).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/mesh.h"
#include "tests/kube/fake_apiserver_process.h"

namespace remora::e2e {

// Where the API server dials the webhook Service of examples/kubernetes/30-webhook.yaml.
inline constexpr char kWebhookHost[] = "remora-control.remora-system.svc:15017";

class KubeMesh {
 public:
  // Starts the node (Mesh::Start) with the fake API server in <run>/kube and remora-control in
  // Kubernetes mode with its webhook, and registers the webhook with the API server.
  static absl::StatusOr<std::unique_ptr<KubeMesh>> Start(MeshOptions options);
  ~KubeMesh();
  KubeMesh(const KubeMesh&) = delete;
  KubeMesh& operator=(const KubeMesh&) = delete;

  // Creates the pod the way a cluster does (see above), and returns once its proxy is ready.
  // The namespace is labelled remora-injection=enabled. Fails, saying what is missing, when the
  // pod the API server stored was not injected.
  absl::StatusOr<Pod*> AddPod(PodSpec spec);
  // The pod as the API server answered its creation (after the webhook's mutation).
  const nlohmann::json& admitted(const Pod& pod) const;

  // Writes (or replaces) the EndpointSlice "<service>-remora" of a Service that kubectl created:
  // its ports, and the addresses of `pods` with a targetRef to each.
  absl::Status PublishEndpoints(const std::string& service, const std::vector<const Pod*>& pods);

  // kubectl --kubeconfig=<run>/kube/kubeconfig <args>, told to the observer.
  std::vector<std::string> KubectlArgv(const std::vector<std::string>& args) const;
  CommandResult Kubectl(const std::vector<std::string>& args) const;
  // Writes `yaml` to <run>/manifests/<file>.yaml and runs `kubectl apply -f` on it; kubectl's
  // output, or an error with it.
  absl::StatusOr<std::string> Apply(const std::string& file, const std::string& yaml) const;
  // `kubectl delete -f` of a file written by Apply.
  absl::StatusOr<std::string> Delete(const std::string& file) const;

  Mesh& mesh() { return *mesh_; }
  const Mesh& mesh() const { return *mesh_; }
  testing::FakeApiServer& api_server() { return *kube_; }
  std::string kube_dir() const { return mesh_->run_dir() + "/kube"; }
  std::string kubeconfig() const { return kube_dir() + "/kubeconfig"; }
  // Every log tail of the mesh, and the API server's.
  std::string LogTails(int lines = 15) const;

 private:
  KubeMesh() = default;
  // The node side of the pod: its volumes, then the containers as the injected spec says.
  absl::StatusOr<PodLaunch> Kubelet(Pod& pod, const nlohmann::json& stored);
  absl::StatusOr<std::string> MountVolume(const Pod& pod, const nlohmann::json& stored,
                                          const nlohmann::json& volume);

  std::unique_ptr<testing::FakeApiServer> kube_;  // outlives the mesh: destroyed after it
  std::unique_ptr<Mesh> mesh_;
  std::vector<std::pair<std::string, nlohmann::json>> admitted_;  // by pod name
};

// Kubernetes' expansion of $(VAR) in a container's args and env values: a variable defined
// earlier (in `vars`) is replaced, "$$" becomes "$", anything else is left as it is.
std::string ExpandKubernetesVars(const std::string& text,
                                 const std::vector<std::pair<std::string, std::string>>& vars);

}  // namespace remora::e2e
