// Helpers for reading untrusted YAML beyond common/yaml.h: a bound on what aliases can expand to,
// and a faithful conversion to JSON so YAML input can share a JSON reader.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace remora::filters {

// yaml-cpp shares aliased nodes, so a small document can stand for an exponential (or, with a
// self-reference, infinite) tree. Walks `node` once with a budget so every later walk is bounded:
// InvalidArgument past `max_nodes` nodes or `max_depth` levels.
absl::Status CheckYamlSize(const YAML::Node& node, size_t max_nodes = 200000, int max_depth = 64);

// YAML 1.2 core schema to JSON: a quoted scalar is a string; a plain one is null (~, null),
// a boolean (true/false), an integer (decimal digits), or else a string. Map keys must be scalars.
// InvalidArgument names `path`. Call CheckYamlSize first.
absl::StatusOr<nlohmann::json> YamlToJson(const YAML::Node& node, const std::string& path);

}  // namespace remora::filters
