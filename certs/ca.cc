#include "certs/ca.h"

#include <openssl/sha.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "certs/cert_builder.h"
#include "certs/cert_info.h"
#include "certs/keys.h"
#include "certs/openssl_error.h"
#include "certs/pem.h"
#include "common/file.h"
#include "common/log.h"

namespace remora::certs {
namespace {

using json = nlohmann::json;

absl::Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// The URI SANs a CSR asks for, if any.
std::vector<std::string> CsrUris(X509_REQ* csr) {
  std::vector<std::string> out;
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(csr);
  if (exts == nullptr) return out;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
    for (int j = 0; names && j < sk_GENERAL_NAME_num(names.get()); ++j) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), j);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* s = name->d.uniformResourceIdentifier;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       ASN1_STRING_length(s));
    }
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  return out;
}

}  // namespace

std::string Fingerprint(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, len > 0 ? static_cast<size_t>(len) : 0, digest);
  OPENSSL_free(der);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 8));
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::Open(CaOptions options,
                                                                                 absl::Time now) {
  auto ca = std::make_unique<CertificateAuthority>(Private{}, std::move(options));
  if (absl::Status s = ca->LoadOrCreate(now); !s.ok()) return s;
  return ca;
}

absl::StatusOr<CertificateAuthority::Root> CertificateAuthority::NewRoot(absl::Time now) {
  absl::StatusOr<Authority> authority =
      Authority::NewRoot(options_.trust_domain, now, options_.root_lifetime);
  if (!authority.ok()) return authority.status();
  Root root;
  root.info.fingerprint = Fingerprint(authority->cert());
  root.info.not_after = Asn1TimeToAbsl(X509_get0_notAfter(authority->cert()));
  root.authority = std::make_unique<Authority>(std::move(*authority));
  return root;
}

absl::Status CertificateAuthority::LoadOrCreate(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (!options_.plugin_chain_file.empty()) {
    absl::StatusOr<std::string> chain = ReadFile(options_.plugin_chain_file);
    if (!chain.ok()) return chain.status();
    absl::StatusOr<std::string> key = ReadFile(options_.plugin_key_file);
    if (!key.ok()) return key.status();
    absl::StatusOr<Authority> authority = Authority::FromPem(*chain, *key);
    if (!authority.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("plug-in CA ", options_.plugin_chain_file,
                                                     ": ", authority.status().message()));
    }
    Root root;
    root.info.fingerprint = Fingerprint(authority->anchor());
    root.info.not_after = Asn1TimeToAbsl(X509_get0_notAfter(authority->cert()));
    root.info.signing = true;
    root.info.in_bundle = true;
    root.authority = std::make_unique<Authority>(std::move(*authority));
    roots_.push_back(std::move(root));
    plugin_ = true;
    LOG_INFO("ca", "plug-in CA loaded from ", options_.plugin_chain_file,
             " anchor=", roots_.back().info.fingerprint);
    return absl::OkStatus();
  }
  if (absl::Status s = MakeDir(options_.state_dir); !s.ok()) return s;
  if (absl::Status s = MakeDir(Dir()); !s.ok()) return s;
  const std::string state_file = Dir() + "/roots.json";
  absl::StatusOr<std::string> state = ReadFile(state_file);
  if (absl::IsNotFound(state.status())) {
    absl::StatusOr<Root> root = NewRoot(now);
    if (!root.ok()) return root.status();
    root->info.signing = true;
    root->info.in_bundle = true;
    LOG_INFO("ca", "created root CA ", root->info.fingerprint, " for trust domain ",
             options_.trust_domain, " in ", Dir());
    roots_.push_back(std::move(*root));
    return Persist();
  }
  if (!state.ok()) return state.status();
  json j = json::parse(*state, nullptr, false);
  if (!j.is_object() || !j["roots"].is_array()) {
    return absl::DataLossError(absl::StrCat(state_file, " is not a valid CA state file"));
  }
  for (const json& r : j["roots"]) {
    if (!r.is_object() || !r["fingerprint"].is_string()) {
      return absl::DataLossError(absl::StrCat(state_file, ": a root entry lacks its fingerprint"));
    }
    const std::string fp = r["fingerprint"];
    absl::StatusOr<std::string> cert = ReadFile(absl::StrCat(Dir(), "/", fp, ".crt"));
    absl::StatusOr<std::string> key = ReadFile(absl::StrCat(Dir(), "/", fp, ".key"));
    if (!cert.ok()) return cert.status();
    if (!key.ok()) return key.status();
    absl::StatusOr<Authority> authority = Authority::FromPem(*cert, *key);
    if (!authority.ok()) {
      return absl::DataLossError(absl::StrCat("root ", fp, ": ", authority.status().message()));
    }
    Root root;
    root.info.fingerprint = fp;
    root.info.not_after = Asn1TimeToAbsl(X509_get0_notAfter(authority->cert()));
    root.info.signing = r.value("signing", false);
    root.info.in_bundle = r.value("in_bundle", false);
    root.authority = std::make_unique<Authority>(std::move(*authority));
    roots_.push_back(std::move(root));
  }
  if (Signing() == nullptr) {
    return absl::DataLossError(absl::StrCat(state_file, " names no signing root"));
  }
  LOG_INFO("ca", "loaded ", roots_.size(), " root(s) from ", Dir(), "; signing with ",
           Signing()->info.fingerprint);
  return absl::OkStatus();
}

