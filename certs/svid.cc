#include "certs/svid.h"

#include "absl/strings/str_cat.h"
#include "certs/cert_info.h"
#include "certs/openssl_error.h"

namespace remora::certs {

absl::StatusOr<SpiffeId> CheckSvidLeaf(X509* leaf, absl::string_view trust_domain) {
  std::vector<std::string> uris = UriSans(leaf);
  if (uris.size() != 1) {
    return absl::PermissionDeniedError(
        absl::StrCat("certificate has ", uris.size(), " URI SANs; an X.509-SVID has exactly one"));
  }
  absl::StatusOr<SpiffeId> id = SpiffeId::Parse(uris[0]);
  if (!id.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("certificate URI SAN is not a SPIFFE ID: ", id.status().message()));
  }
  if (id->trust_domain() != trust_domain) {
    return absl::PermissionDeniedError(absl::StrCat("identity ", id->str(),
                                                    " is in trust domain \"", id->trust_domain(),
                                                    "\", not the mesh's \"", trust_domain, "\""));
  }
  // basicConstraints CA:TRUE itself, not X509_check_ca, which also weighs keyUsage.
  if ((X509_get_extension_flags(leaf) & EXFLAG_CA) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "certificate for ", id->str(), " is a CA certificate; an X.509-SVID leaf must not be"));
  }
  uint32_t usage = X509_get_key_usage(leaf);
  if (usage == UINT32_MAX || (usage & KU_DIGITAL_SIGNATURE) == 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("certificate for ", id->str(),
                     " lacks keyUsage digitalSignature, which an X.509-SVID "
                     "leaf must have"));
  }
  if ((usage & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("certificate for ", id->str(),
                     " has keyUsage keyCertSign or cRLSign, which an "
                     "X.509-SVID leaf must not have"));
  }
  return id;
}

std::string DescribeVerifyError(int err) {
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate is not yet valid (check the clocks)";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return absl::StrCat("unknown CA: the chain does not lead to a root in the trust bundle (",
                          X509_verify_cert_error_string(err), ")");
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "certificate signature does not verify against its issuer";
    case X509_V_ERR_INVALID_CA:
      return "an issuer in the chain is not a CA certificate";
    case X509_V_ERR_INVALID_PURPOSE:
      return "certificate extendedKeyUsage does not allow this use (serverAuth/clientAuth)";
    default:
      return X509_verify_cert_error_string(err);
  }
}

absl::StatusOr<SpiffeId> VerifySvid(const CertChain& chain, const TrustBundle& bundle,
                                    absl::string_view trust_domain, absl::Time now) {
  if (chain.empty()) return absl::InvalidArgumentError("empty certificate chain");
  X509StorePtr store = bundle.NewStore();
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted, chain[i].get());
  X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted);
  X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(now));
  int ok = X509_verify_cert(ctx.get());
  int err = X509_STORE_CTX_get_error(ctx.get());
  sk_X509_free(untrusted);
  if (ok != 1) {
    DrainOpenSslErrors();
    return absl::PermissionDeniedError(DescribeVerifyError(err));
  }
  return CheckSvidLeaf(chain[0].get(), trust_domain);
}

}  // namespace remora::certs
