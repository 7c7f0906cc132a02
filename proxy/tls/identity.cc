#include "proxy/tls/identity.h"

#include "absl/strings/str_cat.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "certs/svid.h"
#include "common/file.h"
#include "common/status_macros.h"

namespace remora::proxy::tls {

absl::StatusOr<std::shared_ptr<const Identity>> MakeIdentity(certs::CertChain chain,
                                                             certs::EvpPkeyPtr key,
                                                             certs::TrustBundle bundle,
                                                             absl::string_view trust_domain,
                                                             absl::Time now, std::string source) {
  if (chain.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no certificate"));
  if (!certs::KeyMatchesCertificate(key.get(), chain[0].get())) {
    return absl::InvalidArgumentError(
        absl::StrCat(source,
                     ": the private key does not belong to the certificate (were they written at "
                     "different times?)"));
  }
  absl::StatusOr<certs::SpiffeId> id = certs::VerifySvid(chain, bundle, trust_domain, now);
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": own certificate is not usable: ", id.status().message()));
  }
  certs::CertInfo leaf = certs::DescribeCertificate(chain[0].get());
  return std::make_shared<const Identity>(Identity{std::move(chain), std::move(key),
                                                   std::move(bundle), std::move(*id),
                                                   std::move(leaf), std::move(source)});
}

absl::StatusOr<std::shared_ptr<const Identity>> LoadIdentityFiles(const std::string& cert_file,
                                                                  const std::string& key_file,
                                                                  const std::string& bundle_file,
                                                                  absl::string_view trust_domain,
                                                                  absl::Time now) {
  ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(cert_file));
  ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key_file));
  ASSIGN_OR_RETURN(std::string bundle_pem, ReadFile(bundle_file));
  ASSIGN_OR_RETURN(certs::CertChain chain,
                   certs::ParseCertificates(cert_pem, absl::StrCat("cert_file ", cert_file)));
  ASSIGN_OR_RETURN(certs::EvpPkeyPtr key,
                   certs::ParsePrivateKey(key_pem, absl::StrCat("key_file ", key_file)));
  ASSIGN_OR_RETURN(
      certs::TrustBundle bundle,
      certs::TrustBundle::FromPem(bundle_pem, absl::StrCat("bundle_file ", bundle_file)));
  return MakeIdentity(std::move(chain), std::move(key), std::move(bundle), trust_domain, now,
                      absl::StrCat("files ", cert_file));
}

}  // namespace remora::proxy::tls
