#include "certs/ca.h"

#include <sys/stat.h>

#include "absl/strings/str_join.h"
#include "certs/cert_builder.h"
#include "certs/cert_info.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "certs/svid.h"
#include "certs/trust_bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::certs {
namespace {

using ::testing::HasSubstr;

std::string TempDir(const std::string& name) {
  std::string dir =
      std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") + "/" + name;
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

TokenClaims Claims(const std::string& ns, const std::string& sa) {
  TokenClaims c;
  c.ns = ns;
  c.service_account = sa;
  return c;
}

std::string Csr(EVP_PKEY* key, const std::string& uri = "") {
  return ToPem(CreateCsr(key, uri)->get());
}

class CaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CaOptions options;
    options.state_dir = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    options_ = options;
    absl::StatusOr<std::unique_ptr<CertificateAuthority>> ca =
        CertificateAuthority::Open(options, now_);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::move(*ca);
  }

  TrustBundle Bundle() {
    return *TrustBundle::FromPem(absl::StrJoin(ca_->BundlePem(), ""), "bundle");
  }

  absl::Time now_ = absl::Now();
  CaOptions options_;
  std::unique_ptr<CertificateAuthority> ca_;
};

TEST_F(CaTest, CreatesRootWithPrivateKeyFileMode0600) {
  std::vector<RootInfo> roots = ca_->Roots();
  ASSERT_EQ(roots.size(), 1u);
  struct stat st {};
  ASSERT_EQ(::stat((options_.state_dir + "/ca/" + roots[0].fingerprint + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ca_->Phase(), "steady");
}

TEST_F(CaTest, ReopensTheSameRoot) {
  std::string fp = ca_->Roots()[0].fingerprint;
  absl::StatusOr<std::unique_ptr<CertificateAuthority>> again =
      CertificateAuthority::Open(options_, now_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Roots()[0].fingerprint, fp);
}

TEST_F(CaTest, SignsTheTokensIdentityOnly) {
  EvpPkeyPtr key = *GenerateEcKey();
  absl::StatusOr<IssuedCertificate> issued =
      ca_->Sign(Csr(key.get()), absl::Hours(1), Claims("shop", "web"), now_);
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(issued->identity, "spiffe://cluster.local/ns/shop/sa/web");
  CertChain chain = *ParseCertificates(absl::StrJoin(issued->chain_pem, ""), "chain");
  chain.pop_back();  // the root, sent for convenience; verification uses the bundle
  absl::StatusOr<SpiffeId> id = VerifySvid(chain, Bundle(), "cluster.local", now_);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->str(), "spiffe://cluster.local/ns/shop/sa/web");
  CertInfo info = DescribeCertificate(chain[0].get());
  EXPECT_LE(absl::AbsDuration(info.not_after - (now_ + absl::Hours(1))), absl::Seconds(2));
  EXPECT_LE(absl::AbsDuration(info.not_before - (now_ - absl::Minutes(5))), absl::Seconds(2));
}

TEST_F(CaTest, AcceptsCsrNamingTheSameIdentity) {
  EvpPkeyPtr key = *GenerateEcKey();
  EXPECT_TRUE(ca_->Sign(Csr(key.get(), "spiffe://cluster.local/ns/shop/sa/web"),
                        absl::ZeroDuration(), Claims("shop", "web"), now_)
                  .ok());
}

TEST_F(CaTest, RefusesCsrAskingForAnotherIdentity) {
  EvpPkeyPtr key = *GenerateEcKey();
  absl::StatusOr<IssuedCertificate> issued =
      ca_->Sign(Csr(key.get(), "spiffe://cluster.local/ns/kube-system/sa/admin"), absl::Hours(1),
                Claims("shop", "web"), now_);
  EXPECT_EQ(issued.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(issued.status().message(),
              HasSubstr("CSR asks for identity spiffe://cluster.local/ns/kube-system/sa/admin but "
                        "the bootstrap token proves spiffe://cluster.local/ns/shop/sa/web"));
}

TEST_F(CaTest, RefusesWhatIsNotACsr) {
  EXPECT_EQ(ca_->Sign("hello", absl::Hours(1), Claims("a", "b"), now_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EvpPkeyPtr key = *GenerateEcKey();
  std::string cert_pem = ToPem(CertBuilder().Sign(key.get(), nullptr, key.get())->get());
  EXPECT_THAT(ca_->Sign(cert_pem, absl::Hours(1), Claims("a", "b"), now_).status().message(),
              HasSubstr("CERTIFICATE REQUEST"));
}

TEST_F(CaTest, RefusesWeakKeys) {
  EvpPkeyPtr rsa = *GenerateRsaKey(1024);
  EXPECT_THAT(ca_->Sign(Csr(rsa.get()), absl::Hours(1), Claims("a", "b"), now_).status().message(),
              HasSubstr("RSA 1024 is not accepted"));
  EvpPkeyPtr p521 = *GenerateEcKey(NID_secp521r1);
  EXPECT_THAT(ca_->Sign(Csr(p521.get()), absl::Hours(1), Claims("a", "b"), now_).status().message(),
              HasSubstr("EC P-521 is not accepted"));
  EvpPkeyPtr rsa2048 = *GenerateRsaKey(2048);
  EXPECT_TRUE(ca_->Sign(Csr(rsa2048.get()), absl::Hours(1), Claims("a", "b"), now_).ok());
}

TEST_F(CaTest, ClampsRequestedLifetime) {
  EvpPkeyPtr key = *GenerateEcKey();
  absl::StatusOr<IssuedCertificate> issued =
      ca_->Sign(Csr(key.get()), absl::Hours(24 * 365), Claims("a", "b"), now_);
  ASSERT_TRUE(issued.ok());
  EXPECT_LE(issued->not_after, now_ + absl::Hours(24 * 30) + absl::Seconds(2));
}

TEST_F(CaTest, RotationAddsThenSwitchesThenRetires) {
  const std::string old_fp = ca_->Roots()[0].fingerprint;
  EvpPkeyPtr key = *GenerateEcKey();
  IssuedCertificate before = *ca_->Sign(Csr(key.get()), absl::Hours(1), Claims("a", "b"), now_);

  ASSERT_TRUE(ca_->RotateAdd(now_).ok());
  EXPECT_EQ(ca_->Phase(), "added");
  EXPECT_EQ(ca_->BundlePem().size(), 2u);
  EXPECT_FALSE(ca_->RotateRetire().ok()) << "retire before switch must be refused";
  IssuedCertificate still_old = *ca_->Sign(Csr(key.get()), absl::Hours(1), Claims("a", "b"), now_);

  ASSERT_TRUE(ca_->RotateSwitch().ok());
  EXPECT_EQ(ca_->Phase(), "switched");
  IssuedCertificate after = *ca_->Sign(Csr(key.get()), absl::Hours(1), Claims("a", "b"), now_);
  // During the overlap both generations verify against the bundle.
  for (const IssuedCertificate* c : {&before, &still_old, &after}) {
    CertChain chain = *ParseCertificates(c->chain_pem[0], "leaf");
    EXPECT_TRUE(VerifySvid(chain, Bundle(), "cluster.local", now_).ok());
  }
  // Persisted: a restart mid-rotation resumes it.
  absl::StatusOr<std::unique_ptr<CertificateAuthority>> reopened =
      CertificateAuthority::Open(options_, now_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Phase(), "switched");

  ASSERT_TRUE(ca_->RotateRetire().ok());
  EXPECT_EQ(ca_->Phase(), "steady");
  ASSERT_EQ(ca_->Roots().size(), 1u);
  EXPECT_NE(ca_->Roots()[0].fingerprint, old_fp);
  CertChain old_chain = *ParseCertificates(before.chain_pem[0], "leaf");
  EXPECT_FALSE(VerifySvid(old_chain, Bundle(), "cluster.local", now_).ok());
  CertChain new_chain = *ParseCertificates(after.chain_pem[0], "leaf");
  EXPECT_TRUE(VerifySvid(new_chain, Bundle(), "cluster.local", now_).ok());
}

}  // namespace
}  // namespace remora::certs
