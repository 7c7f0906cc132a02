// Kubernetes labels and label selectors (k8s.io/apimachinery metav1.LabelSelector): matchLabels
// and matchExpressions with In, NotIn, Exists and DoesNotExist, all ANDed; an empty selector
// matches everything.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace remora::filters {

using Labels = std::map<std::string, std::string, std::less<>>;

struct LabelRequirement {
  enum class Operator { kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Operator op = Operator::kIn;
  std::vector<std::string> values;  // In/NotIn: at least one; Exists/DoesNotExist: none
};

struct LabelSelector {
  Labels match_labels;
  std::vector<LabelRequirement> match_expressions;

  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
  // NotIn and DoesNotExist match a label that is absent, as Kubernetes defines them.
  bool Matches(const Labels& labels) const;
  // The same over any label source: `lookup(key)` returns the value, or nullopt when absent.
  bool Matches(
      absl::FunctionRef<std::optional<absl::string_view>(absl::string_view key)> lookup) const;
  // kubectl's form: "app=web,tier in (a,b),!legacy"; "(everything)" when empty.
  std::string ToString() const;
};

// Kubernetes validation (apimachinery validation.IsQualifiedName / IsValidLabelValue): a label key
// is an optional DNS-subdomain prefix and '/', then a name of at most 63 characters of
// [A-Za-z0-9-_.] starting and ending alphanumeric; a value is empty or such a name.
absl::Status ValidateLabelKey(absl::string_view key);
absl::Status ValidateLabelValue(absl::string_view value);
// Validates keys, values and operator/value consistency; messages name the field under `path`
// ("spec.podSelector.matchExpressions[0].values: ...").
absl::Status ValidateLabelSelector(const LabelSelector& selector, absl::string_view path);

// A namespace's labels as a namespaceSelector sees them: Kubernetes sets
// kubernetes.io/metadata.name=<namespace> on every namespace, so that label is present even when
// `labels` (from the registry or a request file) omits it.
bool MatchesNamespace(const LabelSelector& selector, absl::string_view ns, const Labels& labels);

// Formats labels as "a=1,b=2" ("(none)" when empty).
std::string FormatLabels(const Labels& labels);

}  // namespace remora::filters
