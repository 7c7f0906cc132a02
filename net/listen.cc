#include "net/listen.h"

#include <sys/socket.h>

#include <boost/asio/ip/v6_only.hpp>

#include "absl/strings/str_cat.h"

namespace remora::net {

absl::StatusOr<tcp::acceptor> Listen(asio::io_context& io, const tcp::endpoint& endpoint,
                                     bool reuse_port, int backlog, absl::string_view what) {
  tcp::acceptor acceptor(io);
  error_code ec;
  auto fail = [&](absl::string_view step) {
    std::string msg = absl::StrCat(what, ": ", step, ": ", ec.message());
    if (ec == asio::error::address_in_use) {
      absl::StrAppend(&msg, "; another process holds the port (change it in the configuration)");
    } else if (ec == asio::error::access_denied) {
      absl::StrAppend(&msg, "; ports below 1024 need CAP_NET_BIND_SERVICE");
    }
    return absl::UnavailableError(msg);
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
    // [::] serves IPv4 too (dual stack), whatever net.ipv6.bindv6only says.
    acceptor.set_option(asio::ip::v6_only(false), ec);
  }
  if (reuse_port) {
    int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      ec = error_code(errno, boost::system::system_category());
      return fail("SO_REUSEPORT");
    }
  }
  acceptor.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor.listen(backlog, ec);
  if (ec) return fail("listen");
  return acceptor;
}

}  // namespace remora::net
