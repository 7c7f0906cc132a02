#include "inject/annotations.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "inject/values.h"

namespace remora::inject {
namespace {

constexpr const char* kKnownKeys[] = {
    kInjectKey,
    kStatusAnnotation,
    kRewrittenProbesAnnotation,
    kExcludeInboundPorts,
    kExcludeOutboundPorts,
    kExcludeOutboundIPRanges,
    kIncludeOutboundIPRanges,
    kProxyCPU,
    kProxyMemory,
    kProxyCPULimit,
    kProxyMemoryLimit,
    kLogLevel,
    kNativeSidecar,
    kForwardInboundToLocalhost,
};

absl::Status AnnotationError(absl::string_view key, absl::string_view value,
                             absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("annotation ", key, ": \"", value, "\": ", why));
}

const std::string* Find(const std::map<std::string, std::string>& m, absl::string_view key) {
  auto it = m.find(std::string(key));
  return it == m.end() ? nullptr : &it->second;
}

absl::StatusOr<std::optional<bool>> ReadBool(const std::map<std::string, std::string>& m,
                                             absl::string_view key, absl::string_view kind) {
  const std::string* value = Find(m, key);
  if (value == nullptr) return std::optional<bool>();
  if (*value == "true") return std::optional<bool>(true);
  if (*value == "false") return std::optional<bool>(false);
  return absl::InvalidArgumentError(
      absl::StrCat(kind, " ", key, ": \"", *value, "\" is not \"true\" or \"false\""));
}

}  // namespace

absl::StatusOr<InjectIntent> ReadInjectIntent(
    const std::map<std::string, std::string>& labels,
    const std::map<std::string, std::string>& annotations) {
  absl::StatusOr<std::optional<bool>> label = ReadBool(labels, kInjectKey, "label");
  if (!label.ok()) return label.status();
  absl::StatusOr<std::optional<bool>> annotation = ReadBool(annotations, kInjectKey, "annotation");
  if (!annotation.ok()) return annotation.status();
  if (label->has_value() && annotation->has_value() && **label != **annotation) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the label ", kInjectKey, "=\"", **label ? "true" : "false", "\" and the annotation ",
        kInjectKey, "=\"", **annotation ? "true" : "false", "\" disagree; keep one of them"));
  }
  std::optional<bool> value = label->has_value() ? *label : *annotation;
  if (!value.has_value()) return InjectIntent::kUnset;
  return *value ? InjectIntent::kOptIn : InjectIntent::kOptOut;
}

absl::StatusOr<PodOptions> ResolvePodOptions(const std::map<std::string, std::string>& annotations,
                                             const InjectorSettings& settings) {
  for (const auto& [key, value] : annotations) {
    if (!absl::StartsWith(key, kAnnotationPrefix)) continue;
    bool known = false;
    for (const char* k : kKnownKeys) known = known || key == k;
    if (!known) {
      std::vector<absl::string_view> names;
      for (const char* k : kKnownKeys) {
        if (k != kStatusAnnotation && k != kRewrittenProbesAnnotation) names.push_back(k);
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "annotation ", key,
          " is not one the Remora injector knows (a typo?); known: ", absl::StrJoin(names, ", ")));
    }
  }

  PodOptions options;
  options.proxy_resources = settings.proxy_resources;
  options.log_level = settings.log_level;
  options.native_sidecar = settings.native_sidecar;
  options.forward_inbound_to_localhost = settings.forward_inbound_to_localhost;

  if (const std::string* v = Find(annotations, kExcludeInboundPorts)) {
    absl::StatusOr<std::vector<int>> ports = ParsePortList(*v);
    if (!ports.ok()) return AnnotationError(kExcludeInboundPorts, *v, ports.status().message());
    options.exclude_inbound_ports = std::move(*ports);
  }
  if (const std::string* v = Find(annotations, kExcludeOutboundPorts)) {
    absl::StatusOr<std::vector<int>> ports = ParsePortList(*v);
    if (!ports.ok()) return AnnotationError(kExcludeOutboundPorts, *v, ports.status().message());
    options.exclude_outbound_ports = std::move(*ports);
  }
  if (const std::string* v = Find(annotations, kExcludeOutboundIPRanges)) {
    absl::StatusOr<std::vector<std::string>> cidrs = ParseCidrList(*v, false);
    if (!cidrs.ok()) return AnnotationError(kExcludeOutboundIPRanges, *v, cidrs.status().message());
    options.exclude_outbound_cidrs = std::move(*cidrs);
  }
  if (const std::string* v = Find(annotations, kIncludeOutboundIPRanges)) {
    absl::StatusOr<std::vector<std::string>> cidrs = ParseCidrList(*v, true);
    if (!cidrs.ok()) return AnnotationError(kIncludeOutboundIPRanges, *v, cidrs.status().message());
    options.outbound_cidrs = std::move(*cidrs);
  }

  const std::string settings_source = "the injector settings' proxy_resources";
  ResourceSources sources{settings_source + ".requests.cpu", settings_source + ".requests.memory",
                          settings_source + ".limits.cpu", settings_source + ".limits.memory"};
  struct Override {
    const char* key;
    std::string* value;
    std::string* source;
  };
  for (const Override& o :
       {Override{kProxyCPU, &options.proxy_resources.cpu_request, &sources.cpu_request},
        Override{kProxyMemory, &options.proxy_resources.memory_request, &sources.memory_request},
        Override{kProxyCPULimit, &options.proxy_resources.cpu_limit, &sources.cpu_limit},
        Override{kProxyMemoryLimit, &options.proxy_resources.memory_limit,
                 &sources.memory_limit}}) {
    const std::string* v = Find(annotations, o.key);
    if (v == nullptr) continue;
    if (absl::StatusOr<Quantity> q = ParseQuantity(*v); !q.ok()) {
      return AnnotationError(o.key, *v, q.status().message());
    }
    *o.value = *v;
    *o.source = absl::StrCat("annotation ", o.key);
  }
  if (absl::Status s = ValidateResources(options.proxy_resources, sources); !s.ok()) return s;

  if (const std::string* v = Find(annotations, kLogLevel)) {
    LogLevel level;
    if (!ParseLogLevel(*v, &level)) {
      return AnnotationError(kLogLevel, *v, "is not debug, info, warn or error");
    }
    options.log_level = *v;
  }
  absl::StatusOr<std::optional<bool>> native = ReadBool(annotations, kNativeSidecar, "annotation");
  if (!native.ok()) return native.status();
  if (native->has_value()) options.native_sidecar = **native;
  absl::StatusOr<std::optional<bool>> localhost =
      ReadBool(annotations, kForwardInboundToLocalhost, "annotation");
  if (!localhost.ok()) return localhost.status();
  if (localhost->has_value()) options.forward_inbound_to_localhost = **localhost;
  return options;
}

}  // namespace remora::inject
