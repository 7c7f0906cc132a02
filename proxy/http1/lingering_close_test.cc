#include "proxy/http1/lingering_close.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace remora::proxy::http1 {
namespace {

constexpr char kResponse[] = "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";

// A connected loopback pair: the client sent bytes the server never read, and the server has
// written its response.
struct Exchange {
  explicit Exchange(asio::io_context& io) : client(io), server(io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    asio::write(client, asio::buffer(std::string(10000, 'x')));
    asio::write(server, asio::buffer(std::string(kResponse)));
  }
  // What the client reads up to the end, and how the reading ended.
  std::pair<std::string, error_code> ClientReadsToEnd() {
    std::string got;
    error_code ec;
    asio::read(client, asio::dynamic_buffer(got), ec);
    return {got, ec};
  }
  tcp::socket client;
  tcp::socket server;
};

// Why the proxy lingers: on loopback the reset is delivered by close() itself, so the client's
// read of a response it has not read yet fails, and the response is lost.
TEST(LingeringCloseTest, ClosingWithUnreadInputLosesTheResponse) {
  asio::io_context io;
  Exchange exchange(io);
  exchange.server.close();
  auto [got, ec] = exchange.ClientReadsToEnd();
  EXPECT_EQ(ec, asio::error::connection_reset) << "got: " << got;
}

TEST(LingeringCloseTest, TheClientReadsTheWholeResponseThenTheEnd) {
  asio::io_context io;
  Exchange exchange(io);
  transport::TcpStream stream(std::move(exchange.server));
  BeastStream beast(stream);
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        // The time bound only decides how long this test waits; the client never closes.
        co_await LingeringClose(beast, std::chrono::milliseconds(50), 1 << 20);
        stream.Close();
        done = true;
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(done);
  auto [got, ec] = exchange.ClientReadsToEnd();
  EXPECT_EQ(got, kResponse);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST(LingeringCloseTest, EndsAsSoonAsTheClientEndsItsSide) {
  asio::io_context io;
  Exchange exchange(io);
  exchange.client.shutdown(tcp::socket::shutdown_send);
  transport::TcpStream stream(std::move(exchange.server));
  BeastStream beast(stream);
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        // A bound no test run reaches: only the client's end can finish it.
        co_await LingeringClose(beast, std::chrono::hours(1), 1 << 20);
        done = true;
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace remora::proxy::http1
