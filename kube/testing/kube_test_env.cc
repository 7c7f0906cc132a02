#include "kube/testing/kube_test_env.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/support/process.h"

namespace remora::kube::testing {

absl::Time TestClock::Now() {
  absl::MutexLock lock(&mu_);
  return absl::Now() + offset_;
}

awaitable<void> TestClock::Sleep(absl::Duration d) {
  {
    absl::MutexLock lock(&mu_);
    sleeps_.push_back(d);
    offset_ += d;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(std::chrono::milliseconds(10));
  (void)co_await timer.async_wait(kUseTuple);
}

std::vector<absl::Duration> TestClock::sleeps() const {
  absl::MutexLock lock(&mu_);
  return sleeps_;
}

void KubeTest::SetUp() {
  remora::testing::FakeApiServerOptions options;
  options.extra_args = FakeArgs();
  auto server = remora::testing::FakeApiServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  kube_ = std::move(*server);
  work_.emplace(io_.get_executor());
  thread_ = std::thread([this] { io_.run(); });
}

void KubeTest::TearDown() {
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

ClusterConfig KubeTest::Config() const {
  auto config = LoadKubeconfig(kube_->kubeconfig_path());
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : ClusterConfig{};
}

std::shared_ptr<ApiClient> KubeTest::NewClient(ClusterConfig config, ApiClientOptions options) {
  auto client = ApiClient::New(io_.get_executor(), std::move(config), std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *client : nullptr;
}

std::string KubeTest::Kubectl(const std::vector<std::string>& args) {
  remora::testing::KubectlResult result = kube_->Kubectl(args);
  EXPECT_EQ(result.exit_code, 0) << "kubectl " << absl::StrJoin(args, " ") << ":\n"
                                 << result.output;
  return result.output;
}

void KubeTest::KubectlApply(const std::string& manifest) {
  remora::testing::KubectlResult result = kube_->KubectlApply(manifest);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

nlohmann::json KubeTest::Counters() {
  auto counters = kube_->Counters();
  EXPECT_TRUE(counters.ok()) << counters.status();
  return counters.ok() ? *counters : nlohmann::json::object();
}

int64_t KubeTest::Counter(const std::string& group, const std::string& name) {
  nlohmann::json c = Counters();
  const nlohmann::json* v = &c;
  if (!v->contains(group)) return 0;
  v = &(*v)[group];
  if (!name.empty()) {
    if (!v->is_object() || !v->contains(name)) return 0;
    v = &(*v)[name];
  }
  return v->is_number_integer() ? v->get<int64_t>() : 0;
}

nlohmann::json ConfigMap(const std::string& ns, const std::string& name,
                         const nlohmann::json& labels, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"labels", labels}}},
          {"data", {{"key", value}}}};
}

bool Eventually(const std::function<bool()>& predicate, absl::Duration timeout) {
  return remora::testing::WaitFor(timeout, predicate);
}

}  // namespace remora::kube::testing
