// Fuzz target: a proxy's handling of what the control plane sends (xDS responses carrying
// remora.v1 resources) must never crash, whatever the bytes. The first byte picks the variant
// (even: state of the world, odd: delta); the rest is the response, serialized or in protobuf text
// format (the seeds).
#include <google/protobuf/text_format.h>

#include <cstdint>
#include <string>

#include "proxy/control/dynamic_config.h"
#include "proxy/control/xds_client.h"
#include "xds/view/resource_types.h"

namespace {

using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryResponse;

template <typename Response>
bool Parse(const std::string& bytes, Response* out) {
  return out->ParseFromString(bytes) || google::protobuf::TextFormat::ParseFromString(bytes, out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool delta_variant = (data[0] & 1) != 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  remora::proxy::control::DynamicConfig config(
      "shop/web-0", "spiffe://cluster.local/ns/shop/sa/web", "cluster.local", /*max_policies=*/8);
  std::vector<std::string> types;
  for (absl::string_view t : remora::xds::kAllTypes) types.emplace_back(t);
  remora::proxy::control::XdsProtocol protocol(envoy::config::core::v3::Node(), types);
  const remora::proxy::control::ApplyFn apply =
      [&](const remora::proxy::control::ReceivedUpdate& u) { return config.Apply(u); };
  if (delta_variant) {
    DeltaDiscoveryResponse delta;
    if (!Parse(bytes, &delta)) return 0;
    (void)protocol.OnResponse(delta, apply);
  } else {
    DiscoveryResponse sotw;
    if (!Parse(bytes, &sotw)) return 0;
    (void)protocol.OnResponse(sotw, apply);
  }
  // What was accepted must be usable: the proxy builds its configuration from it.
  (void)config.Effective(remora::proxy::ProxyConfig());
  (void)config.Policies();
  (void)config.Bundle();
  (void)config.complete();
  (void)config.Missing();
  (void)config.RootNamespace();
  return 0;
}
