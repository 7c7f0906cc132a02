// The control plane's certificate authority: keeps its roots in a CaStateStore (the state
// directory, or a Kubernetes Secret shared by replicas), signs workload X.509-SVIDs from CSRs for
// the identity a bootstrap credential proves, and rotates roots without downtime (a new root joins
// every trust bundle first, then signs, then the old one leaves). Each rotation step reads the
// stored state, changes it and stores it as one compare-and-swap, so replicas sharing a store
// never step on each other. Thread-safe: gRPC handlers call it concurrently.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "certs/authority.h"
#include "certs/ca_state.h"
#include "certs/jwt.h"
#include "certs/openssl_ptr.h"

namespace remora::certs {

struct CaOptions {
  // <state_dir>/ca/ holds roots and their keys (mode 0600), unless Open is given another store.
  std::string state_dir;
  std::string trust_domain = "cluster.local";
  absl::Duration default_lifetime = absl::Hours(24);
  absl::Duration min_lifetime = absl::Seconds(5);
  absl::Duration max_lifetime = absl::Hours(24 * 30);
  absl::Duration backdate = absl::Minutes(5);
  absl::Duration root_lifetime = absl::Hours(24 * 365 * 10);
  // Plug-in CA: an operator-supplied signing certificate (chain up to its root) and key. When set,
  // no root is generated; rotation is the operator's (replace the files, restart).
  std::string plugin_chain_file;
  std::string plugin_key_file;
};

// One root of the CA and its role in a rotation.
struct RootInfo {
  std::string fingerprint;  // SHA-256 of the DER certificate, hex, first 16 digits
  absl::Time not_after;
  bool signing = false;
  bool in_bundle = false;
};

struct IssuedCertificate {
  std::vector<std::string> chain_pem;  // leaf first, then intermediates, then the signing root
  std::string serial_hex;
  absl::Time not_after;
  std::string identity;
  std::string workload;  // the workload it is bound to; empty: none
};

class CertificateAuthority {
 public:
  // Loads the CA from the state directory, creating a root on first start (or loads the plug-in
  // CA). Errors name the file and the problem.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> Open(CaOptions options,
                                                                    absl::Time now);
  // The same with the state in `store` (ignored for a plug-in CA).
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> Open(
      CaOptions options, std::unique_ptr<CaStateStore> store, absl::Time now);

  // Signs `csr_pem` for spiffe://<td>/ns/<ns>/sa/<sa> as proven by `claims`. Refuses, and issues
  // nothing, when the CSR is not a valid self-signed CSR, its key is not P-256/P-384/RSA>=2048, or
  // it asks for an identity other than the proven one (InvalidArgument / PermissionDenied, with
  // the reason). `requested_validity` zero means the default; others are clamped to the limits.
  // A non-empty `workload` (the one the token was minted for) is bound into the certificate.
  absl::StatusOr<IssuedCertificate> Sign(absl::string_view csr_pem,
                                         absl::Duration requested_validity,
                                         const TokenClaims& claims, absl::Time now,
                                         absl::string_view workload = "");

  // Issues a certificate for a key held by the control plane itself (its serving certificate),
  // with the given SPIFFE ID and DNS names.
  absl::StatusOr<IssuedCertificate> IssueForKey(EVP_PKEY* key, absl::string_view spiffe_id,
                                                const std::vector<std::string>& dns_names,
                                                absl::Duration lifetime, absl::Time now);

  // PEM of every root in the trust bundle.
  std::vector<std::string> BundlePem() const;
  std::vector<RootInfo> Roots() const;
  // "steady", "added" (new root in bundles, old one signing), "switched" (new one signing, old one
  // still trusted).
  std::string Phase() const;

  // Root rotation steps; each persists before returning and says what it did.
  absl::StatusOr<std::string> RotateAdd(absl::Time now);
  absl::StatusOr<std::string> RotateSwitch();
  absl::StatusOr<std::string> RotateRetire();
  // Whichever of the three comes next.
  absl::StatusOr<std::string> RotateNext(absl::Time now);

  // Installs a state another replica stored (the shared store changed under this process).
  // Returns whether it differed from the installed one; on error the installed state stays.
  absl::StatusOr<bool> Reload(const CaState& state);
  // The installed state, as the store holds it (empty for a plug-in CA).
  CaState State() const;

  const std::string& trust_domain() const { return options_.trust_domain; }

 private:
  struct Root {
    std::unique_ptr<Authority> authority;
    RootInfo info;
  };

  struct Private {};

 public:
  CertificateAuthority(Private, CaOptions options, std::unique_ptr<CaStateStore> store)
      : options_(std::move(options)), store_(std::move(store)) {}

 private:
  absl::Status LoadPlugin();
  absl::Status LoadOrCreate(absl::Time now);
  // A new root, as the store keeps it.
  absl::StatusOr<CaRootRecord> NewRoot(absl::Time now);
  // Parses `state` and makes it the one in force.
  absl::Status Install(const CaState& state);
  // One rotation step: `change` edits the stored state (and says what it did in `message`).
  absl::StatusOr<std::string> Rotate(
      const std::function<absl::StatusOr<CaState>(CaState, std::string* message)>& change);
  // The rotation steps on a stored state.
  absl::StatusOr<CaState> AddStep(CaState state, absl::Time now, std::string* message);
  static absl::StatusOr<CaState> SwitchStep(CaState state, std::string* message);
  static absl::StatusOr<CaState> RetireStep(CaState state, std::string* message);
  Root* Signing() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CaOptions options_;
  const std::unique_ptr<CaStateStore> store_;
  absl::Mutex rotate_mu_;  // one rotation step at a time in this process
  mutable absl::Mutex mu_;
  std::vector<Root> roots_ ABSL_GUARDED_BY(mu_);
  std::string installed_ ABSL_GUARDED_BY(mu_);  // SerializeCaState of what is installed
  CaState state_ ABSL_GUARDED_BY(mu_);
  bool plugin_ = false;
};

}  // namespace remora::certs
