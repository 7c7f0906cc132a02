// A pre-parse guard for untrusted JSON: nlohmann parses iteratively, but copying, comparing and
// destroying a parsed value recurse, so absurdly nested input is refused before it is parsed.
#pragma once

#include "absl/strings/string_view.h"

namespace remora {

// True when `text` nests arrays/objects more than `limit` deep (brackets inside strings do not
// count). Stops scanning as soon as the limit is passed.
bool JsonNestsDeeperThan(absl::string_view text, int limit);

}  // namespace remora
