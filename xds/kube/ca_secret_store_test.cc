// CaSecretStore against the fake API server (tests/kube), driven by the real kubectl: replicas
// racing to create the CA agree on one, concurrent rotations both land, a replica follows what
// another stored, and a malformed Secret is refused by name while the CA keeps its state.
#include "xds/kube/ca_secret_store.h"

#include <future>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "certs/ca.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/testing/kube_test_env.h"

namespace remora::xds {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

CaSecretStoreOptions Options() {
  CaSecretStoreOptions options;
  options.namespace_name = "default";
  return options;
}

std::vector<std::string> Fingerprints(const certs::CertificateAuthority& ca) {
  std::vector<std::string> out;
  for (const certs::RootInfo& root : ca.Roots()) out.push_back(root.fingerprint);
  return out;
}

class CaSecretStoreTest : public kube::testing::KubeTest {
 protected:
  // A replica: a CA over a store with a client (and thread) of its own.
  std::unique_ptr<certs::CertificateAuthority> OpenReplica(CaSecretStore** store_out = nullptr) {
    absl::StatusOr<std::unique_ptr<CaSecretStore>> store = CaSecretStore::New(Config(), Options());
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    if (store_out != nullptr) *store_out = store->get();
    absl::StatusOr<std::unique_ptr<certs::CertificateAuthority>> ca =
        certs::CertificateAuthority::Open(certs::CaOptions{}, std::move(*store), absl::Now());
    EXPECT_TRUE(ca.ok()) << ca.status();
    return ca.ok() ? std::move(*ca) : nullptr;
  }

