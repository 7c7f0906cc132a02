#include "certs/ca_state.h"

#include <sys/stat.h>

#include "absl/strings/str_join.h"
#include "certs/ca.h"
#include "common/file.h"
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

// One state shared by several CAs, as replicas share a Secret; counts the writes.
class SharedStore {
 public:
  class Handle final : public CaStateStore {
   public:
    explicit Handle(SharedStore& shared) : shared_(shared) {}
    absl::StatusOr<CaState> LoadOrCreate(
        const std::function<absl::StatusOr<CaState>()>& create) override {
      absl::MutexLock lock(&shared_.mu_);
      if (!shared_.state_.has_value()) {
        absl::StatusOr<CaState> created = create();
        if (!created.ok()) return created.status();
        shared_.state_ = *created;
        ++shared_.writes_;
      }
      return *shared_.state_;
    }
    absl::StatusOr<CaState> Update(
        const std::function<absl::StatusOr<CaState>(CaState)>& change) override {
      absl::MutexLock lock(&shared_.mu_);
      absl::StatusOr<CaState> changed = change(*shared_.state_);
      if (!changed.ok()) return changed.status();
      shared_.state_ = *changed;
      ++shared_.writes_;
      return changed;
    }
    std::string Describe() const override { return "shared test store"; }

   private:
    SharedStore& shared_;
  };

  CaState state() {
    absl::MutexLock lock(&mu_);
    return *state_;
  }
  int writes() {
    absl::MutexLock lock(&mu_);
    return writes_;
  }

 private:
  absl::Mutex mu_;
  std::optional<CaState> state_;
  int writes_ = 0;
};

std::unique_ptr<CertificateAuthority> OpenShared(SharedStore& shared) {
  CaOptions options;
  auto ca = CertificateAuthority::Open(options, std::make_unique<SharedStore::Handle>(shared),
                                       absl::Now());
  EXPECT_TRUE(ca.ok()) << ca.status();
  return ca.ok() ? std::move(*ca) : nullptr;
}

TEST(CaStateTest, RoundTripsThroughItsSerializedForm) {
  SharedStore shared;
  std::unique_ptr<CertificateAuthority> ca = OpenShared(shared);
  CaState state = shared.state();
  absl::StatusOr<CaState> parsed = ParseCaState(SerializeCaState(state), "test");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(SerializeCaState(*parsed), SerializeCaState(state));
  ASSERT_EQ(parsed->roots.size(), 1u);
  EXPECT_TRUE(parsed->roots[0].signing);
  EXPECT_TRUE(parsed->roots[0].in_bundle);
}

TEST(CaStateTest, RefusesMalformedStatesNamingTheProblem) {
  EXPECT_THAT(ParseCaState("[]", "Secret x").status().message(),
              HasSubstr("Secret x: not a JSON object"));
  EXPECT_THAT(ParseCaState(R"({"roots":[]})", "s").status().message(),
              HasSubstr("\"roots\" is empty"));
  EXPECT_THAT(ParseCaState(R"({"roots":[{"cert":"c"}]})", "s").status().message(),
              HasSubstr("roots[0].key is missing"));
  EXPECT_THAT(
      ParseCaState(R"({"roots":[{"cert":"c","key":"k","signing":"yes"}]})", "s").status().message(),
      HasSubstr("roots[0].signing is not true or false"));
  EXPECT_THAT(ParseCaState(R"({"roots":[{"cert":"c","key":"k"}]})", "s").status().message(),
              HasSubstr("0 roots are marked signing"));
  EXPECT_THAT(ParseCaState(R"({"roots":[{"cert":"c","key":"k","signing":true},)"
                           R"({"cert":"c","key":"k","signing":true}]})",
                           "s")
                  .status()
                  .message(),
              HasSubstr("2 roots are marked signing"));
  EXPECT_THAT(ParseCaState(std::string(100, '[') + std::string(100, ']'), "s").status().message(),
              HasSubstr("nested too deeply"));
  EXPECT_EQ(ParseCaState("{", "s").status().code(), absl::StatusCode::kDataLoss);
}

