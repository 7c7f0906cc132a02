#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/filter/chains.h"
#include "proxy/filter/peer_authentication_filter.h"
#include "proxy/filter/stats_filter.h"

namespace remora::proxy::filter {
namespace {

// A filter that records its calls and answers what it is told.
class ScriptedFilter : public NetworkFilter {
 public:
  ScriptedFilter(std::string name, std::vector<std::string>& calls, bool admit)
      : name_(std::move(name)), calls_(calls), admit_(admit) {}
  FilterResult OnConnection(ConnectionContext&, const Snapshot&) override {
    calls_.push_back(name_);
    return admit_ ? FilterResult::Continue()
                  : FilterResult::Stop(absl::PermissionDeniedError(name_ + " said no"));
  }
  FilterResult OnConfigChange(ConnectionContext&, const Snapshot&) override {
    calls_.push_back(name_ + " again");
    return FilterResult::Continue();
  }

 private:
  std::string name_;
  std::vector<std::string>& calls_;
  bool admit_;
};

class FilterChainTest : public ::testing::Test {
 protected:
  FilterChainTest() {
    listener_.config.name = "inbound";
    listener_.stats = &stats_;
  }
  // `strict`: the default PeerAuthentication mode of every port.
  std::shared_ptr<const Snapshot> MakeSnapshot(bool strict) {
    auto config = std::make_shared<ProxyConfig>();
    config->default_mode = strict ? PeerAuthMode::kStrict : PeerAuthMode::kPermissive;
    return std::make_shared<Snapshot>(config, nullptr, nullptr, filters::Labels{}, 1);
  }
  ConnectionContext Inbound() {
    ConnectionContext c(listener_, filters::Direction::kInbound,
                        tcp::endpoint(asio::ip::make_address("10.0.0.1"), 40000),
                        tcp::endpoint(asio::ip::make_address("10.0.0.2"), 8080));
    c.destination = c.local;
    c.destination_text = "port 8080";
    return c;
  }

  ListenerStats stats_;
  ListenerRuntime listener_;
};

TEST_F(FilterChainTest, StopsAtTheFirstFilterThatStopsAndAdmitsNothing) {
  std::vector<std::string> calls;
  ScriptedFilter a("a", calls, true), b("b", calls, false), c("c", calls, true);
  NetworkFilter* const chain[] = {&a, &b, &c};
  ConnectionContext connection = Inbound();
  FilterResult r = RunOnConnection(chain, connection, *MakeSnapshot(false));
  EXPECT_EQ(r.kind(), FilterResult::Kind::kStop);
  EXPECT_EQ(r.why(), absl::PermissionDeniedError("b said no"));
  EXPECT_THAT(calls, ::testing::ElementsAre("a", "b"));
  EXPECT_TRUE(connection.admitted_by.empty()) << "a refused connection has no chain to re-run";
}

TEST_F(FilterChainTest, AnAdmittedConnectionIsRecheckedByTheChainThatAdmittedIt) {
  std::vector<std::string> calls;
  ScriptedFilter a("a", calls, true), b("b", calls, true);
  NetworkFilter* const chain[] = {&a, &b};
  ConnectionContext connection = Inbound();
  std::shared_ptr<const Snapshot> snapshot = MakeSnapshot(false);
  EXPECT_TRUE(RunOnConnection(chain, connection, *snapshot).proceeds());
  EXPECT_TRUE(RunOnConfigChange(connection, *snapshot).proceeds());
  EXPECT_THAT(calls, ::testing::ElementsAre("a", "b", "a again", "b again"));
}

TEST_F(FilterChainTest, PlaintextOnAStrictPortIsRefusedAndLaterClosed) {
  PeerAuthenticationFilter filter;
  ConnectionContext connection = Inbound();
  connection.plaintext = true;
  FilterResult refused = filter.OnConnection(connection, *MakeSnapshot(true));
  EXPECT_EQ(refused.kind(), FilterResult::Kind::kStop);
  EXPECT_EQ(refused.why().message(),
            "plaintext connection refused: port 8080 requires mTLS (STRICT)");
  EXPECT_EQ(stats_.plaintext_refused.value(), 1u);

  EXPECT_TRUE(filter.OnConnection(connection, *MakeSnapshot(false)).proceeds());
  FilterResult closed = filter.OnConfigChange(connection, *MakeSnapshot(true));
  EXPECT_EQ(closed.why().message(), "port 8080 now requires mTLS (STRICT)");
}

TEST_F(FilterChainTest, MutualTlsOnAStrictPortPasses) {
  PeerAuthenticationFilter filter;
  ConnectionContext connection = Inbound();
  EXPECT_TRUE(filter.OnConnection(connection, *MakeSnapshot(true)).proceeds());
  EXPECT_TRUE(filter.OnConfigChange(connection, *MakeSnapshot(true)).proceeds());
}

TEST_F(FilterChainTest, StatsCountAdmittedHttpConnectionsAndEveryRequestHead) {
  StatsNetworkFilter network;
  StatsHttpFilter http;
  ConnectionContext connection = Inbound();
  std::shared_ptr<const Snapshot> snapshot = MakeSnapshot(false);
  EXPECT_TRUE(network.OnConnection(connection, *snapshot).proceeds());
  EXPECT_EQ(stats_.http_cx.value(), 0u) << "a TCP port is not an HTTP connection";
  connection.protocol = filters::Protocol::kHttp;
  EXPECT_TRUE(network.OnConnection(connection, *snapshot).proceeds());
  EXPECT_EQ(stats_.http_cx.value(), 1u);
  HttpRequest request;
  EXPECT_TRUE(http.OnRequestHead(connection, request, *snapshot).proceeds());
  EXPECT_EQ(stats_.http_requests.value(), 1u);
}

// A codec's own checks run right after stats, so a request they refuse is still counted and no
// filter after them sees it.
class RefuseEverything : public HttpFilter {
 public:
  FilterResult OnRequestHead(ConnectionContext&, HttpRequest&, const Snapshot&) override {
    return FilterResult::Reply(LocalReply{400, "Bad Request", "bad request: no\n", true},
                               absl::InvalidArgumentError("no"));
  }
};

TEST_F(FilterChainTest, TheCodecChecksRunAfterStatsAndBeforeAuthorization) {
  RefuseEverything codec_checks;
  ConnectionContext connection = Inbound();
  connection.protocol = filters::Protocol::kHttp;
  HttpRequest request;
  FilterResult r = RunOnRequestHead(FilterChains().inbound_http(codec_checks), connection, request,
                                    *MakeSnapshot(false));
  EXPECT_EQ(r.kind(), FilterResult::Kind::kLocalReply);
  EXPECT_EQ(r.reply().status, 400u);
  EXPECT_TRUE(r.reply().close);
  EXPECT_EQ(stats_.http_requests.value(), 1u);
  EXPECT_EQ(stats_.authz_denied.value(), 0u);
}

}  // namespace
}  // namespace remora::proxy::filter
