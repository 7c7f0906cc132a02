#include "certs/pem.h"

#include <openssl/pem.h>

#include "absl/strings/str_cat.h"
#include "certs/openssl_error.h"

namespace remora::certs {
namespace {

// A read-only memory BIO over `pem`; OpenSSL does not copy the bytes.
BioPtr MemBio(absl::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// OpenSSL skips text between PEM blocks and stops at the first broken one, so count the blocks
// to notice a broken or foreign block instead of silently dropping it.
size_t CountPemBlocks(absl::string_view pem) {
  size_t count = 0;
  for (size_t at = pem.find("-----BEGIN "); at != absl::string_view::npos;
       at = pem.find("-----BEGIN ", at + 1)) {
    ++count;
  }
  return count;
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, len > 0 ? len : 0);
}

constexpr size_t kMaxPemSize = 1 << 20;

absl::Status CheckSize(absl::string_view pem, absl::string_view what) {
  if (pem.size() > kMaxPemSize || pem.size() > INT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": larger than 1 MiB; not a PEM file"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CertChain> ParseCertificates(absl::string_view pem, absl::string_view what) {
  if (absl::Status s = CheckSize(pem, what); !s.ok()) return s;
  BioPtr bio = MemBio(pem);
  CertChain chain;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    chain.push_back(std::move(cert));
  }
  std::string errors = DrainOpenSslErrors();
  if (chain.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": no PEM \"CERTIFICATE\" block found",
                     errors.empty() ? "" : absl::StrCat(" (", errors, ")")));
  }
  if (CountPemBlocks(pem) != chain.size()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": PEM block ", chain.size() + 1,
                                                   " is not a valid \"CERTIFICATE\" block"));
  }
  return chain;
}

absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(absl::string_view pem, absl::string_view what) {
  if (absl::Status s = CheckSize(pem, what); !s.ok()) return s;
  BioPtr bio = MemBio(pem);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat(what, ": not a PEM private key (PKCS#8, EC or RSA)"));
  }
  DrainOpenSslErrors();
  return key;
}

absl::StatusOr<X509ReqPtr> ParseCsr(absl::string_view pem, absl::string_view what) {
  if (absl::Status s = CheckSize(pem, what); !s.ok()) return s;
  BioPtr bio = MemBio(pem);
  X509ReqPtr csr(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (csr == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat(what, ": not a PEM \"CERTIFICATE REQUEST\""));
  }
  if (CountPemBlocks(pem) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": more than one PEM block; send one CSR"));
  }
  return csr;
}

std::string ToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return BioToString(bio.get());
}

std::string ToPem(const CertChain& chain) {
  std::string out;
  for (const X509Ptr& cert : chain) out += ToPem(cert.get());
  return out;
}

std::string ToPem(X509_REQ* csr) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), csr);
  return BioToString(bio.get());
}

std::string PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return BioToString(bio.get());
}

}  // namespace remora::certs
