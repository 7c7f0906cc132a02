// Typed, path-reporting reads of a Pod held as JSON, and JSON Pointer (RFC 6901) escaping. The
// pod comes from the API server before validation (mutating webhooks run first) or from a file, so
// every read checks the type and a mismatch is an error naming the field, never an exception.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace remora::inject {

using Json = nlohmann::json;
// Values the injector builds keep their keys in the order written, so patches and printed
// manifests read naturally.
using OrderedJson = nlohmann::ordered_json;

// `parent[key]` when it is an object; nullptr when absent or null; an error for any other type.
absl::StatusOr<const Json*> ObjectField(const Json& parent, absl::string_view key,
                                        absl::string_view path);
// `parent[key]` when it is an array; nullptr when absent or null; an error for any other type.
absl::StatusOr<const Json*> ArrayField(const Json& parent, absl::string_view key,
                                       absl::string_view path);
// `parent[key]` as a string; "" when absent or null; an error for any other type.
absl::StatusOr<std::string> StringField(const Json& parent, absl::string_view key,
                                        absl::string_view path);
// `parent[key]` as a bool; false when absent or null.
absl::StatusOr<bool> BoolField(const Json& parent, absl::string_view key, absl::string_view path);
// A map of strings (labels, annotations); empty when absent or null.
absl::StatusOr<std::map<std::string, std::string>> StringMapField(const Json& parent,
                                                                  absl::string_view key,
                                                                  absl::string_view path);

// One reference token of a JSON Pointer: "~" -> "~0", "/" -> "~1" (RFC 6901 section 3).
std::string EscapePointerToken(absl::string_view token);

}  // namespace remora::inject
