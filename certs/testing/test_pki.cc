#include "certs/testing/test_pki.h"

#include <cstdlib>

#include "certs/cert_info.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "common/file.h"

namespace remora::certs::testing {
namespace {

void CheckOk(const absl::Status& s) {
  if (!s.ok()) {
    fprintf(stderr, "test PKI: %s\n", std::string(s.message()).c_str());
    std::abort();
  }
}

template <typename T>
T OrDie(absl::StatusOr<T> v) {
  if (!v.ok()) {
    fprintf(stderr, "test PKI: %s\n", std::string(v.status().message()).c_str());
    std::abort();
  }
  return std::move(*v);
}

}  // namespace

Authority MakeRoot(absl::string_view trust_domain) {
  return OrDie(Authority::NewRoot(trust_domain, absl::Now(), absl::Hours(24 * 365 * 10)));
}

Workload MakeWorkload(const Authority& ca, absl::string_view ns, absl::string_view sa,
                      absl::Duration lifetime) {
  EvpPkeyPtr key = OrDie(GenerateEcKey());
  // Test roots carry their trust domain as URI SAN spiffe://<td> (see Authority::NewRoot).
  SpiffeId root_id = OrDie(SpiffeId::Parse(UriSans(ca.anchor()).at(0)));
  SpiffeId id = OrDie(SpiffeId::ForServiceAccount(root_id.trust_domain(), ns, sa));
  X509Ptr leaf = OrDie(ca.IssueSvid(key.get(), id, absl::Now(), lifetime));
  return Workload{ca.PresentedChain(std::move(leaf)), std::move(key)};
}

Workload MakeCustom(const Authority& ca, const CertBuilder& builder) {
  EvpPkeyPtr key = OrDie(GenerateEcKey());
  X509Ptr leaf = OrDie(builder.Sign(key.get(), ca.cert(), ca.key()));
  return Workload{ca.PresentedChain(std::move(leaf)), std::move(key)};
}

WrittenFiles WriteFiles(const std::string& dir, const std::string& name, const Workload& w,
                        const std::string& bundle_pem) {
  WrittenFiles files{dir + "/" + name + ".crt", dir + "/" + name + ".key",
                     dir + "/" + name + "-bundle.pem"};
  CheckOk(WriteFileAtomic(files.cert, ToPem(w.chain), 0644));
  CheckOk(WriteFileAtomic(files.key, PrivateKeyToPem(w.key.get()), 0600));
  CheckOk(WriteFileAtomic(files.bundle, bundle_pem, 0644));
  return files;
}

}  // namespace remora::certs::testing
