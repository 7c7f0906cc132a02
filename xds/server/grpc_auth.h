// Who is calling a control-plane RPC: the bearer token in the "authorization" metadata, and the
// SPIFFE identity of a verified client certificate, if the caller presented one.
#pragma once

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "certs/spiffe_id.h"

namespace remora::xds {

// The token of "authorization: Bearer <token>", or NotFound naming the header.
absl::StatusOr<std::string> BearerToken(const grpc::ServerContextBase& context);

// The SPIFFE ID of the peer's verified certificate (mTLS), validated as an X.509-SVID leaf of
// `trust_domain`; NotFound when the peer presented none.
absl::StatusOr<certs::SpiffeId> PeerIdentity(const grpc::ServerContextBase& context,
                                             absl::string_view trust_domain);

// The workload the peer's verified certificate is bound to (certs/workload_binding.h): nullopt
// when it carries no binding, NotFound when the peer presented no certificate.
absl::StatusOr<std::optional<std::string>> PeerWorkload(const grpc::ServerContextBase& context);

// gRPC status with the same code and message.
grpc::Status ToGrpc(const absl::Status& status);

// Constant-time comparison for secrets.
bool SecretEquals(absl::string_view a, absl::string_view b);

}  // namespace remora::xds
