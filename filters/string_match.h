// The value patterns of Istio AuthorizationPolicy fields, compiled once: exact "abc" (hash set),
// prefix "abc*", suffix "*abc" and presence "*" (istio.io/latest/docs/reference/config/security/
// authorization-policy: "Exact match", "Prefix match", "Suffix match", "Presence match"), plus the
// `{*}` / `{**}` path templates of `paths`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace remora::filters {

// A path template as Istio's `paths` accept it (`/foo/{*}/bar/{**}`), matched the way Envoy's
// uri_template extension does: `{*}` is one non-empty path segment, `{**}` zero or more characters
// including '/', literal characters must be RFC 3986 pchars.
class PathTemplate {
 public:
  static bool IsTemplate(absl::string_view pattern);
  // InvalidArgument naming the rule the template breaks.
  static absl::Status Validate(absl::string_view pattern);
  // `pattern` must have passed Validate.
  explicit PathTemplate(absl::string_view pattern);
  bool Matches(absl::string_view path) const;

 private:
  enum class Kind { kLiteral, kSegment, kAny };
  struct Token {
    Kind kind;
    std::string literal;
  };
  std::vector<Token> tokens_;
};

class StringMatcher {
 public:
  // `ignore_case`: hosts match case-insensitively (Istio: "The match is case-insensitive").
  explicit StringMatcher(bool ignore_case = false)
      : ignore_case_(ignore_case), exact_set_(0, Hash{ignore_case}, Eq{ignore_case}) {}

  // How a pattern with '*' inside reads: literally (Istio's principals, hosts, paths, headers:
  // only a leading or trailing '*' is special), or as a glob where every '*' matches any run of
  // characters (Istio's namespaces, which it turns into the regex ".*/ns/<glob>/.*").
  enum class Stars { kEnds, kGlob };

  // Adds one pattern. An empty pattern is refused by validation before it gets here. With
  // `allow_templates`, a pattern holding `{*}` or `{**}` is a PathTemplate (already validated).
  void Add(absl::string_view pattern, bool allow_templates = false, Stars stars = Stars::kEnds);

  // Whether any pattern matches. An absent value matches nothing, not even "*".
  bool Matches(std::optional<absl::string_view> value) const;
  // Whether every pattern is an exact value (so the set can serve as an index key).
  bool ExactOnly() const {
    return !presence_ && prefixes_.empty() && suffixes_.empty() && templates_.empty() &&
           globs_.empty();
  }
  const std::vector<std::string>& exact_values() const { return exact_list_; }
  // The patterns as written, for explanations.
  const std::vector<std::string>& patterns() const { return patterns_; }
  bool empty() const { return patterns_.empty(); }

 private:
  // Hash and equality that fold ASCII case when `ignore_case` is set, so a case-insensitive
  // lookup needs no lowercase copy of the request's value.
  struct Hash {
    using is_transparent = void;
    bool ignore_case = false;
    size_t operator()(absl::string_view s) const;
  };
  struct Eq {
    using is_transparent = void;
    bool ignore_case = false;
    bool operator()(absl::string_view a, absl::string_view b) const;
  };
  bool Equal(absl::string_view a, absl::string_view b) const;
  bool HasPrefix(absl::string_view value, absl::string_view prefix) const;
  bool HasSuffix(absl::string_view value, absl::string_view suffix) const;

  bool ignore_case_;
  bool presence_ = false;
  // Up to a handful of exact values a linear scan beats hashing; past that, the set.
  std::vector<std::string> exact_list_;
  absl::flat_hash_set<std::string, Hash, Eq> exact_set_;
  std::vector<std::string> prefixes_;
  std::vector<std::string> suffixes_;
  std::vector<PathTemplate> templates_;
  std::vector<std::string> globs_;
  std::vector<std::string> patterns_;
};

}  // namespace remora::filters
