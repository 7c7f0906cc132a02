// The Asio vocabulary the proxy uses: std coroutines, and error codes instead of exceptions on the
// data path (every awaited operation completes with as_tuple).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace remora {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

template <typename T = void>
using awaitable = asio::awaitable<T>;

// `auto [ec, n] = co_await op(..., kUseTuple);`
inline constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

}  // namespace remora
