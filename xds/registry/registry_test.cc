#include "xds/registry/registry.h"

#include "common/yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "remora/v1/resources.pb.h"
#include "xds/view/resource_types.h"
#include "xds/view/workload_view.h"

namespace remora::xds {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Document Doc(const std::string& yaml) {
  absl::StatusOr<std::vector<Document>> docs = ParseDocuments(yaml, "test.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status();
  return (*docs)[0];
}

std::shared_ptr<const Registry> Build(const std::string& yaml) {
  absl::StatusOr<std::vector<Document>> docs = ParseDocuments(yaml, "test.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status();
  auto snapshot = std::make_shared<StoreSnapshot>();
  snapshot->version = 1;
  for (const Document& d : *docs) {
    EXPECT_TRUE(ValidateRegistryDocument(d).ok()) << ValidateRegistryDocument(d);
    snapshot->objects[d.key] =
        StoredObject{d.key, d.api_version, DumpYaml(d.node), YAML::Clone(d.node), 1};
  }
  absl::StatusOr<std::shared_ptr<const Registry>> registry = Registry::Build(snapshot, "root");
  EXPECT_TRUE(registry.ok()) << registry.status();
  return *registry;
}

constexpr char kEndpoints[] = R"(
apiVersion: remora.io/v1
kind: Workload
metadata: {name: client-0, namespace: shop}
spec: {serviceAccount: client, addresses: [10.1.0.9]}
---
apiVersion: remora.io/v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  addresses: [10.96.0.10]
  endpoints:
  - {address: 10.1.0.5, serviceAccount: web, workload: web-0}
  - {address: 10.1.0.6, serviceAccount: web-canary}
  ports: [{name: http, port: 80, targetPort: 8080, protocol: http}]
)";

TEST(RegistryTest, ServiceWithListedEndpointsServesThemWithTheirIdentities) {
  std::shared_ptr<const Registry> registry = Build(kEndpoints);
  ASSERT_EQ(registry->services().size(), 1u);
  EXPECT_TRUE(registry->services()[0].explicit_endpoints);
  absl::StatusOr<WorkloadView> view =
      ComputeView(*registry, *registry->FindWorkload("shop", "client-0"), ViewOptions{});
  ASSERT_TRUE(view.ok()) << view.status();
  remora::v1::Service service;
  ASSERT_TRUE(view->types[std::string(kServiceType)]["shop/web"].resource.UnpackTo(&service));
  EXPECT_THAT(service.endpoint_ips(), ElementsAre("10.1.0.5", "10.1.0.6"));
  EXPECT_THAT(service.identities(), ElementsAre("spiffe://cluster.local/ns/shop/sa/web",
                                                "spiffe://cluster.local/ns/shop/sa/web-canary"));
  EXPECT_THAT(service.virtual_ips(), ElementsAre("10.96.0.10"));
}

TEST(RegistryTest, RefusesEndpointsTogetherWithASelector) {
  absl::Status s = ValidateRegistryDocument(Doc(R"(
apiVersion: remora.io/v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  endpoints: [{address: 10.1.0.5, serviceAccount: web}]
  ports: [{port: 80}]
)"));
  EXPECT_THAT(s.message(), HasSubstr("spec.endpoints: and selector exclude each other"));
}

TEST(RegistryTest, RefusesAnEndpointThatIsNotAnAddressWithAServiceAccount) {
  EXPECT_THAT(ValidateRegistryDocument(Doc(R"(
apiVersion: remora.io/v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  endpoints: [{address: web-0, serviceAccount: web}]
  ports: [{port: 80}]
)"))
                  .message(),
              HasSubstr("spec.endpoints[0].address: \"web-0\" is not an IP address"));
  EXPECT_THAT(ValidateRegistryDocument(Doc(R"(
apiVersion: remora.io/v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  endpoints: [{address: 10.1.0.5}]
  ports: [{port: 80}]
)"))
                  .message(),
              HasSubstr("spec.endpoints[0].serviceAccount"));
}

TEST(RegistryTest, AServiceWithNeitherSelectorNorEndpointsIsRefused) {
  EXPECT_THAT(ValidateRegistryDocument(Doc(R"(
apiVersion: remora.io/v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}]}
)"))
                  .message(),
              HasSubstr("spec.selector: is required (or endpoints)"));
}

}  // namespace
}  // namespace remora::xds
