#include "tests/e2e/pcap.h"

#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace remora::e2e {
namespace {

// Link-layer header types (tcpdump.org/linktypes.html).
constexpr uint32_t kLinkEthernet = 1;
constexpr uint32_t kLinkLinuxSll = 113;
constexpr uint32_t kLinkLinuxSll2 = 276;

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint8_t kIpProtoTcp = 6;

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpAck = 0x10;

uint16_t Be16(absl::string_view b, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(b[at]) << 8) |
                               static_cast<uint8_t>(b[at + 1]));
}

uint32_t Be32(absl::string_view b, size_t at) {
  return (uint32_t{Be16(b, at)} << 16) | Be16(b, at + 2);
}

absl::Status Bad(size_t packet, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("capture packet ", packet, ": ", why));
}

// The file's fields are in the writer's byte order, told by the magic number.
class FileReader {
 public:
  FileReader(absl::string_view data, bool swapped) : data_(data), swapped_(swapped) {}
  uint32_t U32(size_t at) const {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const uint32_t byte = static_cast<uint8_t>(data_[at + i]);
      v |= swapped_ ? byte << (8 * (3 - i)) : byte << (8 * i);
    }
    return v;
  }

 private:
  absl::string_view data_;
  bool swapped_;
};

struct Segment {
  std::string source;
  std::string destination;
  uint32_t seq = 0;
  uint8_t flags = 0;
  absl::string_view payload;
};

std::string FormatEndpoint(int family, const void* address, uint16_t port) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, address, text, sizeof(text));
  return family == AF_INET6 ? absl::StrCat("[", text, "]:", port) : absl::StrCat(text, ":", port);
}

// The TCP segment inside one link-layer frame; nullopt for anything that is not TCP.
absl::StatusOr<std::optional<Segment>> ParseFrame(uint32_t link, absl::string_view frame,
                                                  size_t index) {
  uint16_t ether_type = 0;
  size_t at = 0;
  if (link == kLinkEthernet) {
    if (frame.size() < 14) return Bad(index, "Ethernet frame shorter than its header");
    ether_type = Be16(frame, 12);
    at = 14;
    while ((ether_type == kEtherVlan || ether_type == kEtherQinQ) && frame.size() >= at + 4) {
      ether_type = Be16(frame, at + 2);
      at += 4;
    }
  } else if (link == kLinkLinuxSll) {
    if (frame.size() < 16) return Bad(index, "cooked frame shorter than its header");
    ether_type = Be16(frame, 14);
    at = 16;
  } else {  // kLinkLinuxSll2
    if (frame.size() < 20) return Bad(index, "cooked v2 frame shorter than its header");
    ether_type = Be16(frame, 0);
    at = 20;
  }
  absl::string_view ip = frame.substr(at);
  Segment segment;
  absl::string_view tcp;
  if (ether_type == kEtherIpv4) {
    if (ip.size() < 20 || (static_cast<uint8_t>(ip[0]) >> 4) != 4) {
      return Bad(index, "malformed IPv4 header");
    }
    const size_t header = (static_cast<uint8_t>(ip[0]) & 0x0f) * 4u;
    const size_t total = Be16(ip, 2);
    if (header < 20 || total < header || total > ip.size()) {
      return Bad(index, "IPv4 lengths do not fit the frame");
    }
    if (static_cast<uint8_t>(ip[9]) != kIpProtoTcp) return std::optional<Segment>();
    if ((Be16(ip, 6) & 0x3fff) != 0) return Bad(index, "IPv4 fragment (cannot follow TCP)");
    tcp = ip.substr(header, total - header);  // drops Ethernet padding after the datagram
    if (tcp.size() < 4) return Bad(index, "TCP header cut short");
    segment.source = FormatEndpoint(AF_INET, ip.data() + 12, Be16(tcp, 0));
    segment.destination = FormatEndpoint(AF_INET, ip.data() + 16, Be16(tcp, 2));
  } else if (ether_type == kEtherIpv6) {
    if (ip.size() < 40 || (static_cast<uint8_t>(ip[0]) >> 4) != 6) {
      return Bad(index, "malformed IPv6 header");
    }
    // Extension headers are not followed: the mesh's traffic carries none.
    if (static_cast<uint8_t>(ip[6]) != kIpProtoTcp) return std::optional<Segment>();
    const size_t payload = Be16(ip, 4);
    if (40 + payload > ip.size()) return Bad(index, "IPv6 length does not fit the frame");
    tcp = ip.substr(40, payload);
    if (tcp.size() < 4) return Bad(index, "TCP header cut short");
    segment.source = FormatEndpoint(AF_INET6, ip.data() + 8, Be16(tcp, 0));
    segment.destination = FormatEndpoint(AF_INET6, ip.data() + 24, Be16(tcp, 2));
  } else {
    return std::optional<Segment>();  // ARP and friends
  }
  if (tcp.size() < 20) return Bad(index, "TCP header cut short");
  const size_t offset = (static_cast<uint8_t>(tcp[12]) >> 4) * 4u;
  if (offset < 20 || offset > tcp.size()) return Bad(index, "TCP data offset out of range");
  segment.seq = Be32(tcp, 4);
  segment.flags = static_cast<uint8_t>(tcp[13]);
  segment.payload = tcp.substr(offset);
  return std::optional<Segment>(std::move(segment));
}

// One direction while the capture is read: segments by position relative to the first byte.
struct FlowBuilder {
  std::optional<uint32_t> base;  // sequence number of payload byte 0
  bool saw_syn = false;
  bool saw_fin = false;
  std::vector<std::pair<uint32_t, std::string>> pieces;

