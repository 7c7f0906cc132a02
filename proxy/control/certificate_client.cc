#include "proxy/control/certificate_client.h"

#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "certs/cert_info.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "common/file.h"
#include "common/log.h"
#include "istio/v1/auth/ca.grpc.pb.h"
#include "proxy/control/channel.h"

namespace remora::proxy::control {
namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

}  // namespace

CertificateClient::CertificateClient(ControlPlaneConfig config, std::string trust_domain,
                                     std::string spiffe_id, OnIdentity on_identity,
                                     ProxyStats& stats)
    : config_(std::move(config)),
      trust_domain_(std::move(trust_domain)),
      spiffe_id_(std::move(spiffe_id)),
      on_identity_(std::move(on_identity)),
      stats_(stats) {}

CertificateClient::~CertificateClient() { Stop(); }

absl::Status CertificateClient::Start() {
  absl::StatusOr<std::string> pem = ReadFile(config_.ca_file);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<certs::TrustBundle> bundle =
      certs::TrustBundle::FromPem(*pem, absl::StrCat("control_plane.ca_file ", config_.ca_file));
  if (!bundle.ok()) return bundle.status();
  {
    absl::MutexLock lock(&mu_);
    bundle_ = std::move(*bundle);
  }
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void CertificateClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const tls::Identity> CertificateClient::current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

std::string CertificateClient::RootsPem() const {
  absl::MutexLock lock(&mu_);
  return bundle_ ? bundle_->ToPem() : "";
}

void CertificateClient::Publish(std::shared_ptr<const tls::Identity> identity) {
  current_ = identity;
  stats_.identity_updates.Inc();
  on_identity_(std::move(identity));
}

void CertificateClient::SetBundle(certs::TrustBundle bundle) {
  absl::MutexLock lock(&mu_);
  if (bundle_ && bundle_->ToPem() == bundle.ToPem()) return;
  bundle_ = std::move(bundle);
  LOG_INFO("proxy.identity", "trust bundle updated: ", bundle_->roots().size(), " root(s)");
  if (current_ == nullptr) return;
  absl::StatusOr<certs::TrustBundle> copy = certs::TrustBundle::FromPem(bundle_->ToPem(), "bundle");
  absl::StatusOr<std::shared_ptr<const tls::Identity>> identity =
      tls::MakeIdentity(certs::CopyChain(current_->chain), certs::UpRef(current_->key.get()),
                        std::move(*copy), trust_domain_, absl::Now(), current_->source);
  if (!identity.ok()) {
    // The new bundle no longer trusts our certificate (its root was retired before we renewed):
    // keep serving with the old pairing until the renewal, which now happens at once.
    stats_.identity_update_failures.Inc();
    LOG_WARN("proxy.identity", "new trust bundle does not cover the current certificate (",
             identity.status().message(), "); renewing now");
    renew_now_ = true;
    return;
  }
  Publish(std::move(*identity));
}

absl::StatusOr<absl::Time> CertificateClient::RequestOnce() {
  absl::StatusOr<std::string> token_text = ReadFile(config_.token_file);
  if (!token_text.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("bootstrap token: ", token_text.status().message()));
  }
  const std::string token(absl::StripAsciiWhitespace(*token_text));
  absl::StatusOr<certs::EvpPkeyPtr> key = certs::GenerateEcKey();
  if (!key.ok()) return key.status();
  absl::StatusOr<certs::X509ReqPtr> csr = certs::CreateCsr(key->get(), spiffe_id_);
  if (!csr.ok()) return csr.status();

  std::string roots;
  std::shared_ptr<const tls::Identity> current;
  {
    absl::MutexLock lock(&mu_);
    roots = bundle_->ToPem();
    current = current_;
  }
  auto stub = istio::v1::auth::IstioCertificateService::NewStub(
      ControlPlaneChannel(config_, roots, current.get()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  istio::v1::auth::IstioCertificateRequest request;
  request.set_csr(certs::ToPem(csr->get()));
  request.set_validity_duration(absl::ToInt64Seconds(config_.cert_lifetime));
  istio::v1::auth::IstioCertificateResponse response;
  grpc::Status status = stub->CreateCertificate(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(
        static_cast<absl::StatusCode>(status.error_code()),
        absl::StrCat("CreateCertificate at ", config_.address, ": ", status.error_message()));
  }
  std::string chain_pem;
  // The last element is the CA's root: trust comes from the bundle, never from a response.
  for (int i = 0; i + 1 < response.cert_chain_size(); ++i) chain_pem += response.cert_chain(i);
  if (response.cert_chain_size() == 1) chain_pem = response.cert_chain(0);
  absl::StatusOr<certs::CertChain> chain = certs::ParseCertificates(chain_pem, "issued chain");
  if (!chain.ok()) return chain.status();
  absl::MutexLock lock(&mu_);
  absl::StatusOr<certs::TrustBundle> bundle =
      certs::TrustBundle::FromPem(bundle_->ToPem(), "bundle");
  absl::StatusOr<std::shared_ptr<const tls::Identity>> identity =
      tls::MakeIdentity(std::move(*chain), std::move(*key), std::move(*bundle), trust_domain_,
                        absl::Now(), absl::StrCat("CA ", config_.address));
  if (!identity.ok()) return identity.status();
  if ((*identity)->id.str() != spiffe_id_) {
    return absl::PermissionDeniedError(absl::StrCat("the CA issued ", (*identity)->id.str(),
                                                    " but this proxy serves ", spiffe_id_));
  }
  const absl::Time not_after = (*identity)->leaf.not_after;
  LOG_INFO("proxy.identity", "certificate issued for ", spiffe_id_,
           " serial=", (*identity)->leaf.serial_hex, " expires=", Rfc3339(not_after));
  Publish(std::move(*identity));
  return not_after;
}

void CertificateClient::Loop() {
  int failures = 0;
  absl::Time next = absl::Now();
  bool expired_logged = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || renew_now_; };
      mu_.AwaitWithDeadline(absl::Condition(&wake), next);
      if (stopping_) return;
      if (renew_now_) next = absl::Now();
      renew_now_ = false;
    }
    if (absl::Now() < next) continue;
    const absl::Time issued_at = absl::Now();
    absl::StatusOr<absl::Time> expiry = RequestOnce();
    if (expiry.ok()) {
      failures = 0;
      expired_logged = false;
      // Renew at half the lifetime, +-10% jitter.
      const absl::Duration lifetime = *expiry - issued_at;
      thread_local std::mt19937_64 rng{std::random_device{}()};
      std::uniform_real_distribution<double> jitter(0.4, 0.6);
      next = issued_at + lifetime * jitter(rng);
      LOG_INFO("proxy.identity", "next renewal at ", Rfc3339(next));
      continue;
    }
    stats_.identity_update_failures.Inc();
    const absl::Duration wait = Backoff(failures++, config_.retry_initial, config_.retry_max);
    next = absl::Now() + wait;
    std::shared_ptr<const tls::Identity> current = this->current();
    if (current != nullptr && current->leaf.not_after <= absl::Now() && !expired_logged) {
      expired_logged = true;
      LOG_ERROR("proxy.identity", "certificate expired at ", Rfc3339(current->leaf.not_after),
                " and no new one was issued; refusing new mTLS connections until the CA answers");
    }
    LOG_WARN("proxy.identity", "certificate request failed (attempt ", failures,
             "): ", expiry.status().message(), "; retrying in ", absl::FormatDuration(wait));
  }
}

}  // namespace remora::proxy::control
