// Lets Boost.Beast read and write HTTP over the proxy's non-blocking streams (plain or TLS): an
// AsyncReadStream/AsyncWriteStream whose operations try the stream and wait for readiness when it
// says so. Completions are always posted, never run inside the initiating call, so long exchanges
// cannot grow the stack.
#pragma once

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/system/errc.hpp>
#include <chrono>
#include <vector>

#include "proxy/transport/stream.h"

namespace remora::proxy::http1 {

class BeastStream {
 public:
  using executor_type = tcp::socket::executor_type;

  // `activity`, when given, is stamped on every completed transfer (the idle timeout watches it).
  explicit BeastStream(transport::Stream& stream,
                       std::chrono::steady_clock::time_point* activity = nullptr)
      : stream_(stream), activity_(activity) {}
  executor_type get_executor() { return stream_.socket().get_executor(); }
  transport::Stream& stream() { return stream_; }

  template <typename MutableBufferSequence, typename Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return Operation<true>(asio::buffer(*asio::buffer_sequence_begin(buffers)), {},
                           std::forward<Token>(token));
  }

  // Beast's serializer hands over one piece per status-line part, header field and CRLF. Writing
  // them one by one would make each its own TLS record and syscall (measured: ~4x the CPU per
  // request at L7), so small pieces are gathered, up to kGatherBytes, into one write the operation
  // owns. Writing a prefix of the sequence is a valid partial write.
  static constexpr size_t kGatherBytes = 16384;

  template <typename ConstBufferSequence, typename Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    auto it = asio::buffer_sequence_begin(buffers);
    const auto end = asio::buffer_sequence_end(buffers);
    while (it != end && asio::buffer_size(*it) == 0) ++it;
    asio::const_buffer first = it != end ? asio::const_buffer(*it) : asio::const_buffer();
    if (first.size() >= kGatherBytes || asio::buffer_size(buffers) == first.size()) {
      return Operation<false>(asio::mutable_buffer(const_cast<void*>(first.data()), first.size()),
                              {}, std::forward<Token>(token));
    }
    std::vector<char> gathered(std::min(asio::buffer_size(buffers), kGatherBytes));
    asio::buffer_copy(asio::buffer(gathered), buffers);
    return Operation<false>(asio::mutable_buffer(), std::move(gathered),
                            std::forward<Token>(token));
  }

 private:
  // Transfers `buffer`, or `owned` when it is not empty (a gathered write).
  template <bool kRead, typename Token>
  auto Operation(asio::mutable_buffer buffer, std::vector<char> owned, Token&& token) {
    return asio::async_compose<Token, void(error_code, size_t)>(
        [this, buffer, owned = std::move(owned), first = true, done = false, result = error_code{},
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
          if (!owned.empty()) buffer = asio::buffer(owned);
          transport::IoResult r =
              buffer.size() == 0 ? transport::IoResult{transport::IoStatus::kOk, 0, {}}
              : kRead            ? stream_.Read(static_cast<char*>(buffer.data()), buffer.size())
                      : stream_.Write(static_cast<const char*>(buffer.data()), buffer.size());
          if (r.status == transport::IoStatus::kWantRead ||
              r.status == transport::IoStatus::kWantWrite) {
            stream_.socket().async_wait(r.status == transport::IoStatus::kWantRead
                                            ? tcp::socket::wait_read
                                            : tcp::socket::wait_write,
                                        std::move(self));
            return;
          }
          done = true;
          bytes = r.bytes;
          if (activity_ != nullptr && r.bytes > 0) *activity_ = std::chrono::steady_clock::now();
          if (r.status == transport::IoStatus::kEof) {
            result = asio::error::eof;
          } else if (r.status == transport::IoStatus::kError) {
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

  transport::Stream& stream_;
  std::chrono::steady_clock::time_point* activity_;
};

}  // namespace remora::proxy::http1
