// The HTTPS client against the fake API server over real sockets: verbs and their error mapping,
// TLS verification, authentication, bounds, connection reuse, timeouts, and watch streams.
#include "kube/api_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "certs/pem.h"
#include "certs/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/api_status.h"
#include "kube/testing/kube_test_env.h"

namespace remora::kube {
namespace {

using testing::ConfigMap;
using testing::Eventually;
using ::testing::HasSubstr;
using Json = nlohmann::json;

class ApiClientTest : public testing::KubeTest {};

TEST_F(ApiClientTest, CreatesReadsUpdatesPatchesAndDeletes) {
  auto client = NewClient();
  auto created = Run([&] {
    return client->Create(types::kConfigMaps, "default", ConfigMap("default", "app-config"));
  });
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)["data"]["key"], "v");
  auto got = Run([&] { return client->Get(types::kConfigMaps, "default", "app-config"); });
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["metadata"]["uid"], (*created)["metadata"]["uid"]);

  Json changed = *got;
  changed["data"]["key"] = "v2";
  auto updated = Run([&] { return client->Update(types::kConfigMaps, changed); });
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_NE((*updated)["metadata"]["resourceVersion"], (*got)["metadata"]["resourceVersion"]);

  auto patched = Run([&] {
    return client->Patch(types::kConfigMaps, "default", "app-config", PatchType::kMerge,
                         {{"data", {{"other", "x"}}}});
  });
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ((*patched)["data"], Json({{"key", "v2"}, {"other", "x"}}));

  auto deleted = Run([&] {
    DeleteOptions options;
    options.precondition_uid = (*created)["metadata"]["uid"];
    return client->Delete(types::kConfigMaps, "default", "app-config", options);
  });
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  auto gone = Run([&] { return client->Get(types::kConfigMaps, "default", "app-config"); });
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(gone.status().message(),
            "GET /api/v1/namespaces/default/configmaps/app-config: 404 NotFound: configmaps "
            "\"app-config\" not found");
}

TEST_F(ApiClientTest, TellsAlreadyExistsFromConflict) {
  auto client = NewClient();
  auto first =
      Run([&] { return client->Create(types::kConfigMaps, "default", ConfigMap("default", "c")); });
  ASSERT_TRUE(first.ok()) << first.status();
  auto again =
      Run([&] { return client->Create(types::kConfigMaps, "default", ConfigMap("default", "c")); });
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(again.status().message(),
            "POST /api/v1/namespaces/default/configmaps: 409 AlreadyExists: configmaps \"c\" "
            "already exists");
  ASSERT_TRUE(Run([&] {
                return client->Patch(types::kConfigMaps, "default", "c", PatchType::kMerge,
                                     {{"data", {{"key", "newer"}}}});
              }).ok());
  Json stale = *first;
  stale["data"]["key"] = "stale write";
  auto conflict = Run([&] { return client->Update(types::kConfigMaps, stale); });
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ApiReason(conflict.status()), "Conflict");
  EXPECT_THAT(conflict.status().message(),
              HasSubstr("PUT /api/v1/namespaces/default/configmaps/c: 409 Conflict: Operation "
                        "cannot be fulfilled on configmaps \"c\""));
}

TEST_F(ApiClientTest, MapsInvalidToInvalidArgument) {
  auto client = NewClient();
  auto invalid = Run([&] {
    return client->Create(types::kConfigMaps, "default", ConfigMap("default", "Not_A_Name"));
  });
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpStatusCode(invalid.status()), 422);
  EXPECT_THAT(invalid.status().message(),
              HasSubstr("POST /api/v1/namespaces/default/configmaps: 422 Invalid: ConfigMap "
                        "\"Not_A_Name\" is invalid"));
}

