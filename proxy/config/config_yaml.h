// Reads the proxy's static YAML configuration (see examples/proxy-static.yaml) into ProxyConfig.
// A pure function of the text: every problem comes back as InvalidArgument with the field path.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proxy/config/proxy_config.h"

namespace remora::proxy {

absl::StatusOr<ProxyConfig> ParseProxyConfigYaml(absl::string_view text);

}  // namespace remora::proxy
