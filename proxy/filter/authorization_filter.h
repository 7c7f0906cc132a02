// Authorization as filters: one decision engine (filters::WorkloadPolicy, through
// proxy/authorize.h) behind a network filter and an HTTP filter, as Envoy's RBAC engine serves its
// network and HTTP RBAC filters. Each counts and logs its own denials.
#pragma once

#include "proxy/filter/http_filter.h"
#include "proxy/filter/network_filter.h"

namespace remora::proxy::filter {

// NetworkPolicy, PeerAuthentication and AuthorizationPolicy on the connection. On an inbound HTTP
// port only the connection-level layers (PeerAuthentication, NetworkPolicy): each request then
// meets AuthorizationPolicy in AuthorizationHttpFilter. Denials count authz_denied; the refusal
// reason is the deciding policy and, for denials, what each rule failed on.
class AuthorizationNetworkFilter : public NetworkFilter {
 public:
  FilterResult OnConnection(ConnectionContext& connection, const Snapshot& snapshot) override;
  // Re-decides with the new policy, and (inbound) what it says of this workload now (namespace,
  // labels from the registry). Stop: "policy changed: <deciding policy>".
  FilterResult OnConfigChange(ConnectionContext& connection, const Snapshot& snapshot) override;
};

// AuthorizationPolicy on each request: a denial is answered 403 "RBAC: access denied" (Envoy's
// RBAC filter body) and the connection stays usable; counts http_denied and authz_denied and logs
// "denied request ...".
class AuthorizationHttpFilter : public HttpFilter {
 public:
  FilterResult OnRequestHead(ConnectionContext& connection, HttpRequest& request,
                             const Snapshot& snapshot) override;
};

}  // namespace remora::proxy::filter
