// Informers against the fake API server: paged initial sync, ordered notifications, watch resume
// without re-list, re-list after 410 converging to exactly the server's objects, backoff on
// 500/429 with an injected clock, the server down and back, bookmarks, token rotation, selectors,
// transforms and stopping.
#include "kube/informer.h"

#include <cstdio>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/api_status.h"
#include "kube/testing/kube_test_env.h"
#include "tests/support/process.h"

namespace remora::kube {
namespace {

using testing::ConfigMap;
using ::testing::ElementsAre;
using testing::Eventually;
using ::testing::UnorderedElementsAre;
using Json = nlohmann::json;

// What the informers' on_change saw, readable from the test thread.
class Recorder {
 public:
  void Record(const ChangeBatch& batch) {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> described;
    for (const Change& c : batch.changes) {
      const char* what = c.type == Change::Type::kAdded     ? "added"
                         : c.type == Change::Type::kUpdated ? "updated"
                                                            : "deleted";
      described.push_back(absl::StrCat(what, " ", c.object->Key()));
    }
    all_.insert(all_.end(), described.begin(), described.end());
    batches_.push_back({batch.from_list, batch.initial_sync, std::move(described)});
  }
  std::vector<std::string> all() {
    absl::MutexLock lock(&mu_);
    return all_;
  }
  struct Batch {
    bool from_list, initial_sync;
    std::vector<std::string> changes;
  };
  std::vector<Batch> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> all_ ABSL_GUARDED_BY(mu_);
  std::vector<Batch> batches_ ABSL_GUARDED_BY(mu_);
};

class InformerTest : public testing::KubeTest {
 protected:
  void SetUp() override {
    KubeTest::SetUp();
    client_ = NewClient();
  }
  void TearDown() override {
    for (auto& informer : informers_) informer->Stop();
    for (auto& informer : informers_) EXPECT_TRUE(Eventually([&] { return informer->Stopped(); }));
    KubeTest::TearDown();
  }

  // ConfigMaps in "default" with label app=<app>.
  InformerOptions ConfigMapsLabelled(const std::string& app) {
    InformerOptions options;
    options.type = types::kConfigMaps;
    options.namespace_name = "default";
    options.label_selector = absl::StrCat("app=", app);
    return options;
  }
  std::shared_ptr<Informer> Start(InformerOptions options,
                                  std::shared_ptr<ApiClient> client = nullptr) {
    options.clock = clock_;
    options.random = [] { return 0.0; };
    options.on_change = [this](const ChangeBatch& batch) { recorder_.Record(batch); };
    auto informer = Informer::Create(client ? client : client_, std::move(options));
    informer->Start();
    informers_.push_back(informer);
    return informer;
  }

  void Create(const Json& object) {
    auto created = Run([&] {
      return client_->Create(types::kConfigMaps, object["metadata"]["namespace"], object);
    });
    ASSERT_TRUE(created.ok()) << created.status();
  }
  void Delete(const std::string& name) {
    ASSERT_TRUE(Run([&] { return client_->Delete(types::kConfigMaps, "default", name); }).ok());
  }
  void SetData(const std::string& name, const std::string& value) {
    ASSERT_TRUE(Run([&] {
                  return client_->Patch(types::kConfigMaps, "default", name, PatchType::kMerge,
                                        {{"data", {{"key", value}}}});
                }).ok());
  }

