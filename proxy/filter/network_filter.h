// A network filter sees one connection once its transport is settled (the peer verified by mTLS,
// or plaintext), before anything reaches upstream, and again whenever the configuration changes
// under it: policies are live values, as in linkerd2-proxy, and Envoy drains the connections of a
// filter chain a configuration removes. Filters are stateless and shared by every connection;
// what they need of a connection is in its ConnectionContext.
#pragma once

#include <span>

#include "proxy/filter/connection_context.h"
#include "proxy/filter/filter_result.h"
#include "proxy/snapshot.h"

namespace remora::proxy::filter {

class NetworkFilter {
 public:
  virtual ~NetworkFilter() = default;

  // Called once per connection, in chain order, with the configuration in force now. Continue
  // admits it to the next filter; Stop refuses it: the caller logs the refusal (listener, peer,
  // destination, identity, `why`) and closes. A filter counts its own stats. Never LocalReply.
  virtual FilterResult OnConnection(ConnectionContext& connection, const Snapshot& snapshot) = 0;

  // Called on every admitted connection when a new configuration lands, on the worker's thread.
  // Stop closes the connection ("closing connection ... reason=<why>"). Default: Continue.
  virtual FilterResult OnConfigChange(ConnectionContext& connection, const Snapshot& snapshot);
};

// Runs `chain` over a new connection; the first result that is not Continue, else Continue. On
// Continue the connection remembers the chain for OnConfigChange.
FilterResult RunOnConnection(std::span<NetworkFilter* const> chain, ConnectionContext& connection,
                             const Snapshot& snapshot);

// Runs the chain that admitted `connection` against a new configuration; the first Stop.
FilterResult RunOnConfigChange(ConnectionContext& connection, const Snapshot& snapshot);

}  // namespace remora::proxy::filter
