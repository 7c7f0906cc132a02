#include "certs/openssl_error.h"

#include <openssl/err.h>

#include "absl/strings/str_cat.h"
#include "certs/openssl_ptr.h"

namespace remora::certs {

CertChain CopyChain(const CertChain& chain) {
  CertChain copy;
  copy.reserve(chain.size());
  for (const X509Ptr& cert : chain) copy.push_back(UpRef(cert.get()));
  return copy;
}

std::string DrainOpenSslErrors() {
  std::string out;
  while (unsigned long err = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(err);
    const char* lib = ERR_lib_error_string(err);
    absl::StrAppend(&out, out.empty() ? "" : ", ", reason ? reason : "unknown error", " (",
                    lib ? lib : "openssl", ")");
  }
  return out;
}

absl::Status OpenSslError(absl::StatusCode code, absl::string_view what) {
  std::string detail = DrainOpenSslErrors();
  return absl::Status(code, detail.empty() ? std::string(what) : absl::StrCat(what, ": ", detail));
}

}  // namespace remora::certs
