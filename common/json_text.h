// Text on its way into JSON. JSON text is Unicode (RFC 8259 section 8.1: UTF-8 between
// systems), and nlohmann's dump() throws type_error.316 on a string that is not well-formed UTF-8,
// so every string that came from input is either checked at the edge where it enters (CheckUtf8,
// with a message naming the input) or serialized with DumpJson, which never throws.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace remora {

// The offset of the first byte where `text` stops being well-formed UTF-8, or nullopt when all of
// it is. Well-formed as RFC 3629 section 4 and Unicode's Table 3-7 define it, exactly what
// nlohmann's serializer accepts: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
// U+10FFFF, no truncated sequence.
std::optional<size_t> FindInvalidUtf8(absl::string_view text);

// OK, or InvalidArgument "<what>: byte 0xCF at offset 1 is not valid UTF-8".
absl::Status CheckUtf8(absl::string_view text, absl::string_view what);

// value.dump(indent) that cannot throw: bytes that are not UTF-8 become U+FFFD. For output whose
// strings were not (or could not be) checked at an edge: logs, explanations, error replies.
template <typename BasicJson>
std::string DumpJson(const BasicJson& value, int indent = -1) {
  return value.dump(indent, ' ', /*ensure_ascii=*/false, BasicJson::error_handler_t::replace);
}

}  // namespace remora
