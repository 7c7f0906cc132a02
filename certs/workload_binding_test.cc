#include "certs/workload_binding.h"

#include "certs/keys.h"
#include "certs/pem.h"
#include "certs/svid.h"
#include "certs/testing/test_pki.h"
#include "certs/trust_bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::certs {
namespace {

using ::testing::HasSubstr;

class WorkloadBindingTest : public ::testing::Test {
 protected:
  X509Ptr Issue(absl::string_view workload) {
    absl::StatusOr<X509Ptr> leaf =
        root_.IssueSvid(key_.get(), *SpiffeId::ForServiceAccount("cluster.local", "shop", "web"),
                        absl::Now(), absl::Hours(1), absl::Minutes(5), workload);
    EXPECT_TRUE(leaf.ok()) << leaf.status();
    return leaf.ok() ? std::move(*leaf) : nullptr;
  }

  Authority root_ = testing::MakeRoot();
  EvpPkeyPtr key_ = *GenerateEcKey();
};

TEST_F(WorkloadBindingTest, ACertificateIssuedForAWorkloadNamesIt) {
  X509Ptr leaf = Issue("web-0");
  absl::StatusOr<std::optional<std::string>> bound = WorkloadBinding(leaf.get());
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_EQ(bound->value_or("(none)"), "web-0");
}

TEST_F(WorkloadBindingTest, ACertificateWithoutBindingNamesNoWorkload) {
  X509Ptr leaf = Issue("");
  absl::StatusOr<std::optional<std::string>> bound = WorkloadBinding(leaf.get());
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_FALSE(bound->has_value());
}

TEST_F(WorkloadBindingTest, TheBoundCertificateIsStillAPlainSvidToPeers) {
  X509Ptr leaf = Issue("web-0");
  CertChain chain;
  chain.push_back(std::move(leaf));
  absl::StatusOr<TrustBundle> bundle = TrustBundle::FromPem(ToPem(root_.anchor()), "root");
  ASSERT_TRUE(bundle.ok());
  absl::StatusOr<SpiffeId> id = VerifySvid(chain, *bundle, "cluster.local", absl::Now());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->str(), "spiffe://cluster.local/ns/shop/sa/web");
}

TEST_F(WorkloadBindingTest, RefusesNamesThatAreNotKubernetesObjectNames) {
  for (absl::string_view bad : {"", "Web-0", "web/0", "-web", "web-", "web 0"}) {
    EXPECT_FALSE(EncodeWorkloadBinding(bad).ok()) << bad;
  }
  EXPECT_THAT(std::string(EncodeWorkloadBinding("a/b").status().message()),
              HasSubstr("may hold only lowercase letters"));
  EXPECT_TRUE(EncodeWorkloadBinding("web-0.shop").ok());
}

TEST_F(WorkloadBindingTest, RefusesAMalformedBinding) {
  CertBuilder builder;
  builder.AddUriSan("spiffe://cluster.local/ns/shop/sa/web").Extension(kWorkloadBindingOid, "xx");
  testing::Workload w = testing::MakeCustom(root_, builder);
  absl::StatusOr<std::optional<std::string>> bound = WorkloadBinding(w.chain[0].get());
  EXPECT_FALSE(bound.ok());
  EXPECT_THAT(std::string(bound.status().message()), HasSubstr("not one DER UTF8String"));
}

}  // namespace
}  // namespace remora::certs
