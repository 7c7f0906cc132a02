// Key generation, key strength policy and certificate signing requests.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "certs/openssl_ptr.h"

namespace remora::certs {

// ECDSA key on a named curve; P-256 (NID_X9_62_prime256v1) is the mesh default.
absl::StatusOr<EvpPkeyPtr> GenerateEcKey(int curve_nid = NID_X9_62_prime256v1);
absl::StatusOr<EvpPkeyPtr> GenerateRsaKey(int bits);

// "EC P-256", "EC P-384", "RSA 2048", "ED25519", ...
std::string DescribeKey(EVP_PKEY* key);

// The keys the CA signs for: EC P-256 or P-384, or RSA of at least 2048 bits. Anything else is
// InvalidArgument naming the key ("RSA 1024 is too weak; use EC P-256 ...").
absl::Status CheckAcceptableKey(EVP_PKEY* key);

// A CSR for `key` that asks for the URI SAN `uri` (empty: no SAN), signed with SHA-256.
absl::StatusOr<X509ReqPtr> CreateCsr(EVP_PKEY* key, absl::string_view uri);

// True when the private `key` belongs to the public key of `cert`.
bool KeyMatchesCertificate(EVP_PKEY* key, X509* cert);

}  // namespace remora::certs
