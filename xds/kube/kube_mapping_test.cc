#include "xds/kube/kube_mapping.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "xds/kube/cluster_mapping.h"
#include "xds/registry/registry.h"
#include "xds/server/operator_service.h"

namespace remora::xds {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Shaped like `kubectl get pod -o json` of an injected pod (trimmed of what the mapping ignores).
json InjectedPod(const std::string& name, const std::string& ip, const std::string& phase) {
  return json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": ")" +
                     name + R"(", "namespace": "shop", "uid": "uid-)" + name + R"(",
      "resourceVersion": "1042", "labels": {"app": "web", "version": "v1"},
      "annotations": {"sidecar.remora.io/status": "{\"containers\":[\"remora-proxy\"]}"}},
    "spec": {"serviceAccountName": "web",
      "containers": [
        {"name": "app", "image": "web:1", "ports": [
          {"name": "http", "containerPort": 8080, "protocol": "TCP"},
          {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
          {"name": "dns", "containerPort": 53, "protocol": "UDP"}]},
        {"name": "remora-proxy", "image": "remora-proxy:1", "ports": [
          {"name": "health", "containerPort": 15021, "protocol": "TCP"}]}]},
    "status": {"phase": ")" +
                     phase + R"(", "podIP": ")" + ip + R"(",
      "podIPs": [{"ip": ")" +
                     ip + R"("}]}
  })");
}

TEST(KubeMappingTest, MapsARunningInjectedPodToAWorkload) {
  absl::StatusOr<std::optional<Document>> doc =
      WorkloadDocument(InjectedPod("web-0", "10.1.0.5", "Running"));
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_TRUE(doc->has_value());
  EXPECT_EQ((*doc)->key.ToString(), "Workload shop/web-0");
  ASSERT_TRUE(ValidateDocument(**doc).ok()) << ValidateDocument(**doc);
  absl::StatusOr<Workload> w = ParseWorkload(**doc);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->service_account, "web");
  EXPECT_THAT(w->ips, ElementsAre("10.1.0.5"));
  EXPECT_EQ(w->labels.at("app"), "web");
  // The app's TCP ports, HTTP by Istio's port naming; not the proxy's, not UDP.
  ASSERT_EQ(w->ports.size(), 2u);
  EXPECT_EQ(w->ports[0].port, 8080u);
  EXPECT_EQ(w->ports[0].protocol, "http");
  EXPECT_EQ(w->ports[1].port, 9090u);
  EXPECT_EQ(w->ports[1].protocol, "tcp");
}

TEST(KubeMappingTest, OnlyRunningInjectedPodsAreWorkloads) {
  EXPECT_FALSE(IsMeshPod(InjectedPod("web-0", "10.1.0.5", "Pending")));
  EXPECT_FALSE(IsMeshPod(InjectedPod("web-0", "10.1.0.5", "Succeeded")));
  json plain = InjectedPod("web-0", "10.1.0.5", "Running");
  plain["metadata"].erase("annotations");
  plain["spec"]["containers"].erase(1);
  EXPECT_FALSE(IsMeshPod(plain));
  absl::StatusOr<std::optional<Document>> doc = WorkloadDocument(plain);
  ASSERT_TRUE(doc.ok());
  EXPECT_FALSE(doc->has_value());
  // A native sidecar (an init container with restartPolicy Always) counts as injected.
  json native = plain;
  native["spec"]["initContainers"] = json::array({{{"name", "remora-proxy"}}});
  EXPECT_TRUE(IsMeshPod(native));
}

TEST(KubeMappingTest, RefusesAPodWhoseFieldsHaveTheWrongType) {
  json pod = InjectedPod("web-0", "10.1.0.5", "Running");
  pod["spec"]["serviceAccountName"] = 7;
  absl::StatusOr<std::optional<Document>> doc = WorkloadDocument(pod);
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(doc.status().message(), "Pod shop/web-0: spec.serviceAccountName: must be a string");
}

