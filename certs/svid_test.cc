#include "certs/svid.h"

#include "certs/keys.h"
#include "certs/pem.h"
#include "certs/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::certs {
namespace {

using ::testing::HasSubstr;
using testing::MakeCustom;
using testing::MakeRoot;
using testing::MakeWorkload;

class SvidTest : public ::testing::Test {
 protected:
  SvidTest() : root_(MakeRoot()), bundle_(*TrustBundle::FromPem(ToPem(root_.anchor()), "bundle")) {}

  absl::StatusOr<SpiffeId> Verify(const testing::Workload& w) {
    return VerifySvid(w.chain, bundle_, "cluster.local", absl::Now());
  }

  Authority root_;
  TrustBundle bundle_;
};

TEST_F(SvidTest, AcceptsIssuedWorkload) {
  absl::StatusOr<SpiffeId> id = Verify(MakeWorkload(root_, "web", "frontend"));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->str(), "spiffe://cluster.local/ns/web/sa/frontend");
}

TEST_F(SvidTest, RefusesExpiredCertificate) {
  CertBuilder b;
  b.AddUriSan("spiffe://cluster.local/ns/a/sa/b")
      .Validity(absl::Now() - absl::Hours(2), absl::Now() - absl::Hours(1));
  absl::StatusOr<SpiffeId> id = Verify(MakeCustom(root_, b));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(id.status().message(), HasSubstr("expired"));
}

TEST_F(SvidTest, RefusesUnknownCa) {
  Authority other = MakeRoot();
  absl::StatusOr<SpiffeId> id = Verify(MakeWorkload(other, "a", "b"));
  EXPECT_THAT(id.status().message(), HasSubstr("unknown CA"));
}

TEST_F(SvidTest, RefusesWrongTrustDomain) {
  Authority other = MakeRoot("example.org");
  TrustBundle both = *TrustBundle::FromPem(ToPem(root_.anchor()) + ToPem(other.anchor()), "bundle");
  absl::StatusOr<SpiffeId> id =
      VerifySvid(MakeWorkload(other, "a", "b").chain, both, "cluster.local", absl::Now());
  EXPECT_THAT(id.status().message(), HasSubstr("trust domain \"example.org\""));
}

TEST_F(SvidTest, RefusesTwoUriSans) {
  CertBuilder b;
  b.AddUriSan("spiffe://cluster.local/ns/a/sa/b").AddUriSan("spiffe://cluster.local/ns/a/sa/c");
  EXPECT_THAT(Verify(MakeCustom(root_, b)).status().message(), HasSubstr("has 2 URI SANs"));
}

TEST_F(SvidTest, RefusesNoUriSan) {
  CertBuilder b;
  b.AddDnsSan("web.example");
  EXPECT_THAT(Verify(MakeCustom(root_, b)).status().message(), HasSubstr("has 0 URI SANs"));
}

TEST_F(SvidTest, RefusesCaLeaf) {
  CertBuilder b;
  b.AddUriSan("spiffe://cluster.local/ns/a/sa/b").Ca(true).KeyUsage("critical,digitalSignature");
  EXPECT_THAT(Verify(MakeCustom(root_, b)).status().message(), HasSubstr("is a CA certificate"));
}

TEST_F(SvidTest, RefusesLeafWithoutDigitalSignature) {
  CertBuilder b;
  b.AddUriSan("spiffe://cluster.local/ns/a/sa/b").KeyUsage("critical,keyEncipherment");
  EXPECT_THAT(Verify(MakeCustom(root_, b)).status().message(), HasSubstr("digitalSignature"));
}

TEST_F(SvidTest, RefusesLeafThatCanSignCertificates) {
  CertBuilder b;
  b.AddUriSan("spiffe://cluster.local/ns/a/sa/b").KeyUsage("critical,digitalSignature,keyCertSign");
  EXPECT_THAT(Verify(MakeCustom(root_, b)).status().message(), HasSubstr("keyCertSign"));
}

TEST_F(SvidTest, RefusesNonSpiffeUri) {
  CertBuilder b;
  b.AddUriSan("https://cluster.local/x");
  EXPECT_THAT(Verify(MakeCustom(root_, b)).status().message(), HasSubstr("not a SPIFFE ID"));
}

TEST_F(SvidTest, AcceptsChainThroughIntermediate) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  X509Ptr inter = *CertBuilder()
                       .Subject("cluster.local", "intermediate")
                       .Ca(true)
                       .KeyUsage("critical,keyCertSign,cRLSign")
                       .ExtKeyUsage("")
                       .Sign(key->get(), root_.cert(), root_.key());
  absl::StatusOr<Authority> plug =
      Authority::FromPem(ToPem(inter.get()) + ToPem(root_.cert()), PrivateKeyToPem(key->get()));
  ASSERT_TRUE(plug.ok()) << plug.status();
  testing::Workload w = MakeWorkload(*plug, "a", "b");
  ASSERT_EQ(w.chain.size(), 2u);  // leaf + intermediate, root left to the bundle
  EXPECT_TRUE(Verify(w).ok());
}

}  // namespace
}  // namespace remora::certs