  std::string StoredState() {
    std::string data = Kubectl(
        {"get", "secret", "remora-ca", "-n", "default", "-o", "jsonpath={.data.ca-state\\.json}"});
    std::string decoded;
    EXPECT_TRUE(absl::Base64Unescape(data, &decoded));
    return decoded;
  }
};

TEST_F(CaSecretStoreTest, ReplicasStartingTogetherEndWithOneIdenticalState) {
  std::vector<std::future<std::unique_ptr<certs::CertificateAuthority>>> replicas;
  for (int i = 0; i < 3; ++i) {
    replicas.push_back(std::async(std::launch::async, [this] { return OpenReplica(); }));
  }
  std::vector<std::unique_ptr<certs::CertificateAuthority>> cas;
  for (auto& replica : replicas) cas.push_back(replica.get());
  for (const auto& ca : cas) ASSERT_NE(ca, nullptr);
  ASSERT_EQ(Fingerprints(*cas[0]).size(), 1u);
  for (const auto& ca : cas) {
    EXPECT_EQ(Fingerprints(*ca), Fingerprints(*cas[0]));
    EXPECT_EQ(certs::SerializeCaState(ca->State()), StoredState());
  }
  EXPECT_EQ(Kubectl({"get", "secret", "remora-ca", "-n", "default", "-o", "jsonpath={.type}"}),
            "Opaque");
}

TEST_F(CaSecretStoreTest, ConcurrentUpdatesAreBothApplied) {
  std::unique_ptr<certs::CertificateAuthority> seed = OpenReplica();
  ASSERT_NE(seed, nullptr);
  // Store A uses the test's client thread; B has its own, so A's change can run B's whole update
  // between A's read and A's write: A's write then conflicts and A re-applies on B's state.
  CaSecretStore a(NewClient(), Options());
  absl::StatusOr<std::unique_ptr<CaSecretStore>> b = CaSecretStore::New(Config(), Options());
  ASSERT_TRUE(b.ok()) << b.status();
  auto add = [](std::string marker) {
    return [marker](certs::CaState state) -> absl::StatusOr<certs::CaState> {
      state.roots.push_back({marker, "key", false, false});
      return state;
    };
  };
  int a_calls = 0;
  absl::StatusOr<certs::CaState> b_result;
  absl::StatusOr<certs::CaState> a_result =
      a.Update([&](certs::CaState state) -> absl::StatusOr<certs::CaState> {
        if (++a_calls == 1) b_result = (*b)->Update(add("B"));
        return add("A")(std::move(state));
      });
  ASSERT_TRUE(b_result.ok()) << b_result.status();
  ASSERT_TRUE(a_result.ok()) << a_result.status();
  EXPECT_EQ(a_calls, 2);
  ASSERT_EQ(a_result->roots.size(), 3u);
  EXPECT_EQ(a_result->roots[1].cert_pem, "B");
  EXPECT_EQ(a_result->roots[2].cert_pem, "A");
  EXPECT_EQ(certs::SerializeCaState(*a_result), StoredState());
}

TEST_F(CaSecretStoreTest, ARotationThroughOneReplicaIsFollowedByTheOther) {
  CaSecretStore* follower_store = nullptr;
  std::unique_ptr<certs::CertificateAuthority> follower = OpenReplica(&follower_store);
  std::unique_ptr<certs::CertificateAuthority> rotator = OpenReplica();
  ASSERT_NE(follower, nullptr);
  ASSERT_NE(rotator, nullptr);
  certs::CertificateAuthority* ca = follower.get();
  follower_store->Follow([ca](const certs::CaState& state) { (void)ca->Reload(state); });
  absl::StatusOr<std::string> added = rotator->RotateAdd(absl::Now());
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_TRUE(
      kube::testing::Eventually([&] { return Fingerprints(*follower) == Fingerprints(*rotator); }));
  EXPECT_EQ(follower->Phase(), "added");
  EXPECT_EQ(follower->BundlePem().size(), 2u);
  // The follower's own next step starts from the shared state, not from a stale copy of it.
  absl::StatusOr<std::string> switched = follower->RotateNext(absl::Now());
  ASSERT_TRUE(switched.ok()) << switched.status();
  EXPECT_THAT(*switched, HasSubstr("now signs"));
  // The rotator does not follow in this test: its next step reads the Secret, not its copy.
  absl::StatusOr<std::string> retired = rotator->RotateNext(absl::Now());
  ASSERT_TRUE(retired.ok()) << retired.status();
  EXPECT_THAT(*retired, HasSubstr("retired root"));
  follower_store->Stop();
}

TEST_F(CaSecretStoreTest, AMalformedSecretIsRefusedByNameAndTheCaKeepsItsState) {
  CaSecretStore* store = nullptr;
  std::unique_ptr<certs::CertificateAuthority> ca = OpenReplica(&store);
  ASSERT_NE(ca, nullptr);
  std::vector<certs::CaState> followed;
  absl::Mutex mu;
  store->Follow([&](const certs::CaState& state) {
    absl::MutexLock lock(&mu);
    followed.push_back(state);
  });
  const std::vector<std::string> before = Fingerprints(*ca);
  Kubectl({"patch", "secret", "remora-ca", "-n", "default", "--type=merge", "-p",
           R"({"stringData":{"ca-state.json":"{\"roots\":\"not a list\"}"}})"});
  absl::StatusOr<std::string> rotated = ca->RotateAdd(absl::Now());
  ASSERT_FALSE(rotated.ok());
  EXPECT_THAT(rotated.status().message(), HasSubstr("Secret default/remora-ca"));
  EXPECT_THAT(rotated.status().message(), HasSubstr("\"roots\" is missing or not a list"));
  EXPECT_EQ(Fingerprints(*ca), before);
  EXPECT_EQ(ca->Phase(), "steady");
  // A fresh replica refuses to start on it, naming it, rather than making a new CA.
  absl::StatusOr<std::unique_ptr<CaSecretStore>> other = CaSecretStore::New(Config(), Options());
  ASSERT_TRUE(other.ok());
  absl::StatusOr<std::unique_ptr<certs::CertificateAuthority>> refused =
      certs::CertificateAuthority::Open(certs::CaOptions{}, std::move(*other), absl::Now());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("Secret default/remora-ca"));
  // The follower skipped the malformed version: only states that parse reach the CA.
  absl::MutexLock lock(&mu);
  for (const certs::CaState& state : followed) EXPECT_EQ(state.roots.size(), 1u);
}

