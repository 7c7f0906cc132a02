#include "filters/string_match.h"

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace remora::filters {
namespace {

constexpr size_t kLinearScanLimit = 4;
constexpr absl::string_view kMatchOne = "{*}";
constexpr absl::string_view kMatchAny = "{**}";

// RFC 3986 pchar without '*' (and '/' handled apart): the characters Envoy's uri_template accepts
// in a literal and in what `{*}` matches.
bool IsPathChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '%':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '+':
    case ',':
    case ';':
    case ':':
    case '@':
    case '=':
      return true;
    default:
      return false;
  }
}

}  // namespace

bool PathTemplate::IsTemplate(absl::string_view pattern) {
  return absl::StrContains(pattern, kMatchOne) || absl::StrContains(pattern, kMatchAny);
}

absl::Status PathTemplate::Validate(absl::string_view pattern) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", pattern, "\" is not a valid path template: ", why));
  };
  if (pattern.empty() || pattern[0] != '/') return invalid("it must start with '/'");
  std::vector<absl::string_view> segments = absl::StrSplit(pattern.substr(1), '/');
  bool seen_any = false;
  for (size_t i = 0; i < segments.size(); ++i) {
    absl::string_view segment = segments[i];
    if (segment == kMatchOne || segment == kMatchAny) {
      if (seen_any) return invalid("{**} must be the last operator");
      seen_any = segment == kMatchAny;
      continue;
    }
    if (segment.empty() && i + 1 < segments.size()) return invalid("it has an empty segment (//)");
    for (char c : segment) {
      if (c == '*' || c == '{' || c == '}') {
        return invalid(
            "'*', '{' and '}' are only allowed as a whole {*} or {**} segment (Istio: no other "
            "characters are allowed in the path segment with the path template operator)");
      }
      if (!IsPathChar(c)) {
        return invalid(
            absl::StrCat("character '", std::string(1, c), "' is not allowed in a path"));
      }
    }
  }
  return absl::OkStatus();
}

PathTemplate::PathTemplate(absl::string_view pattern) {
  std::vector<absl::string_view> segments = absl::StrSplit(pattern.substr(1), '/');
  std::string literal = "/";
  for (size_t i = 0; i < segments.size(); ++i) {
    absl::string_view segment = segments[i];
    if (segment == kMatchOne || segment == kMatchAny) {
      if (!literal.empty()) tokens_.push_back({Kind::kLiteral, std::move(literal)});
      tokens_.push_back({segment == kMatchOne ? Kind::kSegment : Kind::kAny, ""});
      literal.clear();
    } else {
      absl::StrAppend(&literal, segment);
    }
    if (i + 1 < segments.size()) literal.push_back('/');
  }
  if (!literal.empty()) tokens_.push_back({Kind::kLiteral, std::move(literal)});
}

bool PathTemplate::Matches(absl::string_view path) const {
  size_t pos = 0;
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const Token& token = tokens_[t];
    switch (token.kind) {
      case Kind::kLiteral:
        if (path.substr(pos, token.literal.size()) != token.literal) return false;
        pos += token.literal.size();
        break;
      case Kind::kSegment: {
        const size_t start = pos;
        while (pos < path.size() && IsPathChar(path[pos])) ++pos;
        if (pos == start) return false;
        break;
      }
      case Kind::kAny: {
        // {**} is the last operator: only literal text follows, so it must end the path.
        std::string suffix;
        for (size_t r = t + 1; r < tokens_.size(); ++r)
          absl::StrAppend(&suffix, tokens_[r].literal);
        if (path.size() < pos + suffix.size() || !absl::EndsWith(path, suffix)) return false;
        for (size_t i = pos; i < path.size() - suffix.size(); ++i) {
          if (path[i] != '/' && !IsPathChar(path[i])) return false;
        }
        return true;
      }
    }
  }
  return pos == path.size();
}

size_t StringMatcher::Hash::operator()(absl::string_view s) const {
  if (!ignore_case) return absl::Hash<absl::string_view>()(s);
  size_t h = 1469598103934665603ull;  // FNV-1a over the lowercase bytes
  for (char c : s) {
    h ^= static_cast<unsigned char>(absl::ascii_tolower(static_cast<unsigned char>(c)));
    h *= 1099511628211ull;
  }
  return h;
}

bool StringMatcher::Eq::operator()(absl::string_view a, absl::string_view b) const {
  return ignore_case ? absl::EqualsIgnoreCase(a, b) : a == b;
}

bool StringMatcher::Equal(absl::string_view a, absl::string_view b) const {
  return ignore_case_ ? absl::EqualsIgnoreCase(a, b) : a == b;
}

bool StringMatcher::HasPrefix(absl::string_view value, absl::string_view prefix) const {
  return ignore_case_ ? absl::StartsWithIgnoreCase(value, prefix) : absl::StartsWith(value, prefix);
}

bool StringMatcher::HasSuffix(absl::string_view value, absl::string_view suffix) const {
  return ignore_case_ ? absl::EndsWithIgnoreCase(value, suffix) : absl::EndsWith(value, suffix);
}

namespace {

// '*' matches any run of characters, everything else itself.
bool GlobMatches(absl::string_view glob, absl::string_view value) {
  size_t g = 0, v = 0, star = absl::string_view::npos, resume = 0;
  while (v < value.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star = g++;
      resume = v;
    } else if (g < glob.size() && glob[g] == value[v]) {
      ++g;
      ++v;
    } else if (star != absl::string_view::npos) {
      g = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

}  // namespace

void StringMatcher::Add(absl::string_view pattern, bool allow_templates, Stars stars) {
  patterns_.emplace_back(pattern);
  // A pattern whose only '*' is its first or last character means the same either way.
  if (stars == Stars::kGlob && pattern != "*") {
    const size_t first = pattern.find('*');
    const bool ends_only =
        first == absl::string_view::npos ||
        (pattern.rfind('*') == first && (first == 0 || first == pattern.size() - 1));
    if (!ends_only) {
      globs_.emplace_back(pattern);
      return;
    }
  }
  // The order of these checks is Istio's (StringMatcherWithPrefix): "*" first, then a leading
  // '*' (suffix match, so "*abc*" is the suffix "abc*"), then a trailing '*'.
  if (allow_templates && PathTemplate::IsTemplate(pattern)) {
    templates_.emplace_back(pattern);
  } else if (pattern == "*") {
    presence_ = true;
  } else if (absl::StartsWith(pattern, "*")) {
    suffixes_.emplace_back(pattern.substr(1));
  } else if (absl::EndsWith(pattern, "*")) {
    prefixes_.emplace_back(pattern.substr(0, pattern.size() - 1));
  } else {
    if (exact_set_.insert(std::string(pattern)).second) exact_list_.emplace_back(pattern);
  }
}

bool StringMatcher::Matches(std::optional<absl::string_view> value) const {
  if (!value.has_value()) return false;
  if (presence_) return true;
  if (exact_list_.size() <= kLinearScanLimit) {
    for (const std::string& e : exact_list_) {
      if (Equal(*value, e)) return true;
    }
  } else if (exact_set_.contains(*value)) {
    return true;
  }
  for (const std::string& p : prefixes_) {
    if (HasPrefix(*value, p)) return true;
  }
  for (const std::string& s : suffixes_) {
    if (HasSuffix(*value, s)) return true;
  }
  for (const PathTemplate& t : templates_) {
    if (t.Matches(*value)) return true;
  }
  for (const std::string& g : globs_) {
    if (GlobMatches(g, *value)) return true;
  }
  return false;
}

}  // namespace remora::filters
