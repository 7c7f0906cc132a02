// What an operator wants to know about a certificate: identity, serial and validity.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "certs/openssl_ptr.h"

namespace remora::certs {

struct CertInfo {
  std::string subject;
  std::string issuer;
  std::string serial_hex;
  std::vector<std::string> uri_sans;
  std::vector<std::string> dns_sans;
  absl::Time not_before;
  absl::Time not_after;
  bool is_ca = false;
};

CertInfo DescribeCertificate(X509* cert);

// URI SANs in certificate order.
std::vector<std::string> UriSans(X509* cert);

// Converts an ASN1_TIME to absl::Time (InfinitePast on a malformed time).
absl::Time Asn1TimeToAbsl(const ASN1_TIME* t);

}  // namespace remora::certs
