// Fuzz target: certificate, key, CSR and bundle parsing of untrusted PEM, plus the SVID checks
// and the workload binding on whatever certificate parses.
#include <cstdint>

#include "absl/time/clock.h"
#include "certs/pem.h"
#include "certs/svid.h"
#include "certs/trust_bundle.h"
#include "certs/workload_binding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace remora::certs;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<CertChain> chain = ParseCertificates(text, "fuzz");
  if (chain.ok()) {
    (void)CheckSvidLeaf((*chain)[0].get(), "cluster.local");
    (void)WorkloadBinding((*chain)[0].get());
    absl::StatusOr<TrustBundle> bundle = TrustBundle::FromPem(text, "fuzz");
    if (bundle.ok()) (void)VerifySvid(*chain, *bundle, "cluster.local", absl::Now());
  }
  (void)ParsePrivateKey(text, "fuzz");
  (void)ParseCsr(text, "fuzz");
  return 0;
}
