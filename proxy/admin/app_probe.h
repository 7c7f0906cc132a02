// Runs a rewritten kubelet probe against the app on the pod's loopback and answers the kubelet:
// HTTP probes pass the app's status through (200-399 succeed), TCP probes succeed when a
// connection opens. Every step is bounded by `timeout`.
#pragma once

#include "absl/time/time.h"
#include "http/http_server.h"
#include "proxy/config/proxy_config.h"

namespace remora::proxy::admin {

awaitable<http::Response> RunAppProbe(const AppProbe& probe, const http::Request& request,
                                      absl::Duration timeout);

}  // namespace remora::proxy::admin
