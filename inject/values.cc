#include "inject/values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace remora::inject {
namespace {

// Splits at commas and trims each item; an empty item (",," or a trailing comma) is an error.
absl::StatusOr<std::vector<absl::string_view>> SplitList(absl::string_view text,
                                                         absl::string_view what) {
  std::vector<absl::string_view> items;
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("is empty; list ", what, " separated by commas, or remove it"));
  }
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\" has an empty item; list ", what, " separated by commas"));
    }
    items.push_back(item);
  }
  return items;
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

absl::Status CheckCidr(absl::string_view item) {
  size_t slash = item.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", item, "\" is not a CIDR: add a prefix length, e.g. ", item,
                     item.find(':') == absl::string_view::npos ? "/32" : "/128"));
  }
  std::string address(item.substr(0, slash));
  absl::string_view prefix_text = item.substr(slash + 1);
  unsigned char bytes[16] = {};
  int family_bits = 0;
  if (::inet_pton(AF_INET, address.c_str(), bytes) == 1) {
    family_bits = 32;
  } else if (::inet_pton(AF_INET6, address.c_str(), bytes) == 1) {
    family_bits = 128;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", item, "\" is not a CIDR: \"", address, "\" is not an IP address"));
  }
  int prefix = 0;
  if (!AllDigits(prefix_text) || prefix_text.size() > 3 ||
      !absl::SimpleAtoi(prefix_text, &prefix) || prefix > family_bits) {
    return absl::InvalidArgumentError(absl::StrCat("\"", item, "\" is not a CIDR: prefix length \"",
                                                   prefix_text, "\" is not in 0..", family_bits));
  }
  for (int bit = prefix; bit < family_bits; ++bit) {
    if (bytes[bit / 8] & (0x80 >> (bit % 8))) {
      return absl::InvalidArgumentError(absl::StrCat("\"", item, "\" has host bits set after the /",
                                                     prefix, " prefix; write the network address"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<int>> ParsePortList(absl::string_view text) {
  absl::StatusOr<std::vector<absl::string_view>> items = SplitList(text, "ports");
  if (!items.ok()) return items.status();
  std::vector<int> ports;
  for (absl::string_view item : *items) {
    int port = 0;
    if (!AllDigits(item) || item.size() > 5 || !absl::SimpleAtoi(item, &port) || port < 1 ||
        port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", item, "\" is not a port number (1-65535)"));
    }
    if (std::find(ports.begin(), ports.end(), port) == ports.end()) ports.push_back(port);
  }
  return ports;
}

absl::StatusOr<std::vector<std::string>> ParseCidrList(absl::string_view text, bool allow_star) {
  if (allow_star && absl::StripAsciiWhitespace(text) == "*") return std::vector<std::string>{"*"};
  absl::StatusOr<std::vector<absl::string_view>> items = SplitList(text, "CIDRs");
  if (!items.ok()) return items.status();
  std::vector<std::string> cidrs;
  for (absl::string_view item : *items) {
    if (item == "*") {
      return absl::InvalidArgumentError(
          allow_star ? "\"*\" must stand alone (it already means every address)"
                     : "\"*\" is not allowed here; list CIDRs");
    }
    if (absl::Status s = CheckCidr(item); !s.ok()) return s;
    if (std::find(cidrs.begin(), cidrs.end(), item) == cidrs.end()) cidrs.emplace_back(item);
  }
  return cidrs;
}

absl::StatusOr<Quantity> ParseQuantity(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a Kubernetes quantity (", why,
                     "); examples: 100m, 0.5, 2 for CPU; 128Mi, 1Gi for memory"));
  };
  // Number: digits with an optional fraction, or a fraction alone (".5").
  size_t i = 0;
  size_t int_digits = 0, frac_digits = 0;
  while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
    ++i;
    ++int_digits;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      ++i;
      ++frac_digits;
    }
  }
  if (int_digits + frac_digits == 0) return bad("it must start with a non-negative number");
  if (int_digits + frac_digits > 30) return bad("too many digits");
  long double number = 0;
  {
    std::string digits(text.substr(0, i));
    number = std::strtold(digits.c_str(), nullptr);
  }
  absl::string_view suffix = text.substr(i);
  static const struct {
    const char* suffix;
    long double multiplier;
  } kSuffixes[] = {
      {"", 1},
      {"n", 1e-9L},
      {"u", 1e-6L},
      {"m", 1e-3L},
      {"k", 1e3L},
      {"M", 1e6L},
      {"G", 1e9L},
      {"T", 1e12L},
      {"P", 1e15L},
      {"E", 1e18L},
      {"Ki", 1024.0L},
      {"Mi", 1048576.0L},
      {"Gi", 1073741824.0L},
      {"Ti", 1099511627776.0L},
      {"Pi", 1125899906842624.0L},
      {"Ei", 1152921504606846976.0L},
  };
  long double multiplier = -1;
  for (const auto& s : kSuffixes) {
    if (suffix == s.suffix) multiplier = s.multiplier;
  }
  if (multiplier < 0) {
    // An exponent: e or E, an optional sign, digits.
    if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
      absl::string_view exp = suffix.substr(1);
      bool negative = false;
      if (exp[0] == '+' || exp[0] == '-') {
        negative = exp[0] == '-';
        exp.remove_prefix(1);
      }
      int e = 0;
      if (AllDigits(exp) && exp.size() <= 2 && absl::SimpleAtoi(exp, &e)) {
        multiplier = std::pow(10.0L, negative ? -e : e);
      }
    }
  }
  if (multiplier < 0) {
    return bad(absl::StrCat("unknown suffix \"", suffix,
                            "\"; use one of n u m k M G T P E Ki Mi Gi Ti Pi Ei or an exponent"));
  }
  long double value = number * multiplier;
  if (!std::isfinite(value)) return bad("out of range");
  return Quantity{std::string(text), value};
}

std::string JoinPorts(const std::vector<int>& ports) { return absl::StrJoin(ports, ","); }

}  // namespace remora::inject