TEST_F(ApiClientTest, MapsAnExpiredContinueTokenToExpired) {
  auto client = NewClient();
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(Run([&] {
                  return client->Create(types::kConfigMaps, "default", ConfigMap("default", name));
                }).ok());
  }
  ListOptions first_page;
  first_page.limit = 1;
  auto page = Run([&] { return client->List(types::kConfigMaps, "default", first_page); });
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_TRUE(Run([&] {
                return client->Create(types::kConfigMaps, "default", ConfigMap("default", "d"));
              }).ok());
  ASSERT_TRUE(kube_->ExpireHistory().ok());
  ListOptions next = first_page;
  next.continue_token = (*page)["metadata"]["continue"];
  auto expired = Run([&] { return client->List(types::kConfigMaps, "default", next); });
  ASSERT_FALSE(expired.ok());
  EXPECT_TRUE(IsExpired(expired.status())) << expired.status();
  EXPECT_THAT(expired.status().message(),
              HasSubstr("GET /api/v1/namespaces/default/configmaps: 410 Expired: The provided "
                        "continue parameter is too old"));
}

TEST_F(ApiClientTest, MapsTooManyRequestsToUnavailableWithRetryAfter) {
  auto client = NewClient();
  ASSERT_TRUE(
      kube_->Admin("POST", "/faults", {{"code", 429}, {"count", 1}, {"retryAfterSeconds", 3}})
          .ok());
  auto throttled = Run([&] { return client->Get(types::kNamespaces, "", "default"); });
  EXPECT_EQ(throttled.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(HttpStatusCode(throttled.status()), 429);
  EXPECT_EQ(RetryAfter(throttled.status()), absl::Seconds(3));
  EXPECT_TRUE(Run([&] { return client->Get(types::kNamespaces, "", "default"); }).ok());
}

TEST_F(ApiClientTest, RefusesAServerSignedByAnotherCa) {
  ClusterConfig config = Config();
  config.ca_pem = certs::ToPem(certs::testing::MakeRoot().cert());
  auto client = NewClient(config);
  auto got = Run([&] { return client->Get(types::kNamespaces, "", "default"); });
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(got.status().message(),
            absl::StrCat("TLS handshake with ", kube_->server_url(),
                         ": the server's certificate is not trusted: unable to get local issuer "
                         "certificate (verified against the CA of kubeconfig ",
                         kube_->kubeconfig_path(),
                         " (context \"fake\") for the name 127.0.0.1); check "
                         "certificate-authority and the server URL"));
  EXPECT_EQ(Counter("requests", "get namespaces"), 0);
}

TEST_F(ApiClientTest, VerifiesTheServerNameItIsToldToAndRefusesAnother) {
  ClusterConfig config = Config();
  config.tls_server_name = "kubernetes.default.svc";
  auto client = NewClient(config);
  EXPECT_TRUE(Run([&] { return client->Get(types::kNamespaces, "", "default"); }).ok());
  config.tls_server_name = "api.example.com";
  auto other = NewClient(config);
  auto got = Run([&] { return other->Get(types::kNamespaces, "", "default"); });
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(),
              HasSubstr("the server's certificate is not trusted: hostname mismatch"));
  EXPECT_THAT(got.status().message(), HasSubstr("for the name api.example.com"));
}