  void Add(const Segment& s) {
    if ((s.flags & kTcpSyn) != 0) {
      saw_syn = true;
      base = s.seq + 1;  // SYN takes one sequence number
    }
    if ((s.flags & kTcpFin) != 0) saw_fin = true;
    if (s.payload.empty()) return;
    const uint32_t first = (s.flags & kTcpSyn) != 0 ? s.seq + 1 : s.seq;
    if (!base.has_value()) base = first;
    const uint32_t relative = first - *base;  // modulo 2^32, as TCP counts
    if (relative >= 0x80000000u) return;      // before the first byte we know of
    pieces.emplace_back(relative, std::string(s.payload));
  }

  TcpFlow Build() {
    TcpFlow flow;
    flow.saw_syn = saw_syn;
    flow.saw_fin = saw_fin;
    std::stable_sort(pieces.begin(), pieces.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    uint64_t cursor = 0;
    for (const auto& [at, data] : pieces) {
      if (at > cursor) {
        flow.gap = true;
        break;
      }
      const uint64_t end = uint64_t{at} + data.size();
      if (end <= cursor) continue;  // a retransmission of bytes we have
      flow.bytes.append(data, cursor - at, std::string::npos);
      cursor = end;
    }
    return flow;
  }
};

struct ConnectionBuilder {
  std::string client;
  std::string server;
  FlowBuilder to_server;
  FlowBuilder to_client;
};

}  // namespace

absl::StatusOr<std::vector<TcpConnection>> ReadTcpConnections(absl::string_view pcap) {
  if (pcap.size() < 24) return absl::InvalidArgumentError("capture: shorter than a pcap header");
  const uint32_t magic = Be32(pcap, 0);
  bool swapped = false;
  if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
    swapped = true;  // written big-endian
  } else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
    swapped = false;  // written little-endian
  } else if (magic == 0x0a0d0d0a) {
    return absl::InvalidArgumentError("capture: pcapng is not supported; write pcap (tcpdump -w)");
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("capture: not a pcap file (magic 0x", absl::Hex(magic), ")"));
  }
  const FileReader file(pcap, swapped);
  const uint32_t link = file.U32(20) & 0x0fffffff;
  if (link != kLinkEthernet && link != kLinkLinuxSll && link != kLinkLinuxSll2) {
    return absl::InvalidArgumentError(
        absl::StrCat("capture: link type ", link, " is not supported"));
  }

  std::vector<ConnectionBuilder> connections;
  std::map<std::pair<std::string, std::string>, size_t> by_endpoints;
  size_t at = 24;
  for (size_t index = 1; at < pcap.size(); ++index) {
    if (pcap.size() - at < 16) return Bad(index, "record header cut short");
    const uint32_t captured = file.U32(at + 8);
    const uint32_t original = file.U32(at + 12);
    at += 16;
    if (captured > pcap.size() - at) return Bad(index, "record cut short (capture still running?)");
    if (captured < original) {
      return Bad(index, absl::StrCat("truncated to ", captured, " of ", original,
                                     " bytes; capture with the full snapshot length"));
    }
    absl::StatusOr<std::optional<Segment>> segment =
        ParseFrame(link, pcap.substr(at, captured), index);
    at += captured;
    if (!segment.ok()) return segment.status();
    if (!segment->has_value()) continue;
    const Segment& s = **segment;
    auto key = std::minmax(s.source, s.destination);
    auto [it, inserted] = by_endpoints.try_emplace({key.first, key.second}, connections.size());
    if (inserted) {
      ConnectionBuilder c;
      // The client sent the SYN; a SYN-ACK comes from the server; otherwise guess the sender.
      const bool from_server = (s.flags & kTcpSyn) != 0 && (s.flags & kTcpAck) != 0;
      c.client = from_server ? s.destination : s.source;
      c.server = from_server ? s.source : s.destination;
      connections.push_back(std::move(c));
    }
    ConnectionBuilder& c = connections[it->second];
    (s.source == c.client ? c.to_server : c.to_client).Add(s);
  }

  std::vector<TcpConnection> out;
  out.reserve(connections.size());
  for (ConnectionBuilder& c : connections) {
    out.push_back(TcpConnection{c.client, c.server, c.to_server.Build(), c.to_client.Build()});
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> TlsRecordTypes(absl::string_view bytes, bool may_be_cut) {
  constexpr size_t kMaxRecord = (1 << 14) + 256;  // TLSCiphertext.length limit
  std::vector<uint8_t> types;
  size_t at = 0;
  auto not_tls = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("byte ", at, " is not a TLS record (", why,
                                                   "): \"", absl::CHexEscape(bytes.substr(at, 32)),
                                                   "\""));
  };
  while (at < bytes.size()) {
    if (bytes.size() - at < 5) {
      if (may_be_cut) break;
      return not_tls("a record header cut short");
    }
    const uint8_t type = static_cast<uint8_t>(bytes[at]);
    const uint8_t major = static_cast<uint8_t>(bytes[at + 1]);
    const uint8_t minor = static_cast<uint8_t>(bytes[at + 2]);
    const size_t length = Be16(bytes, at + 3);
    if (type < kTlsChangeCipherSpec || type > kTlsApplicationData) {
      return not_tls(absl::StrCat("content type ", type));
    }
    if (major != 3 || minor < 1 || minor > 4) {
      return not_tls(absl::StrCat("version ", major, ".", minor));
    }
    if (length > kMaxRecord) return not_tls(absl::StrCat("length ", length));
    if (bytes.size() - at - 5 < length) {
      if (may_be_cut) break;
      return not_tls("a record cut short");
    }
    types.push_back(type);
    at += 5 + length;
  }
  return types;
}

}  // namespace remora::e2e
