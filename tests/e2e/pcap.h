// What crossed the wire: a packet capture in the classic pcap format (what `tcpdump -w` writes),
// its TCP connections put back together byte for byte, and a check that a byte stream is made of
// TLS records only. The end-to-end tests use it to prove that mesh traffic is encrypted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace remora::e2e {

// One direction of a TCP connection, reassembled from its segments by sequence number.
struct TcpFlow {
  std::string bytes;     // the payload in order, from the first byte the capture holds
  bool saw_syn = false;  // the capture holds the start of this direction (the payload is whole)
  bool saw_fin = false;  // ...and its end
  bool gap = false;      // a segment is missing: `bytes` stops before it
};

struct TcpConnection {
  std::string client;  // "10.0.0.2:41234": the side that sent the SYN (or the first segment)
  std::string server;  // "10.0.0.3:8080"
  TcpFlow to_server;
  TcpFlow to_client;
};

// The TCP connections of a capture (Ethernet or Linux "cooked" link type, IPv4 and IPv6, either
// byte order, microsecond or nanosecond timestamps), in the order their first segment appears.
// InvalidArgument when the bytes are not such a capture or a packet was truncated (capture with
// the full snapshot length: tcpdump's default).
absl::StatusOr<std::vector<TcpConnection>> ReadTcpConnections(absl::string_view pcap);

// Checks that `bytes` is a sequence of TLS records (RFC 8446 section 5.1: content type 20-23,
// legacy version 3.x, length at most 2^14 + 256) and returns their content types in order. A
// record cut off at the end is an error unless `may_be_cut` (the capture ended mid-flow).
// InvalidArgument names the offset and what was found there, e.g. plaintext "GET / HTTP/1.1".
absl::StatusOr<std::vector<uint8_t>> TlsRecordTypes(absl::string_view bytes, bool may_be_cut);

// TLS content types (RFC 8446 section 5.1).
inline constexpr uint8_t kTlsChangeCipherSpec = 20;
inline constexpr uint8_t kTlsAlert = 21;
inline constexpr uint8_t kTlsHandshake = 22;
inline constexpr uint8_t kTlsApplicationData = 23;

}  // namespace remora::e2e