json Service() {
  return json::parse(R"({
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "web", "namespace": "shop", "uid": "svc-uid"},
    "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
      "type": "ClusterIP",
      "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "raw", "port": 81, "targetPort": 9090, "protocol": "TCP"},
                {"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"}]}
  })");
}

json Slice() {
  return json::parse(R"({
    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
    "metadata": {"name": "web-abcde", "namespace": "shop",
                 "labels": {"kubernetes.io/service-name": "web"}},
    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    "endpoints": [
      {"addresses": ["10.1.0.5"], "conditions": {"ready": true},
       "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "shop"}},
      {"addresses": ["10.1.0.6"], "conditions": {"ready": false},
       "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "shop"}},
      {"addresses": ["10.1.0.7"],
       "targetRef": {"kind": "Pod", "name": "legacy-0", "namespace": "shop"}}]
  })");
}

MeshPods Pods() {
  MeshPods pods;
  pods["shop/web-0"] = MeshPod{"shop", "web-0", "uid-web-0", "web", {"10.1.0.5"}};
  pods["shop/web-1"] = MeshPod{"shop", "web-1", "uid-web-1", "web", {"10.1.0.6"}};
  return pods;
}

TEST(KubeMappingTest, ServiceListsTheReadyMeshEndpointsOfItsSlices) {
  absl::StatusOr<std::optional<Document>> doc = ServiceDocument(Service(), {Slice()}, Pods());
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_TRUE(doc->has_value());
  ASSERT_TRUE(ValidateDocument(**doc).ok()) << ValidateDocument(**doc);
  absl::StatusOr<ServiceSpec> s = ParseService(**doc);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->explicit_endpoints);
  // web-1 is not ready; legacy-0 has no sidecar (not a mesh pod).
  ASSERT_EQ(s->endpoints.size(), 1u);
  EXPECT_EQ(s->endpoints[0].ip, "10.1.0.5");
  EXPECT_EQ(s->endpoints[0].service_account, "web");
  EXPECT_EQ(s->endpoints[0].workload, "web-0");
  EXPECT_THAT(s->virtual_ips, ElementsAre("10.96.0.10"));
  EXPECT_THAT(s->hostnames, ElementsAre("web.shop.svc.cluster.local", "web.shop.svc", "web.shop"));
  // UDP is left out; the named targetPort is resolved through the slice.
  ASSERT_EQ(s->ports.size(), 2u);
  EXPECT_EQ(s->ports[0].port, 80u);
  EXPECT_EQ(s->ports[0].target_port, 8080u);
  EXPECT_EQ(s->ports[0].protocol, "http");
  EXPECT_EQ(s->ports[1].target_port, 9090u);
  EXPECT_EQ(s->ports[1].protocol, "tcp");
}

TEST(KubeMappingTest, ServiceWithoutSlicesUsesItsSelector) {
  absl::StatusOr<std::optional<Document>> doc = ServiceDocument(Service(), {}, Pods());
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_TRUE(doc->has_value());
  absl::StatusOr<ServiceSpec> s = ParseService(**doc);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->explicit_endpoints);
  EXPECT_EQ(s->selector.at("app"), "web");
}

TEST(KubeMappingTest, ExternalNameAndSelectorlessSlicelessServicesAreLeftOut) {
  json external = Service();
  external["spec"]["type"] = "ExternalName";
  EXPECT_FALSE(ServiceDocument(external, {}, Pods())->has_value());
  json bare = Service();
  bare["spec"].erase("selector");
  EXPECT_FALSE(ServiceDocument(bare, {}, Pods())->has_value());
}

constexpr char kAuthorizationPolicy[] = R"({
  "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
  "metadata": {"name": "allow-web", "namespace": "shop", "uid": "ap-uid",
    "resourceVersion": "77", "generation": 2,
    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
  "spec": {"selector": {"matchLabels": {"app": "web"}}, "action": "ALLOW",
    "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/client"]}}],
               "to": [{"operation": {"ports": ["8080"], "methods": ["GET"]}}]}]}
})";

