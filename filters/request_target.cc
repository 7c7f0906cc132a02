#include "filters/request_target.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace remora::filters {
namespace {

absl::Status Bad(absl::string_view why) { return absl::InvalidArgumentError(why); }

bool Unreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A segment with ";" path parameters (RFC 3986 3.3) whose name is empty, "." or "..". Tomcat (and
// other servlet containers) strip the parameters from every segment before resolving dot
// segments, so "/public/..;/admin" is "/admin" to them while a policy, like Envoy, matches it
// under "/public/*" (CVE-2020-1957-style bypasses; Envoy does not normalize ";" either). These
// segments have no legitimate use: they are refused rather than guessed at. Parameters on an
// ordinary segment ("/a;jsessionid=1") keep the path's shape and pass.
bool IsDotSegmentWithParameters(absl::string_view segment) {
  const size_t semicolon = segment.find(';');
  if (semicolon == absl::string_view::npos) return false;
  const absl::string_view name = segment.substr(0, semicolon);
  return name.empty() || name == "." || name == "..";
}

}  // namespace

absl::StatusOr<std::string> NormalizeTarget(absl::string_view target, std::string* authority) {
  if (target == "*") return std::string(target);  // OPTIONS *
  if (target.find('#') != absl::string_view::npos) return Bad("request target has a fragment");
  if (absl::StartsWithIgnoreCase(target, "http://") ||
      absl::StartsWithIgnoreCase(target, "https://")) {
    absl::string_view rest = target.substr(target.find("://") + 3);
    size_t slash = rest.find_first_of("/?");
    if (authority != nullptr) *authority = std::string(rest.substr(0, slash));
    target = slash == absl::string_view::npos ? absl::string_view("/") : rest.substr(slash);
  }
  if (target.empty() || target.front() != '/') {
    if (!target.empty() && target.front() == '?') {
      return NormalizeTarget(absl::StrCat("/", target), nullptr);
    }
    return Bad("request target must start with \"/\"");
  }
  const size_t q = target.find('?');
  absl::string_view path = target.substr(0, q);
  absl::string_view query = q == absl::string_view::npos ? "" : target.substr(q);
  // Percent-decoding of unreserved characters: "/%61dmin" is "/admin" for every reader.
  std::string decoded;
  decoded.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return Bad("request target has a control character or space");
    if (c != '%') {
      decoded.push_back(c);
      continue;
    }
    if (i + 2 >= path.size() || Hex(path[i + 1]) < 0 || Hex(path[i + 2]) < 0) {
      return Bad("request target has a malformed percent-escape");
    }
    const char value = static_cast<char>(Hex(path[i + 1]) * 16 + Hex(path[i + 2]));
    if (Unreserved(value)) {
      decoded.push_back(value);
    } else {
      absl::StrAppend(&decoded, "%", std::string(1, absl::ascii_toupper(path[i + 1])),
                      std::string(1, absl::ascii_toupper(path[i + 2])));
    }
    i += 2;
  }
  // Dot segments and empty segments (repeated slashes).
  std::vector<absl::string_view> out;
  const bool trailing_slash =
      decoded.size() > 1 &&
      (decoded.back() == '/' || absl::EndsWith(decoded, "/.") || absl::EndsWith(decoded, "/.."));
  for (absl::string_view segment : absl::StrSplit(decoded, '/')) {
    if (IsDotSegmentWithParameters(segment)) {
      return Bad(absl::StrCat("request target has a dot or empty segment with \";\" parameters (\"",
                              segment,
                              "\"), which servers such as Tomcat resolve as a dot segment"));
    }
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(segment);
  }
  std::string normalized = absl::StrCat("/", absl::StrJoin(out, "/"));
  if (trailing_slash && normalized.size() > 1) normalized.push_back('/');
  for (char c : query) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return Bad("query has a control character or space");
  }
  return absl::StrCat(normalized, query);
}

}  // namespace remora::filters