TEST(CaStateTest, FileStoreCreatesOnceAndKeepsTheLayout) {
  const std::string dir = TempDir("file_store") + "/ca";
  FileCaStateStore store(dir);
  int created = 0;
  SharedStore source;
  std::unique_ptr<CertificateAuthority> donor = OpenShared(source);
  auto create = [&]() -> absl::StatusOr<CaState> {
    ++created;
    return source.state();
  };
  ASSERT_TRUE(store.LoadOrCreate(create).ok());
  absl::StatusOr<CaState> again = store.LoadOrCreate(create);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(created, 1);
  EXPECT_EQ(SerializeCaState(*again), SerializeCaState(source.state()));
  const std::string fp = donor->Roots()[0].fingerprint;
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/" + fp + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(*ReadFile(dir + "/roots.json"), HasSubstr(fp));
}

TEST(CaStateTest, FileStoreUpdateStoresNothingWhenTheChangeFails) {
  FileCaStateStore store(TempDir("file_store_fail") + "/ca");
  SharedStore source;
  std::unique_ptr<CertificateAuthority> donor = OpenShared(source);
  ASSERT_TRUE(store.LoadOrCreate([&] { return absl::StatusOr<CaState>(source.state()); }).ok());
  absl::StatusOr<CaState> refused = store.Update(
      [](CaState) -> absl::StatusOr<CaState> { return absl::FailedPreconditionError("no"); });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<CaState> unchanged =
      store.Update([](CaState s) -> absl::StatusOr<CaState> { return s; });
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(SerializeCaState(*unchanged), SerializeCaState(source.state()));
}

TEST(CaStateTest, ReplicasSharingAStoreStartWithOneRoot) {
  SharedStore shared;
  std::unique_ptr<CertificateAuthority> first = OpenShared(shared);
  std::unique_ptr<CertificateAuthority> second = OpenShared(shared);
  EXPECT_EQ(shared.writes(), 1);
  EXPECT_EQ(first->BundlePem(), second->BundlePem());
}

TEST(CaStateTest, ARotationStepWorksFromTheStoredStateNotTheReplicasOwn) {
  SharedStore shared;
  std::unique_ptr<CertificateAuthority> first = OpenShared(shared);
  std::unique_ptr<CertificateAuthority> second = OpenShared(shared);
  ASSERT_TRUE(first->RotateAdd(absl::Now()).ok());
  // The second replica has not reloaded yet: its own view is "steady", the store's "added".
  EXPECT_EQ(second->Phase(), "steady");
  absl::StatusOr<std::string> add = second->RotateAdd(absl::Now());
  EXPECT_EQ(add.status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<std::string> next = second->RotateNext(absl::Now());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_THAT(*next, HasSubstr("now signs"));
  EXPECT_EQ(second->Phase(), "switched");
  // The first one catches up by reloading what the store holds.
  absl::StatusOr<bool> reloaded = first->Reload(shared.state());
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_TRUE(*reloaded);
  EXPECT_EQ(first->Phase(), "switched");
  EXPECT_EQ(first->BundlePem(), second->BundlePem());
  EXPECT_FALSE(*first->Reload(shared.state())) << "the same state again is no change";
}

TEST(CaStateTest, ReloadRefusesAStateWithoutASigningRootAndKeepsTheOldOne) {
  SharedStore shared;
  std::unique_ptr<CertificateAuthority> ca = OpenShared(shared);
  CaState broken = shared.state();
  broken.roots[0].signing = false;
  EXPECT_FALSE(ca->Reload(broken).ok());
  EXPECT_EQ(ca->Roots().size(), 1u);
  EXPECT_TRUE(ca->Roots()[0].signing);
}

}  // namespace
}  // namespace remora::certs
