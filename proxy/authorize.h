// Asks the workload's policy about one connection or request, and logs what it said: denials
// with the deciding policy and the explanation, AUDIT matches, and dry-run would-be decisions.
#pragma once

#include <optional>
#include <string>

#include "certs/spiffe_id.h"
#include "filters/request.h"
#include "proxy/config/proxy_config.h"
#include "proxy/snapshot.h"

namespace remora::proxy {

// The attributes of an inbound connection to `app_port` from `peer`; `peer_id` is the verified
// SPIFFE ID, unset for plaintext. This is where the typed identity meets the policy engine's
// domain: its principal is the ID in Istio's form (without the scheme).
filters::RequestAttributes InboundAttributes(const Snapshot& snapshot, const tcp::endpoint& peer,
                                             const tcp::endpoint& local, uint16_t app_port,
                                             const InboundPort& port,
                                             const std::optional<certs::SpiffeId>& peer_id);

// The attributes of an outbound connection from this workload to `destination`.
filters::RequestAttributes OutboundAttributes(const Snapshot& snapshot, const tcp::endpoint& source,
                                              const tcp::endpoint& destination,
                                              const Service* service);

struct Verdict {
  bool allowed = true;
  std::string reason;       // one line: what decided
  std::string explanation;  // for denials: per rule, what failed (joined with " | ")
};

// Evaluates `request` against the snapshot's policy (none: allowed) and logs audits and dry-run
// outcomes under `component`.
Verdict Authorize(const Snapshot& snapshot, const filters::RequestAttributes& request,
                  const std::string& component);

// The connection-level layers only (PeerAuthentication, NetworkPolicy), for an HTTP port at
// accept time; AuthorizationPolicy then decides each request.
Verdict AuthorizeConnection(const Snapshot& snapshot, const filters::RequestAttributes& request,
                            const std::string& component);

}  // namespace remora::proxy
