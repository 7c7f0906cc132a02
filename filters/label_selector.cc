#include "filters/label_selector.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace remora::filters {
namespace {

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

absl::Status ValidateName(absl::string_view name, absl::string_view what) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " must not be empty"));
  if (name.size() > 63) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", name, "\" is longer than 63 characters"));
  }
  if (!absl::ascii_isalnum(static_cast<unsigned char>(name.front())) ||
      !absl::ascii_isalnum(static_cast<unsigned char>(name.back())) ||
      !std::all_of(name.begin(), name.end(), IsNameChar)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " \"", name,
        "\" must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
        "an alphanumeric character"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDnsSubdomain(absl::string_view name) {
  if (name.empty() || name.size() > 253) {
    return absl::InvalidArgumentError(
        absl::StrCat("label key prefix \"", name, "\" must be 1 to 253 characters"));
  }
  for (char c : name) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
      return absl::InvalidArgumentError(
          absl::StrCat("label key prefix \"", name,
                       "\" must be a lowercase DNS subdomain (a-z, 0-9, '-', '.')"));
    }
  }
  if (!absl::ascii_isalnum(static_cast<unsigned char>(name.front())) ||
      !absl::ascii_isalnum(static_cast<unsigned char>(name.back()))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "label key prefix \"", name, "\" must start and end with an alphanumeric character"));
  }
  return absl::OkStatus();
}

const char* OperatorName(LabelRequirement::Operator op) {
  switch (op) {
    case LabelRequirement::Operator::kIn:
      return "In";
    case LabelRequirement::Operator::kNotIn:
      return "NotIn";
    case LabelRequirement::Operator::kExists:
      return "Exists";
    case LabelRequirement::Operator::kDoesNotExist:
      return "DoesNotExist";
  }
  return "?";
}

}  // namespace

absl::Status ValidateLabelKey(absl::string_view key) {
  const size_t slash = key.find('/');
  if (slash != absl::string_view::npos) {
    if (absl::Status s = ValidateDnsSubdomain(key.substr(0, slash)); !s.ok()) return s;
    return ValidateName(key.substr(slash + 1), "label key name");
  }
  return ValidateName(key, "label key");
}

absl::Status ValidateLabelValue(absl::string_view value) {
  if (value.empty()) return absl::OkStatus();
  return ValidateName(value, "label value");
}

absl::Status ValidateLabelSelector(const LabelSelector& selector, absl::string_view path) {
  for (const auto& [key, value] : selector.match_labels) {
    absl::Status s = ValidateLabelKey(key);
    if (s.ok()) s = ValidateLabelValue(value);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".matchLabels.", key, ": ", s.message()));
    }
  }
  for (size_t i = 0; i < selector.match_expressions.size(); ++i) {
    const LabelRequirement& r = selector.match_expressions[i];
    const std::string where = absl::StrCat(path, ".matchExpressions[", i, "]");
    if (absl::Status s = ValidateLabelKey(r.key); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".key: ", s.message()));
    }
    const bool set_based =
        r.op == LabelRequirement::Operator::kIn || r.op == LabelRequirement::Operator::kNotIn;
    if (set_based && r.values.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".values: must be non-empty when operator is ", OperatorName(r.op)));
    }
    if (!set_based && !r.values.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".values: must be empty when operator is ", OperatorName(r.op)));
    }
    for (size_t j = 0; j < r.values.size(); ++j) {
      if (absl::Status s = ValidateLabelValue(r.values[j]); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ".values[", j, "]: ", s.message()));
      }
    }
  }
  return absl::OkStatus();
}

bool LabelSelector::Matches(const Labels& labels) const {
  return Matches([&labels](absl::string_view key) -> std::optional<absl::string_view> {
    auto it = labels.find(key);
    if (it == labels.end()) return std::nullopt;
    return absl::string_view(it->second);
  });
}

bool LabelSelector::Matches(
    absl::FunctionRef<std::optional<absl::string_view>(absl::string_view key)> lookup) const {
  for (const auto& [key, value] : match_labels) {
    std::optional<absl::string_view> found = lookup(key);
    if (!found.has_value() || *found != value) return false;
  }
  for (const LabelRequirement& r : match_expressions) {
    std::optional<absl::string_view> found = lookup(r.key);
    const bool present = found.has_value();
    switch (r.op) {
      case LabelRequirement::Operator::kIn:
        if (!present || std::find(r.values.begin(), r.values.end(), *found) == r.values.end()) {
          return false;
        }
        break;
      case LabelRequirement::Operator::kNotIn:
        if (present && std::find(r.values.begin(), r.values.end(), *found) != r.values.end()) {
          return false;
        }
        break;
      case LabelRequirement::Operator::kExists:
        if (!present) return false;
        break;
      case LabelRequirement::Operator::kDoesNotExist:
        if (present) return false;
        break;
    }
  }
  return true;
}

bool MatchesNamespace(const LabelSelector& selector, absl::string_view ns, const Labels& labels) {
  return selector.Matches([&](absl::string_view key) -> std::optional<absl::string_view> {
    auto it = labels.find(key);
    if (it != labels.end()) return absl::string_view(it->second);
    if (key == "kubernetes.io/metadata.name" && !ns.empty()) return ns;
    return std::nullopt;
  });
}

std::string LabelSelector::ToString() const {
  if (empty()) return "(everything)";
  std::vector<std::string> parts;
  for (const auto& [key, value] : match_labels) parts.push_back(absl::StrCat(key, "=", value));
  for (const LabelRequirement& r : match_expressions) {
    switch (r.op) {
      case LabelRequirement::Operator::kIn:
        parts.push_back(absl::StrCat(r.key, " in (", absl::StrJoin(r.values, ","), ")"));
        break;
      case LabelRequirement::Operator::kNotIn:
        parts.push_back(absl::StrCat(r.key, " notin (", absl::StrJoin(r.values, ","), ")"));
        break;
      case LabelRequirement::Operator::kExists:
        parts.push_back(r.key);
        break;
      case LabelRequirement::Operator::kDoesNotExist:
        parts.push_back(absl::StrCat("!", r.key));
        break;
    }
  }
  return absl::StrJoin(parts, ",");
}

std::string FormatLabels(const Labels& labels) {
  if (labels.empty()) return "(none)";
  return absl::StrJoin(labels, ",", absl::PairFormatter("="));
}

}  // namespace remora::filters
