#include "certs/keys.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>

#include "absl/strings/str_cat.h"
#include "certs/openssl_error.h"

namespace remora::certs {

absl::StatusOr<EvpPkeyPtr> GenerateEcKey(int curve_nid) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr));
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), curve_nid) <= 0 ||
      EVP_PKEY_CTX_set_ec_param_enc(ctx.get(), OPENSSL_EC_NAMED_CURVE) <= 0 ||
      EVP_PKEY_keygen(ctx.get(), &raw) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "generating an EC key");
  }
  return EvpPkeyPtr(raw);
}

absl::StatusOr<EvpPkeyPtr> GenerateRsaKey(int bits) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr));
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) <= 0 ||
      EVP_PKEY_keygen(ctx.get(), &raw) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal,
                        absl::StrCat("generating an RSA ", bits, " key"));
  }
  return EvpPkeyPtr(raw);
}

namespace {

std::string CurveName(EVP_PKEY* key) {
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) !=
      1) {
    return "unknown curve";
  }
  int nid = OBJ_txt2nid(name);
  if (nid == NID_X9_62_prime256v1) return "P-256";
  if (nid == NID_secp384r1) return "P-384";
  if (nid == NID_secp521r1) return "P-521";
  return name;
}

}  // namespace

std::string DescribeKey(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC:
      return absl::StrCat("EC ", CurveName(key));
    case EVP_PKEY_RSA:
      return absl::StrCat("RSA ", EVP_PKEY_get_bits(key));
    case EVP_PKEY_ED25519:
      return "ED25519";
    case EVP_PKEY_ED448:
      return "ED448";
    case EVP_PKEY_DSA:
      return absl::StrCat("DSA ", EVP_PKEY_get_bits(key));
    default:
      return absl::StrCat("key type ", EVP_PKEY_get_base_id(key));
  }
}

absl::Status CheckAcceptableKey(EVP_PKEY* key) {
  const int type = EVP_PKEY_get_base_id(key);
  if (type == EVP_PKEY_EC) {
    std::string curve = CurveName(key);
    if (curve == "P-256" || curve == "P-384") return absl::OkStatus();
  } else if (type == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) >= 2048) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("public key ", DescribeKey(key),
                   " is not accepted; use EC P-256 (the default), EC P-384, "
                   "or RSA of at least 2048 bits"));
}

absl::StatusOr<X509ReqPtr> CreateCsr(EVP_PKEY* key, absl::string_view uri) {
  X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_REQ_set_pubkey(req.get(), key);
  if (!uri.empty()) {
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    std::string value = absl::StrCat("URI:", uri);
    X509ExtensionPtr san(
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, value.c_str()));
    if (san == nullptr) {
      sk_X509_EXTENSION_free(exts);
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          absl::StrCat("encoding URI SAN \"", uri, "\""));
    }
    sk_X509_EXTENSION_push(exts, san.get());
    int ok = X509_REQ_add_extensions(req.get(), exts);
    sk_X509_EXTENSION_free(exts);
    if (ok != 1) return OpenSslError(absl::StatusCode::kInternal, "adding CSR extensions");
  }
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "signing the CSR");
  }
  return req;
}

bool KeyMatchesCertificate(EVP_PKEY* key, X509* cert) {
  bool match = X509_check_private_key(cert, key) == 1;
  DrainOpenSslErrors();
  return match;
}

}  // namespace remora::certs
