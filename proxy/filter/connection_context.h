// One connection as the filters see it, from admission to close: who is calling (the verified
// peer identity, typed), from where, to where, over what. It lives on the connection's coroutine
// frame and travels by reference to every network filter, to the HTTP path and to each HTTP
// filter, so the identity the TLS handshake verified is the one policies, logs and
// x-forwarded-client-cert see, without a round trip through text.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "certs/spiffe_id.h"
#include "filters/request.h"
#include "proxy/connection.h"

namespace remora::proxy::filter {

class NetworkFilter;

struct ConnectionContext {
  ConnectionContext(const ListenerRuntime& listener, filters::Direction direction,
                    const tcp::endpoint& peer, const tcp::endpoint& local);

  const ListenerRuntime& listener;
  ListenerStats& stats;
  const std::string component;  // the log component, "proxy.<listener>"
  const filters::Direction direction;
  const tcp::endpoint peer;
  const tcp::endpoint local;

  // Inbound: the app's address; outbound: where the app meant to go. `destination_text` is how
  // refusal lines name it ("port 8080", "10.0.0.2:80").
  tcp::endpoint destination;
  std::string destination_text;
  // The mTLS-verified peer (inbound, after the handshake); unset for plaintext.
  std::optional<certs::SpiffeId> peer_identity;
  std::string sni;                                       // outbound: the server name sent, if any
  filters::Protocol protocol = filters::Protocol::kTcp;  // as the port or service declares it
  bool plaintext = false;                                // inbound: served without mTLS

  // What policies see of the connection, built once at admission from the fields above (see
  // proxy/authorize.h); an HTTP request adds its own fields to a copy.
  filters::RequestAttributes attributes;
  // The network filters that admitted the connection: they re-check it when the configuration
  // changes (Worker::Reauthorize). Empty until admitted.
  std::span<NetworkFilter* const> admitted_by;

  // The peer identity as logged: the SPIFFE ID, or "-" for none.
  std::string IdentityForLog() const;
  // "from=<peer> to=<destination>[ peer_identity=...]" for the line that closes the connection.
  std::string Who() const;
};

}  // namespace remora::proxy::filter
