// The fake Kubernetes API server (tests/kube/fake_apiserver.py) as a process owned by a test:
// Start() launches it on free ports and waits until it serves; the destructor stops it (SIGTERM,
// then SIGKILL) so no test leaves it behind. The hooks drive its admin port (see README.md there):
// drop watches, expire history, inject 500/429, go down and come back, count requests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/support/process.h"

namespace remora::testing {

struct FakeApiServerOptions {
  // Extra flags for fake_apiserver.py, e.g. "--bookmark-interval=1", "--history-size=100",
  // "--webhook-host=remora-control.remora-system.svc:15017=127.0.0.1:40123".
  std::vector<std::string> extra_args;
  // Working directory (certificates, kubeconfig, log); default: TestDir("fake-apiserver-N").
  std::string dir;
  // Put before the python3 command line, e.g. {"/usr/bin/setpriv", "--pdeathsig=KILL", "--"} so
  // that the server dies with a test process that is killed (it execs: the pid stays the same).
  std::vector<std::string> launcher;
  absl::Duration start_timeout = absl::Seconds(60);
};

struct KubectlResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

class FakeApiServer {
 public:
  static absl::StatusOr<std::unique_ptr<FakeApiServer>> Start(FakeApiServerOptions options = {});
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  // A kubeconfig with the server URL, its CA (certificate-authority-data) and the admin token.
  const std::string& kubeconfig_path() const { return kubeconfig_; }
  const std::string& server_url() const { return server_url_; }  // https://127.0.0.1:PORT
  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  const std::string& ca_file() const { return ca_file_; }
  const std::string& admin_token() const { return token_; }
  const std::string& dir() const { return dir_; }
  Subprocess& process() { return *process_; }

  // Stops the server with SIGTERM and waits for a clean exit; returns its exit status.
  absl::StatusOr<int> Stop(absl::Duration timeout = absl::Seconds(30));

  // ---- admin hooks -------------------------------------------------------------------------
  // Any hook: `method` GET/POST/DELETE on the admin port; returns the JSON answer.
  absl::StatusOr<nlohmann::json> Admin(absl::string_view method, absl::string_view path,
                                       const nlohmann::json& body = nullptr) const;
  absl::Status DropWatches(bool reset_connections = false) const;
  // Forgets all history; returns the resourceVersion from which watches still work.
  absl::StatusOr<std::string> ExpireHistory() const;
  // Answers `code` (500 or 429) to the next `count` requests under `path_prefix`.
  absl::Status InjectFault(int code, int count, absl::string_view path_prefix = "/") const;
  // Answers `code` to every request under `path_prefix` for `duration`.
  absl::Status InjectFaultFor(int code, absl::Duration duration,
                              absl::string_view path_prefix = "/") const;
  absl::Status ClearFaults() const;
  absl::Status Down() const;  // stop listening, reset every connection
  absl::Status Up() const;    // listen again on the same port, same state
  absl::Status SetBookmarkInterval(absl::Duration interval) const;
  // Where admission dials `host_port` (e.g. "remora-control.remora-system.svc:15017").
  absl::Status MapWebhookHost(absl::string_view host_port, absl::string_view target) const;
  // Creates many objects at once (without webhooks): a JSON array of Kubernetes objects.
  absl::Status LoadObjects(const nlohmann::json& objects) const;
  // Serves Istio's security.istio.io types from now on, as `kubectl apply` of Istio's CRDs does
  // (for a server started with "--without-istio-crds").
  absl::Status InstallIstioCrds() const;
  // Requests by "verb resource", codes, open watches, events, bookmarks (README.md).
  absl::StatusOr<nlohmann::json> Counters() const;

  // ---- kubectl -----------------------------------------------------------------------------
  // Runs /usr/bin/kubectl with this server's kubeconfig and a private discovery cache.
  KubectlResult Kubectl(const std::vector<std::string>& args) const;
  // `kubectl apply -f` of `manifest` (YAML), written to a file in dir().
  KubectlResult KubectlApply(absl::string_view manifest) const;

 private:
  FakeApiServer() = default;
  std::string dir_, kubeconfig_, server_url_, ca_file_, token_;
  int port_ = 0, admin_port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace remora::testing
