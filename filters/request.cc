#include "filters/request.h"

#include "absl/strings/strip.h"

namespace remora::filters {

const char* ToString(Direction direction) {
  return direction == Direction::kInbound ? "inbound" : "outbound";
}

const char* ToString(Protocol protocol) { return protocol == Protocol::kHttp ? "http" : "tcp"; }

std::string NormalizePrincipal(absl::string_view spiffe_id) {
  absl::ConsumePrefix(&spiffe_id, "spiffe://");
  return std::string(spiffe_id);
}

absl::string_view PrincipalNamespace(absl::string_view principal) {
  // The trust domain comes first and cannot hold '/', so the first "/ns/" starts the namespace.
  const size_t at = principal.find("/ns/");
  if (at == absl::string_view::npos) return {};
  absl::string_view rest = principal.substr(at + 4);
  // Istio matches namespaces with the regex ".*/ns/<ns>/.*": a '/' must follow the namespace.
  const size_t end = rest.find('/');
  if (end == absl::string_view::npos) return {};
  return rest.substr(0, end);
}

}  // namespace remora::filters