TEST_F(ApiClientTest, IsUnauthenticatedWithoutAToken) {
  ClusterConfig config = Config();
  config.token = nullptr;
  auto client = NewClient(config);
  auto got = Run([&] { return client->Get(types::kNamespaces, "", "default"); });
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(got.status().message(),
            "GET /api/v1/namespaces/default: 401 Unauthorized: "
            "Unauthorized");
  config.token = TokenSource::Static("not-a-token");
  auto wrong = NewClient(config);
  EXPECT_EQ(Run([&] { return wrong->Get(types::kNamespaces, "", "default"); }).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(ApiClientTest, BoundsTheSizeOfAnAnswer) {
  auto client = NewClient();
  RequestOptions small;
  small.max_response_bytes = 512;
  auto list = Run([&] { return client->List(types::kNamespaces, "", {}, small); });
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(list.status().message(),
            "GET /api/v1/namespaces: the answer is larger than the limit of 512 bytes (for a "
            "list: ask for smaller pages)");
  // The client stays usable.
  EXPECT_TRUE(Run([&] { return client->List(types::kNamespaces, "", {}); }).ok());
}

TEST_F(ApiClientTest, ReusesAConnectionAndReplaysWhenTheServerClosedIt) {
  auto client = NewClient();
  ASSERT_TRUE(Run([&] { return client->Get(types::kNamespaces, "", "default"); }).ok());
  EXPECT_EQ(client->idle_connections(), 1u);
  ASSERT_TRUE(Run([&] { return client->Get(types::kNamespaces, "", "default"); }).ok());
  EXPECT_EQ(client->idle_connections(), 1u);
  // Down resets every connection, the idle one included; Up listens again.
  ASSERT_TRUE(kube_->Down().ok());
  ASSERT_TRUE(kube_->Up().ok());
  EXPECT_TRUE(Run([&] { return client->Get(types::kNamespaces, "", "default"); }).ok());
  EXPECT_EQ(client->idle_connections(), 1u);
}

TEST_F(ApiClientTest, ReportsAServerThatIsDownAsUnavailable) {
  auto client = NewClient();
  ASSERT_TRUE(kube_->Down().ok());
  auto got = Run([&] { return client->Get(types::kNamespaces, "", "default"); });
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(got.status().message(),
            absl::StrCat("connect to ", kube_->server_url(), ": Connection refused"));
}

TEST_F(ApiClientTest, GivesUpOnAHandshakeThatNeverCompletes) {
  // A listener that never accepts: the kernel completes TCP, nobody answers the ClientHello.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ClusterConfig config = Config();
  config.server.port = ntohs(addr.sin_port);
  ApiClientOptions options;
  options.connect.handshake = absl::Milliseconds(200);
  auto client = NewClient(config, options);
  auto got = Run([&] { return client->Get(types::kNamespaces, "", "default"); });
  ::close(fd);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(got.status().message(), absl::StrCat("TLS handshake with https://127.0.0.1:",
                                                 config.server.port, ": no answer within 200ms"));
}

// ---- watch --------------------------------------------------------------------------------------

// Collects a watch's events from the client thread.
struct Collected {
  absl::Mutex mu;
  std::vector<std::string> events ABSL_GUARDED_BY(mu);  // "ADDED c@rv"
  size_t size() {
    absl::MutexLock lock(&mu);
    return events.size();
  }
  std::vector<std::string> get() {
    absl::MutexLock lock(&mu);
    return events;
  }
};

ApiClient::WatchHandler Collect(Collected& out) {
  return [&out](std::vector<WatchEvent>& events) {
    absl::MutexLock lock(&out.mu);
    for (const WatchEvent& e : events) {
      if (e.type == WatchEvent::Type::kBookmark) continue;
      out.events.push_back(absl::StrCat(WatchEventTypeName(e.type), " ",
                                        e.object["metadata"]["name"].get<std::string>()));
    }
    return absl::OkStatus();
  };
}

std::string CurrentRv(const std::shared_ptr<ApiClient>& client, testing::KubeTest& test) {
  ListOptions one;
  one.limit = 1;
  auto list = RunBlocking(client->executor(), absl::Seconds(60),
                          [&] { return client->List(types::kConfigMaps, "default", one); });
  EXPECT_TRUE(list.ok()) << list.status();
  return list.ok() ? (*list)["metadata"]["resourceVersion"].get<std::string>() : "";
}

TEST_F(ApiClientTest, WatchStreamsEventsInOrderUntilTheServerEndsIt) {
  auto client = NewClient();
  WatchOptions options;
  options.resource_version = CurrentRv(client, *this);
  Collected collected;
  std::future<absl::Status> watch = asio::co_spawn(
      io_.get_executor(),
      [&]() { return client->Watch(types::kConfigMaps, "default", options, Collect(collected)); },
      asio::use_future);
  ASSERT_TRUE(Eventually([&] { return Counter("watchesOpenTotal") == 1; }));
  ASSERT_TRUE(Run([&] {
                return client->Create(types::kConfigMaps, "default", ConfigMap("default", "w"));
              }).ok());
  ASSERT_TRUE(Run([&] {
                return client->Patch(types::kConfigMaps, "default", "w", PatchType::kMerge,
                                     {{"data", {{"key", "2"}}}});
              }).ok());
  ASSERT_TRUE(Run([&] { return client->Delete(types::kConfigMaps, "default", "w"); }).ok());
  ASSERT_TRUE(Eventually([&] { return collected.size() == 3; }));
  EXPECT_THAT(collected.get(), ::testing::ElementsAre("ADDED w", "MODIFIED w", "DELETED w"));
  ASSERT_TRUE(kube_->DropWatches().ok());
  ASSERT_EQ(watch.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_TRUE(watch.get().ok());
}

TEST_F(ApiClientTest, WatchReportsABrokenStreamAsUnavailable) {
  auto client = NewClient();
  WatchOptions options;
  options.resource_version = CurrentRv(client, *this);
  Collected collected;
  std::future<absl::Status> watch = asio::co_spawn(
      io_.get_executor(),
      [&]() { return client->Watch(types::kConfigMaps, "default", options, Collect(collected)); },
      asio::use_future);
  ASSERT_TRUE(Eventually([&] { return Counter("watchesOpenTotal") == 1; }));
  ASSERT_TRUE(kube_->DropWatches(/*reset_connections=*/true).ok());
  ASSERT_EQ(watch.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  absl::Status status = watch.get();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(),
              HasSubstr("watch /api/v1/namespaces/default/configmaps: the stream broke: "));
}

TEST_F(ApiClientTest, WatchReportsAnExpiredResourceVersion) {
  auto client = NewClient();
  WatchOptions options;
  options.resource_version = CurrentRv(client, *this);
  ASSERT_TRUE(Run([&] {
                return client->Create(types::kConfigMaps, "default", ConfigMap("default", "x"));
              }).ok());
  ASSERT_TRUE(kube_->ExpireHistory().ok());
  Collected collected;
  absl::Status status = Run(
      [&] { return client->Watch(types::kConfigMaps, "default", options, Collect(collected)); });
  EXPECT_TRUE(IsExpired(status)) << status;
  EXPECT_THAT(status.message(),
              HasSubstr("watch /api/v1/namespaces/default/configmaps: 410 Expired: too old "
                        "resource version: "));
  EXPECT_EQ(collected.size(), 0u);
}

TEST_F(ApiClientTest, WatchBoundsTheSizeOfAnEvent) {
  ApiClientOptions small;
  small.max_event_bytes = 1024;
  auto client = NewClient(Config(), small);
  WatchOptions options;
  options.resource_version = CurrentRv(client, *this);
  ASSERT_TRUE(Run([&] {
                return client->Create(
                    types::kConfigMaps, "default",
                    ConfigMap("default", "big", Json::object(), std::string(4096, 'x')));
              }).ok());
  Collected collected;
  absl::Status status = Run(
      [&] { return client->Watch(types::kConfigMaps, "default", options, Collect(collected)); });
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_EQ(status.message(),
            "watch /api/v1/namespaces/default/configmaps: watch stream: an event is larger than "
            "the limit of 1024 bytes");
}

TEST_F(ApiClientTest, AWatchTheServerRefusesReturnsItsError) {
  auto client = NewClient();
  ASSERT_TRUE(kube_->InjectFault(500, 1, "/api/v1/namespaces/default/configmaps").ok());
  Collected collected;
  absl::Status status = Run([&] {
    return client->Watch(types::kConfigMaps, "default", WatchOptions{}, Collect(collected));
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(),
            "watch /api/v1/namespaces/default/configmaps: 500 InternalError: Internal error "
            "occurred: injected fault (fake apiserver admin port)");
}

}  // namespace
}  // namespace remora::kube
