// The closed vocabulary every filter answers in, network and HTTP alike (Envoy's
// FilterStatus/FilterHeadersStatus and sendLocalReply): go on to the next filter, stop the
// connection, or answer the request locally.
#pragma once

#include <string>
#include <utility>

#include "absl/status/status.h"

namespace remora::proxy::filter {

// A response the proxy writes itself instead of forwarding the request (HTTP filters only).
struct LocalReply {
  unsigned status = 0;  // 403
  std::string reason;   // "Forbidden"
  std::string body;     // "RBAC: access denied"
  // The connection cannot serve another request after this reply (a refused head leaves the
  // stream's framing unknown). Otherwise the HTTP path decides, as for any response.
  bool close = false;
};

class FilterResult {
 public:
  enum class Kind { kContinue, kStop, kLocalReply };

  static FilterResult Continue() { return FilterResult(Kind::kContinue, absl::OkStatus(), {}); }
  // The connection is refused (or closed, on a configuration change); `why` says what decided,
  // in the words of the refusal log line (PermissionDenied for policy).
  static FilterResult Stop(absl::Status why) {
    return FilterResult(Kind::kStop, std::move(why), {});
  }
  // The request is answered with `reply`; `why` as for Stop.
  static FilterResult Reply(LocalReply reply, absl::Status why) {
    return FilterResult(Kind::kLocalReply, std::move(why), std::move(reply));
  }

  Kind kind() const { return kind_; }
  bool proceeds() const { return kind_ == Kind::kContinue; }
  const absl::Status& why() const { return why_; }
  const LocalReply& reply() const { return reply_; }

 private:
  FilterResult(Kind kind, absl::Status why, LocalReply reply)
      : kind_(kind), why_(std::move(why)), reply_(std::move(reply)) {}

  Kind kind_;
  absl::Status why_;
  LocalReply reply_;
};

}  // namespace remora::proxy::filter