absl::Status CertificateAuthority::Persist() {
  if (plugin_) return absl::OkStatus();
  json roots = json::array();
  for (const Root& r : roots_) {
    const std::string base = absl::StrCat(Dir(), "/", r.info.fingerprint);
    absl::Status s = WriteFileAtomic(base + ".key", PrivateKeyToPem(r.authority->key()), 0600);
    if (s.ok()) s = WriteFileAtomic(base + ".crt", ToPem(r.authority->cert()), 0644);
    if (!s.ok()) return s;
    roots.push_back({{"fingerprint", r.info.fingerprint},
                     {"signing", r.info.signing},
                     {"in_bundle", r.info.in_bundle}});
  }
  // Written last: the files it names are already on disk, so a crash leaves a loadable state.
  return WriteFileAtomic(Dir() + "/roots.json", json{{"roots", roots}}.dump(2) + "\n", 0600);
}

CertificateAuthority::Root* CertificateAuthority::Signing() {
  for (Root& r : roots_) {
    if (r.info.signing) return &r;
  }
  return nullptr;
}

absl::StatusOr<IssuedCertificate> CertificateAuthority::Sign(absl::string_view csr_pem,
                                                             absl::Duration requested_validity,
                                                             const TokenClaims& claims,
                                                             absl::Time now,
                                                             absl::string_view workload) {
  absl::StatusOr<X509ReqPtr> csr = ParseCsr(csr_pem, "CSR");
  if (!csr.ok()) return csr.status();
  EVP_PKEY* public_key = X509_REQ_get0_pubkey(csr->get());
  if (public_key == nullptr) return absl::InvalidArgumentError("CSR has no public key");
  if (X509_REQ_verify(csr->get(), public_key) != 1) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError(
        "CSR signature does not verify: the requester must sign it with the key it certifies");
  }
  if (absl::Status s = CheckAcceptableKey(public_key); !s.ok()) return s;
  absl::StatusOr<SpiffeId> proven =
      SpiffeId::ForServiceAccount(options_.trust_domain, claims.ns, claims.service_account);
  if (!proven.ok()) return proven.status();
  // The CA signs only what the token proves. A CSR asking for anything else is refused rather
  // than silently rewritten: a workload that asks for the wrong identity is misconfigured or
  // hostile, and either way the operator should hear about it.
  for (const std::string& uri : CsrUris(csr->get())) {
    if (uri != proven->str()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "CSR asks for identity ", uri, " but the bootstrap token proves ", proven->str(),
          "; refusing to issue (a CSR may ask for no URI SAN or for exactly the token's)"));
    }
  }
  absl::Duration lifetime =
      requested_validity <= absl::ZeroDuration() ? options_.default_lifetime : requested_validity;
  lifetime = std::clamp(lifetime, options_.min_lifetime, options_.max_lifetime);

  absl::MutexLock lock(&mu_);
  Root* signing = Signing();
  absl::StatusOr<X509Ptr> leaf = signing->authority->IssueSvid(public_key, *proven, now, lifetime,
                                                               options_.backdate, workload);
  if (!leaf.ok()) return leaf.status();
  IssuedCertificate out;
  out.workload = std::string(workload);
  CertInfo info = DescribeCertificate(leaf->get());
  out.serial_hex = info.serial_hex;
  out.not_after = info.not_after;
  out.identity = proven->str();
  for (const X509Ptr& cert : signing->authority->PresentedChain(std::move(*leaf))) {
    out.chain_pem.push_back(ToPem(cert.get()));
  }
  out.chain_pem.push_back(ToPem(signing->authority->anchor()));
  return out;
}

