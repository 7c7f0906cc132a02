#include "xds/kube/pod_trim.h"

#include "common/file.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"
#include "xds/kube/kube_mapping.h"

namespace remora::xds {
namespace {

using json = nlohmann::json;

// `kubectl get pod -o json` of an injected Deployment pod on a real cluster: managedFields,
// ownerReferences, probes, env, volumes, container statuses.
json InjectedPod() {
  absl::StatusOr<std::string> text =
      ReadFile(remora::testing::Runfile("xds/kube/testdata/injected_pod.json"));
  EXPECT_TRUE(text.ok()) << text.status();
  return json::parse(text.ok() ? *text : "{}");
}

// Everything the control plane derives from a pod, as text, to compare a pod with its trimmed self.
std::string Derived(const json& pod) {
  std::string out = IsMeshPod(pod) ? "mesh;" : "not-mesh;";
  absl::StatusOr<std::optional<MeshPod>> mesh = ReadMeshPod(pod);
  if (!mesh.ok()) return out + "error: " + std::string(mesh.status().message());
  if (mesh->has_value()) {
    const MeshPod& p = **mesh;
    out += p.ns + "/" + p.name + " uid=" + p.uid + " sa=" + p.service_account + " ips=";
    for (const std::string& ip : p.ips) out += ip + ",";
  }
  absl::StatusOr<std::optional<Document>> doc = WorkloadDocument(pod);
  if (!doc.ok()) return out + " error: " + std::string(doc.status().message());
  if (doc->has_value()) out += " " + (*doc)->key.ToString() + "\n" + YAML::Dump((*doc)->node);
  return out;
}

TEST(PodTrimTest, KeepsEverythingTheMappingReadsOfAnInjectedPod) {
  const json pod = InjectedPod();
  json trimmed = pod;
  EXPECT_TRUE(TrimPod(trimmed));
  EXPECT_EQ(Derived(trimmed), Derived(pod));
  EXPECT_NE(Derived(pod).find("Workload shop/web-7d9f8c6b5-x2kqp"), std::string::npos)
      << Derived(pod);
  // What is left is what the mapping reads: no managedFields, no probes, no statuses.
  EXPECT_FALSE(trimmed["metadata"].contains("managedFields"));
  EXPECT_FALSE(trimmed["metadata"].contains("ownerReferences"));
  EXPECT_FALSE(trimmed["metadata"]["annotations"].contains("prometheus.io/port"));
  EXPECT_TRUE(trimmed["metadata"]["annotations"].contains("sidecar.remora.io/status"));
  EXPECT_FALSE(trimmed["spec"].contains("volumes"));
  EXPECT_FALSE(trimmed["spec"]["containers"][0].contains("env"));
  EXPECT_FALSE(trimmed["status"].contains("containerStatuses"));
  EXPECT_EQ(trimmed["metadata"]["resourceVersion"], "48213");
  // The point of it: a fraction of the bytes.
  EXPECT_LT(trimmed.dump().size() * 4, pod.dump().size())
      << trimmed.dump().size() << " of " << pod.dump().size() << " bytes kept";
}

TEST(PodTrimTest, KeepsWhatMakesAPodAMeshPodOrNot) {
  const json base = InjectedPod();
  std::vector<json> variants;
  json pending = base;
  pending["status"]["phase"] = "Pending";
  variants.push_back(pending);
  json native_only = base;  // no status annotation: the native sidecar container marks it
  native_only["metadata"]["annotations"].erase("sidecar.remora.io/status");
  variants.push_back(native_only);
  json plain = native_only;  // no proxy container either: not a mesh pod
  plain["spec"]["initContainers"].erase(1);
  variants.push_back(plain);
  json classic = native_only;  // the proxy as an ordinary container (classic sidecar)
  classic["spec"]["containers"].push_back(classic["spec"]["initContainers"][1]);
  classic["spec"]["initContainers"].erase(1);
  variants.push_back(classic);
  json single_ip = base;  // older API servers: podIP alone
  single_ip["status"].erase("podIPs");
  variants.push_back(single_ip);
  json bad_type = base;  // the mapping reports a wrong type; trimming must not hide it
  bad_type["spec"]["serviceAccountName"] = 7;
  variants.push_back(bad_type);
  for (const json& pod : variants) {
    json trimmed = pod;
    TrimPod(trimmed);
    EXPECT_EQ(Derived(trimmed), Derived(pod)) << pod.dump();
  }
}

TEST(PodTrimTest, LeavesOddShapesForTheMappingToReport) {
  for (const char* text : {"7", "[]", "{}", R"({"metadata": 3, "spec": [], "status": "x"})",
                           R"({"metadata": {"annotations": [1]}, "spec": {"containers": {}}})"}) {
    json pod = json::parse(text);
    json trimmed = pod;
    EXPECT_TRUE(TrimPod(trimmed));
    EXPECT_EQ(Derived(trimmed), Derived(pod)) << text;
  }
}

}  // namespace
}  // namespace remora::xds
