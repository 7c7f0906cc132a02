#include "inject/settings.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "certs/spiffe_id.h"
#include "common/file.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/yaml.h"
#include "inject/values.h"

namespace remora::inject {
namespace {

absl::Status CheckImage(const YamlField& field, const std::string& image) {
  if (image.empty()) return field.Error("must name a container image");
  for (char c : image) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || absl::ascii_iscntrl(c)) {
      return field.Error(absl::StrCat("\"", image, "\" is not an image reference (it has spaces)"));
    }
  }
  return absl::OkStatus();
}

// "host:port" or "[v6]:port": what the proxy dials; names are allowed (resolved by the proxy).
absl::Status CheckHostPort(const YamlField& field, const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return field.Error(absl::StrCat("\"", text, "\" is not host:port"));
  }
  int port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return field.Error(
        absl::StrCat("\"", text, "\" has no valid port (1-65535) after the last ':'"));
  }
  for (char c : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || absl::ascii_iscntrl(c) || c == '"' ||
        c == '\\') {
      return field.Error(absl::StrCat("\"", text, "\" is not host:port"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseResources(const YamlField& field, ResourceSettings* out) {
  if (field.IsMissing()) return absl::OkStatus();
  RETURN_IF_ERROR(field.OnlyKeys({"requests", "limits"}));
  ResourceSettings r;
  struct Slot {
    const char* group;
    const char* name;
    std::string* value;
  };
  for (const Slot& slot :
       {Slot{"requests", "cpu", &r.cpu_request}, Slot{"requests", "memory", &r.memory_request},
        Slot{"limits", "cpu", &r.cpu_limit}, Slot{"limits", "memory", &r.memory_limit}}) {
    YamlField group = field[slot.group];
    RETURN_IF_ERROR(group.OnlyKeys({"cpu", "memory"}));
    YamlField value = group[slot.name];
    if (value.IsMissing()) continue;
    ASSIGN_OR_RETURN(*slot.value, value.String());
    if (absl::StatusOr<Quantity> q = ParseQuantity(*slot.value); !q.ok()) {
      return value.Error(q.status().message());
    }
  }
  const std::string& p = field.path();
  RETURN_IF_ERROR(ValidateResources(
      r, {p + ".requests.cpu", p + ".requests.memory", p + ".limits.cpu", p + ".limits.memory"}));
  *out = std::move(r);
  return absl::OkStatus();
}

absl::StatusOr<InjectorSettings> ParseRoot(const YamlField& root) {
  InjectorSettings s;
  if (root.IsMissing()) return s;
  RETURN_IF_ERROR(
      root.OnlyKeys({"proxy_image", "init_image", "image_pull_policy", "control_plane_address",
                     "trust_domain", "log_level", "native_sidecar", "forward_inbound_to_localhost",
                     "proxy_ready_timeout", "proxy_resources", "init_resources"}));
  for (auto [key, target] :
       {std::pair{"proxy_image", &s.proxy_image}, std::pair{"init_image", &s.init_image}}) {
    if (root[key].IsMissing()) continue;
    ASSIGN_OR_RETURN(*target, root[key].String());
    RETURN_IF_ERROR(CheckImage(root[key], *target));
  }
  if (!root["image_pull_policy"].IsMissing()) {
    ASSIGN_OR_RETURN(s.image_pull_policy, root["image_pull_policy"].String());
    if (s.image_pull_policy != "Always" && s.image_pull_policy != "IfNotPresent" &&
        s.image_pull_policy != "Never") {
      return root["image_pull_policy"].Error(
          absl::StrCat("\"", s.image_pull_policy, "\" is not Always, IfNotPresent or Never"));
    }
  }
  if (!root["control_plane_address"].IsMissing()) {
    ASSIGN_OR_RETURN(s.control_plane_address, root["control_plane_address"].String());
    RETURN_IF_ERROR(CheckHostPort(root["control_plane_address"], s.control_plane_address));
  }
  if (!root["trust_domain"].IsMissing()) {
    ASSIGN_OR_RETURN(s.trust_domain, root["trust_domain"].String());
    if (absl::Status v = certs::ValidateTrustDomain(s.trust_domain); !v.ok()) {
      return root["trust_domain"].Error(v.message());
    }
  }
  if (!root["log_level"].IsMissing()) {
    ASSIGN_OR_RETURN(s.log_level, root["log_level"].String());
    LogLevel level;
    if (!ParseLogLevel(s.log_level, &level)) {
      return root["log_level"].Error(
          absl::StrCat("\"", s.log_level, "\" is not debug, info, warn or error"));
    }
  }
  if (!root["native_sidecar"].IsMissing()) {
    ASSIGN_OR_RETURN(s.native_sidecar, root["native_sidecar"].Bool());
  }
  if (!root["forward_inbound_to_localhost"].IsMissing()) {
    ASSIGN_OR_RETURN(s.forward_inbound_to_localhost, root["forward_inbound_to_localhost"].Bool());
  }
  if (!root["proxy_ready_timeout"].IsMissing()) {
    YamlField f = root["proxy_ready_timeout"];
    ASSIGN_OR_RETURN(s.proxy_ready_timeout, f.Duration());
    if (s.proxy_ready_timeout < absl::Seconds(1) || s.proxy_ready_timeout > absl::Hours(1) ||
        s.proxy_ready_timeout != absl::Seconds(absl::ToInt64Seconds(s.proxy_ready_timeout))) {
      return f.Error("must be a whole number of seconds between 1s and 1h");
    }
  }
  RETURN_IF_ERROR(ParseResources(root["proxy_resources"], &s.proxy_resources));
  RETURN_IF_ERROR(ParseResources(root["init_resources"], &s.init_resources));
  return s;
}

}  // namespace

absl::Status ValidateResources(const ResourceSettings& r, const ResourceSources& sources) {
  struct Pair {
    const char* resource;
    const std::string& request;
    const std::string& request_source;
    const std::string& limit;
    const std::string& limit_source;
  };
  for (const Pair& p :
       {Pair{"CPU", r.cpu_request, sources.cpu_request, r.cpu_limit, sources.cpu_limit},
        Pair{"memory", r.memory_request, sources.memory_request, r.memory_limit,
             sources.memory_limit}}) {
    absl::StatusOr<Quantity> request, limit;
    if (!p.request.empty()) {
      request = ParseQuantity(p.request);
      if (!request.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(p.request_source, ": ", request.status().message()));
      }
    }
    if (!p.limit.empty()) {
      limit = ParseQuantity(p.limit);
      if (!limit.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(p.limit_source, ": ", limit.status().message()));
      }
    }
    if (!p.request.empty() && !p.limit.empty() && request->value > limit->value) {
      return absl::InvalidArgumentError(
          absl::StrCat(p.request_source, ": the ", p.resource, " request ", p.request,
                       " is more than the ", p.resource, " limit ", p.limit, " (", p.limit_source,
                       "); Kubernetes refuses a request above its limit, so raise the limit too"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<InjectorSettings> ParseSettingsYaml(absl::string_view text) {
  return GuardYaml<InjectorSettings>(
      "injector settings", [&]() -> absl::StatusOr<InjectorSettings> {
        ASSIGN_OR_RETURN(std::vector<YamlDocument> docs,
                         LoadYamlDocuments(text, "injector settings", 1 << 20));
        if (docs.size() > 1) {
          return absl::InvalidArgumentError(
              "injector settings: expected one YAML document, found several");
        }
        if (docs.empty()) return InjectorSettings{};
        if (!docs[0].root.IsMap()) {
          return absl::InvalidArgumentError(
              "injector settings: the document must be a map of fields");
        }
        return ParseRoot(YamlField(docs[0].root, ""));
      });
}

absl::StatusOr<InjectorSettings> LoadSettingsFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<InjectorSettings> settings = ParseSettingsYaml(text);
  if (!settings.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("settings file ", path, ": ", settings.status().message()));
  }
  return settings;
}

}  // namespace remora::inject
