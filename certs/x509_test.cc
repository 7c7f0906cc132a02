#include "certs/authority.h"
#include "certs/cert_info.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "certs/testing/test_pki.h"
#include "certs/trust_bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::certs {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(PemTest, RoundTripsChainAndKey) {
  Authority root = testing::MakeRoot();
  testing::Workload w = testing::MakeWorkload(root, "a", "b");
  absl::StatusOr<CertChain> chain = ParseCertificates(ToPem(w.chain), "chain");
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->size(), w.chain.size());
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKey(PrivateKeyToPem(w.key.get()), "key");
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(KeyMatchesCertificate(key->get(), (*chain)[0].get()));
}

TEST(PemTest, RefusesGarbageNamingTheInput) {
  EXPECT_THAT(ParseCertificates("hello", "cert_file /x.pem").status().message(),
              HasSubstr("cert_file /x.pem: no PEM"));
  EXPECT_THAT(ParsePrivateKey("hello", "key_file /k").status().message(),
              HasSubstr("key_file /k: not a PEM private key"));
  EXPECT_THAT(ParseCsr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE "
                       "REQUEST-----\n",
                       "csr")
                  .status()
                  .message(),
              HasSubstr("csr: not a PEM"));
}

TEST(PemTest, RefusesTrailingGarbageAfterCertificates) {
  Authority root = testing::MakeRoot();
  std::string pem = ToPem(root.cert()) + "-----BEGIN CERTIFICATE-----\nnot base64!\n";
  EXPECT_THAT(ParseCertificates(pem, "bundle").status().message(),
              HasSubstr("PEM block 2 is not a valid"));
}

TEST(TrustBundleTest, RefusesLeafInBundle) {
  Authority root = testing::MakeRoot();
  testing::Workload w = testing::MakeWorkload(root, "a", "b");
  EXPECT_THAT(TrustBundle::FromPem(ToPem(w.chain[0].get()), "bundle").status().message(),
              HasSubstr("not a CA certificate"));
}

TEST(AuthorityTest, IssuesExactlyTheSvidFields) {
  Authority root = testing::MakeRoot();
  absl::StatusOr<EvpPkeyPtr> key = GenerateEcKey();
  absl::Time now = absl::Now();
  absl::StatusOr<X509Ptr> leaf =
      root.IssueSvid(key->get(), *SpiffeId::Parse("spiffe://cluster.local/ns/a/sa/b"), now,
                     absl::Hours(1), absl::Minutes(5));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  CertInfo info = DescribeCertificate(leaf->get());
  EXPECT_THAT(info.uri_sans, ElementsAre("spiffe://cluster.local/ns/a/sa/b"));
  EXPECT_TRUE(info.dns_sans.empty());
  EXPECT_FALSE(info.is_ca);
  EXPECT_EQ(info.subject, "");
  EXPECT_LE(absl::AbsDuration(info.not_before - (now - absl::Minutes(5))), absl::Seconds(1));
  EXPECT_LE(absl::AbsDuration(info.not_after - (now + absl::Hours(1))), absl::Seconds(1));
  uint32_t ku = X509_get_key_usage(leaf->get());
  EXPECT_EQ(ku, static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  uint32_t eku = X509_get_extended_key_usage(leaf->get());
  EXPECT_EQ(eku, static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
}

TEST(AuthorityTest, ClipsLifetimeToTheCaExpiry) {
  absl::Time now = absl::Now();
  absl::StatusOr<Authority> root = Authority::NewRoot("cluster.local", now, absl::Hours(2));
  ASSERT_TRUE(root.ok());
  absl::StatusOr<EvpPkeyPtr> key = GenerateEcKey();
  absl::StatusOr<X509Ptr> leaf = root->IssueSvid(
      key->get(), *SpiffeId::Parse("spiffe://cluster.local/ns/a/sa/b"), now, absl::Hours(24));
  ASSERT_TRUE(leaf.ok());
  EXPECT_LE(DescribeCertificate(leaf->get()).not_after, now + absl::Hours(2));
}

TEST(AuthorityTest, FromPemRefusesMismatchedKey) {
  Authority root = testing::MakeRoot();
  absl::StatusOr<EvpPkeyPtr> other = GenerateEcKey();
  EXPECT_THAT(
      Authority::FromPem(ToPem(root.cert()), PrivateKeyToPem(other->get())).status().message(),
      HasSubstr("does not match"));
}

TEST(KeysTest, AcceptsOnlyStrongKeys) {
  EXPECT_TRUE(CheckAcceptableKey(GenerateEcKey(NID_X9_62_prime256v1)->get()).ok());
  EXPECT_TRUE(CheckAcceptableKey(GenerateEcKey(NID_secp384r1)->get()).ok());
  EXPECT_THAT(CheckAcceptableKey(GenerateEcKey(NID_secp521r1)->get()).message(),
              HasSubstr("EC P-521 is not accepted"));
  EXPECT_THAT(CheckAcceptableKey(GenerateRsaKey(1024)->get()).message(),
              HasSubstr("RSA 1024 is not accepted"));
  EXPECT_TRUE(CheckAcceptableKey(GenerateRsaKey(2048)->get()).ok());
}

TEST(KeysTest, CsrCarriesUriAndParsesBack) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateEcKey();
  absl::StatusOr<X509ReqPtr> csr = CreateCsr(key->get(), "spiffe://cluster.local/ns/a/sa/b");
  ASSERT_TRUE(csr.ok());
  absl::StatusOr<X509ReqPtr> parsed = ParseCsr(ToPem(csr->get()), "csr");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(X509_REQ_verify(parsed->get(), X509_REQ_get0_pubkey(parsed->get())), 1);
}

}  // namespace
}  // namespace remora::certs
