#include "inject/injector.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/json_text.h"
#include "common/status_macros.h"
#include "inject/annotations.h"
#include "inject/probes.h"
#include "inject/sidecar.h"

namespace remora::inject {
namespace {

// kubectl logs/exec pick this container when none is named (the proxy comes first in classic mode).
constexpr char kDefaultContainerAnnotation[] = "kubectl.kubernetes.io/default-container";
// Set by the kubelet on the API object of a static pod; the API server refuses to change it.
constexpr char kMirrorAnnotation[] = "kubernetes.io/config.mirror";

absl::Status Invalid(absl::string_view message) { return absl::InvalidArgumentError(message); }

OrderedJson Op(absl::string_view op, std::string path, OrderedJson value) {
  OrderedJson o = OrderedJson::object();
  o["op"] = op;
  o["path"] = std::move(path);
  o["value"] = std::move(value);
  return o;
}

// DNS-1123 label, as Kubernetes requires of container names (they appear in probe paths here).
bool IsDnsLabel(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-') {
      return false;
    }
  }
  return s.front() != '-' && s.back() != '-';
}

// The runAsUser / runAsGroup a container gets: its own securityContext, else the pod's.
absl::StatusOr<int64_t> EffectiveId(const Json& container, const Json* pod_security,
                                    const char* field, const std::string& path) {
  ASSIGN_OR_RETURN(const Json* sc, ObjectField(container, "securityContext", path));
  if (sc != nullptr) {
    auto it = sc->find(field);
    if (it != sc->end() && !it->is_null()) {
      if (!it->is_number_integer()) {
        return Invalid(absl::StrCat(path, ".securityContext.", field, " must be an integer"));
      }
      return it->get<int64_t>();
    }
  }
  if (pod_security != nullptr) {
    auto it = pod_security->find(field);
    if (it != pod_security->end() && !it->is_null()) {
      if (!it->is_number_integer()) {
        return Invalid(absl::StrCat("spec.securityContext.", field, " must be an integer"));
      }
      return it->get<int64_t>();
    }
  }
  return -1;
}

struct PodShape {
  const Json* containers = nullptr;       // never null after ReadShape
  const Json* init_containers = nullptr;  // null when absent
  const Json* volumes = nullptr;          // null when absent
  std::string first_container;
  std::string restart_policy;
};

// Reads what the injection needs from the spec and refuses what would break the injected pod.
absl::StatusOr<PodShape> ReadShape(const Json& spec) {
  PodShape shape;
  ASSIGN_OR_RETURN(shape.containers, ArrayField(spec, "containers", "spec"));
  ASSIGN_OR_RETURN(shape.init_containers, ArrayField(spec, "initContainers", "spec"));
  ASSIGN_OR_RETURN(shape.volumes, ArrayField(spec, "volumes", "spec"));
  ASSIGN_OR_RETURN(const Json* pod_security, ObjectField(spec, "securityContext", "spec"));
  ASSIGN_OR_RETURN(shape.restart_policy, StringField(spec, "restartPolicy", "spec"));
  if (shape.containers == nullptr || shape.containers->empty()) {
    return Invalid("spec.containers is empty: a pod needs at least one container");
  }

  struct List {
    const Json* items;
    const char* field;
  };
  for (const List& list :
       {List{shape.containers, "containers"}, List{shape.init_containers, "initContainers"}}) {
    if (list.items == nullptr) continue;
    const bool app = list.field == std::string("containers");
    for (size_t i = 0; i < list.items->size(); ++i) {
      const Json& c = (*list.items)[i];
      const std::string path = absl::StrCat("spec.", list.field, "[", i, "]");
      if (!c.is_object()) return Invalid(absl::StrCat(path, " must be an object"));
      ASSIGN_OR_RETURN(std::string name, StringField(c, "name", path));
      if (!IsDnsLabel(name)) {
        return Invalid(absl::StrCat(path, ".name \"", name,
                                    "\" is not a valid container name (a DNS-1123 label)"));
      }
      if (name == kInitContainerName) {
        return Invalid(absl::StrCat(path, ".name \"", name,
                                    "\" is reserved for the container the Remora injector adds; "
                                    "rename it"));
      }
      RETURN_IF_ERROR(StringField(c, "restartPolicy", path).status());  // a string if present
      if (app && shape.first_container.empty()) shape.first_container = name;
      for (const char* field : {"runAsUser", "runAsGroup"}) {
        ASSIGN_OR_RETURN(int64_t id, EffectiveId(c, pod_security, field, path));
        if (id == kProxyUid) {
          return Invalid(absl::StrCat(
              "container \"", name, "\" runs with ", field, " ", id,
              ", which is the Remora proxy's: its traffic would bypass the sidecar's capture "
              "rules; run it with another ",
              field == std::string("runAsUser") ? "user" : "group"));
        }
      }
      ASSIGN_OR_RETURN(const Json* ports, ArrayField(c, "ports", path));
      if (ports == nullptr) continue;
      for (size_t j = 0; j < ports->size(); ++j) {
        const Json& p = (*ports)[j];
        const std::string port_path = absl::StrCat(path, ".ports[", j, "]");
        if (!p.is_object()) return Invalid(absl::StrCat(port_path, " must be an object"));
        auto cp = p.find("containerPort");
        if (cp == p.end() || !cp->is_number_integer() || cp->get<int64_t>() < 1 ||
            cp->get<int64_t>() > 65535) {
          return Invalid(absl::StrCat(port_path, ".containerPort must be a port number 1-65535"));
        }
        const int port = cp->get<int>();
        ASSIGN_OR_RETURN(std::string protocol, StringField(p, "protocol", port_path));
        if (protocol != "" && protocol != "TCP") continue;  // the proxy captures TCP only
        if (std::find(std::begin(kReservedPorts), std::end(kReservedPorts), port) !=
            std::end(kReservedPorts)) {
          return Invalid(absl::StrCat(
              "container \"", name, "\" declares port ", port,
              ", which the Remora proxy uses in the pod's network namespace (15000, 15001, 15006, "
              "15021, 15090 are reserved); move the app to another port"));
        }
      }
    }
  }
  if (shape.volumes != nullptr) {
    for (size_t i = 0; i < shape.volumes->size(); ++i) {
      const std::string path = absl::StrCat("spec.volumes[", i, "]");
      if (!(*shape.volumes)[i].is_object()) {
        return Invalid(absl::StrCat(path, " must be an object"));
      }
      ASSIGN_OR_RETURN(std::string name, StringField((*shape.volumes)[i], "name", path));
      if (name == kTokenVolume || name == kCaVolume) {
        return Invalid(absl::StrCat(path, ".name \"", name,
                                    "\" is reserved for a volume the Remora injector adds; "
                                    "rename it"));
      }
    }
  }
  return shape;
}

