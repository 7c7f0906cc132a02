// What the control plane's CA must keep to survive a restart and to be shared by several replicas:
// its roots (certificate and key, PEM) and each root's role in a rotation. The state is a value;
// where it lives is a CaStateStore: files in the state directory (one replica, embedded mode), or
// a Kubernetes Secret that every replica reads and writes with optimistic concurrency
// (xds/kube/ca_secret_store.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "certs/openssl_ptr.h"

namespace remora::certs {

struct CaRootRecord {
  std::string cert_pem;
  std::string key_pem;
  bool signing = false;    // signs new certificates (exactly one root does)
  bool in_bundle = false;  // trusted by every proxy
};

struct CaState {
  std::vector<CaRootRecord> roots;  // oldest first
};

// SHA-256 of the DER certificate, hex, first 16 digits: how roots are named.
std::string Fingerprint(X509* cert);
// The fingerprint of a PEM certificate (the first one), or InvalidArgument.
absl::StatusOr<std::string> PemFingerprint(absl::string_view cert_pem);

// {"roots":[{"cert":PEM,"key":PEM,"signing":bool,"inBundle":bool}]}: the form the Secret holds.
std::string SerializeCaState(const CaState& state);
// Parses what SerializeCaState wrote (from a Secret others can write: untrusted, pure, fuzzed).
// Checks the shape only; the CA checks the certificates and keys when it installs them.
absl::StatusOr<CaState> ParseCaState(absl::string_view text, absl::string_view what);

// Where the CA state lives. Implementations are thread-safe; calls may block on I/O.
class CaStateStore {
 public:
  virtual ~CaStateStore() = default;

  // The stored state. When none is stored yet, stores `create()` unless another writer stores
  // one first (replicas starting together), and returns whichever state ends up stored.
  virtual absl::StatusOr<CaState> LoadOrCreate(
      const std::function<absl::StatusOr<CaState>()>& create) = 0;

  // Reads the latest stored state, applies `change` and stores the result, as one
  // compare-and-swap: if another writer changed the state in between, reads again and re-applies
  // (so `change` may run more than once). An error from `change` stores nothing and is returned.
  virtual absl::StatusOr<CaState> Update(
      const std::function<absl::StatusOr<CaState>(CaState)>& change) = 0;

  // "/var/lib/remora/ca", "Secret remora-system/remora-ca": for messages.
  virtual std::string Describe() const = 0;
};

// The state directory's layout since the first release: <dir>/<fingerprint>.crt and .key (mode
// 0600) for each root, and roots.json naming them and their roles, written last so a crash leaves
// a loadable state.
class FileCaStateStore final : public CaStateStore {
 public:
  explicit FileCaStateStore(std::string dir) : dir_(std::move(dir)) {}

  absl::StatusOr<CaState> LoadOrCreate(
      const std::function<absl::StatusOr<CaState>()>& create) override;
  absl::StatusOr<CaState> Update(
      const std::function<absl::StatusOr<CaState>(CaState)>& change) override;
  std::string Describe() const override { return dir_; }

 private:
  // NotFound when there is no roots.json yet.
  absl::StatusOr<CaState> Load() const;
  absl::Status Save(const CaState& state) const;

  const std::string dir_;
  absl::Mutex mu_;  // one writer at a time
};

}  // namespace remora::certs
