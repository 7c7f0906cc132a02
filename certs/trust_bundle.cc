#include "certs/trust_bundle.h"

#include "absl/strings/str_cat.h"
#include "certs/pem.h"

namespace remora::certs {

absl::StatusOr<TrustBundle> TrustBundle::FromPem(absl::string_view pem, absl::string_view what) {
  absl::StatusOr<CertChain> roots = ParseCertificates(pem, what);
  if (!roots.ok()) return roots.status();
  for (size_t i = 0; i < roots->size(); ++i) {
    if (X509_check_ca((*roots)[i].get()) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": certificate ", i + 1,
                       " is not a CA certificate (basicConstraints CA:TRUE); a "
                       "trust bundle holds only roots or intermediate CAs"));
    }
  }
  return TrustBundle(std::move(*roots));
}

std::string TrustBundle::ToPem() const { return certs::ToPem(roots_); }

X509StorePtr TrustBundle::NewStore() const {
  X509StorePtr store(X509_STORE_new());
  for (const X509Ptr& root : roots_) X509_STORE_add_cert(store.get(), root.get());
  // An operator may plug in an intermediate as the mesh's trust anchor; partial chains let it
  // anchor without its own root in the bundle.
  X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN);
  return store;
}

}  // namespace remora::certs
