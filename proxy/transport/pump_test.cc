#include "proxy/transport/pump.h"

#include <sys/socket.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::proxy::transport {
namespace {

// A connected loopback TCP pair on `io`.
std::pair<tcp::socket, tcp::socket> Pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket a(io), b(io);
  a.connect(acceptor.local_endpoint());
  acceptor.accept(b);
  return {std::move(a), std::move(b)};
}

struct PumpFixture : ::testing::Test {
  // Declared before `io`: destroying the io_context destroys suspended pumps, which hand their
  // buffers back to the pool and so need it alive.
  BufferPool pool{16384, 4};
  std::chrono::steady_clock::time_point activity;
  Counter bytes;
  asio::io_context io;
};

TEST_F(PumpFixture, MovesBytesThenPassesTheEndOn) {
  auto [src_peer, src] = Pair(io);
  auto [dst, dst_peer] = Pair(io);
  TcpStream from(std::move(src)), to(std::move(dst));
  std::optional<PumpResult> result;
  asio::co_spawn(io, Pump(from, to, pool, activity, bytes, "src", "dst"),
                 [&](std::exception_ptr, PumpResult r) { result = r; });
  asio::write(src_peer, asio::buffer(std::string("hello pump")));
  src_peer.shutdown(tcp::socket::shutdown_send);
  io.run();
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->status.ok()) << result->status;
  EXPECT_EQ(result->bytes, 10u);
  EXPECT_EQ(bytes.value(), 10u);
  std::string got(64, '\0');
  error_code ec;
  size_t n = asio::read(dst_peer, asio::buffer(got), ec);  // reads to EOF: the FIN arrived
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(got.substr(0, n), "hello pump");
  // Only one direction ended: the destination can still talk back to us.
  asio::write(dst_peer, asio::buffer(std::string("reply")));
  std::string back(5, '\0');
  asio::read(to.socket(), asio::buffer(back));
  EXPECT_EQ(back, "reply");
  EXPECT_EQ(pool.cached(), 1u) << "the buffer goes back to the pool when the pump ends";
}

TEST_F(PumpFixture, StopsReadingWhileTheDestinationIsFull) {
  auto [src_peer, src] = Pair(io);
  auto [dst, dst_peer] = Pair(io);
  int small = 16384;
  ::setsockopt(dst.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  ::setsockopt(dst_peer.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  TcpStream from(std::move(src)), to(std::move(dst));
  asio::co_spawn(io, Pump(from, to, pool, activity, bytes, "src", "dst"), asio::detached);
  // The sender pushes until the kernel refuses more: with the far end not reading, the pump must
  // stop moving bytes instead of buffering them.
  src_peer.non_blocking(true);
  const std::string chunk(65536, 'x');
  size_t sent = 0;
  for (int round = 0; round < 200; ++round) {
    error_code ec;
    size_t n = src_peer.write_some(asio::buffer(chunk), ec);
    if (!ec) sent += n;
    io.poll();
    if (ec == asio::error::would_block) {
      // Give the pump every chance to drain the source before concluding.
      for (int i = 0; i < 50; ++i) io.poll();
      error_code again;
      if (src_peer.write_some(asio::buffer(chunk), again) == 0 && again == asio::error::would_block)
        break;
    }
  }
  EXPECT_GT(sent, 0u);
  EXPECT_LT(bytes.value(), sent) << "the pump stopped reading once the destination was full";
  // Bounded by the destination's socket buffers plus one pump buffer, not by what was sent.
  EXPECT_LT(bytes.value(), 4u * 1024 * 1024);
  io.stop();
}

TEST_F(PumpFixture, ReportsAResetSource) {
  auto [src_peer, src] = Pair(io);
  auto [dst, dst_peer] = Pair(io);
  TcpStream from(std::move(src)), to(std::move(dst));
  std::optional<PumpResult> result;
  asio::co_spawn(io, Pump(from, to, pool, activity, bytes, "downstream", "upstream"),
                 [&](std::exception_ptr, PumpResult r) { result = r; });
  // SO_LINGER 0 makes close() send a reset.
  src_peer.set_option(asio::socket_base::linger(true, 0));
  src_peer.close();
  io.run();
  ASSERT_TRUE(result.has_value());
  EXPECT_THAT(result->status.message(), ::testing::HasSubstr("read from downstream"));
}

TEST(BufferPoolTest, ReusesUpToTheCap) {
  BufferPool pool(1024, 1);
  {
    BufferPool::Lease a = pool.Acquire();
    BufferPool::Lease b = pool.Acquire();
    EXPECT_EQ(a.size(), 1024u);
    EXPECT_NE(a.data(), b.data());
  }
  EXPECT_EQ(pool.cached(), 1u);
  BufferPool::Lease c = pool.Acquire();
  EXPECT_EQ(pool.cached(), 0u);
}

}  // namespace
}  // namespace remora::proxy::transport