  // name -> uid@resourceVersion of what the server holds for `selector`.
  std::map<std::string, std::string> ServerState(const std::string& selector) {
    ListOptions list;
    list.label_selector = selector;
    auto answer = Run([&] { return client_->List(types::kConfigMaps, "default", list); });
    EXPECT_TRUE(answer.ok()) << answer.status();
    std::map<std::string, std::string> out;
    if (!answer.ok()) return out;
    for (const Json& item : (*answer)["items"]) {
      out[absl::StrCat("default/", item["metadata"]["name"].get<std::string>())] =
          absl::StrCat(item["metadata"]["uid"].get<std::string>(), "@",
                       item["metadata"]["resourceVersion"].get<std::string>());
    }
    return out;
  }
  static std::map<std::string, std::string> CacheState(const Informer& informer) {
    std::map<std::string, std::string> out;
    for (const auto& [key, object] : informer.Snapshot()->items()) {
      out[key] = absl::StrCat(object->uid, "@", object->resource_version);
    }
    return out;
  }
  static bool Holds(const Informer& informer, const std::string& name) {
    return informer.Snapshot()->Get("default", name) != nullptr;
  }

  std::shared_ptr<testing::TestClock> clock_ = std::make_shared<testing::TestClock>();
  std::shared_ptr<ApiClient> client_;
  Recorder recorder_;
  std::vector<std::shared_ptr<Informer>> informers_;
};

TEST_F(InformerTest, SyncsThroughSeveralPages) {
  Json objects = Json::array();
  for (int i = 0; i < 25; ++i) {
    objects.push_back(ConfigMap("default", absl::StrCat("cm-", i), {{"app", "paged"}}));
  }
  ASSERT_TRUE(kube_->LoadObjects(objects).ok());
  ASSERT_TRUE(kube_->Admin("POST", "/counters/reset").ok());
  InformerOptions options = ConfigMapsLabelled("paged");
  options.page_size = 10;
  std::vector<ListPageInfo> pages;
  options.on_list_page = [&pages](const ListPageInfo& page) { pages.push_back(page); };
  auto informer = Start(options);
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  EXPECT_EQ(Counter("requests", "list configmaps"), 3);
  EXPECT_EQ(Counter("list_continues"), 2);
  EXPECT_EQ(informer->Snapshot()->size(), 25u);
  EXPECT_EQ(CacheState(*informer), ServerState("app=paged"));
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[0].items, 10u);
  EXPECT_TRUE(pages[1].more);
  EXPECT_EQ(pages[2].items, 5u);
  EXPECT_FALSE(pages[2].more);
  auto batches = recorder_.batches();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_TRUE(batches[0].initial_sync);
  EXPECT_EQ(batches[0].changes.size(), 25u);
}

TEST_F(InformerTest, RestartsAListWhoseContinueTokenExpired) {
  Json objects = Json::array();
  for (int i = 0; i < 6; ++i) {
    objects.push_back(ConfigMap("default", absl::StrCat("cm-", i), {{"app", "restart"}}));
  }
  ASSERT_TRUE(kube_->LoadObjects(objects).ok());
  InformerOptions options = ConfigMapsLabelled("restart");
  options.page_size = 4;
  bool expired = false;
  options.on_list_page = [&](const ListPageInfo& page) {
    // Between the first and the second page the server changes and compacts its history (this
    // runs on the client's thread; the admin port is plain blocking HTTP).
    if (page.index == 0 && !expired) {
      expired = true;
      ASSERT_TRUE(
          kube_->LoadObjects(Json::array({ConfigMap("default", "late", {{"app", "restart"}})}))
              .ok());
      ASSERT_TRUE(kube_->ExpireHistory().ok());
    }
  };
  auto informer = Start(options);
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  EXPECT_EQ(informer->stats().list_restarts, 1u);
  EXPECT_EQ(informer->stats().lists, 1u);
  EXPECT_EQ(Counter("codes", "410"), 1);
  EXPECT_EQ(informer->Snapshot()->size(), 7u);
  EXPECT_EQ(CacheState(*informer), ServerState("app=restart"));
}

TEST_F(InformerTest, WatchesAClusterScopedResource) {
  InformerOptions options;
  options.type = types::kNamespaces;
  auto informer = Start(options);
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  EXPECT_NE(informer->Snapshot()->Get("", "kube-system"), nullptr);
  Kubectl({"create", "namespace", "shop"});
  ASSERT_TRUE(Eventually([&] { return informer->Snapshot()->Get("", "shop") != nullptr; }));
  EXPECT_EQ(informer->Snapshot()->Get("", "shop")->object["kind"], "Namespace");
}

TEST_F(InformerTest, AsksForSmallerPagesWhenAPageIsOverTheSizeLimit) {
  Json objects = Json::array();
  for (int i = 0; i < 8; ++i) {
    objects.push_back(
        ConfigMap("default", absl::StrCat("big-", i), {{"app", "big"}}, std::string(600, 'x')));
  }
  ASSERT_TRUE(kube_->LoadObjects(objects).ok());
  ApiClientOptions small;
  small.max_response_bytes = 4096;
  InformerOptions options = ConfigMapsLabelled("big");
  options.page_size = 8;
  auto informer = Start(options, NewClient(Config(), small));
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  EXPECT_EQ(CacheState(*informer), ServerState("app=big"));
}

TEST_F(InformerTest, NotifiesAddUpdateDeleteInOrderAndCachesTrimmedObjects) {
  auto informer = Start(ConfigMapsLabelled("demo"));
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  const std::string manifest = R"(apiVersion: v1
kind: ConfigMap
metadata: {name: demo, namespace: default, labels: {app: demo}}
data: {key: one}
)";
  KubectlApply(manifest);
  ASSERT_TRUE(Eventually([&] { return Holds(*informer, "demo"); }));
  // kubectl apply wrote managedFields and the last-applied annotation; the cache dropped them.
  const Json& cached = informer->Snapshot()->Get("default", "demo")->object;
  EXPECT_FALSE(cached["metadata"].contains("managedFields")) << cached.dump();
  EXPECT_FALSE(cached["metadata"].contains("annotations")) << cached.dump();
  EXPECT_EQ(cached["kind"], "ConfigMap");
  auto served = Run([&] { return client_->Get(types::kConfigMaps, "default", "demo"); });
  ASSERT_TRUE(served.ok());
  EXPECT_TRUE((*served)["metadata"].contains("managedFields"));