TEST_F(CaSecretStoreTest, EveryReplicaReadsTheSameOperatorToken) {
  CaSecretStore* first = nullptr;
  CaSecretStore* second = nullptr;
  std::unique_ptr<certs::CertificateAuthority> a = OpenReplica(&first);
  std::unique_ptr<certs::CertificateAuthority> b = OpenReplica(&second);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  absl::StatusOr<std::string> token_a = first->LoadOrCreateOperatorToken();
  absl::StatusOr<std::string> token_b = second->LoadOrCreateOperatorToken();
  ASSERT_TRUE(token_a.ok()) << token_a.status();
  ASSERT_TRUE(token_b.ok()) << token_b.status();
  EXPECT_EQ(*token_a, *token_b);
  EXPECT_GE(token_a->size(), 32u);
}

TEST_F(CaSecretStoreTest, ASecretWithoutCaStateIsFilledIn) {
  Kubectl({"create", "secret", "generic", "remora-ca", "-n", "default", "--from-literal=other=x"});
  std::unique_ptr<certs::CertificateAuthority> ca = OpenReplica();
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(certs::SerializeCaState(ca->State()), StoredState());
  EXPECT_EQ(
      Kubectl({"get", "secret", "remora-ca", "-n", "default", "-o", "jsonpath={.data.other}"}),
      "eA==");
}

TEST_F(CaSecretStoreTest, TheFirstReplicaStoresTheRootsItKeptOnDiskBefore) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/single-replica-ca";
  absl::StatusOr<std::unique_ptr<certs::CertificateAuthority>> before =
      certs::CertificateAuthority::Open(
          certs::CaOptions{}, std::make_unique<certs::FileCaStateStore>(dir), absl::Now());
  ASSERT_TRUE(before.ok()) << before.status();
  CaSecretStoreOptions options = Options();
  options.seed_dir = dir;
  absl::StatusOr<std::unique_ptr<CaSecretStore>> store = CaSecretStore::New(Config(), options);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::unique_ptr<certs::CertificateAuthority>> after =
      certs::CertificateAuthority::Open(certs::CaOptions{}, std::move(*store), absl::Now());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(Fingerprints(**after), Fingerprints(**before));
  EXPECT_EQ(StoredState(), certs::SerializeCaState((*before)->State()));
}

TEST_F(CaSecretStoreTest, AReplicaStartsFromItsCopyWhileTheApiServerIsDown) {
  CaSecretStoreOptions options = Options();
  options.cache_dir = std::string(std::getenv("TEST_TMPDIR")) + "/kube-ca-copy";
  std::vector<std::string> first;
  {
    absl::StatusOr<std::unique_ptr<CaSecretStore>> store = CaSecretStore::New(Config(), options);
    ASSERT_TRUE(store.ok());
    auto ca = certs::CertificateAuthority::Open(certs::CaOptions{}, std::move(*store), absl::Now());
    ASSERT_TRUE(ca.ok()) << ca.status();
    first = Fingerprints(**ca);
  }
  ASSERT_TRUE(kube_->Down().ok());
  absl::StatusOr<std::unique_ptr<CaSecretStore>> store = CaSecretStore::New(Config(), options);
  ASSERT_TRUE(store.ok());
  auto ca = certs::CertificateAuthority::Open(certs::CaOptions{}, std::move(*store), absl::Now());
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_EQ(Fingerprints(**ca), first);
  // Without a copy, it refuses to start rather than make a CA of its own.
  absl::StatusOr<std::unique_ptr<CaSecretStore>> bare = CaSecretStore::New(Config(), Options());
  ASSERT_TRUE(bare.ok());
  auto refused =
      certs::CertificateAuthority::Open(certs::CaOptions{}, std::move(*bare), absl::Now());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("cannot read Secret default/remora-ca"));
  ASSERT_TRUE(kube_->Up().ok());
}

}  // namespace
}  // namespace remora::xds
