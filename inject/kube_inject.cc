#include "inject/kube_inject.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/yaml.h"
#include "inject/injector.h"
#include "inject/pod_json.h"
#include "inject/yaml_json.h"

namespace remora::inject {
namespace {

constexpr size_t kMaxManifestBytes = 32 << 20;

// The raw text of each document, split exactly as LoadYamlDocuments splits (a line that is "---",
// or "---" followed by a blank, starts a new document), so YamlDocument::index finds the text of
// a document that is passed through unchanged, comments and all.
std::vector<std::string> RawDocuments(absl::string_view text) {
  std::vector<std::string> docs(1);
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.substr(0, 3) == "---" &&
        (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r')) {
      // Keep what follows "---" on its line (a comment, say) unless it is blank.
      absl::string_view rest = line.substr(3);
      docs.emplace_back();
      if (!absl::StripAsciiWhitespace(rest).empty()) absl::StrAppend(&docs.back(), rest, "\n");
    } else {
      docs.back().append(line.data(), line.size());
      docs.back().push_back('\n');
    }
  }
  return docs;
}

std::string StringMember(const OrderedJson& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string Describe(const OrderedJson& object) {
  std::string name;
  if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
    const std::string ns = StringMember(*m, "namespace");
    name = absl::StrCat(ns.empty() ? "" : ns + "/", StringMember(*m, "name"));
  }
  return absl::StrCat(StringMember(object, "kind"), " ", name.empty() ? "(unnamed)" : name);
}

// The object's pod template (or the pod itself), or nullptr for kinds that have none.
absl::StatusOr<OrderedJson*> PodOf(OrderedJson& object, const std::string& kind) {
  std::vector<const char*> path;
  if (kind == "Pod") {
    return &object;
  } else if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
             kind == "ReplicaSet" || kind == "ReplicationController" || kind == "Job") {
    path = {"spec", "template"};
  } else if (kind == "CronJob") {
    path = {"spec", "jobTemplate", "spec", "template"};
  } else {
    return nullptr;
  }
  OrderedJson* at = &object;
  std::string where;
  for (const char* key : path) {
    where = where.empty() ? key : absl::StrCat(where, ".", key);
    auto it = at->find(key);
    if (it == at->end() || !it->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a ", kind, " needs ", where, " (an object) to inject into"));
    }
    at = &*it;
  }
  return at;
}

class ManifestInjector {
 public:
  ManifestInjector(const InjectorSettings& settings, const KubeInjectOptions& options,
                   std::vector<std::string>& notes)
      : settings_(settings), options_(options), notes_(notes) {}

  // Injects `object` in place (recursing into a List); `*changed` tells whether it was modified.
  absl::Status Inject(OrderedJson& object, const std::string& label, bool* changed) {
    if (!object.is_object()) return absl::OkStatus();
    const std::string kind = StringMember(object, "kind");
    if (kind == "List") {
      auto items = object.find("items");
      if (items == object.end() || !items->is_array()) return absl::OkStatus();
      for (size_t i = 0; i < items->size(); ++i) {
        RETURN_IF_ERROR(Inject((*items)[i], absl::StrCat(label, " item ", i + 1), changed));
      }
      return absl::OkStatus();
    }
    const std::string where = absl::StrCat(label, " (", Describe(object), ")");
    absl::StatusOr<OrderedJson*> pod = PodOf(object, kind);
    if (!pod.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", pod.status().message()));
    }
    if (*pod == nullptr) return absl::OkStatus();

    const Json pod_json(**pod);
    absl::StatusOr<InjectionResult> result =
        ComputeInjection(pod_json, options_.namespace_enabled, settings_);
    if (!result.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", result.status().message()));
    }
    for (const std::string& warning : result->warnings) {
      notes_.push_back(absl::StrCat(where, ": warning: ", warning));
    }
    if (!result->injected) {
      notes_.push_back(absl::StrCat(where, ": ", result->reason));
      return absl::OkStatus();
    }
    try {
      **pod = (*pod)->patch(result->patch);
    } catch (const std::exception& e) {
      // The patch was computed against this very object: failing to apply it is a bug.
      return absl::InternalError(
          absl::StrCat(where, ": cannot apply the injection patch: ", e.what()));
    }
    *changed = true;
    return absl::OkStatus();
  }

 private:
  const InjectorSettings& settings_;
  const KubeInjectOptions& options_;
  std::vector<std::string>& notes_;
};

}  // namespace

absl::StatusOr<KubeInjectOutput> InjectManifests(absl::string_view text, absl::string_view what,
                                                 const InjectorSettings& settings,
                                                 const KubeInjectOptions& options) {
  return GuardYaml<KubeInjectOutput>(what, [&]() -> absl::StatusOr<KubeInjectOutput> {
    ASSIGN_OR_RETURN(std::vector<YamlDocument> docs,
                     LoadYamlDocuments(text, what, kMaxManifestBytes));
    const std::vector<std::string> raw = RawDocuments(text);
    KubeInjectOutput out;
    ManifestInjector injector(settings, options, out.notes);
    int number = 0;
    for (const YamlDocument& doc : docs) {
      const std::string label = absl::StrCat(what, " document ", ++number);
      absl::StatusOr<OrderedJson> object = YamlToJson(doc.root);
      if (!object.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(label, ": ", object.status().message()));
      }
      bool changed = false;
      RETURN_IF_ERROR(injector.Inject(*object, label, &changed));
      if (!out.yaml.empty()) out.yaml += "---\n";
      if (changed || static_cast<size_t>(doc.index) >= raw.size()) {
        out.yaml += JsonToYaml(*object);
      } else {
        std::string original = raw[doc.index];
        while (original.size() >= 2 && original[original.size() - 2] == '\n') original.pop_back();
        out.yaml += original;
      }
    }
    return out;
  });
}

}  // namespace remora::inject
