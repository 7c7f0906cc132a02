// Runs a real remora-proxy process for a test: writes its YAML, starts it, learns its bound ports,
// and offers its admin API and log.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "certs/testing/test_pki.h"
#include "tests/support/process.h"

namespace remora::testing {

class ProxyProcess {
 public:
  // Starts `remora-proxy --config=<dir>/<name>.yaml` and waits until every listener is bound.
  static absl::StatusOr<std::unique_ptr<ProxyProcess>> Start(const std::string& dir,
                                                             const std::string& name,
                                                             const std::string& yaml);

  // "127.0.0.1:port" of a listener ("inbound", "outbound", "admin", ...).
  std::string Address(const std::string& listener) const;
  std::string Log() const { return process_.Log(); }
  const std::string& log_path() const { return process_.log_path(); }
  Subprocess& process() { return process_; }

  // GET on the admin listener; returns "<status> <body>" e.g. "200 ready\n".
  absl::StatusOr<std::string> AdminGet(const std::string& path) const;

 private:
  ProxyProcess(Subprocess process, std::map<std::string, std::string> addresses)
      : process_(std::move(process)), addresses_(std::move(addresses)) {}
  Subprocess process_;
  std::map<std::string, std::string> addresses_;
};

// YAML for a proxy serving `files` with an inbound listener forwarding to `app` under `mode`
// (on the app's port), admin on an ephemeral port, metrics and health off. `extra` is appended.
std::string InboundConfig(const certs::testing::WrittenFiles& files, const std::string& app,
                          const std::string& mode, const std::string& extra = "");

// YAML for a proxy with an outbound listener whose destination is `target`, a mesh service at
// `target` served by `identities`.
std::string OutboundConfig(const certs::testing::WrittenFiles& files, const std::string& target,
                           const std::vector<std::string>& identities,
                           const std::string& extra = "");

}  // namespace remora::testing
