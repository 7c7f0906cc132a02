// Reads request attributes from JSON, the REQUEST.json of `remoractl authz check`:
//   {"source": {"principal": "spiffe://cluster.local/ns/a/sa/b", "namespace": "a",
//               "ip": "10.0.0.5", "remote_ip": "203.0.113.9", "labels": {"app": "x"},
//               "namespace_labels": {"team": "y"}},
//    "destination": {"namespace": "b", "labels": {"app": "web"}, "namespace_labels": {},
//                    "ip": "10.0.1.7", "port": 8080, "port_name": "http",
//                    "protocol": "http" | "tcp"},
//    "request": {"method": "GET", "path": "/api", "host": "web.b.svc",
//                "headers": {"x-token": "t", "x-multi": ["a", "b"]}},
//    "connection": {"sni": "web.b.svc"},
//    "direction": "inbound" | "outbound"}
// Every field is optional (null means absent); the workload that selects policies is required
// (destination.namespace for inbound, source.namespace for outbound). protocol defaults to "http"
// when `request` is given, else "tcp". A pure function over untrusted input.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filters/request.h"

namespace remora::filters {

// InvalidArgument naming the field: `destination.port: must be an integer from 1 to 65535, not
// the string "80"`. Refuses unknown fields, more than 1 MiB and nesting deeper than 32.
absl::StatusOr<RequestAttributes> ParseRequestJson(absl::string_view text);

// The same over an already parsed value; `path` prefixes field names in errors
// ("cases[2].request").
absl::StatusOr<RequestAttributes> RequestFromJson(const nlohmann::json& value,
                                                  const std::string& path);

}  // namespace remora::filters
