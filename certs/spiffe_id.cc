#include "certs/spiffe_id.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace remora::certs {
namespace {

constexpr absl::string_view kScheme = "spiffe://";
constexpr size_t kMaxLength = 2048;
constexpr size_t kMaxTrustDomainLength = 255;

bool IsTrustDomainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

bool IsPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

absl::Status Invalid(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a SPIFFE ID: ", why));
}

std::optional<std::string> PathPart(absl::string_view path, int index) {
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  // "/ns/<ns>/sa/<sa>" splits into "", "ns", ns, "sa", sa.
  if (parts.size() != 5 || parts[1] != "ns" || parts[3] != "sa") return std::nullopt;
  return std::string(parts[index]);
}

}  // namespace

absl::Status ValidateTrustDomain(absl::string_view td) {
  if (td.empty()) return absl::InvalidArgumentError("trust domain is empty");
  if (td.size() > kMaxTrustDomainLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("trust domain is longer than ", kMaxTrustDomainLength, " bytes"));
  }
  for (char c : td) {
    if (!IsTrustDomainChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("trust domain \"", td, "\" has character '", std::string(1, c),
                       "'; only lowercase letters, digits, '.', '-' and '_' are allowed"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SpiffeId> SpiffeId::Parse(absl::string_view text) {
  if (text.size() > kMaxLength) return Invalid(text.substr(0, 64), "longer than 2048 bytes");
  if (text.substr(0, kScheme.size()) != kScheme) {
    return Invalid(text, "must start with \"spiffe://\" (lowercase scheme)");
  }
  absl::string_view rest = text.substr(kScheme.size());
  size_t slash = rest.find('/');
  absl::string_view td = rest.substr(0, slash);
  if (absl::Status s = ValidateTrustDomain(td); !s.ok()) return Invalid(text, s.message());
  if (slash != absl::string_view::npos) {
    absl::string_view path = rest.substr(slash);
    if (path == "/" || path.back() == '/') return Invalid(text, "path has a trailing '/'");
    for (absl::string_view segment : absl::StrSplit(path.substr(1), '/')) {
      if (segment.empty()) return Invalid(text, "path has an empty segment");
      if (segment == "." || segment == "..") {
        return Invalid(text, "path has a '.' or '..' segment");
      }
      for (char c : segment) {
        if (!IsPathChar(c)) {
          return Invalid(text,
                         absl::StrCat("path has character '", std::string(1, c),
                                      "'; only letters, digits, '.', '-' and '_' are allowed"));
        }
      }
    }
  }
  return SpiffeId(std::string(text), kScheme.size() + td.size());
}

absl::StatusOr<SpiffeId> SpiffeId::ForServiceAccount(absl::string_view trust_domain,
                                                     absl::string_view ns, absl::string_view sa) {
  for (absl::string_view part : {ns, sa}) {
    if (part.empty() || part.find('/') != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "namespace and service account must be single non-empty path segments, got \"", ns,
          "\" and \"", sa, "\""));
    }
  }
  return Parse(absl::StrCat(kScheme, trust_domain, "/ns/", ns, "/sa/", sa));
}

absl::string_view SpiffeId::trust_domain() const {
  return absl::string_view(text_).substr(kScheme.size(), path_start_ - kScheme.size());
}

absl::string_view SpiffeId::path() const { return absl::string_view(text_).substr(path_start_); }

std::optional<std::string> SpiffeId::Namespace() const { return PathPart(path(), 2); }

std::optional<std::string> SpiffeId::ServiceAccount() const { return PathPart(path(), 4); }

}  // namespace remora::certs
