// The CA state of Kubernetes mode (issue 18, several replicas): Secret remora-ca in the control
// plane's namespace, type Opaque, key ca-state.json (certs::SerializeCaState). Every replica reads
// and writes it with optimistic concurrency (kube/writers.h): the first replica to start creates
// it (CreateOrGet: a replica that loses the race adopts the winner's roots), and each rotation
// step is a GetAndUpdate on the resourceVersion read, re-applied on 409 Conflict. Follow() watches
// the Secret so a replica installs what another stored (istiod keeps its self-signed root in
// Secret istio-ca-secret the same way; security/pkg/pki/ca/selfsignedcarootcertrotator.go).
//
// The Secret also carries the operator token (key operator-token), created with it, so every
// replica accepts the same one: `remoractl` may reach any replica behind the Service.
//
// Threading: calls block on the API client, so they must come from a thread that does not run
// the client's executor (gRPC handlers, startup). New() gives the store a client on a thread of
// its own. Follow()'s callback runs on the client's executor.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "certs/ca_state.h"
#include "kube/api_client.h"
#include "kube/cluster_config.h"
#include "kube/informer.h"
#include "net/asio.h"
#include "nlohmann/json.hpp"

namespace remora::xds {

inline constexpr char kCaSecretName[] = "remora-ca";
inline constexpr char kCaSecretStateKey[] = "ca-state.json";
inline constexpr char kCaSecretOperatorTokenKey[] = "operator-token";

struct CaSecretStoreOptions {
  std::string namespace_name = "remora-system";
  std::string name = kCaSecretName;
  int attempts = 5;                            // GetAndUpdate tries before giving up on conflicts
  absl::Duration timeout = absl::Seconds(90);  // per blocking call
  // A local copy of the last state read or written (FileCaStateStore layout); "" = none. When
  // the API server cannot be reached at start, LoadOrCreate serves this copy (with a warning),
  // so a replica restarted while the API server is down still starts with its roots.
  std::string cache_dir;
  // Where a single replica kept its CA before (FileCaStateStore layout, <state-dir>/ca); "" =
  // none. When the Secret does not exist yet, the first replica stores the roots found there
  // instead of new ones, so upgrading to the Secret keeps every issued certificate trusted.
  std::string seed_dir;
};

// The CA state a Secret object holds (pure; the Secret is written by others: untrusted).
// `what` names the Secret in errors.
absl::StatusOr<certs::CaState> CaStateFromSecret(const nlohmann::json& secret,
                                                 absl::string_view what);

class CaSecretStore final : public certs::CaStateStore {
 public:
  // A store over `client`, whose executor is run by a thread other than the callers'.
  CaSecretStore(std::shared_ptr<kube::ApiClient> client, CaSecretStoreOptions options);
  // A store with a client of its own on its own thread.
  static absl::StatusOr<std::unique_ptr<CaSecretStore>> New(kube::ClusterConfig config,
                                                            CaSecretStoreOptions options);
  ~CaSecretStore() override;

  absl::StatusOr<certs::CaState> LoadOrCreate(
      const std::function<absl::StatusOr<certs::CaState>()>& create) override;
  absl::StatusOr<certs::CaState> Update(
      const std::function<absl::StatusOr<certs::CaState>(certs::CaState)>& change) override;
  std::string Describe() const override;

  // The operator token the Secret holds; adds a random one if it has none. Call after
  // LoadOrCreate (the Secret exists).
  absl::StatusOr<std::string> LoadOrCreateOperatorToken();

  // Watches the Secret (an informer with fieldSelector metadata.name=<name>) and calls
  // `on_state` with the state of each version of it (also kept in the local copy). A version that
  // does not parse is logged, naming the Secret, and skipped: the caller keeps its state. Call
  // once.
  void Follow(std::function<void(const certs::CaState&)> on_state);
  // Ends Follow() and the store's own thread, if any. Idempotent; the destructor calls it.
  void Stop();

 private:
  CaSecretStore(std::unique_ptr<asio::io_context> io, std::shared_ptr<kube::ApiClient> client,
                CaSecretStoreOptions options);
  absl::StatusOr<certs::CaState> LoadOrCreateInSecret(
      const std::function<absl::StatusOr<certs::CaState>()>& create);
  nlohmann::json NewSecret(const certs::CaState& state) const;
  // The state in options_.seed_dir, or NotFound.
  absl::StatusOr<certs::CaState> Seed() const;
  // Keeps `state` in the local copy, if any (failures are logged: it is only a cache).
  void Cache(const certs::CaState& state);
  // LoadOrCreate's fallback when the Secret cannot be read for `error`.
  absl::StatusOr<certs::CaState> FromCache(const absl::Status& error);

  std::unique_ptr<asio::io_context> io_;  // New(): the client's own loop
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  const std::shared_ptr<kube::ApiClient> client_;
  const CaSecretStoreOptions options_;
  std::unique_ptr<certs::FileCaStateStore> cache_;
  std::shared_ptr<kube::Informer> informer_;
};

}  // namespace remora::xds