  KubectlApply(absl::StrReplaceAll(manifest, {{"key: one", "key: two"}}));
  Kubectl({"delete", "configmap", "demo"});
  ASSERT_TRUE(Eventually([&] { return recorder_.all().size() == 3; }));
  EXPECT_THAT(recorder_.all(),
              ElementsAre("added default/demo", "updated default/demo", "deleted default/demo"));
  EXPECT_EQ(informer->Snapshot()->size(), 0u);
}

TEST_F(InformerTest, ResumesADroppedWatchWithoutRelisting) {
  auto informer = Start(ConfigMapsLabelled("resume"));
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  ASSERT_TRUE(Eventually([&] { return Counter("watchesOpenTotal") == 1; }));
  ASSERT_TRUE(kube_->DropWatches(/*reset_connections=*/false).ok());
  Create(ConfigMap("default", "after-close", {{"app", "resume"}}));
  ASSERT_TRUE(Eventually([&] { return Holds(*informer, "after-close"); }));
  ASSERT_TRUE(Eventually([&] { return Counter("watchesOpenTotal") == 1; }));
  ASSERT_TRUE(kube_->DropWatches(/*reset_connections=*/true).ok());
  Create(ConfigMap("default", "after-reset", {{"app", "resume"}}));
  ASSERT_TRUE(Eventually([&] { return Holds(*informer, "after-reset"); }));
  EXPECT_EQ(Counter("requests", "list configmaps"), 1);
  EXPECT_GE(Counter("requests", "watch configmaps"), 3);
  EXPECT_EQ(informer->stats().lists, 1u);
  EXPECT_EQ(informer->stats().relists, 0u);
  EXPECT_THAT(recorder_.all(),
              ElementsAre("added default/after-close", "added default/after-reset"));
}

