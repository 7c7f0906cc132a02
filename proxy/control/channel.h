// gRPC channels from the proxy to the control plane: TLS trusting the current bundle, checking
// the control plane's name, presenting the proxy's own certificate once it has one.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "proxy/config/proxy_config.h"
#include "proxy/tls/identity.h"

namespace remora::proxy::control {

// `roots_pem` verifies the control plane; with `identity` the channel authenticates as the
// workload (xDS requires it), without it only the bootstrap token does (CreateCertificate).
std::shared_ptr<grpc::Channel> ControlPlaneChannel(const ControlPlaneConfig& config,
                                                   const std::string& roots_pem,
                                                   const tls::Identity* identity);

// Full jitter on exponential backoff: a fleet restarting together does not retry in lockstep.
absl::Duration Backoff(int attempt, absl::Duration initial, absl::Duration max);

}  // namespace remora::proxy::control
