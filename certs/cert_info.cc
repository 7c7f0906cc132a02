#include "certs/cert_info.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "absl/strings/ascii.h"

namespace remora::certs {
namespace {

std::vector<std::string> Sans(X509* cert, int type) {
  std::vector<std::string> out;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != type) continue;
    const ASN1_IA5STRING* s = type == GEN_URI ? name->d.uniformResourceIdentifier : name->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
  }
  return out;
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len > 0 ? len : 0);
}

}  // namespace

std::vector<std::string> UriSans(X509* cert) { return Sans(cert, GEN_URI); }

absl::Time Asn1TimeToAbsl(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTM(tm, absl::UTCTimeZone());
}

CertInfo DescribeCertificate(X509* cert) {
  CertInfo info;
  info.subject = NameToString(X509_get_subject_name(cert));
  info.issuer = NameToString(X509_get_issuer_name(cert));
  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (serial != nullptr) {
    char* hex = BN_bn2hex(serial.get());
    info.serial_hex = absl::AsciiStrToLower(hex);
    OPENSSL_free(hex);
  }
  info.uri_sans = Sans(cert, GEN_URI);
  info.dns_sans = Sans(cert, GEN_DNS);
  info.not_before = Asn1TimeToAbsl(X509_get0_notBefore(cert));
  info.not_after = Asn1TimeToAbsl(X509_get0_notAfter(cert));
  info.is_ca = X509_check_ca(cert) != 0;
  return info;
}

}  // namespace remora::certs
