#include "filters/peer_authentication.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/time.h"

namespace remora::filters {
namespace {

PeerAuthentication Pa(const std::string& ns, const std::string& name, MtlsMode mode,
                      Labels selector = {}, std::map<uint32_t, MtlsMode> ports = {},
                      std::optional<int64_t> created = std::nullopt) {
  PeerAuthentication p;
  p.meta.ns = ns;
  p.meta.name = name;
  if (created.has_value()) p.meta.created = absl::FromUnixSeconds(*created);
  p.selector = std::move(selector);
  p.mode = mode;
  p.port_level = std::move(ports);
  return p;
}

MtlsSettings Compute(const std::vector<PeerAuthentication>& policies,
                     const Labels& labels = {{"app", "web"}}, const std::string& ns = "shop") {
  std::vector<const PeerAuthentication*> ptrs;
  for (const auto& p : policies) ptrs.push_back(&p);
  return ComputeMtlsSettings(ptrs, ns, labels, "remora-system");
}

constexpr MtlsMode kUnset = MtlsMode::kUnset;
constexpr MtlsMode kDisable = MtlsMode::kDisable;
constexpr MtlsMode kPermissive = MtlsMode::kPermissive;
constexpr MtlsMode kStrict = MtlsMode::kStrict;

TEST(PeerAuthenticationTest, DefaultIsPermissive) {
  MtlsSettings s = Compute({});
  EXPECT_EQ(s.mode, kPermissive);
  EXPECT_EQ(s.mode_policy, "");
  EXPECT_EQ(s.ForPort(8080), kPermissive);
}

TEST(PeerAuthenticationTest, WorkloadOverNamespaceOverMesh) {
  const Labels web = {{"app", "web"}};
  EXPECT_EQ(Compute({Pa("remora-system", "mesh", kStrict)}).mode, kStrict);
  EXPECT_EQ(Compute({Pa("remora-system", "mesh", kStrict), Pa("shop", "ns", kPermissive)}).mode,
            kPermissive);
  MtlsSettings s = Compute({Pa("remora-system", "mesh", kStrict), Pa("shop", "ns", kPermissive),
                            Pa("shop", "web", kDisable, web)});
  EXPECT_EQ(s.mode, kDisable);
  EXPECT_EQ(s.mode_policy, "shop/web");
  // UNSET inherits at every level.
  s = Compute({Pa("remora-system", "mesh", kStrict), Pa("shop", "ns", kUnset),
               Pa("shop", "web", kUnset, web)});
  EXPECT_EQ(s.mode, kStrict);
  EXPECT_EQ(s.mode_policy, "remora-system/mesh");
}

TEST(PeerAuthenticationTest, OnlyTheWorkloadsNamespaceAndTheRootApply) {
  EXPECT_EQ(Compute({Pa("other", "ns", kStrict)}).mode, kPermissive);
  EXPECT_EQ(Compute({Pa("shop", "api", kStrict, {{"app", "api"}})}).mode, kPermissive);
  // A root-namespace policy with a selector is ignored (Istio's ComposePeerAuthentication).
  EXPECT_EQ(Compute({Pa("remora-system", "web", kStrict, {{"app", "web"}})}).mode, kPermissive);
}

TEST(PeerAuthenticationTest, PortLevelModesComeFromTheWorkloadPolicy) {
  MtlsSettings s = Compute(
      {Pa("shop", "ns", kStrict), Pa("shop", "web", kUnset, {{"app", "web"}},
                                     {{9090, kPermissive}, {8443, kUnset}, {15021, kDisable}})});
  EXPECT_EQ(s.mode, kStrict);
  EXPECT_EQ(s.ForPort(8080), kStrict);
  EXPECT_EQ(s.ForPort(9090), kPermissive);
  EXPECT_EQ(s.ForPort(8443), kStrict);  // UNSET inherits the workload's (inherited) mode
  EXPECT_EQ(s.ForPort(15021), kDisable);
  EXPECT_EQ(s.PolicyForPort(9090), "shop/web");
  EXPECT_EQ(s.PolicyForPort(8080), "shop/ns");
}

TEST(PeerAuthenticationTest, TiesBreakByCreationTime) {
  // Namespace- and mesh-level: the oldest wins.
  EXPECT_EQ(
      Compute({Pa("shop", "new", kStrict, {}, {}, 200), Pa("shop", "old", kDisable, {}, {}, 100)})
          .mode_policy,
      "shop/old");
  // Workload-level: the newest wins.
  EXPECT_EQ(Compute({Pa("shop", "new", kStrict, {{"app", "web"}}, {}, 200),
                     Pa("shop", "old", kDisable, {{"app", "web"}}, {}, 100)})
                .mode_policy,
            "shop/new");
  // Unknown times: input order (the first one) decides.
  EXPECT_EQ(Compute({Pa("shop", "a", kStrict), Pa("shop", "b", kDisable)}).mode_policy, "shop/a");
  EXPECT_EQ(Compute({Pa("shop", "a", kStrict, {{"app", "web"}}),
                     Pa("shop", "b", kDisable, {{"app", "web"}})})
                .mode_policy,
            "shop/a");
}

TEST(PeerAuthenticationTest, Validation) {
  EXPECT_TRUE(ValidatePeerAuthentication(Pa("shop", "a", kStrict)).ok());
  absl::Status s = ValidatePeerAuthentication(Pa("shop", "a", kStrict, {}, {{80, kStrict}}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("cannot have port level mTLS"));
  s = ValidatePeerAuthentication(Pa("shop", "a", kStrict, {{"app", "a"}}, {{70000, kStrict}}));
  EXPECT_THAT(std::string(s.message()),
              ::testing::HasSubstr("spec.portLevelMtls.70000: port must be in range 1..65535"));
  s = ValidatePeerAuthentication(Pa("shop", "a", kStrict, {{"app", "a b"}}));
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("spec.selector.matchLabels.app"));
}

}  // namespace
}  // namespace remora::filters