TEST(KubeMappingTest, PolicyKeepsItsSpecAndValidatesAsRemoractlApplyWould) {
  absl::StatusOr<Document> doc = PolicyDocument(json::parse(kAuthorizationPolicy));
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->key.ToString(), "AuthorizationPolicy shop/allow-web");
  EXPECT_TRUE(ValidateDocument(*doc).ok()) << ValidateDocument(*doc);
  json beta = json::parse(kAuthorizationPolicy);
  beta["apiVersion"] = "security.istio.io/v1beta1";
  EXPECT_TRUE(PolicyDocument(beta).ok());
  json other = json::parse(kAuthorizationPolicy);
  other["kind"] = "RequestAuthentication";
  EXPECT_THAT(PolicyDocument(other).status().message(), HasSubstr("is not a policy kind"));
}

TEST(KubeMappingTest, MapClusterReportsARefusedPolicyWithTheMessageRemoractlPrints) {
  json good = json::parse(kAuthorizationPolicy);
  json bad = good;
  bad["metadata"]["name"] = "broken";
  bad["spec"]["action"] = "MAYBE";
  json ns = {{"apiVersion", "v1"},
             {"kind", "Namespace"},
             {"metadata", {{"name", "shop"}, {"labels", {{"team", "a"}}}}}};
  json pod = InjectedPod("web-0", "10.1.0.5", "Running");
  json pending = InjectedPod("web-1", "10.1.0.6", "Pending");
  json service = Service();
  json slice = Slice();
  ClusterObjects objects;
  objects.namespaces = {&ns};
  objects.pods = {&pod, &pending};
  objects.services = {&service};
  objects.endpoint_slices = {&slice};
  objects.policies = {&good, &bad};
  ClusterDocuments mapped = MapCluster(objects, ValidateDocument);
  ASSERT_EQ(mapped.refused.size(), 1u);
  EXPECT_EQ(mapped.refused[0].object, &bad);
  EXPECT_TRUE(mapped.refused[0].is_policy);
  // What `remoractl apply` would print for the same object, with its place in the cluster.
  absl::StatusOr<Document> bad_doc = PolicyDocument(bad);
  ASSERT_TRUE(bad_doc.ok());
  EXPECT_EQ(mapped.refused[0].message, ValidateDocument(*bad_doc).message());
  EXPECT_THAT(mapped.refused[0].message, HasSubstr("AuthorizationPolicy shop/broken: spec.action"));
  EXPECT_EQ(mapped.documents.size(), 4u);  // namespace, workload, service, good policy
  EXPECT_EQ(mapped.pods.size(), 1u);
  EXPECT_THAT(mapped.mesh_namespaces, ElementsAre("shop"));

  // What the store then holds builds into the registry the views read.
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/map_cluster";
  absl::StatusOr<std::unique_ptr<ConfigStore>> store = ConfigStore::Open(dir);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Replace(mapped.documents).ok());
  absl::StatusOr<std::shared_ptr<const Registry>> registry =
      Registry::Build((*store)->Current(), "remora-system");
  ASSERT_TRUE(registry.ok()) << registry.status();
  ASSERT_NE((*registry)->FindWorkload("shop", "web-0"), nullptr);
  EXPECT_EQ((*registry)->NamespaceLabels("shop").at("team"), "a");
  EXPECT_EQ((*registry)->services().size(), 1u);
  EXPECT_EQ((*registry)->policies().authorization_policies.size(), 1u);
}

TEST(KubeMappingTest, JsonScalarsBecomeTheirText) {
  YAML::Node node = JsonToYamlNode(json::parse(R"({"a": 1, "b": true, "c": null, "d": ["x"]})"));
  EXPECT_EQ(node["a"].as<std::string>(), "1");
  EXPECT_EQ(node["b"].as<std::string>(), "true");
  EXPECT_TRUE(node["c"].IsNull());
  EXPECT_EQ(node["d"][0].as<std::string>(), "x");
}

}  // namespace
}  // namespace remora::xds
