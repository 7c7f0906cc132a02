// Turns OpenSSL's thread-local error queue into words for a Status or a log line.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace remora::certs {

// Drains the calling thread's OpenSSL error queue: "reason (lib), reason (lib)", or "" if empty.
std::string DrainOpenSslErrors();

// `code` status "what: <drained OpenSSL errors>".
absl::Status OpenSslError(absl::StatusCode code, absl::string_view what);

}  // namespace remora::certs
