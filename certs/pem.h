// PEM decoding and encoding of certificates, keys and CSRs. Every parser here takes untrusted
// bytes and returns a Status naming what was wrong; none of them asserts.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "certs/openssl_ptr.h"

namespace remora::certs {

// Parses one or more "CERTIFICATE" PEM blocks, in order. Refuses input with no certificate or with
// trailing garbage that is not whitespace. `what` names the input in errors ("cert_file /a/b.pem").
absl::StatusOr<CertChain> ParseCertificates(absl::string_view pem, absl::string_view what);

// Parses exactly one private key (PKCS#8, SEC1 "EC PRIVATE KEY" or PKCS#1 RSA).
absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(absl::string_view pem, absl::string_view what);

// Parses exactly one "CERTIFICATE REQUEST" PEM block.
absl::StatusOr<X509ReqPtr> ParseCsr(absl::string_view pem, absl::string_view what);

std::string ToPem(X509* cert);
std::string ToPem(const CertChain& chain);
std::string ToPem(X509_REQ* csr);
// PKCS#8 unencrypted.
std::string PrivateKeyToPem(EVP_PKEY* key);

}  // namespace remora::certs
