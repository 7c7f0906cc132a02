#include "proxy/http1/request_sanitize.h"

#include <algorithm>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace remora::proxy::http1 {
namespace {

absl::string_view View(boost::beast::string_view s) { return {s.data(), s.size()}; }

// The comma-separated tokens of every `name` field, trimmed, empty ones dropped.
std::vector<std::string> Tokens(const beast_http::fields& fields, beast_http::field name) {
  std::vector<std::string> tokens;
  for (const auto& field : fields) {
    if (field.name() != name) continue;
    for (absl::string_view token : absl::StrSplit(View(field.value()), ',')) {
      token = absl::StripAsciiWhitespace(token);
      if (!token.empty()) tokens.emplace_back(token);
    }
  }
  return tokens;
}

// Replaces every `name` field with one holding `tokens`, or none when it is empty.
void SetTokens(beast_http::fields& fields, beast_http::field name,
               const std::vector<std::string>& tokens) {
  fields.erase(name);
  if (!tokens.empty()) fields.set(name, absl::StrJoin(tokens, ", "));
}

// Removes the tokens equal (case-insensitively) to any of `drop`; returns whether one was.
bool DropTokens(std::vector<std::string>& tokens, std::initializer_list<absl::string_view> drop) {
  const size_t before = tokens.size();
  tokens.erase(std::remove_if(tokens.begin(), tokens.end(),
                              [&](const std::string& t) {
                                for (absl::string_view d : drop) {
                                  if (absl::EqualsIgnoreCase(t, d)) return true;
                                }
                                return false;
                              }),
               tokens.end());
  return tokens.size() != before;
}

void StripH2cUpgrade(beast_http::request_header<>& head) {
  // RFC 9113 3.1 (h2c) is obsolete, RFC 7540 3.2 defined it: "Upgrade: h2c" with exactly one
  // HTTP2-Settings, both named in Connection.
  std::vector<std::string> upgrade = Tokens(head, beast_http::field::upgrade);
  const bool had_settings = head.count("HTTP2-Settings") > 0;
  if (!DropTokens(upgrade, {"h2c"}) && !had_settings) return;
  SetTokens(head, beast_http::field::upgrade, upgrade);
  head.erase("HTTP2-Settings");
  std::vector<std::string> connection = Tokens(head, beast_http::field::connection);
  DropTokens(connection, {"HTTP2-Settings"});
  if (upgrade.empty()) DropTokens(connection, {"upgrade"});
  SetTokens(head, beast_http::field::connection, connection);
}

}  // namespace

bool IsForwardedClientCertName(absl::string_view name) {
  constexpr absl::string_view kName = "x-forwarded-client-cert";
  if (name.size() != kName.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i] == '_' ? '-' : absl::ascii_tolower(static_cast<unsigned char>(name[i]));
    if (c != kName[i]) return false;
  }
  return true;
}

void SanitizeRequestHead(beast_http::request_header<>& head) {
  for (auto it = head.begin(); it != head.end();) {
    it = IsForwardedClientCertName(View(it->name_string())) ? head.erase(it) : std::next(it);
  }
  StripH2cUpgrade(head);
}

}  // namespace remora::proxy::http1