bool HasContainerNamed(const Json* list, absl::string_view name) {
  if (list == nullptr) return false;
  for (const Json& c : *list) {
    if (c.is_object()) {
      auto it = c.find("name");
      if (it != c.end() && it->is_string() && it->get<std::string>() == name) return true;
    }
  }
  return false;
}

}  // namespace

bool NamespaceEnablesInjection(const std::map<std::string, std::string>& labels) {
  auto it = labels.find(kNamespaceLabel);
  return it != labels.end() && it->second == kNamespaceLabelEnabled;
}

absl::StatusOr<InjectionResult> ComputeInjection(const Json& pod, bool namespace_enabled,
                                                 const InjectorSettings& settings) {
  InjectionResult result;
  if (!pod.is_object()) return Invalid("the pod must be an object");
  ASSIGN_OR_RETURN(const Json* metadata, ObjectField(pod, "metadata", ""));
  ASSIGN_OR_RETURN(const Json* spec, ObjectField(pod, "spec", ""));
  if (spec == nullptr) return Invalid("spec is missing: not a pod or pod template");
  const Json no_metadata = Json::object();
  const Json& meta = metadata != nullptr ? *metadata : no_metadata;
  ASSIGN_OR_RETURN(auto annotations, StringMapField(meta, "annotations", "metadata"));
  ASSIGN_OR_RETURN(auto labels, StringMapField(meta, "labels", "metadata"));

  // Pods that are never injected, whatever they ask for.
  if (annotations.count(kMirrorAnnotation) > 0) {
    result.reason = "skipped: mirror of a static pod (the API server does not let it change)";
    return result;
  }
  ASSIGN_OR_RETURN(bool host_network, BoolField(*spec, "hostNetwork", "spec"));
  if (host_network) {
    result.reason = "skipped: hostNetwork pod (capture rules would apply to the node itself)";
    return result;
  }
  ASSIGN_OR_RETURN(const Json* containers, ArrayField(*spec, "containers", "spec"));
  ASSIGN_OR_RETURN(const Json* init_containers, ArrayField(*spec, "initContainers", "spec"));
  if (annotations.count(kStatusAnnotation) > 0 ||
      HasContainerNamed(containers, kProxyContainerName) ||
      HasContainerNamed(init_containers, kProxyContainerName)) {
    result.reason = "skipped: already injected";
    return result;
  }

  ASSIGN_OR_RETURN(InjectIntent intent, ReadInjectIntent(labels, annotations));
  if (intent == InjectIntent::kOptOut) {
    result.reason = absl::StrCat("skipped: opted out (", kInjectKey, "=false)");
    return result;
  }
  if (intent == InjectIntent::kUnset && !namespace_enabled) {
    result.reason = absl::StrCat("skipped: the namespace is not labelled ", kNamespaceLabel, "=",
                                 kNamespaceLabelEnabled, " and the pod does not opt in");
    return result;
  }

  ASSIGN_OR_RETURN(PodOptions options, ResolvePodOptions(annotations, settings));
  ASSIGN_OR_RETURN(PodShape shape, ReadShape(*spec));
  ASSIGN_OR_RETURN(ProbeRewrite probes, RewriteProbes(*shape.containers, "/spec/containers"));
  result.warnings = probes.warnings;
  if (!options.native_sidecar &&
      (shape.restart_policy == "Never" || shape.restart_policy == "OnFailure")) {
    result.warnings.push_back(absl::StrCat(
        "the classic (non-native) sidecar keeps running after the app exits, so this pod "
        "(restartPolicy ",
        shape.restart_policy, ") will not complete; remove ", kNativeSidecar,
        ": \"false\" on Kubernetes 1.29+"));
  }

  // 1. Probes, addressed by the containers' current indexes (before anything is inserted).
  for (OrderedJson& op : probes.ops) result.patch.push_back(std::move(op));

  // 2. Annotations: the status mark (idempotence), the rewritten probes, kubectl's default.
  const std::vector<std::string> init_names =
      options.native_sidecar ? std::vector<std::string>{kInitContainerName, kProxyContainerName}
                             : std::vector<std::string>{kInitContainerName};
  OrderedJson status = OrderedJson::object();
  status["mode"] = options.native_sidecar ? "native" : "classic";
  status["initContainers"] = init_names;
  status["containers"] =
      options.native_sidecar ? OrderedJson::array() : OrderedJson::array({kProxyContainerName});
  status["volumes"] = {kTokenVolume, kCaVolume};
  OrderedJson added = OrderedJson::object();
  added[kStatusAnnotation] = DumpJson(status);
  if (!probes.original.empty()) added[kRewrittenProbesAnnotation] = DumpJson(probes.original);
  if (annotations.count(kDefaultContainerAnnotation) == 0) {
    added[kDefaultContainerAnnotation] = shape.first_container;
  }
  ASSIGN_OR_RETURN(const Json* existing_annotations, ObjectField(meta, "annotations", "metadata"));
  if (metadata == nullptr) {
    OrderedJson m = OrderedJson::object();
    m["annotations"] = std::move(added);
    result.patch.push_back(Op("add", "/metadata", std::move(m)));
  } else if (existing_annotations == nullptr) {
    result.patch.push_back(Op("add", "/metadata/annotations", std::move(added)));
  } else {
    for (auto it = added.begin(); it != added.end(); ++it) {
      result.patch.push_back(Op(
          "add", absl::StrCat("/metadata/annotations/", EscapePointerToken(it.key())), it.value()));
    }
  }

  // 3. Containers. Native: remora-init, then the proxy, before the pod's own init containers, so
  // those already run inside the mesh. Classic: remora-init last (the pod's init containers keep
  // their direct network access: no proxy runs yet to take their traffic) and the proxy first
  // among the containers, whose postStart hook holds the others back.
  OrderedJson init = InitContainer(settings, options);
  OrderedJson proxy = ProxyContainer(settings, options, probes.app_probes);
  if (shape.init_containers == nullptr) {
    OrderedJson list = OrderedJson::array({std::move(init)});
    if (options.native_sidecar) list.push_back(std::move(proxy));
    result.patch.push_back(Op("add", "/spec/initContainers", std::move(list)));
  } else if (options.native_sidecar) {
    result.patch.push_back(Op("add", "/spec/initContainers/0", std::move(init)));
    result.patch.push_back(Op("add", "/spec/initContainers/1", std::move(proxy)));
  } else {
    result.patch.push_back(Op("add", "/spec/initContainers/-", std::move(init)));
  }
  if (!options.native_sidecar) {
    result.patch.push_back(Op("add", "/spec/containers/0", std::move(proxy)));
  }

  // 4. Volumes: the bootstrap token and the root CA.
  std::vector<OrderedJson> volumes = Volumes();
  if (shape.volumes == nullptr) {
    result.patch.push_back(Op("add", "/spec/volumes", OrderedJson(volumes)));
  } else {
    for (OrderedJson& v : volumes)
      result.patch.push_back(Op("add", "/spec/volumes/-", std::move(v)));
  }

  result.injected = true;
  result.reason = absl::StrCat("injected ", options.native_sidecar ? "native" : "classic",
                               " sidecar; every inbound port captured; ", probes.app_probes.size(),
                               " probe(s) rewritten");
  return result;
}

}  // namespace remora::inject
