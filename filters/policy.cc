#include "filters/policy.h"

#include <iterator>

namespace remora::filters {

const char* ToString(AuthzAction action) {
  switch (action) {
    case AuthzAction::kAllow:
      return "ALLOW";
    case AuthzAction::kDeny:
      return "DENY";
    case AuthzAction::kAudit:
      return "AUDIT";
  }
  return "?";
}

const char* ToString(MtlsMode mode) {
  switch (mode) {
    case MtlsMode::kUnset:
      return "UNSET";
    case MtlsMode::kDisable:
      return "DISABLE";
    case MtlsMode::kPermissive:
      return "PERMISSIVE";
    case MtlsMode::kStrict:
      return "STRICT";
  }
  return "?";
}

void PolicySet::Append(PolicySet other) {
  auto move_all = [](auto& into, auto& from) {
    into.insert(into.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
  };
  move_all(authorization_policies, other.authorization_policies);
  move_all(network_policies, other.network_policies);
  move_all(peer_authentications, other.peer_authentications);
}

}  // namespace remora::filters