TEST_F(InformerTest, RelistsAfterHistoryExpiredAndConvergesToExactlyTheServersObjects) {
  for (const char* name : {"a", "b", "c", "keep"}) {
    Create(ConfigMap("default", name, {{"app", "relist"}}));
  }
  auto informer = Start(ConfigMapsLabelled("relist"));
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  ASSERT_TRUE(Eventually([&] { return Counter("watchesOpenTotal") == 1; }));
  // Blind the informer (its GETs fail; the test's writes do not) while the server changes.
  ASSERT_TRUE(kube_
                  ->Admin("POST", "/faults",
                          {{"code", 500},
                           {"seconds", 600},
                           {"method", "GET"},
                           {"pathPrefix", "/api/v1/namespaces/default/configmaps"}})
                  .ok());
  ASSERT_TRUE(kube_->DropWatches().ok());
  ASSERT_TRUE(Eventually([&] { return Counter("faults_injected") >= 1; }));
  Delete("b");              // missed delete
  SetData("c", "changed");  // missed update
  Delete("a");              // missed delete and re-create
  Create(ConfigMap("default", "a", {{"app", "relist"}}, "reborn"));
  Create(ConfigMap("default", "d", {{"app", "relist"}}));  // missed add
  ASSERT_TRUE(kube_->ExpireHistory().ok());
  ASSERT_TRUE(kube_->ClearFaults().ok());

  ASSERT_TRUE(Eventually([&] { return informer->stats().lists == 2; }));
  EXPECT_EQ(Counter("requests", "list configmaps"), 2);
  EXPECT_GE(Counter("watch_gone"), 1);
  EXPECT_EQ(informer->stats().relists, 1u);
  EXPECT_EQ(CacheState(*informer), ServerState("app=relist"));
  auto batches = recorder_.batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_TRUE(batches[1].from_list);
  EXPECT_FALSE(batches[1].initial_sync);
  EXPECT_THAT(batches[1].changes,
              UnorderedElementsAre("deleted default/b", "updated default/c", "deleted default/a",
                                   "added default/a", "added default/d"));
  // And it watches again from the new list: a later change arrives as an event.
  Create(ConfigMap("default", "e", {{"app", "relist"}}));
  ASSERT_TRUE(Eventually([&] { return Holds(*informer, "e"); }));
  EXPECT_EQ(informer->stats().lists, 2u);
}

TEST_F(InformerTest, BacksOffOn500sAndHonoursRetryAfterOn429ThenConverges) {
  Create(ConfigMap("default", "x", {{"app", "faults"}}));
  ASSERT_TRUE(kube_->InjectFault(500, 3, "/api/v1/namespaces/default/configmaps").ok());
  auto informer = Start(ConfigMapsLabelled("faults"));
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  std::vector<absl::Duration> sleeps = clock_->sleeps();
  ASSERT_GE(sleeps.size(), 3u);
  EXPECT_EQ(std::vector<absl::Duration>(sleeps.begin(), sleeps.begin() + 3),
            (std::vector<absl::Duration>{absl::Milliseconds(800), absl::Milliseconds(1600),
                                         absl::Milliseconds(3200)}));
  EXPECT_EQ(informer->stats().errors, 3u);

  ASSERT_TRUE(Eventually([&] { return Counter("watchesOpenTotal") == 1; }));
  ASSERT_TRUE(kube_
                  ->Admin("POST", "/faults",
                          {{"code", 429},
                           {"count", 2},
                           {"retryAfterSeconds", 5},
                           {"pathPrefix", "/api/v1/namespaces/default/configmaps"}})
                  .ok());
  ASSERT_TRUE(kube_->DropWatches().ok());
  ASSERT_TRUE(Eventually([&] { return Counter("faults_injected") == 5; }));
  Create(ConfigMap("default", "y", {{"app", "faults"}}));
  ASSERT_TRUE(Eventually([&] { return Holds(*informer, "y"); }));
  sleeps = clock_->sleeps();
  EXPECT_EQ(std::count(sleeps.begin(), sleeps.end(), absl::Seconds(5)), 2) << sleeps.size();
  EXPECT_EQ(CacheState(*informer), ServerState("app=faults"));
}