absl::StatusOr<IssuedCertificate> CertificateAuthority::IssueForKey(
    EVP_PKEY* key, absl::string_view spiffe_id, const std::vector<std::string>& dns_names,
    absl::Duration lifetime, absl::Time now) {
  absl::MutexLock lock(&mu_);
  Root* signing = Signing();
  CertBuilder builder;
  builder.AddUriSan(spiffe_id)
      .Validity(now - options_.backdate, now + lifetime)
      .Ca(false)
      .KeyUsage("critical,digitalSignature,keyEncipherment")
      .ExtKeyUsage("serverAuth,clientAuth");
  for (const std::string& dns : dns_names) builder.AddDnsSan(dns);
  absl::StatusOr<X509Ptr> leaf =
      builder.Sign(key, signing->authority->cert(), signing->authority->key());
  if (!leaf.ok()) return leaf.status();
  IssuedCertificate out;
  CertInfo info = DescribeCertificate(leaf->get());
  out.serial_hex = info.serial_hex;
  out.not_after = info.not_after;
  out.identity = std::string(spiffe_id);
  for (const X509Ptr& cert : signing->authority->PresentedChain(std::move(*leaf))) {
    out.chain_pem.push_back(ToPem(cert.get()));
  }
  return out;
}

std::vector<std::string> CertificateAuthority::BundlePem() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const Root& r : roots_) {
    if (r.info.in_bundle) out.push_back(ToPem(r.authority->anchor()));
  }
  return out;
}

std::vector<RootInfo> CertificateAuthority::Roots() const {
  absl::MutexLock lock(&mu_);
  std::vector<RootInfo> out;
  for (const Root& r : roots_) out.push_back(r.info);
  return out;
}

std::string CertificateAuthority::Phase() const {
  absl::MutexLock lock(&mu_);
  if (roots_.size() < 2) return "steady";
  return roots_.back().info.signing ? "switched" : "added";
}

absl::StatusOr<std::string> CertificateAuthority::RotateAdd(absl::Time now) {
  if (plugin_) {
    return absl::FailedPreconditionError(
        "a plug-in CA is rotated by the operator: replace its files and restart remora-control");
  }
  absl::MutexLock lock(&mu_);
  if (roots_.size() >= 2) {
    return absl::FailedPreconditionError(
        "a rotation is already in progress; finish it with the next steps (switch, retire)");
  }
  absl::StatusOr<Root> root = NewRoot(now);
  if (!root.ok()) return root.status();
  root->info.in_bundle = true;
  const std::string fp = root->info.fingerprint;
  roots_.push_back(std::move(*root));
  if (absl::Status s = Persist(); !s.ok()) {
    roots_.pop_back();
    return s;
  }
  return absl::StrCat(
      "added root ", fp,
      " to every trust bundle; the old root still signs. Next, once every proxy has "
      "the new bundle (remoractl proxy-status): remoractl ca rotate --step=switch");
}

absl::StatusOr<std::string> CertificateAuthority::RotateSwitch() {
  absl::MutexLock lock(&mu_);
  if (roots_.size() < 2 || roots_.back().info.signing) {
    return absl::FailedPreconditionError(
        "nothing to switch to: run remoractl ca rotate --step=add first");
  }
  roots_.front().info.signing = false;
  roots_.back().info.signing = true;
  if (absl::Status s = Persist(); !s.ok()) return s;
  return absl::StrCat("root ", roots_.back().info.fingerprint,
                      " now signs; proxies renew onto it at their next rotation. Once every "
                      "certificate from the old root has been renewed: remoractl ca rotate "
                      "--step=retire");
}

absl::StatusOr<std::string> CertificateAuthority::RotateRetire() {
  absl::MutexLock lock(&mu_);
  if (roots_.size() < 2 || !roots_.back().info.signing) {
    return absl::FailedPreconditionError(
        "nothing to retire: the new root must sign first (remoractl ca rotate --step=switch)");
  }
  const std::string old = roots_.front().info.fingerprint;
  Root retired = std::move(roots_.front());
  roots_.erase(roots_.begin());
  if (absl::Status s = Persist(); !s.ok()) {
    roots_.insert(roots_.begin(), std::move(retired));
    return s;
  }
  return absl::StrCat("retired root ", old, "; trust bundles now hold only ",
                      roots_.front().info.fingerprint);
}

absl::StatusOr<std::string> CertificateAuthority::RotateNext(absl::Time now) {
  std::string phase = Phase();
  if (phase == "steady") return RotateAdd(now);
  if (phase == "added") return RotateSwitch();
  return RotateRetire();
}

}  // namespace remora::certs
