#include "proxy/control/dynamic_config.h"

#include "absl/strings/str_cat.h"
#include "filters/engine.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "xds/view/resource_types.h"

namespace remora::proxy::control {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

constexpr char kIdentity[] = "spiffe://cluster.local/ns/shop/sa/web";

// Keeps the Any values alive for the ReceivedUpdate that points at them.
struct Update {
  std::vector<google::protobuf::Any> anys;
  ReceivedUpdate update;

  Update(absl::string_view type, const std::vector<const google::protobuf::Message*>& messages) {
    anys.resize(messages.size());
    update.type_url = std::string(type);
    update.version = "1";
    update.complete_set = true;
    for (size_t i = 0; i < messages.size(); ++i) {
      anys[i].PackFrom(*messages[i]);
      update.resources.push_back({"", "1", &anys[i]});
    }
  }
};

remora::v1::WorkloadSettings Settings(const std::string& root = "mesh-root") {
  remora::v1::WorkloadSettings w;
  w.set_name("web-0");
  w.set_namespace_("shop");
  w.set_service_account("web");
  w.set_identity(kIdentity);
  (*w.mutable_labels())["app"] = "web";
  w.set_root_namespace(root);
  return w;
}

remora::v1::AuthorizationPolicy Policy(const std::string& kind, const std::string& ns,
                                       const std::string& name, const std::string& spec) {
  remora::v1::AuthorizationPolicy p;
  p.set_kind(kind);
  p.set_namespace_(ns);
  p.set_name(name);
  p.set_yaml(absl::StrCat(
      "apiVersion: ", kind == "NetworkPolicy" ? "networking.k8s.io/v1" : "security.istio.io/v1",
      "\nkind: ", kind, "\nmetadata: {name: ", name, ", namespace: ", ns, "}\nspec:\n", spec));
  return p;
}

const remora::v1::AuthorizationPolicy kDenyAdmin =
    Policy("AuthorizationPolicy", "shop", "deny-admin",
           "  action: DENY\n  rules: [{to: [{operation: {paths: [\"/admin\"]}}]}]\n");
const remora::v1::AuthorizationPolicy kAllowFrontend = Policy(
    "AuthorizationPolicy", "shop", "allow-frontend",
    "  rules: [{from: [{source: {principals: [\"cluster.local/ns/shop/sa/frontend\"]}}]}]\n");

class DynamicConfigTest : public ::testing::Test {
 protected:
  std::vector<remora::v1::ResourceError> Apply(
      absl::string_view type, const std::vector<const google::protobuf::Message*>& messages) {
    Update u(type, messages);
    return config_.Apply(u.update);
  }

  // Whether an HTTP request from `principal` for "/" on port 8080 is allowed.
  bool Allows(const std::string& principal) {
    filters::PolicySet set = config_.Policies();
    if (set.size() == 0) return true;
    filters::EngineOptions options;
    options.root_namespace = config_.RootNamespace();
    absl::StatusOr<std::shared_ptr<const filters::PolicyEngine>> engine =
        filters::PolicyEngine::Build(set, options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    if (!engine.ok()) return false;
    filters::RequestAttributes r;
    r.source.principal = principal;
    r.source.ip = *filters::IpAddress::Parse("10.0.0.3");
    r.destination.ns = "shop";
    r.destination.labels = config_.Labels();
    r.destination.ip = *filters::IpAddress::Parse("10.0.0.2");
    r.destination.port = 8080;
    r.destination.protocol = filters::Protocol::kHttp;
    r.http.method = "GET";
    r.http.path = "/";
    return (*engine)->ForWorkload("shop", config_.Labels())->Evaluate(r).allowed();
  }

  DynamicConfig config_{"shop/web-0", kIdentity, "cluster.local", /*max_policies=*/1};
};

TEST_F(DynamicConfigTest, RefusesWorkloadSettingsThatNameNoRootNamespace) {
  remora::v1::WorkloadSettings settings = Settings("");
  std::vector<remora::v1::ResourceError> errors = Apply(xds::kWorkloadSettingsType, {&settings});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0].reason(), HasSubstr("root_namespace"));
  EXPECT_FALSE(config_.has_workload());
}

TEST_F(DynamicConfigTest, TakesTheRootNamespaceFromTheControlPlane) {
  remora::v1::WorkloadSettings settings = Settings("mesh-root");
  EXPECT_TRUE(Apply(xds::kWorkloadSettingsType, {&settings}).empty());
  EXPECT_EQ(config_.RootNamespace(), "mesh-root");
}

TEST_F(DynamicConfigTest, IsCompleteOnlyOnceEveryTypeArrivedAndTheWorkloadWasAccepted) {
  remora::v1::WorkloadSettings bad = Settings("");
  Apply(xds::kWorkloadSettingsType, {&bad});
  for (absl::string_view type : xds::kAllTypes) {
    if (type != xds::kWorkloadSettingsType) Apply(type, {});
  }
  EXPECT_FALSE(config_.complete());
  EXPECT_EQ(config_.Missing(), "WorkloadSettings (refused)");
  remora::v1::WorkloadSettings good = Settings();
  Apply(xds::kWorkloadSettingsType, {&good});
  EXPECT_TRUE(config_.complete());
  EXPECT_EQ(config_.Missing(), "");
}

