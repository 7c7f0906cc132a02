// What the control plane has told this proxy, one accepted version per resource. A resource that
// fails validation is refused on its own: its previous accepted version (if any) stays in force
// and every other resource of the update still applies.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "certs/trust_bundle.h"
#include "filters/policy.h"
#include "proxy/config/proxy_config.h"
#include "proxy/control/xds_client.h"
#include "remora/v1/resources.pb.h"

namespace remora::proxy::control {

class DynamicConfig {
 public:
  // `workload_key` is "<namespace>/<name>", `identity` the SPIFFE ID this proxy serves.
  DynamicConfig(std::string workload_key, std::string identity, std::string trust_domain,
                size_t max_policies);

  // Applies an update; returns the refused resources with the reason (the rest applied).
  std::vector<remora::v1::ResourceError> Apply(const ReceivedUpdate& update);

  // The static configuration with what the control plane sent laid over it: services, inbound
  // modes and protocols, the outbound policy.
  ProxyConfig Effective(const ProxyConfig& base) const;
  // Every accepted policy document, parsed.
  filters::PolicySet Policies() const;
  // The workload's labels, as the control plane's registry has them.
  filters::Labels Labels() const;
  std::optional<certs::TrustBundle> Bundle() const;
  bool has_workload() const { return workload_.has_value(); }

 private:
  struct Policy {
    remora::v1::AuthorizationPolicy proto;
    filters::PolicySet parsed;
  };

  // Validates one resource; returns its name, or why it is refused.
  absl::StatusOr<std::string> Accept(const std::string& type, const google::protobuf::Any& any);

  std::string workload_key_;
  std::string identity_;
  std::string trust_domain_;
  size_t max_policies_;
  std::optional<remora::v1::WorkloadSettings> workload_;
  std::optional<remora::v1::PeerAuthentication> peer_auth_;
  std::optional<remora::v1::TrustBundle> bundle_;
  std::map<std::string, remora::v1::Service> services_;
  std::map<std::string, Policy> policies_;
};

}  // namespace remora::proxy::control
