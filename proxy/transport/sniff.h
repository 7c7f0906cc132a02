// Protocol detection for PERMISSIVE (and STRICT, to name a plaintext client precisely): looks at
// the first byte a client sends without consuming it.
#pragma once

#include <chrono>

#include "net/asio.h"

namespace remora::proxy::transport {

enum class Sniffed {
  kTls,        // a TLS handshake record (content type 22)
  kPlaintext,  // anything else
  kSilent,     // nothing arrived in time: a server-first protocol, or a stalled client
  kClosed,     // the client closed or the socket failed before sending anything
};

// Waits up to `timeout` for the first byte of `socket`, leaving it unread.
awaitable<Sniffed> SniffFirstByte(tcp::socket& socket, std::chrono::steady_clock::duration timeout);

// The decision on the first byte alone: TLS records of type handshake start with 0x16, which no
// text protocol begins with.
inline Sniffed ClassifyFirstByte(unsigned char byte) {
  return byte == 0x16 ? Sniffed::kTls : Sniffed::kPlaintext;
}

const char* ToString(Sniffed s);

}  // namespace remora::proxy::transport
