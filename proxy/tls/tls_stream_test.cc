#include "proxy/tls/tls_stream.h"

#include "absl/time/clock.h"
#include "certs/pem.h"
#include "certs/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::proxy::tls {
namespace {

using ::testing::HasSubstr;

std::pair<tcp::socket, tcp::socket> Pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket a(io), b(io);
  a.connect(acceptor.local_endpoint());
  acceptor.accept(b);
  return {std::move(a), std::move(b)};
}

std::shared_ptr<const TlsContexts> Contexts(const certs::Authority& ca,
                                            const certs::testing::Workload& w) {
  certs::testing::Workload copy{certs::CopyChain(w.chain), certs::UpRef(w.key.get())};
  auto bundle = certs::TrustBundle::FromPem(certs::ToPem(ca.anchor()), "bundle");
  auto identity = MakeIdentity(std::move(copy.chain), std::move(copy.key), std::move(*bundle),
                               "cluster.local", absl::Now(), "test");
  EXPECT_TRUE(identity.ok()) << identity.status();
  auto contexts = TlsContexts::Build(*identity, TlsOptions{});
  EXPECT_TRUE(contexts.ok()) << contexts.status();
  return *contexts;
}

struct Outcome {
  absl::Status client = absl::UnknownError("not run");
  absl::Status server = absl::UnknownError("not run");
};

class TlsStreamTest : public ::testing::Test {
 protected:
  // Handshakes a client with `client_ctx` expecting `expected` against a server with `server_ctx`.
  Outcome Handshake(std::shared_ptr<const TlsContexts> client_ctx,
                    std::shared_ptr<const TlsContexts> server_ctx,
                    const std::vector<std::string>& expected) {
    auto [a, b] = Pair(io_);
    client_ = *TlsStream::Create(std::move(a), client_ctx, false, &expected);
    server_ = *TlsStream::Create(std::move(b), server_ctx, true);
    Outcome out;
    asio::co_spawn(io_, client_->Handshake(), [&](std::exception_ptr, absl::Status s) {
      out.client = s;
      if (!s.ok()) client_->Close();
    });
    asio::co_spawn(io_, server_->Handshake(), [&](std::exception_ptr, absl::Status s) {
      out.server = s;
      if (!s.ok()) server_->Close();
    });
    io_.run();
    io_.restart();
    return out;
  }

  asio::io_context io_;
  certs::Authority ca_ = certs::testing::MakeRoot();
  certs::testing::Workload web_ = certs::testing::MakeWorkload(ca_, "b", "web");
  certs::testing::Workload client_w_ = certs::testing::MakeWorkload(ca_, "a", "client");
  std::unique_ptr<TlsStream> client_;
  std::unique_ptr<TlsStream> server_;
};

TEST_F(TlsStreamTest, MutualHandshakeLearnsBothIdentities) {
  Outcome o = Handshake(Contexts(ca_, client_w_), Contexts(ca_, web_),
                        {"spiffe://cluster.local/ns/b/sa/web"});
  ASSERT_TRUE(o.client.ok()) << o.client;
  ASSERT_TRUE(o.server.ok()) << o.server;
  EXPECT_EQ(client_->peer_id().str(), "spiffe://cluster.local/ns/b/sa/web");
  EXPECT_EQ(server_->peer_id().str(), "spiffe://cluster.local/ns/a/sa/client");
  EXPECT_STREQ(SSL_get_version(client_->ssl()), "TLSv1.3");
}

TEST_F(TlsStreamTest, ClientRefusesUnexpectedServerIdentity) {
  Outcome o = Handshake(Contexts(ca_, client_w_), Contexts(ca_, web_),
                        {"spiffe://cluster.local/ns/b/sa/db"});
  EXPECT_EQ(o.client.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(o.client.message(),
              HasSubstr("server identity spiffe://cluster.local/ns/b/sa/web is not one this "
                        "destination may present (expected spiffe://cluster.local/ns/b/sa/db)"));
  EXPECT_FALSE(o.server.ok());
}

TEST_F(TlsStreamTest, ServerRefusesClientFromAnotherCa) {
  certs::Authority other = certs::testing::MakeRoot();
  certs::testing::Workload stranger = certs::testing::MakeWorkload(other, "a", "client");
  // The stranger trusts our CA too (its own bundle is the other root), so only the server check
  // can stop it: build its contexts against a bundle holding both roots.
  certs::testing::Workload copy{certs::CopyChain(stranger.chain), certs::UpRef(stranger.key.get())};
  auto bundle =
      certs::TrustBundle::FromPem(certs::ToPem(ca_.anchor()) + certs::ToPem(other.anchor()), "b");
  auto id = MakeIdentity(std::move(copy.chain), std::move(copy.key), std::move(*bundle),
                         "cluster.local", absl::Now(), "test");
  ASSERT_TRUE(id.ok()) << id.status();
  Outcome o = Handshake(*TlsContexts::Build(*id, TlsOptions{}), Contexts(ca_, web_), {});
  EXPECT_THAT(o.server.message(), HasSubstr("unknown CA"));
}

TEST_F(TlsStreamTest, HalfCloseKeepsTheOtherDirection) {
  Outcome o = Handshake(Contexts(ca_, client_w_), Contexts(ca_, web_), {});
  ASSERT_TRUE(o.client.ok() && o.server.ok());
  ASSERT_EQ(client_->Write("ping", 4).status, transport::IoStatus::kOk);
  ASSERT_EQ(client_->ShutdownWrite().status, transport::IoStatus::kOk);
  std::string got;
  bool eof = false;
  asio::co_spawn(
      io_,
      [&]() -> awaitable<void> {
        char buf[64];
        while (!eof) {
          transport::IoResult r = server_->Read(buf, sizeof(buf));
          if (r.status == transport::IoStatus::kOk)
            got.append(buf, r.bytes);
          else if (r.status == transport::IoStatus::kEof)
            eof = true;
          else if (r.status == transport::IoStatus::kError)
            co_return;
          else
            co_await server_->Wait(r.status);
        }
        // After the client's close_notify the server still writes; the client still reads.
        co_await transport::WriteAll(*server_, "pong", 4);
      },
      asio::detached);
  io_.run();
  io_.restart();
  EXPECT_EQ(got, "ping");
  EXPECT_TRUE(eof);
  std::string back;
  asio::co_spawn(
      io_,
      [&]() -> awaitable<void> {
        char buf[64];
        while (back.size() < 4) {
          transport::IoResult r = client_->Read(buf, sizeof(buf));
          if (r.status == transport::IoStatus::kOk)
            back.append(buf, r.bytes);
          else if (r.status == transport::IoStatus::kWantRead ||
                   r.status == transport::IoStatus::kWantWrite)
            co_await client_->Wait(r.status);
          else
            co_return;
        }
      },
      asio::detached);
  io_.run();
  EXPECT_EQ(back, "pong");
}

}  // namespace
}  // namespace remora::proxy::tls
