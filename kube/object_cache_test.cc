// The cache's bookkeeping: adds, updates and deletes reported per batch, replayed events ignored,
// delete-and-recreate under one name seen through the uid, a re-list that converges and reports
// the deletes it implies, and snapshots that readers keep while the cache moves on.
#include "kube/object_cache.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::kube {
namespace {

using Type = Change::Type;

ObjectPtr Obj(const std::string& ns, const std::string& name, const std::string& uid,
              const std::string& rv) {
  nlohmann::json object = {
      {"kind", "Pod"},
      {"metadata", {{"namespace", ns}, {"name", name}, {"uid", uid}, {"resourceVersion", rv}}}};
  return *MakeCachedObject(std::move(object));
}

ObjectCache::Mutation Upsert(ObjectPtr o) { return {ObjectCache::Mutation::Type::kUpsert, o}; }
ObjectCache::Mutation Remove(ObjectPtr o) { return {ObjectCache::Mutation::Type::kRemove, o}; }

// "added shop/a@2" for each change.
std::vector<std::string> Describe(const std::vector<Change>& changes) {
  std::vector<std::string> out;
  for (const Change& c : changes) {
    const char* what = c.type == Type::kAdded     ? "added"
                       : c.type == Type::kUpdated ? "updated"
                                                  : "deleted";
    out.push_back(
        absl::StrCat(what, " ", c.object->Key(), "@", c.object->resource_version,
                     c.previous ? absl::StrCat(" was@", c.previous->resource_version) : ""));
  }
  return out;
}

TEST(ObjectCacheTest, ReportsAddsUpdatesAndDeletesInOrder) {
  ObjectCache cache;
  EXPECT_THAT(Describe(cache.Apply(
                  {Upsert(Obj("shop", "a", "u1", "1")), Upsert(Obj("shop", "b", "u2", "2")),
                   Upsert(Obj("shop", "a", "u1", "3")), Remove(Obj("shop", "b", "u2", "4"))},
                  "4")),
              ::testing::ElementsAre("added shop/a@1", "added shop/b@2", "updated shop/a@3 was@1",
                                     "deleted shop/b@4 was@2"));
  auto snapshot = cache.Snapshot();
  EXPECT_EQ(snapshot->size(), 1u);
  EXPECT_EQ(snapshot->Get("shop", "a")->resource_version, "3");
  EXPECT_EQ(snapshot->resource_version(), "4");
  EXPECT_FALSE(snapshot->synced());
}

TEST(ObjectCacheTest, IgnoresAReplayedEventAndTheDeleteOfAnAbsentObject) {
  ObjectCache cache;
  cache.Apply({Upsert(Obj("shop", "a", "u1", "1"))}, "1");
  EXPECT_TRUE(
      cache.Apply({Upsert(Obj("shop", "a", "u1", "1")), Remove(Obj("shop", "zzz", "u9", "2"))}, "2")
          .empty());
  EXPECT_EQ(cache.Snapshot()->resource_version(), "2");
}

TEST(ObjectCacheTest, SeesADeleteAndRecreateThroughTheUid) {
  ObjectCache cache;
  cache.Apply({Upsert(Obj("shop", "a", "u1", "1"))}, "1");
  EXPECT_THAT(Describe(cache.Apply({Upsert(Obj("shop", "a", "u2", "5"))}, "5")),
              ::testing::ElementsAre("deleted shop/a@1 was@1", "added shop/a@5"));
  // A late delete of the old incarnation does not remove the new one.
  EXPECT_TRUE(cache.Apply({Remove(Obj("shop", "a", "u1", "6"))}, "6").empty());
  EXPECT_EQ(cache.Snapshot()->Get("shop", "a")->uid, "u2");
}

TEST(ObjectCacheTest, ReplaceConvergesAndReportsWhatWasMissed) {
  ObjectCache cache;
  cache.Apply({Upsert(Obj("shop", "stays", "u1", "1")), Upsert(Obj("shop", "changed", "u2", "2")),
               Upsert(Obj("shop", "gone", "u3", "3")), Upsert(Obj("shop", "reborn", "u4", "4"))},
              "4");
  auto before = cache.Snapshot();
  EXPECT_THAT(
      Describe(cache.Replace({Obj("shop", "stays", "u1", "1"), Obj("shop", "changed", "u2", "9"),
                              Obj("shop", "reborn", "u5", "10"), Obj("shop", "new", "u6", "11")},
                             "12")),
      ::testing::UnorderedElementsAre("deleted shop/gone@3 was@3", "updated shop/changed@9 was@2",
                                      "deleted shop/reborn@4 was@4", "added shop/reborn@10",
                                      "added shop/new@11"));
  auto after = cache.Snapshot();
  EXPECT_TRUE(after->synced());
  EXPECT_EQ(after->resource_version(), "12");
  std::vector<std::string> keys;
  for (const auto& [key, object] : after->items()) keys.push_back(key);
  EXPECT_THAT(keys,
              ::testing::ElementsAre("shop/changed", "shop/new", "shop/reborn", "shop/stays"));
  // A reader's snapshot is immutable: it still shows what it showed.
  EXPECT_EQ(before->size(), 4u);
  EXPECT_EQ(before->Get("shop", "gone")->uid, "u3");
}

TEST(ObjectCacheTest, SnapshotsAreSharedUntilTheNextChange) {
  ObjectCache cache;
  cache.Replace({Obj("", "node-1", "u1", "1")}, "1");
  auto a = cache.Snapshot();
  EXPECT_EQ(a, cache.Snapshot());
  EXPECT_EQ(a->Get("", "node-1")->Key(), "node-1");
  const uint64_t generation = a->generation();
  cache.Apply({Upsert(Obj("", "node-2", "u2", "2"))}, "2");
  auto b = cache.Snapshot();
  EXPECT_NE(a, b);
  EXPECT_GT(b->generation(), generation);
}

TEST(ObjectCacheTest, RefusesAnObjectWithoutName) {
  auto object = MakeCachedObject({{"metadata", {{"namespace", "x"}}}});
  ASSERT_FALSE(object.ok());
  EXPECT_EQ(object.status().message(), "object has no metadata.name");
}

}  // namespace
}  // namespace remora::kube
