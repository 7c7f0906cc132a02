// The path a policy matches, derived from an HTTP request target. One function, used by the proxy
// on every request and by `remoractl authz check`/`test` on the request they are given, so the
// offline answer is the proxy's answer. A pure function over untrusted input (fuzzed through
// //proxy:request_head_fuzz).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace remora::filters {

// Normalizes a request target's path the way policies see it (and the app then receives it):
// percent-decodes unreserved characters, refuses malformed escapes, removes "." and ".."
// segments (RFC 3986 5.2.4) and merges repeated slashes. The query string is kept as is. An
// absolute-form target ("http://host/p") becomes its path; `authority`, when not null, receives
// its host. Refuses (InvalidArgument) a fragment, control characters, and a dot or empty segment
// carrying ";" parameters ("/public/..;/admin"): Tomcat-style servers drop the parameters before
// resolving dot segments, so they would read ".." where the policy read a name.
absl::StatusOr<std::string> NormalizeTarget(absl::string_view target, std::string* authority);

}  // namespace remora::filters
