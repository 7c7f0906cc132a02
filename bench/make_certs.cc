// Certificates for the benchmark: one ECDSA P-256 root and two workload certificates (client and
// server side), written as PEM files every contestant can load.
//
// The leaves are X.509-SVIDs (exactly one spiffe:// URI SAN, what remora-proxy requires) that also
// carry one DNS SAN: nginx's proxy_ssl_verify always checks a host name and cannot be told to
// skip it, so without a DNS name nginx could not verify the server at all. Every contestant loads
// the same files.
//
// usage: make_certs OUT_DIR
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/time/clock.h"
#include "certs/authority.h"
#include "certs/cert_builder.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "common/file.h"

namespace remora::bench {
namespace {

bool Write(const std::string& path, const std::string& text, mode_t mode) {
  absl::Status s = WriteFileAtomic(path, text, mode);
  if (!s.ok()) std::fprintf(stderr, "make_certs: %s\n", std::string(s.message()).c_str());
  return s.ok();
}

// Writes <dir>/<name>.crt, <name>.key and <name>.pem (certificate then key, for HAProxy's `crt`).
bool Leaf(const certs::Authority& ca, const std::string& dir, const std::string& name,
          const std::string& spiffe_id, const std::string& dns) {
  absl::StatusOr<certs::EvpPkeyPtr> key = certs::GenerateEcKey();
  if (!key.ok()) return false;
  absl::StatusOr<certs::X509Ptr> leaf =
      certs::CertBuilder()
          .AddUriSan(spiffe_id)
          .AddDnsSan(dns)
          .Validity(absl::Now() - absl::Hours(1), absl::Now() + absl::Hours(24 * 30))
          .Ca(false)
          .KeyUsage("critical,digitalSignature,keyEncipherment")
          .ExtKeyUsage("serverAuth,clientAuth")
          .Sign(key->get(), ca.cert(), ca.key());
  if (!leaf.ok()) {
    std::fprintf(stderr, "make_certs: %s\n", std::string(leaf.status().message()).c_str());
    return false;
  }
  const std::string crt = certs::ToPem(leaf->get());
  const std::string pem_key = certs::PrivateKeyToPem(key->get());
  return Write(dir + "/" + name + ".crt", crt, 0644) &&
         Write(dir + "/" + name + ".key", pem_key, 0600) &&
         Write(dir + "/" + name + ".pem", crt + pem_key, 0600);
}

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_certs OUT_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  absl::StatusOr<certs::Authority> ca =
      certs::Authority::NewRoot("cluster.local", absl::Now(), absl::Hours(24 * 365));
  if (!ca.ok()) {
    std::fprintf(stderr, "make_certs: %s\n", std::string(ca.status().message()).c_str());
    return 1;
  }
  const bool ok =
      Write(dir + "/ca.crt", certs::ToPem(ca->anchor()), 0644) &&
      Leaf(*ca, dir, "client", "spiffe://cluster.local/ns/bench/sa/client", "client.bench") &&
      Leaf(*ca, dir, "web", "spiffe://cluster.local/ns/bench/sa/web", "web.bench");
  if (ok)
    std::printf("certificates in %s: ca.crt, client.{crt,key,pem}, web.{crt,key,pem}\n",
                dir.c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace remora::bench

int main(int argc, char** argv) { return remora::bench::Main(argc, argv); }
