#include "xds/kube/object_wait.h"

#include "gtest/gtest.h"

namespace remora::xds {
namespace {

using json = nlohmann::json;

kube::ObjectPtr Policy(const std::string& uid, const std::string& rv, int64_t generation) {
  json object = {{"apiVersion", "networking.k8s.io/v1"},
                 {"kind", "NetworkPolicy"},
                 {"metadata",
                  {{"namespace", "shop"},
                   {"name", "deny-db"},
                   {"uid", uid},
                   {"resourceVersion", rv},
                   {"generation", generation}}}};
  return *kube::MakeCachedObject(std::move(object));
}

PublishedCluster With(std::vector<kube::ObjectPtr> objects) {
  kube::ObjectCache cache;
  cache.Replace(std::move(objects), "500");
  PublishedCluster published;
  published.version = 7;
  published.by_kind["NetworkPolicy"] = cache.Snapshot();
  return published;
}

remora::v1::KubeObjectRef Ref(const std::string& uid, const std::string& rv, int64_t generation) {
  remora::v1::KubeObjectRef ref;
  ref.set_api_version("networking.k8s.io/v1");
  ref.set_kind("NetworkPolicy");
  ref.set_namespace_("shop");
  ref.set_name("deny-db");
  ref.set_uid(uid);
  ref.set_resource_version(rv);
  ref.set_generation(generation);
  return ref;
}

TEST(ObjectWaitTest, AppliedWhenTheControlPlaneHasThatResourceVersion) {
  EXPECT_EQ(Settle(With({Policy("u1", "120", 2)}), Ref("u1", "120", 2)).state(), "applied");
}

TEST(ObjectWaitTest, PendingUntilTheWatchDeliversIt) {
  const auto older = Settle(With({Policy("u1", "110", 1)}), Ref("u1", "120", 2));
  EXPECT_EQ(older.state(), "pending");
  EXPECT_EQ(older.detail(), "remora-control has resourceVersion 110, not yet 120");
  EXPECT_FALSE(IsSettled(older));
  EXPECT_EQ(Settle(With({}), Ref("u1", "120", 2)).state(), "pending");
  // Deleted and re-created under the same name: the old object does not count.
  EXPECT_EQ(Settle(With({Policy("u0", "120", 2)}), Ref("u1", "120", 2)).state(), "pending");
}

TEST(ObjectWaitTest, ALaterChangeSupersedesTheOneWaitedFor) {
  const auto progress = Settle(With({Policy("u1", "130", 3)}), Ref("u1", "120", 2));
  EXPECT_EQ(progress.state(), "superseded");
  EXPECT_TRUE(IsSettled(progress));
}

TEST(ObjectWaitTest, ReportsTheEnginesRefusal) {
  PublishedCluster published = With({Policy("u1", "120", 2)});
  published.refused["u1/120"] = "spec.ingress[0].from[0].ipBlock.cidr: \"10.0.0.0/33\" is invalid";
  const auto progress = Settle(published, Ref("u1", "120", 2));
  EXPECT_EQ(progress.state(), "refused");
  EXPECT_EQ(progress.detail(), published.refused["u1/120"]);
}

TEST(ObjectWaitTest, ADeletionIsSeenWhenTheObjectIsGone) {
  remora::v1::KubeObjectRef gone = Ref("u1", "", 0);
  gone.set_absent(true);
  EXPECT_EQ(Settle(With({Policy("u1", "120", 2)}), gone).state(), "pending");
  EXPECT_EQ(Settle(With({}), gone).state(), "deleted");
  EXPECT_EQ(Settle(With({Policy("u2", "140", 1)}), gone).state(), "deleted");
  // The client never saw it (no uid): any object of that name is "it".
  gone.clear_uid();
  EXPECT_EQ(Settle(With({Policy("u2", "140", 1)}), gone).state(), "pending");
}

TEST(ObjectWaitTest, SaysWhichKindsItDoesNotRead) {
  remora::v1::KubeObjectRef ref = Ref("u1", "1", 1);
  ref.set_kind("ConfigMap");
  const auto progress = Settle(With({}), ref);
  EXPECT_EQ(progress.state(), "unwatched");
  EXPECT_TRUE(IsSettled(progress));
  EXPECT_NE(progress.detail().find("does not read ConfigMap objects"), std::string::npos);
}

}  // namespace
}  // namespace remora::xds
