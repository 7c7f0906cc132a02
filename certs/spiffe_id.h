// A SPIFFE ID (spiffe://trust-domain/path) that can only exist if it is valid per the SPIFFE-ID
// specification (github.com/spiffe/spiffe, standards/SPIFFE-ID.md).
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace remora::certs {

class SpiffeId {
 public:
  // Validates `text`: lowercase "spiffe" scheme, a trust domain of [a-z0-9.-_], a path of
  // non-empty segments of [a-zA-Z0-9.-_] that are not "." or "..", no trailing slash, no query,
  // fragment, port or user info, at most 2048 bytes.
  static absl::StatusOr<SpiffeId> Parse(absl::string_view text);

  // The Kubernetes workload form spiffe://<td>/ns/<namespace>/sa/<service-account>.
  static absl::StatusOr<SpiffeId> ForServiceAccount(absl::string_view trust_domain,
                                                    absl::string_view ns, absl::string_view sa);

  const std::string& str() const { return text_; }
  absl::string_view trust_domain() const;
  // The path including its leading "/", or "" for a trust domain's own ID.
  absl::string_view path() const;

  // Namespace and service account when the path has the form /ns/<ns>/sa/<sa>.
  std::optional<std::string> Namespace() const;
  std::optional<std::string> ServiceAccount() const;

  friend bool operator==(const SpiffeId& a, const SpiffeId& b) { return a.text_ == b.text_; }

 private:
  SpiffeId(std::string text, size_t path_start) : text_(std::move(text)), path_start_(path_start) {}

  std::string text_;
  size_t path_start_;
};

// Validates a bare trust domain name ("cluster.local").
absl::Status ValidateTrustDomain(absl::string_view trust_domain);

}  // namespace remora::certs
