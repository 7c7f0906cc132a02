#include "ctl/cert_command.h"

#include <sys/stat.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "certs/authority.h"
#include "certs/cert_info.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "common/file.h"
#include "common/flags.h"

namespace remora::ctl {
namespace {

constexpr char kUsage[] =
    "remoractl cert: create a root CA and issue workload certificates as files, for running\n"
    "remora-proxy from a static configuration without a control plane.\n"
    "\n"
    "usage:\n"
    "  remoractl cert root  --out-dir=DIR [--trust-domain=cluster.local] [--lifetime=87600h]\n"
    "      writes DIR/root.crt and DIR/root.key (mode 0600)\n"
    "  remoractl cert issue --ca-dir=DIR --namespace=NS --service-account=SA --out-dir=OUT\n"
    "                       [--name=NAME] [--trust-domain=cluster.local] [--lifetime=24h]\n"
    "      writes OUT/NAME.crt (chain), OUT/NAME.key (0600) and OUT/bundle.pem (the root)";

int Root(const std::string& out_dir, const std::string& trust_domain, absl::Duration lifetime) {
  if (absl::Status s = certs::ValidateTrustDomain(trust_domain); !s.ok()) {
    return Fail(kExitUsage, absl::StrCat("--trust-domain: ", s.message()));
  }
  ::mkdir(out_dir.c_str(), 0755);
  absl::StatusOr<certs::Authority> ca =
      certs::Authority::NewRoot(trust_domain, absl::Now(), lifetime);
  if (!ca.ok()) return Fail(kExitFailure, std::string(ca.status().message()));
  const std::string crt = out_dir + "/root.crt";
  const std::string key = out_dir + "/root.key";
  absl::Status s = WriteFileAtomic(key, certs::PrivateKeyToPem(ca->key()), 0600);
  if (s.ok()) s = WriteFileAtomic(crt, certs::ToPem(ca->cert()), 0644);
  if (!s.ok()) return Fail(kExitFailure, std::string(s.message()));
  std::cout << "root CA for trust domain " << trust_domain << ": " << crt << " (key " << key
            << ")\n";
  return kExitOk;
}

int Issue(const std::string& ca_dir, const std::string& ns, const std::string& sa,
          const std::string& out_dir, std::string name, const std::string& trust_domain,
          absl::Duration lifetime) {
  absl::StatusOr<std::string> ca_pem = ReadFile(ca_dir + "/root.crt");
  absl::StatusOr<std::string> key_pem = ReadFile(ca_dir + "/root.key");
  if (!ca_pem.ok()) return Fail(kExitFailure, std::string(ca_pem.status().message()));
  if (!key_pem.ok()) return Fail(kExitFailure, std::string(key_pem.status().message()));
  absl::StatusOr<certs::Authority> ca = certs::Authority::FromPem(*ca_pem, *key_pem);
  if (!ca.ok()) return Fail(kExitFailure, std::string(ca.status().message()));
  absl::StatusOr<certs::SpiffeId> id = certs::SpiffeId::ForServiceAccount(trust_domain, ns, sa);
  if (!id.ok()) return Fail(kExitUsage, std::string(id.status().message()));
  absl::StatusOr<certs::EvpPkeyPtr> key = certs::GenerateEcKey();
  if (!key.ok()) return Fail(kExitFailure, std::string(key.status().message()));
  absl::StatusOr<certs::X509Ptr> leaf = ca->IssueSvid(key->get(), *id, absl::Now(), lifetime);
  if (!leaf.ok()) return Fail(kExitFailure, std::string(leaf.status().message()));
  if (name.empty()) name = sa;
  ::mkdir(out_dir.c_str(), 0755);
  certs::CertInfo info = certs::DescribeCertificate(leaf->get());
  certs::CertChain chain = ca->PresentedChain(std::move(*leaf));
  absl::Status s =
      WriteFileAtomic(out_dir + "/" + name + ".key", certs::PrivateKeyToPem(key->get()), 0600);
  if (s.ok()) s = WriteFileAtomic(out_dir + "/" + name + ".crt", certs::ToPem(chain), 0644);
  if (s.ok()) s = WriteFileAtomic(out_dir + "/bundle.pem", certs::ToPem(ca->anchor()), 0644);
  if (!s.ok()) return Fail(kExitFailure, std::string(s.message()));
  std::cout << id->str() << ": " << out_dir << "/" << name << ".crt serial=" << info.serial_hex
            << " expires="
            << absl::FormatTime(absl::RFC3339_sec, info.not_after, absl::UTCTimeZone()) << "\n";
  return kExitOk;
}

int Run(int argc, const char* const* argv) {
  std::string out_dir, ca_dir, ns, sa, name, trust_domain = "cluster.local";
  absl::Duration lifetime = absl::ZeroDuration();
  FlagSet flags("remoractl cert", kUsage);
  flags.String("out-dir", &out_dir, "directory to write into");
  flags.String("ca-dir", &ca_dir, "directory holding root.crt and root.key (issue)");
  flags.String("namespace", &ns, "workload namespace (issue)");
  flags.String("service-account", &sa, "workload service account (issue)");
  flags.String("name", &name, "file name stem (issue; default: the service account)");
  flags.String("trust-domain", &trust_domain, "SPIFFE trust domain");
  flags.Duration("lifetime", &lifetime, "validity (default 87600h for root, 24h for issue)");
  std::vector<std::string> args;
  if (std::optional<int> done = ParseFlags(flags, argc, argv, &args)) return *done;
  if (args.size() != 1)
    return Fail(kExitUsage, "expected `root` or `issue`; see remoractl cert --help");
  if (out_dir.empty()) return Fail(kExitUsage, "--out-dir is required");
  if (args[0] == "root") {
    return Root(out_dir, trust_domain,
                lifetime == absl::ZeroDuration() ? absl::Hours(87600) : lifetime);
  }
  if (args[0] == "issue") {
    if (ca_dir.empty() || ns.empty() || sa.empty()) {
      return Fail(kExitUsage, "issue needs --ca-dir, --namespace and --service-account");
    }
    return Issue(ca_dir, ns, sa, out_dir, name, trust_domain,
                 lifetime == absl::ZeroDuration() ? absl::Hours(24) : lifetime);
  }
  return Fail(kExitUsage, absl::StrCat("unknown cert action \"", args[0], "\"; use root or issue"));
}

}  // namespace

Command CertCommand() {
  return {"cert", "create a root CA and issue workload certificates as files (offline)", Run};
}

}  // namespace remora::ctl
