#include "filters/yaml_util.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/yaml.h"

namespace remora::filters {
namespace {

absl::Status Walk(const YAML::Node& node, size_t* budget, int depth, size_t max_nodes,
                  int max_depth) {
  if (depth > max_depth) {
    return absl::InvalidArgumentError(
        absl::StrCat("nesting deeper than ", max_depth, " levels (a self-referencing alias?)"));
  }
  if (*budget == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("more than ", max_nodes, " YAML nodes (aliases expanding?)"));
  }
  --*budget;
  if (node.IsSequence()) {
    for (const YAML::Node& child : node) {
      RETURN_IF_ERROR(Walk(child, budget, depth + 1, max_nodes, max_depth));
    }
  } else if (node.IsMap()) {
    for (const auto& kv : node) {
      RETURN_IF_ERROR(Walk(kv.first, budget, depth + 1, max_nodes, max_depth));
      RETURN_IF_ERROR(Walk(kv.second, budget, depth + 1, max_nodes, max_depth));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckYamlSize(const YAML::Node& node, size_t max_nodes, int max_depth) {
  size_t budget = max_nodes;
  return Walk(node, &budget, 0, max_nodes, max_depth);
}

absl::StatusOr<nlohmann::json> YamlToJson(const YAML::Node& node, const std::string& path) {
  using json = nlohmann::json;
  if (!node.IsDefined() || node.IsNull()) return json();
  if (node.IsScalar()) {
    const std::string text = YamlScalar(node);
    if (node.Tag() == "!") return json(text);  // quoted: always a string
    if (text == "~" || text == "null" || text == "Null" || text == "NULL") return json();
    if (text == "true" || text == "True" || text == "TRUE") return json(true);
    if (text == "false" || text == "False" || text == "FALSE") return json(false);
    int64_t n = 0;
    bool digits = !text.empty();
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      digits = digits &&
               ((c >= '0' && c <= '9') || (i == 0 && (c == '-' || c == '+') && text.size() > 1));
    }
    if (digits && absl::SimpleAtoi(text, &n)) return json(n);
    return json(text);
  }
  if (node.IsSequence()) {
    json out = json::array();
    for (size_t i = 0; i < node.size(); ++i) {
      ASSIGN_OR_RETURN(json item, YamlToJson(node[i], absl::StrCat(path, "[", i, "]")));
      out.push_back(std::move(item));
    }
    return out;
  }
  json out = json::object();
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": map keys must be plain strings"));
    }
    const std::string key = YamlScalar(kv.first);
    ASSIGN_OR_RETURN(json value,
                     YamlToJson(kv.second, path.empty() ? key : absl::StrCat(path, ".", key)));
    out[key] = std::move(value);
  }
  return out;
}

}  // namespace remora::filters
