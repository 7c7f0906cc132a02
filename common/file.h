// Whole-file reads and crash-safe whole-file writes.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace remora {

// Reads a whole file; NotFound / PermissionDenied / Unavailable name the path and the reason.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Replaces `path` atomically with `data` and file mode `mode`: writes a temporary file beside it,
// fsyncs it, renames it over `path` and fsyncs the directory, so after a crash the file holds
// either the old or the new content, never a mix.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, int mode);

}  // namespace remora
