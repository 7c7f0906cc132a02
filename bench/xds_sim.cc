// xds_sim: many simulated proxies against one remora-control, for the control-plane benchmark.
//
// Each simulated proxy is one ADS stream (state of the world) on its own gRPC channel, so its own
// TCP connection, as a real proxy has. The streams use gRPC's callback API (no thread per stream)
// and the proxy's own protocol logic (proxy::control::XdsProtocol) to build subscriptions and
// ACKs. They connect to the control plane's plaintext development port (--dev-listen): 10,000 TLS
// handshakes and certificate signings would otherwise dominate the set-up, and are measured by the
// churn scenario instead. The operator API (Apply, WaitForVersion) is reached over TLS with the
// operator token, as remoractl does.
//
// Steps: register --proxies Workloads in namespace `sim`; connect every stream (in batches of
// --ramp) and wait until each has ACKed its first configuration; report the control plane's
// memory before and after; then --rounds times apply a mesh-wide AuthorizationPolicy and measure
// the time from the Apply call to the last simulated proxy's ACK of the new version.
//
// Kubernetes mode (--kube-apply=COMMAND): the workloads are the cluster's pods sim/sim-<i>, so
// nothing is registered, and each round runs COMMAND ("{round}" replaced by the round number;
// e.g. `kubectl apply -f round-{round}.yaml`) and measures from its start to the last simulated
// proxy's ACK of a newer AuthorizationPolicy version than it had.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "ctl/control_client.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "proxy/control/xds_client.h"
#include "xds/view/resource_types.h"