TEST_F(InformerTest, ConvergesWhenTheServerIsDownAtStartAndAgainLater) {
  Create(ConfigMap("default", "first", {{"app", "down"}}));
  ASSERT_TRUE(kube_->Down().ok());
  auto informer = Start(ConfigMapsLabelled("down"));
  ASSERT_TRUE(Eventually([&] { return informer->stats().errors >= 3; }));
  EXPECT_FALSE(informer->HasSynced());
  ASSERT_TRUE(kube_->Up().ok());
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  EXPECT_TRUE(Holds(*informer, "first"));

  ASSERT_TRUE(Eventually([&] { return Counter("watchesOpenTotal") == 1; }));
  const uint64_t errors = informer->stats().errors;
  ASSERT_TRUE(kube_->Down().ok());
  ASSERT_TRUE(Eventually([&] { return informer->stats().errors >= errors + 2; }));
  EXPECT_TRUE(Holds(*informer, "first"));  // the cache keeps its last state meanwhile
  ASSERT_TRUE(kube_->Up().ok());
  Create(ConfigMap("default", "second", {{"app", "down"}}));
  ASSERT_TRUE(Eventually([&] { return Holds(*informer, "second"); }));
  EXPECT_EQ(CacheState(*informer), ServerState("app=down"));
  EXPECT_EQ(informer->stats().lists, 1u);
}

class InformerBookmarkTest : public InformerTest {
 protected:
  std::vector<std::string> FakeArgs() const override {
    return {"--bookmark-interval=0.2", "--verbose"};
  }
};

TEST_F(InformerBookmarkTest, BookmarksAdvanceTheResourceVersionAWatchResumesFrom) {
  auto informer = Start(ConfigMapsLabelled("quiet"));
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  const std::string listed = informer->ResourceVersion();
  // Other objects move the server's resourceVersion; none of them is for this informer.
  for (int i = 0; i < 5; ++i) Create(ConfigMap("default", absl::StrCat("other-", i)));
  const int64_t current = Counter("resourceVersion");
  ASSERT_TRUE(Eventually([&] {
    int64_t rv = 0;
    return absl::SimpleAtoi(informer->ResourceVersion(), &rv) && rv >= current;
  }));
  EXPECT_GT(informer->stats().bookmarks, 0u);
  EXPECT_EQ(informer->stats().events, 0u);
  const std::string bookmarked = informer->ResourceVersion();
  EXPECT_NE(bookmarked, listed);
  // With history gone, only a watch from the bookmarked version avoids a 410 and a re-list.
  ASSERT_TRUE(kube_->ExpireHistory().ok());
  ASSERT_TRUE(kube_->DropWatches().ok());
  ASSERT_TRUE(Eventually([&] {
    return remora::testing::ReadFileOrEmpty(kube_->dir() + "/server.log")
               .find(absl::StrCat("resourceVersion=", bookmarked, "&allowWatchBookmarks=true")) !=
           std::string::npos;
  }));
  ASSERT_TRUE(Eventually([&] { return informer->stats().watches >= 2; }));
  Create(ConfigMap("default", "seen", {{"app", "quiet"}}));
  ASSERT_TRUE(Eventually([&] { return Holds(*informer, "seen"); }));
  EXPECT_EQ(Counter("watch_gone"), 0);
  EXPECT_EQ(Counter("requests", "list configmaps"), 1);
  EXPECT_EQ(informer->stats().relists, 0u);
}

// The fake notices a client that went away when it next writes: bookmarks make that prompt.
TEST_F(InformerBookmarkTest, StopEndsTheWatch) {
  auto informer = Start(ConfigMapsLabelled("stop"));
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  ASSERT_TRUE(Eventually([&] { return Counter("watchesOpenTotal") == 1; }));
  informer->Stop();
  ASSERT_TRUE(Eventually([&] { return informer->Stopped(); }));
  ASSERT_TRUE(Eventually([&] { return Counter("watchesOpenTotal") == 0; }));
  EXPECT_TRUE(informer->HasSynced());  // the cache keeps its contents
}

