#include "certs/workload_binding.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "certs/openssl_error.h"

namespace remora::certs {
namespace {

using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, OpenSslDeleter<ASN1_OBJECT_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_UTF8STRING, OpenSslDeleter<ASN1_UTF8STRING_free>>;

bool Alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

absl::Status CheckWorkloadName(absl::string_view name) {
  if (name.empty() || name.size() > 253) {
    return absl::InvalidArgumentError(
        absl::StrCat("workload name \"", name.substr(0, 64), "\" must have 1 to 253 characters"));
  }
  for (char c : name) {
    if (!Alnum(c) && c != '-' && c != '.') {
      return absl::InvalidArgumentError(absl::StrCat(
          "workload name \"", name, "\" may hold only lowercase letters, digits, '-' and '.'"));
    }
  }
  if (!Alnum(name.front()) || !Alnum(name.back())) {
    return absl::InvalidArgumentError(
        absl::StrCat("workload name \"", name, "\" must start and end with a letter or digit"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EncodeWorkloadBinding(absl::string_view name) {
  if (absl::Status s = CheckWorkloadName(name); !s.ok()) return s;
  Asn1StringPtr value(ASN1_UTF8STRING_new());
  if (value == nullptr ||
      ASN1_STRING_set(value.get(), name.data(), static_cast<int>(name.size())) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "encoding the workload binding");
  }
  unsigned char* der = nullptr;
  const int len = i2d_ASN1_UTF8STRING(value.get(), &der);
  if (len <= 0) return OpenSslError(absl::StatusCode::kInternal, "encoding the workload binding");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<std::optional<std::string>> WorkloadBinding(X509* cert) {
  Asn1ObjectPtr oid(OBJ_txt2obj(kWorkloadBindingOid, /*no_name=*/1));
  if (oid == nullptr) return OpenSslError(absl::StatusCode::kInternal, "parsing the binding OID");
  const int at = X509_get_ext_by_OBJ(cert, oid.get(), -1);
  if (at < 0) return std::optional<std::string>();
  if (X509_get_ext_by_OBJ(cert, oid.get(), at) >= 0) {
    return absl::InvalidArgumentError("the certificate holds the workload binding twice");
  }
  X509_EXTENSION* ext = X509_get_ext(cert, at);
  if (X509_EXTENSION_get_critical(ext)) {
    return absl::InvalidArgumentError("the workload binding extension must not be critical");
  }
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
  const unsigned char* p = ASN1_STRING_get0_data(data);
  const long len = ASN1_STRING_length(data);
  Asn1StringPtr value(d2i_ASN1_UTF8STRING(nullptr, &p, len));
  if (value == nullptr || p != ASN1_STRING_get0_data(data) + len) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError("the workload binding is not one DER UTF8String");
  }
  std::string name(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value.get())),
                   static_cast<size_t>(ASN1_STRING_length(value.get())));
  if (absl::Status s = CheckWorkloadName(name); !s.ok()) return s;
  return std::optional<std::string>(std::move(name));
}

}  // namespace remora::certs
