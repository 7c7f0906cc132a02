#include "certs/ca.h"

#include <algorithm>

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

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::Open(CaOptions options,
                                                                                 absl::Time now) {
  auto store = std::make_unique<FileCaStateStore>(options.state_dir + "/ca");
  return Open(std::move(options), std::move(store), now);
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::Open(
    CaOptions options, std::unique_ptr<CaStateStore> store, absl::Time now) {
  auto ca = std::make_unique<CertificateAuthority>(Private{}, std::move(options), std::move(store));
  absl::Status s =
      ca->options_.plugin_chain_file.empty() ? ca->LoadOrCreate(now) : ca->LoadPlugin();
  if (!s.ok()) return s;
  return ca;
}

absl::StatusOr<CaRootRecord> CertificateAuthority::NewRoot(absl::Time now) {
  absl::StatusOr<Authority> authority =
      Authority::NewRoot(options_.trust_domain, now, options_.root_lifetime);
  if (!authority.ok()) return authority.status();
  CaRootRecord record;
  record.cert_pem = ToPem(authority->cert());
  record.key_pem = PrivateKeyToPem(authority->key());
  return record;
}

absl::Status CertificateAuthority::LoadPlugin() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> chain = ReadFile(options_.plugin_chain_file);
  if (!chain.ok()) return chain.status();
  absl::StatusOr<std::string> key = ReadFile(options_.plugin_key_file);
  if (!key.ok()) return key.status();
  absl::StatusOr<Authority> authority = Authority::FromPem(*chain, *key);
  if (!authority.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("plug-in CA ", options_.plugin_chain_file, ": ",
                                                   authority.status().message()));
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

absl::Status CertificateAuthority::LoadOrCreate(absl::Time now) {
  std::string created_fp;
  absl::StatusOr<CaState> state = store_->LoadOrCreate([&]() -> absl::StatusOr<CaState> {
    absl::StatusOr<CaRootRecord> root = NewRoot(now);
    if (!root.ok()) return root.status();
    root->signing = true;
    root->in_bundle = true;
    absl::StatusOr<std::string> fp = PemFingerprint(root->cert_pem);
    if (fp.ok()) created_fp = *fp;
    CaState fresh;
    fresh.roots.push_back(std::move(*root));
    return fresh;
  });
  if (!state.ok()) return state.status();
  if (absl::Status s = Install(*state); !s.ok()) {
    return absl::DataLossError(absl::StrCat("CA state in ", store_->Describe(), ": ", s.message()));
  }
  absl::MutexLock lock(&mu_);
  const std::string signing = Signing()->info.fingerprint;
  if (signing == created_fp) {
    LOG_INFO("ca", "created root CA ", signing, " for trust domain ", options_.trust_domain, " in ",
             store_->Describe());
  } else {
    LOG_INFO("ca", "loaded ", roots_.size(), " root(s) from ", store_->Describe(),
             "; signing with ", signing);
  }
  return absl::OkStatus();
}

absl::Status CertificateAuthority::Install(const CaState& state) {
  std::vector<Root> roots;
  int signing = 0;
  for (const CaRootRecord& record : state.roots) {
    absl::StatusOr<Authority> authority = Authority::FromPem(record.cert_pem, record.key_pem);
    if (!authority.ok()) {
      return absl::DataLossError(
          absl::StrCat("root ", roots.size(), ": ", authority.status().message()));
    }
    Root root;
    root.info.fingerprint = Fingerprint(authority->cert());
    root.info.not_after = Asn1TimeToAbsl(X509_get0_notAfter(authority->cert()));
    root.info.signing = record.signing;
    root.info.in_bundle = record.in_bundle;
    signing += record.signing ? 1 : 0;
    root.authority = std::make_unique<Authority>(std::move(*authority));
    roots.push_back(std::move(root));
  }
  if (signing != 1) {
    return absl::DataLossError(
        absl::StrCat("the state names ", signing, " signing roots; exactly one must sign"));
  }
  absl::MutexLock lock(&mu_);
  roots_ = std::move(roots);
  state_ = state;
  installed_ = SerializeCaState(state);
  return absl::OkStatus();
}

absl::StatusOr<bool> CertificateAuthority::Reload(const CaState& state) {
  if (plugin_) return false;
  {
    absl::MutexLock lock(&mu_);
    if (SerializeCaState(state) == installed_) return false;
  }
  if (absl::Status s = Install(state); !s.ok()) return s;
  return true;
}

CaState CertificateAuthority::State() const {
  absl::MutexLock lock(&mu_);
  return state_;
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

absl::StatusOr<std::string> CertificateAuthority::Rotate(
    const std::function<absl::StatusOr<CaState>(CaState, std::string* message)>& change) {
  if (plugin_) {
    return absl::FailedPreconditionError(
        "a plug-in CA is rotated by the operator: replace its files and restart remora-control");
  }
  absl::MutexLock rotate(&rotate_mu_);
  std::string message;
  absl::StatusOr<CaState> stored =
      store_->Update([&](CaState state) { return change(std::move(state), &message); });
  if (!stored.ok()) return stored.status();
  if (absl::Status s = Install(*stored); !s.ok()) return s;
  return message;
}

namespace {

std::string FingerprintOf(const CaRootRecord& r) {
  absl::StatusOr<std::string> fp = PemFingerprint(r.cert_pem);
  return fp.ok() ? *fp : std::string("(unreadable)");
}

}  // namespace

absl::StatusOr<CaState> CertificateAuthority::AddStep(CaState state, absl::Time now,
                                                      std::string* message) {
  {
    if (state.roots.size() >= 2) {
      return absl::FailedPreconditionError(
          "a rotation is already in progress; finish it with the next steps (switch, retire)");
    }
    absl::StatusOr<CaRootRecord> root = NewRoot(now);
    if (!root.ok()) return root.status();
    root->in_bundle = true;
    *message =
        absl::StrCat("added root ", FingerprintOf(*root),
                     " to every trust bundle; the old root still signs. Next, once every proxy has "
                     "the new bundle (remoractl proxy-status): remoractl ca rotate --step=switch");
    state.roots.push_back(std::move(*root));
    return state;
  }
}

absl::StatusOr<CaState> CertificateAuthority::SwitchStep(CaState state, std::string* message) {
  {
    if (state.roots.size() < 2 || state.roots.back().signing) {
      return absl::FailedPreconditionError(
          "nothing to switch to: run remoractl ca rotate --step=add first");
    }
    state.roots.front().signing = false;
    state.roots.back().signing = true;
    *message = absl::StrCat("root ", FingerprintOf(state.roots.back()),
                            " now signs; proxies renew onto it at their next rotation. Once every "
                            "certificate from the old root has been renewed: remoractl ca rotate "
                            "--step=retire");
    return state;
  }
}

absl::StatusOr<CaState> CertificateAuthority::RetireStep(CaState state, std::string* message) {
  {
    if (state.roots.size() < 2 || !state.roots.back().signing) {
      return absl::FailedPreconditionError(
          "nothing to retire: the new root must sign first (remoractl ca rotate --step=switch)");
    }
    const std::string old = FingerprintOf(state.roots.front());
    state.roots.erase(state.roots.begin());
    *message = absl::StrCat("retired root ", old, "; trust bundles now hold only ",
                            FingerprintOf(state.roots.front()));
    return state;
  }
}

absl::StatusOr<std::string> CertificateAuthority::RotateAdd(absl::Time now) {
  return Rotate(
      [&](CaState state, std::string* message) { return AddStep(std::move(state), now, message); });
}

absl::StatusOr<std::string> CertificateAuthority::RotateSwitch() {
  return Rotate(
      [&](CaState state, std::string* message) { return SwitchStep(std::move(state), message); });
}

absl::StatusOr<std::string> CertificateAuthority::RotateRetire() {
  return Rotate(
      [&](CaState state, std::string* message) { return RetireStep(std::move(state), message); });
}

absl::StatusOr<std::string> CertificateAuthority::RotateNext(absl::Time now) {
  // Decided on the stored state, which another replica may have moved on.
  return Rotate([&](CaState state, std::string* message) -> absl::StatusOr<CaState> {
    if (state.roots.size() < 2) return AddStep(std::move(state), now, message);
    if (!state.roots.back().signing) return SwitchStep(std::move(state), message);
    return RetireStep(std::move(state), message);
  });
}

}  // namespace remora::certs
