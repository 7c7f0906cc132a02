// Everything a connection needs to decide and act, frozen at one moment: configuration, TLS
// contexts for the current identity, and lookup indexes. Immutable and shared; a new one replaces
// the old for new connections while live ones keep theirs.
#pragma once

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "filters/engine.h"
#include "proxy/config/proxy_config.h"
#include "proxy/tls/tls_context.h"

namespace remora::proxy {

class Snapshot {
 public:
  // `policy` null: no authorization policy is in force (everything the mTLS checks admit passes).
  // `configured` false: the proxy has not applied its first complete configuration from the
  // control plane, and serves nothing (fail closed).
  Snapshot(std::shared_ptr<const ProxyConfig> config, std::shared_ptr<const tls::TlsContexts> tls,
           std::shared_ptr<const filters::WorkloadPolicy> policy, filters::Labels labels,
           uint64_t generation, bool configured = true);

  const ProxyConfig& config() const { return *config_; }
  std::shared_ptr<const ProxyConfig> config_ptr() const { return config_; }
  // Null while the proxy holds no usable certificate: mTLS is then refused (fail closed).
  const std::shared_ptr<const tls::TlsContexts>& tls() const { return tls_; }
  uint64_t generation() const { return generation_; }
  const filters::WorkloadPolicy* policy() const { return policy_.get(); }
  bool configured() const { return configured_; }
  // This workload's namespace and labels, as policies see them.
  const std::string& ns() const { return ns_; }
  const filters::Labels& labels() const { return labels_; }

  // The mesh service whose address the app dialled, or null.
  const Service* FindService(const tcp::endpoint& destination) const;

 private:
  std::shared_ptr<const ProxyConfig> config_;
  std::shared_ptr<const tls::TlsContexts> tls_;
  std::shared_ptr<const filters::WorkloadPolicy> policy_;
  filters::Labels labels_;
  std::string ns_;
  uint64_t generation_;
  bool configured_;
  absl::flat_hash_map<std::string, const Service*> services_by_address_;
};

}  // namespace remora::proxy