TEST_F(DynamicConfigTest, ARefusedNewAllowPolicyIsEnforcedAsAllowingNothing) {
  remora::v1::WorkloadSettings settings = Settings();
  Apply(xds::kWorkloadSettingsType, {&settings});
  // max_policies is 1: the second document is refused.
  std::vector<remora::v1::ResourceError> errors =
      Apply(xds::kAuthorizationPolicyType, {&kDenyAdmin, &kAllowFrontend});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].name(), "AuthorizationPolicy/shop/allow-frontend");
  EXPECT_THAT(errors[0].reason(), HasSubstr("limits.max_policies"));
  EXPECT_THAT(errors[0].reason(), EndsWith("(fail closed)"));
  filters::PolicySet set = config_.Policies();
  ASSERT_EQ(set.authorization_policies.size(), 2u);
  EXPECT_EQ(set.authorization_policies[1].meta.Id(), "shop/allow-frontend (refused)");
  EXPECT_FALSE(Allows("cluster.local/ns/shop/sa/frontend"));
  EXPECT_FALSE(Allows("cluster.local/ns/shop/sa/batch"));
}

TEST_F(DynamicConfigTest, ARefusedPolicyKeepsItsLastAcceptedVersion) {
  remora::v1::WorkloadSettings settings = Settings();
  Apply(xds::kWorkloadSettingsType, {&settings});
  ASSERT_TRUE(Apply(xds::kAuthorizationPolicyType, {&kAllowFrontend}).empty());
  remora::v1::AuthorizationPolicy broken = kAllowFrontend;
  broken.set_yaml(absl::StrCat(broken.yaml(), "  bogus: 1\n"));
  std::vector<remora::v1::ResourceError> errors = Apply(xds::kAuthorizationPolicyType, {&broken});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0].reason(), EndsWith("its last accepted version stays in force"));
  EXPECT_TRUE(Allows("cluster.local/ns/shop/sa/frontend"));
  EXPECT_FALSE(Allows("cluster.local/ns/shop/sa/batch"));
}

TEST_F(DynamicConfigTest, ARefusedNetworkPolicyIsolatesTheWorkload) {
  remora::v1::WorkloadSettings settings = Settings();
  Apply(xds::kWorkloadSettingsType, {&settings});
  // A peer the control plane resolved to an address the proxy does not accept.
  remora::v1::AuthorizationPolicy netpol =
      Policy("NetworkPolicy", "shop", "web-ingress",
             "  podSelector: {matchLabels: {app: web}}\n"
             "  ingress: [{from: [{ipBlock: {cidr: \"::ffff:10.0.0.7/128\"}}]}]\n");
  std::vector<remora::v1::ResourceError> errors = Apply(xds::kAuthorizationPolicyType, {&netpol});
  ASSERT_EQ(errors.size(), 1u) << "the document was accepted; pick another bad peer";
  EXPECT_THAT(errors[0].reason(), EndsWith("(fail closed)"));
  filters::PolicySet set = config_.Policies();
  ASSERT_EQ(set.network_policies.size(), 1u);
  EXPECT_EQ(set.network_policies[0].meta.Id(), "shop/web-ingress (refused)");
  EXPECT_FALSE(Allows("cluster.local/ns/shop/sa/frontend"));
}

TEST_F(DynamicConfigTest, ARefusedPolicyTheControlPlaneWithdrawsNoLongerDenies) {
  remora::v1::WorkloadSettings settings = Settings();
  Apply(xds::kWorkloadSettingsType, {&settings});
  Apply(xds::kAuthorizationPolicyType, {&kDenyAdmin, &kAllowFrontend});
  ASSERT_FALSE(Allows("cluster.local/ns/shop/sa/batch"));
  EXPECT_TRUE(Apply(xds::kAuthorizationPolicyType, {&kDenyAdmin}).empty());
  EXPECT_TRUE(Allows("cluster.local/ns/shop/sa/batch"));
}

TEST_F(DynamicConfigTest, ARefusedAuditPolicyChangesNothing) {
  remora::v1::WorkloadSettings settings = Settings();
  Apply(xds::kWorkloadSettingsType, {&settings});
  remora::v1::AuthorizationPolicy audit =
      Policy("AuthorizationPolicy", "shop", "audit-all", "  action: AUDIT\n  rules: [{}]\n");
  std::vector<remora::v1::ResourceError> errors =
      Apply(xds::kAuthorizationPolicyType, {&kDenyAdmin, &audit});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0].reason(), HasSubstr("not enforced"));
  EXPECT_TRUE(Allows("cluster.local/ns/shop/sa/batch"));
}

TEST_F(DynamicConfigTest, TheLastResortDeniesEverything) {
  remora::v1::WorkloadSettings settings = Settings();
  Apply(xds::kWorkloadSettingsType, {&settings});
  filters::PolicySet deny = config_.DenyAll();
  absl::StatusOr<std::shared_ptr<const filters::PolicyEngine>> engine =
      filters::PolicyEngine::Build(deny);
  ASSERT_TRUE(engine.ok()) << engine.status();
  filters::RequestAttributes r;
  r.source.principal = "cluster.local/ns/shop/sa/frontend";
  r.destination.ns = "shop";
  r.destination.port = 8080;
  EXPECT_FALSE((*engine)->ForWorkload("shop", config_.Labels())->Evaluate(r).allowed());
}

}  // namespace
}  // namespace remora::proxy::control
