#include "certs/cert_builder.h"

#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "certs/openssl_error.h"

namespace remora::certs {
namespace {

absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("adding extension ", OBJ_nid2sn(nid), " = \"", value, "\""));
  }
  return absl::OkStatus();
}

absl::Status AddCustomExtension(X509* cert, const std::string& oid, const std::string& value) {
  std::unique_ptr<ASN1_OBJECT, OpenSslDeleter<ASN1_OBJECT_free>> obj(
      OBJ_txt2obj(oid.c_str(), /*no_name=*/1));
  std::unique_ptr<ASN1_OCTET_STRING, OpenSslDeleter<ASN1_OCTET_STRING_free>> data(
      ASN1_OCTET_STRING_new());
  if (obj == nullptr || data == nullptr ||
      ASN1_OCTET_STRING_set(data.get(), reinterpret_cast<const unsigned char*>(value.data()),
                            static_cast<int>(value.size())) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("encoding extension ", oid));
  }
  X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, data.get()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, absl::StrCat("adding extension ", oid));
  }
  return absl::OkStatus();
}

Asn1IntegerPtr RandomSerial() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  bytes[0] &= 0x7f;  // Positive, as RFC 5280 requires.
  BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  return Asn1IntegerPtr(BN_to_ASN1_INTEGER(bn.get(), nullptr));
}

}  // namespace

CertBuilder& CertBuilder::Subject(absl::string_view organization, absl::string_view common_name) {
  organization_ = std::string(organization);
  common_name_ = std::string(common_name);
  return *this;
}

CertBuilder& CertBuilder::AddUriSan(absl::string_view uri) {
  sans_.push_back(absl::StrCat("URI:", uri));
  return *this;
}

CertBuilder& CertBuilder::AddDnsSan(absl::string_view dns) {
  sans_.push_back(absl::StrCat("DNS:", dns));
  return *this;
}

CertBuilder& CertBuilder::Validity(absl::Time not_before, absl::Time not_after) {
  not_before_ = not_before;
  not_after_ = not_after;
  return *this;
}

CertBuilder& CertBuilder::Ca(bool is_ca, int path_len) {
  is_ca_ = is_ca;
  path_len_ = path_len;
  return *this;
}

CertBuilder& CertBuilder::KeyUsage(absl::string_view usage) {
  key_usage_ = std::string(usage);
  return *this;
}

CertBuilder& CertBuilder::ExtKeyUsage(absl::string_view usage) {
  ext_key_usage_ = std::string(usage);
  return *this;
}

CertBuilder& CertBuilder::Extension(absl::string_view oid, std::string value) {
  extensions_.emplace_back(std::string(oid), std::move(value));
  return *this;
}

absl::StatusOr<X509Ptr> CertBuilder::Sign(EVP_PKEY* subject_key, X509* issuer,
                                          EVP_PKEY* issuer_key) const {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);  // v3
  Asn1IntegerPtr serial = RandomSerial();
  X509_set_serialNumber(cert.get(), serial.get());
  Asn1TimePtr nb(ASN1_TIME_set(nullptr, absl::ToTimeT(not_before_)));
  Asn1TimePtr na(ASN1_TIME_set(nullptr, absl::ToTimeT(not_after_)));
  X509_set1_notBefore(cert.get(), nb.get());
  X509_set1_notAfter(cert.get(), na.get());
  X509_set_pubkey(cert.get(), subject_key);

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!organization_.empty()) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(organization_.c_str()), -1,
                               -1, 0);
  }
  if (!common_name_.empty()) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(common_name_.c_str()), -1, -1,
                               0);
  }
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  std::string bc = is_ca_ ? "critical,CA:TRUE" : "critical,CA:FALSE";
  if (is_ca_ && path_len_ >= 0) absl::StrAppend(&bc, ",pathlen:", path_len_);
  absl::Status s = AddExtension(cert.get(), &ctx, NID_basic_constraints, bc);
  if (s.ok() && !key_usage_.empty()) s = AddExtension(cert.get(), &ctx, NID_key_usage, key_usage_);
  if (s.ok() && !ext_key_usage_.empty()) {
    s = AddExtension(cert.get(), &ctx, NID_ext_key_usage, ext_key_usage_);
  }
  if (s.ok()) s = AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  if (s.ok() && issuer != nullptr) {
    s = AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  }
  if (s.ok() && !sans_.empty()) {
    // A SAN is critical when the subject is empty (RFC 5280 4.2.1.6), as SVIDs often are.
    std::string value = absl::StrJoin(sans_, ",");
    if (organization_.empty() && common_name_.empty()) value = absl::StrCat("critical,", value);
    s = AddExtension(cert.get(), &ctx, NID_subject_alt_name, value);
  }
  for (const auto& [oid, value] : extensions_) {
    if (s.ok()) s = AddCustomExtension(cert.get(), oid, value);
  }
  if (!s.ok()) return s;
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "signing the certificate");
  }
  return cert;
}

}  // namespace remora::certs
