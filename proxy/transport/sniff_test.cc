#include "proxy/transport/sniff.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/write.hpp>
#include <optional>

#include "gtest/gtest.h"

namespace remora::proxy::transport {
namespace {

// Long enough never to fire on a loaded machine: these tests never wait for it.
constexpr std::chrono::seconds kNeverFires(300);

// A connected loopback TCP pair on `io`: the client's end, then the accepted end.
std::pair<tcp::socket, tcp::socket> Pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket client(io), accepted(io);
  client.connect(acceptor.local_endpoint());
  acceptor.accept(accepted);
  return {std::move(client), std::move(accepted)};
}

void Send(tcp::socket& socket, const std::string& bytes) {
  asio::write(socket, asio::buffer(bytes));
}

struct SniffTest : ::testing::Test {
  // Runs the sniff on `accepted`; `sniffed` is set when it finishes.
  void StartSniff(tcp::socket& accepted) {
    asio::co_spawn(io, SniffFirstByte(accepted, kNeverFires),
                   [this](std::exception_ptr e, Sniffed s) {
                     ASSERT_FALSE(e);
                     sniffed = s;
                   });
    io.poll();  // the sniff is now waiting for the first byte
  }
  void RunUntilSniffed() {
    while (!sniffed.has_value() && io.run_one() > 0) {
    }
  }

  asio::io_context io;
  std::optional<Sniffed> sniffed;
};

TEST_F(SniffTest, ClassifiesTheFirstByteWithoutConsumingIt) {
  auto [client, accepted] = Pair(io);
  StartSniff(accepted);
  Send(client, "\x16\x03\x01");
  RunUntilSniffed();
  EXPECT_EQ(sniffed, Sniffed::kTls);
  std::array<char, 3> still_there{};
  EXPECT_EQ(accepted.receive(asio::buffer(still_there)), 3u);
  EXPECT_EQ(still_there[0], '\x16');
}

TEST_F(SniffTest, ReportsPlaintext) {
  auto [client, accepted] = Pair(io);
  StartSniff(accepted);
  Send(client, "GET / HTTP/1.1\r\n");
  RunUntilSniffed();
  EXPECT_EQ(sniffed, Sniffed::kPlaintext);
}

TEST_F(SniffTest, ReportsAClientThatClosesBeforeSendingAnything) {
  auto [client, accepted] = Pair(io);
  StartSniff(accepted);
  client.close();
  RunUntilSniffed();
  EXPECT_EQ(sniffed, Sniffed::kClosed);
}

// A readiness report is a hint, not a promise of data (epoll(7), select(2) "spurious readiness");
// a wakeup that finds nothing to read means "not yet", and the sniff waits on. Here another waiter
// on the socket, woken first, takes the byte that woke them both, so the sniff wakes to an empty
// socket. Before the fix the sniff took the EAGAIN for a closed client: the inbound side closed a
// healthy connection before its ClientHello, which the peer saw as "unexpected eof while
// reading" in its handshake (about one connection in 10,000 in tests/flake_eof_repro_test.cc).
TEST_F(SniffTest, KeepsWaitingWhenAWakeupFindsNothingToRead) {
  auto [client, accepted] = Pair(io);
  bool taken = false;
  accepted.async_wait(tcp::socket::wait_read, [&](error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    std::array<char, 1> byte{};
    EXPECT_EQ(::recv(accepted.native_handle(), byte.data(), 1, MSG_DONTWAIT), 1);
    taken = true;
  });
  StartSniff(accepted);
  Send(client, "x");
  while (!taken && io.run_one() > 0) {
  }
  ASSERT_TRUE(taken);
  io.poll();  // the sniff has woken up to an empty socket
  EXPECT_FALSE(sniffed.has_value())
      << "a wakeup with nothing to read was taken for " << ToString(*sniffed);
  Send(client, "\x16");
  RunUntilSniffed();
  EXPECT_EQ(sniffed, Sniffed::kTls);
}

}  // namespace
}  // namespace remora::proxy::transport
