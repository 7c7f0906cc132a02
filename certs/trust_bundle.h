// The set of root (or operator-supplied intermediate) CA certificates a proxy trusts for its
// trust domain. During a root rotation it holds the old and the new root at once.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "certs/openssl_ptr.h"

namespace remora::certs {

class TrustBundle {
 public:
  // Parses PEM certificates; each must be a CA (basicConstraints CA:TRUE).
  static absl::StatusOr<TrustBundle> FromPem(absl::string_view pem, absl::string_view what);

  const CertChain& roots() const { return roots_; }
  std::string ToPem() const;

  // A new X509_STORE holding every root, for chain validation.
  X509StorePtr NewStore() const;

 private:
  explicit TrustBundle(CertChain roots) : roots_(std::move(roots)) {}
  CertChain roots_;
};

}  // namespace remora::certs