class InformerTokenTest : public InformerTest {
 protected:
  std::vector<std::string> FakeArgs() const override {
    const std::string csv = remora::testing::TestDir("tokens") + "/tokens.csv";
    remora::testing::WriteFileOrDie(csv,
                                    "token-a,alice,uid-a,\"system:masters\"\n"
                                    "token-b,bob,uid-b,\"system:masters\"\n");
    return {"--token-file=" + csv};
  }
};

TEST_F(InformerTokenTest, PicksUpARotatedTokenFile) {
  const std::string dir = remora::testing::TestDir("rotating");
  const std::string path = dir + "/token";
  auto rotate = [&](const std::string& token) {
    remora::testing::WriteFileOrDie(path + ".new", token);
    ASSERT_EQ(std::rename((path + ".new").c_str(), path.c_str()), 0);
  };
  rotate("token-expired");
  ClusterConfig config = Config();
  auto token = TokenSource::FromFile(path);
  ASSERT_TRUE(token.ok()) << token.status();
  config.token = *token;
  auto informer = Start(ConfigMapsLabelled("token"), NewClient(config));
  ASSERT_TRUE(Eventually([&] { return informer->stats().errors >= 2; }));
  EXPECT_GE(Counter("unauthorized"), 2);
  EXPECT_FALSE(informer->HasSynced());
  rotate("token-a");
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  rotate("token-b");
  ASSERT_TRUE(Eventually([&] { return Counter("watchesOpenTotal") == 1; }));
  const int64_t unauthorized = Counter("unauthorized");
  ASSERT_TRUE(kube_->DropWatches().ok());
  Create(ConfigMap("default", "rotated", {{"app", "token"}}));
  ASSERT_TRUE(Eventually([&] { return Holds(*informer, "rotated"); }));
  EXPECT_EQ(Counter("unauthorized"), unauthorized);
  EXPECT_EQ(token.value()->Token(), "token-b");
}

TEST_F(InformerTest, SeesAnObjectLeaveItsLabelSelection) {
  auto informer = Start(ConfigMapsLabelled("web"));
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  Create(ConfigMap("default", "web", {{"app", "web"}}));
  Create(ConfigMap("default", "db", {{"app", "db"}}));
  ASSERT_TRUE(Eventually([&] { return Holds(*informer, "web"); }));
  Kubectl({"label", "configmap", "web", "app=other", "--overwrite"});
  ASSERT_TRUE(Eventually([&] { return !Holds(*informer, "web"); }));
  EXPECT_THAT(recorder_.all(), ElementsAre("added default/web", "deleted default/web"));
  EXPECT_FALSE(Holds(*informer, "db"));
}

TEST_F(InformerTest, ATransformThatDropsAnObjectMakesItAbsent) {
  InformerOptions options = ConfigMapsLabelled("filtered");
  options.transform = [](Json& object) {
    TrimObject(object);
    return object["data"]["key"] != "drop";
  };
  auto informer = Start(options);
  ASSERT_TRUE(Eventually([&] { return informer->HasSynced(); }));
  Create(ConfigMap("default", "f", {{"app", "filtered"}}, "keep"));
  ASSERT_TRUE(Eventually([&] { return Holds(*informer, "f"); }));
  SetData("f", "drop");
  ASSERT_TRUE(Eventually([&] { return !Holds(*informer, "f"); }));
  SetData("f", "keep");
  ASSERT_TRUE(Eventually([&] { return Holds(*informer, "f"); }));
  EXPECT_THAT(recorder_.all(),
              ElementsAre("added default/f", "deleted default/f", "added default/f"));
}

}  // namespace
}  // namespace remora::kube
