#include "xds/server/serving_identity.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "common/file.h"
#include "common/log.h"

namespace remora::xds {

absl::Status ServingIdentity::Refresh(absl::Time now) {
  std::string signing_root;
  for (const certs::RootInfo& r : ca_.Roots()) {
    if (r.signing) signing_root = r.fingerprint;
  }
  const std::string bundle = absl::StrJoin(ca_.BundlePem(), "");
  if (now < renew_at_ && signing_root == signing_root_ && bundle == bundle_)
    return absl::OkStatus();
  if (::mkdir(options_.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", options_.dir, ": ", std::strerror(errno)));
  }
  absl::StatusOr<certs::EvpPkeyPtr> key = certs::GenerateEcKey();
  if (!key.ok()) return key.status();
  absl::StatusOr<certs::IssuedCertificate> issued =
      ca_.IssueForKey(key->get(), options_.spiffe_id, options_.dns_names, options_.lifetime, now);
  if (!issued.ok()) return issued.status();
  // Bundle first, then key, then certificate: the provider reloads key and certificate as a pair,
  // and a client that sees the new certificate must already find its root trusted.
  absl::Status s = WriteFileAtomic(bundle_file(), bundle, 0644);
  if (s.ok()) s = WriteFileAtomic(key_file(), certs::PrivateKeyToPem(key->get()), 0600);
  if (s.ok()) s = WriteFileAtomic(cert_file(), absl::StrJoin(issued->chain_pem, ""), 0644);
  if (!s.ok()) return s;
  renew_at_ = now + options_.lifetime / 2;
  signing_root_ = signing_root;
  bundle_ = bundle;
  LOG_INFO(
      "control", "serving certificate ", issued->identity, " serial=", issued->serial_hex,
      " expires=", absl::FormatTime(absl::RFC3339_sec, issued->not_after, absl::UTCTimeZone()));
  return absl::OkStatus();
}

}  // namespace remora::xds