namespace remora::bench {
namespace {

namespace discovery = envoy::service::discovery::v3;

using xds::kAuthorizationPolicyType;
using xds::kWorkloadSettingsType;

int64_t NowNs() { return absl::GetCurrentTimeNanos(); }

// One simulated proxy: an ADS stream that accepts every update and ACKs it.
class SimStream
    : public grpc::ClientBidiReactor<discovery::DiscoveryRequest, discovery::DiscoveryResponse> {
 public:
  SimStream(std::shared_ptr<grpc::Channel> channel, const std::string& node_id)
      : channel_(std::move(channel)),
        protocol_(
            [&] {
              envoy::config::core::v3::Node node;
              node.set_id(node_id);
              return node;
            }(),
            {std::string(kWorkloadSettingsType), std::string(kAuthorizationPolicyType)}) {}

  void Start() {
    stub_ = discovery::AggregatedDiscoveryService::NewStub(channel_);
    stub_->async()->StreamAggregatedResources(&context_, this);
    for (discovery::DiscoveryRequest& r : protocol_.InitialSotw()) Enqueue(std::move(r), 0);
    StartRead(&response_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  // Both types ACKed at least once: this proxy has its configuration.
  bool synced() const { return settings_acked_.load() && authz_acked_version_.load() > 0; }
  uint64_t authz_acked_version() const { return authz_acked_version_.load(); }
  int64_t authz_acked_at() const { return authz_acked_at_.load(); }
  bool done() const { return done_.load(); }
  const std::string& error() const { return error_; }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream is over; OnDone follows
    uint64_t authz_version = 0;
    const bool authz = response_.type_url() == kAuthorizationPolicyType;
    discovery::DiscoveryRequest ack =
        protocol_.OnResponse(response_, [&](const proxy::control::ReceivedUpdate& update) {
          if (authz) absl::SimpleAtoi(update.version, &authz_version);
          return std::vector<remora::v1::ResourceError>{};
        });
    if (!authz) authz_version = 0;
    Enqueue(std::move(ack), authz ? std::max<uint64_t>(authz_version, 1) : kSettingsAck);
    StartRead(&response_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (ok) {
      // The message just written reached gRPC's transport: for an ACK, that is the moment the
      // simulated proxy acknowledged the version.
      const uint64_t tag = queue_.front().second;
      if (tag == kSettingsAck) {
        settings_acked_.store(true);
      } else if (tag > 0) {
        authz_acked_at_.store(NowNs());
        authz_acked_version_.store(tag);
      }
    }
    queue_.pop_front();
    if (ok && !queue_.empty()) StartWrite(&queue_.front().first);
  }

  void OnDone(const grpc::Status& status) override {
    if (!status.ok()) error_ = status.error_message();
    done_.store(true);
  }

 private:
  static constexpr uint64_t kSettingsAck = ~0ULL;

  // Writes one at a time (the reactor allows a single outstanding write). `tag`: 0 for an initial
  // subscription, kSettingsAck, or the AuthorizationPolicy version this ACK acknowledges.
  void Enqueue(discovery::DiscoveryRequest request, uint64_t tag) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.emplace_back(std::move(request), tag);
    if (queue_.size() == 1) StartWrite(&queue_.front().first);
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<discovery::AggregatedDiscoveryService::Stub> stub_;
  grpc::ClientContext context_;
  proxy::control::XdsProtocol protocol_;
  discovery::DiscoveryResponse response_;
  std::mutex mu_;
  std::deque<std::pair<discovery::DiscoveryRequest, uint64_t>> queue_;
  std::atomic<bool> settings_acked_{false};
  std::atomic<uint64_t> authz_acked_version_{0};
  std::atomic<int64_t> authz_acked_at_{0};
  std::atomic<bool> done_{false};
  std::string error_;
};

struct Memory {
  long rss_kib = 0;
  long pss_kib = 0;
  long threads = 0;
};

Memory ReadMemory(int pid) {
  Memory m;
  std::ifstream rollup(absl::StrCat("/proc/", pid, "/smaps_rollup"));
  std::string key;
  long value;
  std::string unit;
  std::string line;
  while (std::getline(rollup, line)) {
    std::istringstream in(line);
    if (!(in >> key >> value)) continue;
    if (key == "Rss:") m.rss_kib = value;
    if (key == "Pss:") m.pss_kib = value;
  }
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) m.threads = std::atol(line.c_str() + 8);
  }
  return m;
}

struct Options {
  std::string dev;  // plaintext xDS address
  ctl::ConnectionFlags operator_api;
  int proxies = 1000;
  int ramp = 500;
  int rounds = 5;
  int control_pid = 0;
  absl::Duration timeout = absl::Seconds(120);
  std::string kube_apply;  // Kubernetes mode: the command that changes the policy
};

bool Apply(ctl::OperatorClient& client, const std::string& yaml, const std::string& source,
           uint64_t* version) {
  remora::v1::ApplyRequest request;
  request.set_yaml(yaml);
  request.set_source(source);
  remora::v1::ApplyResponse response;
  auto context = client.Context(absl::Seconds(120));
  grpc::Status status = client.stub().Apply(context.get(), request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "xds_sim: apply %s: %s\n", source.c_str(), status.error_message().c_str());
    return false;
  }
  *version = response.version();
  return true;
}

std::string AuditPolicy(int round) {
  return absl::StrCat(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: bench-audit, namespace: remora-system}
spec:
  action: AUDIT
  rules: [{to: [{operation: {paths: ["/round-)",
                      round, R"("]}}]}]
)");
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      return a.rfind(flag, 0) == 0 ? a.c_str() + std::strlen(flag) : nullptr;
    };
    if (const char* v = value("--dev="))
      o.dev = v;
    else if (const char* v = value("--server="))
      o.operator_api.server = v;
    else if (const char* v = value("--state-dir="))
      o.operator_api.state_dir = v;
    else if (const char* v = value("--proxies="))
      o.proxies = std::atoi(v);
    else if (const char* v = value("--ramp="))
      o.ramp = std::atoi(v);
    else if (const char* v = value("--rounds="))
      o.rounds = std::atoi(v);
    else if (const char* v = value("--control-pid="))
      o.control_pid = std::atoi(v);
    else if (const char* v = value("--kube-apply="))
      o.kube_apply = v;
    else {
      std::fprintf(stderr, "xds_sim: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (o.dev.empty() || o.operator_api.server.empty() || o.operator_api.state_dir.empty() ||
      o.proxies <= 0 || o.proxies > 15000 || o.ramp <= 0 || o.rounds < 0 || o.rounds > 100) {
    std::fprintf(stderr,
                 "usage: xds_sim --dev=HOST:PORT --server=HOST:PORT --state-dir=DIR "
                 "[--proxies=1000] [--ramp=500] [--rounds=5] [--control-pid=PID] "
                 "[--kube-apply=COMMAND]\n");
    return 2;
  }
  absl::StatusOr<ctl::OperatorClient> client = ctl::OperatorClient::Connect(o.operator_api);
  if (!client.ok()) {
    std::fprintf(stderr, "xds_sim: %s\n", std::string(client.status().message()).c_str());
    return 1;
  }

  // 1. The registry: one Workload per simulated proxy, applied in chunks.
  int64_t start = NowNs();
  uint64_t version = 0;
  constexpr int kChunk = 1000;
  for (int first = 0; o.kube_apply.empty() && first < o.proxies; first += kChunk) {
    std::string yaml = first == 0 ? "apiVersion: v1\nkind: Namespace\nmetadata: {name: sim}\n" : "";
    for (int i = first; i < std::min(o.proxies, first + kChunk); ++i) {
      absl::StrAppend(&yaml, yaml.empty() ? "" : "---\n",
                      "apiVersion: remora.io/v1\nkind: Workload\nmetadata: {name: sim-", i,
                      ", namespace: sim, labels: {app: sim}}\nspec: {serviceAccount: sim, "
                      "addresses: [10.",
                      100 + i / 65536, ".", (i / 256) % 256, ".", i % 256, "]}\n");
    }
    if (!Apply(*client, yaml, absl::StrCat("sim-", first), &version)) return 1;
  }
  const double register_s = (NowNs() - start) / 1e9;
  absl::SleepFor(absl::Milliseconds(500));
  const Memory before = o.control_pid ? ReadMemory(o.control_pid) : Memory{};

  // 2. Connect the streams, a batch at a time.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per simulated proxy
  args.SetMaxReceiveMessageSize(64 << 20);
  std::vector<std::unique_ptr<SimStream>> streams;
  streams.reserve(o.proxies);
  start = NowNs();
  const absl::Time deadline = absl::Now() + o.timeout;
  for (int first = 0; first < o.proxies; first += o.ramp) {
    const int last = std::min(o.proxies, first + o.ramp);
    for (int i = first; i < last; ++i) {
      auto channel = grpc::CreateCustomChannel(o.dev, grpc::InsecureChannelCredentials(), args);
      streams.push_back(std::make_unique<SimStream>(channel, absl::StrCat("sim/sim-", i)));
      streams.back()->Start();
    }
    while (absl::Now() < deadline) {
      int synced = 0, failed = 0;
      for (int i = first; i < last; ++i) {
        synced += streams[i]->synced();
        failed += streams[i]->done();
      }
      if (failed > 0) {
        for (int i = first; i < last; ++i) {
          if (streams[i]->done()) {
            std::fprintf(stderr, "xds_sim: stream sim-%d ended: %s\n", i,
                         streams[i]->error().c_str());
            break;
          }
        }
        return 1;
      }
      if (synced == last - first) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    if (absl::Now() >= deadline) {
      std::fprintf(stderr, "xds_sim: streams did not all sync within the timeout\n");
      return 1;
    }
  }
  const double connect_s = (NowNs() - start) / 1e9;
  absl::SleepFor(absl::Seconds(1));
  const Memory after = o.control_pid ? ReadMemory(o.control_pid) : Memory{};
  std::printf(
      "{\"phase\": \"connected\", \"proxies\": %d, \"register_s\": %.3f, "
      "\"connect_s\": %.3f, \"control_rss_before_kib\": %ld, \"control_rss_after_kib\": %ld, "
      "\"control_pss_before_kib\": %ld, \"control_pss_after_kib\": %ld, "
      "\"control_threads\": %ld, \"kib_per_proxy\": %.2f}\n",
      o.proxies, register_s, connect_s, before.rss_kib, after.rss_kib, before.pss_kib,
      after.pss_kib, after.threads,
      static_cast<double>(after.pss_kib - before.pss_kib) / o.proxies);
  std::fflush(stdout);

  // 3. Apply-to-last-ACK.
  for (int round = 1; round <= o.rounds; ++round) {
    std::vector<uint64_t> before;
    for (const auto& s : streams) before.push_back(s->authz_acked_version());
    const int64_t t0 = NowNs();
    if (o.kube_apply.empty()) {
      if (!Apply(*client, AuditPolicy(round), "bench-audit", &version)) return 1;
    } else {
      const std::string command =
          absl::StrReplaceAll(o.kube_apply, {{"{round}", absl::StrCat(round)}});
      if (std::system(command.c_str()) != 0) {
        std::fprintf(stderr, "xds_sim: %s failed\n", command.c_str());
        return 1;
      }
    }
    const int64_t applied = NowNs();
    // Kubernetes mode: the version is whatever the control plane made of the change; a stream
    // has it when it ACKs a newer version than it had before the command.
    auto has_it = [&](size_t i) {
      return o.kube_apply.empty() ? streams[i]->authz_acked_version() >= version
                                  : streams[i]->authz_acked_version() > before[i];
    };
    bool all = false;
    std::vector<double> ack_ms;
    const absl::Time round_deadline = absl::Now() + o.timeout;
    while (absl::Now() < round_deadline) {
      int acked = 0;
      for (size_t i = 0; i < streams.size(); ++i) acked += has_it(i);
      if (acked == o.proxies) {
        all = true;
        break;
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
    for (size_t i = 0; i < streams.size(); ++i) {
      if (has_it(i)) ack_ms.push_back((streams[i]->authz_acked_at() - t0) / 1e6);
      if (!o.kube_apply.empty()) version = std::max(version, streams[i]->authz_acked_version());
    }
    std::sort(ack_ms.begin(), ack_ms.end());
    remora::v1::WaitRequest wait;
    wait.set_version(version);
    wait.set_timeout_ms(30000);
    remora::v1::WaitResponse waited;
    auto context = client->Context(absl::Seconds(40));
    grpc::Status ws = client->stub().WaitForVersion(context.get(), wait, &waited);
    auto pct = [&](double q) {
      return ack_ms.empty()
                 ? 0.0
                 : ack_ms[std::min(ack_ms.size() - 1, static_cast<size_t>(q * ack_ms.size()))];
    };
    std::printf(
        "{\"phase\": \"apply\", \"round\": %d, \"version\": %llu, \"all_acked\": %s, "
        "\"acked\": %zu, \"apply_rpc_ms\": %.2f, \"first_ack_ms\": %.2f, "
        "\"p50_ack_ms\": %.2f, \"p99_ack_ms\": %.2f, \"last_ack_ms\": %.2f, "
        "\"server_acked\": %u, \"server_affected\": %u, \"server_slowest_ms\": %u}\n",
        round, static_cast<unsigned long long>(version), all ? "true" : "false", ack_ms.size(),
        (applied - t0) / 1e6, ack_ms.empty() ? 0.0 : ack_ms.front(), pct(0.5), pct(0.99),
        ack_ms.empty() ? 0.0 : ack_ms.back(), ws.ok() ? waited.acked() : 0,
        ws.ok() ? waited.affected() : 0, ws.ok() ? waited.slowest_ms() : 0);
    std::fflush(stdout);
    if (!all) return 1;
  }
  // Tearing down thousands of channels one by one takes long and measures nothing: the process
  // ends here and the kernel closes the connections.
  std::fflush(stdout);
  _exit(0);
}

}  // namespace
}  // namespace remora::bench

int main(int argc, char** argv) { return remora::bench::Main(argc, argv); }
