// In-process PKI for tests: a root per trust domain and workload certificates of every shape,
// written to files when a test starts real processes.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "certs/authority.h"
#include "certs/cert_builder.h"
#include "certs/openssl_ptr.h"

namespace remora::certs::testing {

struct Workload {
  CertChain chain;  // leaf first
  EvpPkeyPtr key;
};

// A root CA for `trust_domain` valid for ten years.
Authority MakeRoot(absl::string_view trust_domain = "cluster.local");

// A valid SVID for spiffe://<td>/ns/<ns>/sa/<sa>, 24 hours.
Workload MakeWorkload(const Authority& ca, absl::string_view ns, absl::string_view sa,
                      absl::Duration lifetime = absl::Hours(24));

// A certificate from `builder` (anything goes: expired, two SANs, CA leaf...) signed by `ca`.
Workload MakeCustom(const Authority& ca, const CertBuilder& builder);

struct WrittenFiles {
  std::string cert;
  std::string key;
  std::string bundle;
};
// Writes chain, key and `bundle` (PEM of the trusted roots) as files named <dir>/<name>.{crt,key}
// and <dir>/<name>-bundle.pem.
WrittenFiles WriteFiles(const std::string& dir, const std::string& name, const Workload& w,
                        const std::string& bundle_pem);

}  // namespace remora::certs::testing
