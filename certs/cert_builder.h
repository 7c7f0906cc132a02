// Builds and signs X.509 v3 certificates. The CA uses it for workload certificates and roots;
// tests use it to make every kind of certificate a peer might present, valid or not.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "certs/openssl_ptr.h"

namespace remora::certs {

class CertBuilder {
 public:
  CertBuilder& Subject(absl::string_view organization, absl::string_view common_name);
  CertBuilder& AddUriSan(absl::string_view uri);
  CertBuilder& AddDnsSan(absl::string_view dns);
  CertBuilder& Validity(absl::Time not_before, absl::Time not_after);
  // basicConstraints (critical). `path_len` < 0 leaves the path length open.
  CertBuilder& Ca(bool is_ca, int path_len = -1);
  // OpenSSL config syntax, e.g. "critical,digitalSignature,keyEncipherment"; "" omits it.
  CertBuilder& KeyUsage(absl::string_view usage);
  CertBuilder& ExtKeyUsage(absl::string_view usage);
  // A non-critical extension `oid` (dotted) whose value is the DER `value`.
  CertBuilder& Extension(absl::string_view oid, std::string value);

  // Signs a certificate for `subject_key` (only its public half is used). With `issuer` null the
  // certificate is self-signed by `issuer_key`. Serial: 128 random bits.
  absl::StatusOr<X509Ptr> Sign(EVP_PKEY* subject_key, X509* issuer, EVP_PKEY* issuer_key) const;

 private:
  std::string organization_;
  std::string common_name_;
  std::vector<std::string> sans_;  // "URI:..." / "DNS:..."
  absl::Time not_before_ = absl::Now() - absl::Minutes(1);
  absl::Time not_after_ = absl::Now() + absl::Hours(24);
  bool is_ca_ = false;
  int path_len_ = -1;
  std::string key_usage_ = "critical,digitalSignature,keyEncipherment";
  std::string ext_key_usage_ = "serverAuth,clientAuth";
  std::vector<std::pair<std::string, std::string>> extensions_;  // oid, DER value
};

}  // namespace remora::certs
