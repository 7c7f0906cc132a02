// Test support for the kube/ library: a fake API server per test (tests/kube), an io_context on its
// own thread for the client, coroutines run from the test thread, and a clock whose sleeps are
// recorded instead of waited for.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "kube/api_client.h"
#include "kube/clock.h"
#include "net/asio.h"
#include "tests/kube/fake_apiserver_process.h"

namespace remora::kube::testing {

// Records every sleep and advances Now() by it, but waits only a few real milliseconds, so
// backoff is asserted on exactly and retry loops neither stall nor spin.
class TestClock final : public Clock {
 public:
  absl::Time Now() override;
  awaitable<void> Sleep(absl::Duration d) override;
  std::vector<absl::Duration> sleeps() const;

 private:
  mutable absl::Mutex mu_;
  absl::Duration offset_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
};

class KubeTest : public ::testing::Test {
 protected:
  // Extra flags for the fake (override in a fixture).
  virtual std::vector<std::string> FakeArgs() const { return {}; }

  void SetUp() override;
  void TearDown() override;

  // The fake's kubeconfig, loaded.
  ClusterConfig Config() const;
  std::shared_ptr<ApiClient> NewClient(ClusterConfig config, ApiClientOptions options = {});
  std::shared_ptr<ApiClient> NewClient() { return NewClient(Config()); }

  // Runs `make()` (returning an awaitable) on the client thread and waits for its result.
  template <typename F>
  auto Run(F make) {
    return RunBlocking(io_.get_executor(), absl::Seconds(120), std::move(make));
  }

  // kubectl against the fake; fails the test on a non-zero exit.
  std::string Kubectl(const std::vector<std::string>& args);
  void KubectlApply(const std::string& manifest);
  nlohmann::json Counters();
  // A counter of the fake (0 when absent): Counter("requests", "list configmaps").
  int64_t Counter(const std::string& group, const std::string& name = "");

  std::unique_ptr<remora::testing::FakeApiServer> kube_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
};

// A ConfigMap with `labels` and one data entry.
nlohmann::json ConfigMap(const std::string& ns, const std::string& name,
                         const nlohmann::json& labels = nlohmann::json::object(),
                         const std::string& value = "v");

// Blocks the test until `predicate` holds (polling), failing after a generous deadline.
bool Eventually(const std::function<bool()>& predicate, absl::Duration timeout = absl::Seconds(60));

}  // namespace remora::kube::testing
