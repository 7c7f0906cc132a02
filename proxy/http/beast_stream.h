// Lets Boost.Beast read and write HTTP over the proxy's non-blocking streams (plain or TLS): an
// AsyncReadStream/AsyncWriteStream whose operations try the stream and wait for readiness when it
// says so. Completions are always posted, never run inside the initiating call, so long exchanges
// cannot grow the stack.
#pragma once

#include <chrono>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/system/errc.hpp>

#include "proxy/net/stream.h"

namespace remora::proxy::http {

class BeastStream {
 public:
  using executor_type = tcp::socket::executor_type;

  // `activity`, when given, is stamped on every completed transfer (the idle timeout watches it).
  explicit BeastStream(net::Stream& stream,
                       std::chrono::steady_clock::time_point* activity = nullptr)
      : stream_(stream), activity_(activity) {}
  executor_type get_executor() { return stream_.socket().get_executor(); }
  net::Stream& stream() { return stream_; }

  template <typename MutableBufferSequence, typename Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return Operation<true>(asio::buffer(*asio::buffer_sequence_begin(buffers)),
                           std::forward<Token>(token));
  }

  template <typename ConstBufferSequence, typename Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    // Beast hands over a sequence; writing its first non-empty piece is a valid partial write.
    asio::const_buffer first;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      if (asio::buffer_size(*it) > 0) {
        first = *it;
        break;
      }
    }
    return Operation<false>(asio::mutable_buffer(const_cast<void*>(first.data()), first.size()),
                            std::forward<Token>(token));
  }

 private:
  template <bool kRead, typename Token>
  auto Operation(asio::mutable_buffer buffer, Token&& token) {
    return asio::async_compose<Token, void(error_code, size_t)>(
        [this, buffer, first = true, done = false, result = error_code{},
         bytes = size_t{0}](auto& self, error_code ec = {}) mutable {
          if (done) {
            self.complete(result, bytes);
            return;
          }
          if (ec) {
            self.complete(ec, 0);
            return;
          }
          const bool initiating = first;
          first = false;
          net::IoResult r = buffer.size() == 0 ? net::IoResult{net::IoStatus::kOk, 0, {}}
                            : kRead ? stream_.Read(static_cast<char*>(buffer.data()), buffer.size())
                                    : stream_.Write(static_cast<const char*>(buffer.data()), buffer.size());
          if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite) {
            stream_.socket().async_wait(r.status == net::IoStatus::kWantRead
                                            ? tcp::socket::wait_read
                                            : tcp::socket::wait_write,
                                        std::move(self));
            return;
          }
          done = true;
          bytes = r.bytes;
          if (activity_ != nullptr && r.bytes > 0) *activity_ = std::chrono::steady_clock::now();
          if (r.status == net::IoStatus::kEof) {
            result = asio::error::eof;
          } else if (r.status == net::IoStatus::kError) {
            result = make_error_code(boost::system::errc::io_error);
          }
          if (initiating) {
            asio::post(stream_.socket().get_executor(), std::move(self));
          } else {
            self.complete(result, bytes);
          }
        },
        token, stream_.socket());
  }

  net::Stream& stream_;
  std::chrono::steady_clock::time_point* activity_;
};

}  // namespace remora::proxy::http
