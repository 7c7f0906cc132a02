#include "xds/store/config_store.h"

#include <sys/stat.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::xds {
namespace {

using ::testing::HasSubstr;

std::string Dir() {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name();
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

absl::Status AcceptAll(const Document&) { return absl::OkStatus(); }

constexpr char kTwo[] = R"(
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: remora.io/v1
kind: Workload
metadata: {name: web-0, namespace: shop}
spec: {serviceAccount: web}
)";

TEST(ConfigStoreTest, AppliesPersistsAndReloads) {
  const std::string dir = Dir();
  auto store = *ConfigStore::Open(dir);
  absl::StatusOr<ApplyResult> r = store->Apply(kTwo, "two.yaml", false, AcceptAll);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->version, 1u);
  ASSERT_EQ(r->changes.size(), 2u);
  EXPECT_EQ(r->changes[0].action, "created");
  EXPECT_EQ(r->changes[0].key.ToString(), "Namespace shop");
  EXPECT_EQ(r->changes[1].key.ToString(), "Workload shop/web-0");

  // Re-applying the same documents changes nothing and keeps the version.
  absl::StatusOr<ApplyResult> again = store->Apply(kTwo, "two.yaml", false, AcceptAll);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->version, 1u);
  EXPECT_EQ(again->changes[0].action, "unchanged");

  auto reopened = *ConfigStore::Open(dir);
  EXPECT_EQ(reopened->Current()->version, 1u);
  EXPECT_EQ(reopened->Current()->objects.size(), 2u);
  EXPECT_EQ(reopened->Current()->OfKind("Workload").size(), 1u);
}

TEST(ConfigStoreTest, OneInvalidDocumentAppliesNothing) {
  auto store = *ConfigStore::Open(Dir());
  auto refuse_workloads = [](const Document& d) {
    return d.key.kind == "Workload" ? absl::InvalidArgumentError(d.where + ": spec.x: bad")
                                    : absl::OkStatus();
  };
  absl::StatusOr<ApplyResult> r = store->Apply(kTwo, "two.yaml", false, refuse_workloads);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              HasSubstr("two.yaml: document 2 (Workload shop/web-0): spec.x: bad"));
  EXPECT_EQ(store->Current()->version, 0u);
  EXPECT_TRUE(store->Current()->objects.empty());
}

TEST(ConfigStoreTest, DeletesAndReportsMissing) {
  auto store = *ConfigStore::Open(Dir());
  ASSERT_TRUE(store->Apply(kTwo, "two.yaml", false, AcceptAll).ok());
  absl::StatusOr<ApplyResult> r = store->Apply(
      "apiVersion: remora.io/v1\nkind: Workload\nmetadata: {name: web-0, namespace: shop}\n---\n"
      "apiVersion: remora.io/v1\nkind: Workload\nmetadata: {name: gone, namespace: shop}\n",
      "del.yaml", true, AcceptAll);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->changes[0].action, "deleted");
  EXPECT_EQ(r->changes[1].action, "not found");
  EXPECT_EQ(store->Current()->objects.size(), 1u);
}

TEST(ConfigStoreTest, RefusesDocumentsWithoutIdentity) {
  EXPECT_THAT(ParseDocuments("kind: Workload\n", "a.yaml").status().message(),
              HasSubstr("a.yaml: document 1: apiVersion: is required"));
  EXPECT_THAT(
      ParseDocuments("apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad_Name}\n", "a.yaml")
          .status()
          .message(),
      HasSubstr("metadata.name: \"Bad_Name\" is not a valid name"));
  EXPECT_THAT(ParseDocuments(std::string(kTwo) + "---\n" + kTwo, "dup.yaml").status().message(),
              HasSubstr("appears twice"));
  EXPECT_THAT(ParseDocuments("- a\n", "a.yaml").status().message(), HasSubstr("must be a map"));
}

TEST(ConfigStoreTest, CorruptStateFileIsReportedNotIgnored) {
  const std::string dir = Dir();
  FILE* f = std::fopen((dir + "/objects.json").c_str(), "w");
  std::fputs("{not json", f);
  std::fclose(f);
  EXPECT_EQ(ConfigStore::Open(dir).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ConfigStoreTest, ReplaceKeepsUnchangedVersionsAndDeletesTheRest) {
  auto store = ConfigStore::Open(Dir());
  ASSERT_TRUE(store.ok());
  absl::StatusOr<std::vector<Document>> two = ParseDocuments(kTwo, "two");
  ASSERT_TRUE(two.ok());
  absl::StatusOr<ApplyResult> first = (*store)->Replace(*two);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->version, 1u);
  EXPECT_EQ(first->changes.size(), 2u);
  // The same content again: nothing changes, the version stays.
  absl::StatusOr<ApplyResult> again = (*store)->Replace(*two);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->version, 1u);
  // Only the namespace left: the workload is deleted, the namespace keeps its version.
  std::vector<Document> one = {(*two)[0]};
  absl::StatusOr<ApplyResult> shrunk = (*store)->Replace(one);
  ASSERT_TRUE(shrunk.ok());
  ASSERT_EQ(shrunk->changes.size(), 1u);
  EXPECT_EQ(shrunk->changes[0].action, "deleted");
  EXPECT_EQ(shrunk->version, 2u);
  std::shared_ptr<const StoreSnapshot> now = (*store)->Current();
  ASSERT_EQ(now->objects.size(), 1u);
  EXPECT_EQ(now->objects.begin()->second.version, 1u);
}

}  // namespace
}  // namespace remora::xds
