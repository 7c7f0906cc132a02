#include "certs/authority.h"

#include <openssl/rand.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "certs/cert_builder.h"
#include "certs/cert_info.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "certs/workload_binding.h"

namespace remora::certs {
namespace {

std::string RandomHex(int bytes) {
  unsigned char buf[16];
  RAND_bytes(buf, bytes);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(buf), bytes));
}

}  // namespace

absl::StatusOr<Authority> Authority::NewRoot(absl::string_view trust_domain, absl::Time now,
                                             absl::Duration lifetime) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateEcKey();
  if (!key.ok()) return key.status();
  absl::StatusOr<X509Ptr> root =
      CertBuilder()
          // A random suffix keeps two roots of one trust domain apart by name (during rotation,
          // chain building looks issuers up by subject).
          .Subject(trust_domain, absl::StrCat("Remora root CA ", RandomHex(6)))
          .Validity(now - absl::Hours(1), now + lifetime)
          .Ca(true)
          .KeyUsage("critical,keyCertSign,cRLSign")
          .ExtKeyUsage("")
          .AddUriSan(absl::StrCat("spiffe://", trust_domain))
          .Sign(key->get(), nullptr, key->get());
  if (!root.ok()) return root.status();
  CertChain chain;
  chain.push_back(std::move(*root));
  return Authority(std::move(chain), std::move(*key));
}

absl::StatusOr<Authority> Authority::FromPem(absl::string_view chain_pem,
                                             absl::string_view key_pem) {
  absl::StatusOr<CertChain> chain = ParseCertificates(chain_pem, "CA certificate chain");
  if (!chain.ok()) return chain.status();
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKey(key_pem, "CA key");
  if (!key.ok()) return key.status();
  X509* signing = chain->front().get();
  if (X509_check_ca(signing) == 0) {
    return absl::InvalidArgumentError(
        "CA certificate chain: the first certificate is not a CA (basicConstraints CA:TRUE)");
  }
  if (!KeyMatchesCertificate(key->get(), signing)) {
    return absl::InvalidArgumentError(
        "CA key does not match the first certificate of the CA chain; the chain must start with "
        "the signing certificate");
  }
  return Authority(std::move(*chain), std::move(*key));
}

absl::StatusOr<X509Ptr> Authority::IssueSvid(EVP_PKEY* public_key, const SpiffeId& id,
                                             absl::Time now, absl::Duration lifetime,
                                             absl::Duration backdate,
                                             absl::string_view workload) const {
  absl::Time not_after = std::min(now + lifetime, Asn1TimeToAbsl(X509_get0_notAfter(cert())));
  CertBuilder builder;
  builder.AddUriSan(id.str())
      .Validity(now - backdate, not_after)
      .Ca(false)
      .KeyUsage("critical,digitalSignature,keyEncipherment")
      .ExtKeyUsage("serverAuth,clientAuth");
  if (!workload.empty()) {
    absl::StatusOr<std::string> binding = EncodeWorkloadBinding(workload);
    if (!binding.ok()) return binding.status();
    builder.Extension(kWorkloadBindingOid, std::move(*binding));
  }
  return builder.Sign(public_key, cert(), key());
}

CertChain Authority::PresentedChain(X509Ptr leaf) const {
  CertChain out;
  out.push_back(std::move(leaf));
  for (const X509Ptr& ca : chain_) {
    if (X509_check_issued(ca.get(), ca.get()) == X509_V_OK) break;  // self-signed root
    out.push_back(UpRef(ca.get()));
  }
  return out;
}

}  // namespace remora::certs
