#include "proxy/control/channel.h"

#include <random>

#include "certs/pem.h"

namespace remora::proxy::control {

std::shared_ptr<grpc::Channel> ControlPlaneChannel(const ControlPlaneConfig& config,
                                                   const std::string& roots_pem,
                                                   const tls::Identity* identity) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = roots_pem;
  if (identity != nullptr) {
    ssl.pem_cert_chain = certs::ToPem(identity->chain);
    ssl.pem_private_key = certs::PrivateKeyToPem(identity->key.get());
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(config.server_name);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Each channel is private: a new identity must not reuse a subchannel made with the old one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(config.address, grpc::SslCredentials(ssl), args);
}

absl::Duration Backoff(int attempt, absl::Duration initial, absl::Duration max) {
  absl::Duration ceiling = initial;
  for (int i = 0; i < attempt && ceiling < max; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, max);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> unit(0.5, 1.0);
  return ceiling * unit(rng);
}

}  // namespace remora::proxy::control
