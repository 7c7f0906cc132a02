#include "tests/e2e/pcap.h"

#include <arpa/inet.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace remora::e2e {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint8_t kSyn = 0x02;
constexpr uint8_t kAck = 0x10;
constexpr uint8_t kFin = 0x01;
constexpr uint8_t kPsh = 0x08;

void PutBe16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}
void PutBe32(std::string& out, uint32_t v) {
  PutBe16(out, static_cast<uint16_t>(v >> 16));
  PutBe16(out, static_cast<uint16_t>(v & 0xffff));
}
void PutLe32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Builds a little-endian, microsecond pcap file of Ethernet/IPv4/TCP frames, as tcpdump on x86.
class PcapBuilder {
 public:
  PcapBuilder() {
    PutLe32(file_, 0xa1b2c3d4);
    file_.append("\x02\x00\x04\x00", 4);  // version 2.4
    PutLe32(file_, 0);                    // thiszone
    PutLe32(file_, 0);                    // sigfigs
    PutLe32(file_, 262144);               // snaplen
    PutLe32(file_, 1);                    // Ethernet
  }

  void Tcp(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
           uint32_t seq, uint8_t flags, absl::string_view payload = "", size_t truncate_to = 0) {
    std::string tcp;
    PutBe16(tcp, sport);
    PutBe16(tcp, dport);
    PutBe32(tcp, seq);
    PutBe32(tcp, 0);  // ack
    tcp.push_back(static_cast<char>(5 << 4));
    tcp.push_back(static_cast<char>(flags));
    PutBe16(tcp, 65535);
    PutBe32(tcp, 0);  // checksum, urgent pointer
    tcp.append(payload.data(), payload.size());
    std::string ip;
    ip.push_back(0x45);
    ip.push_back(0);
    PutBe16(ip, static_cast<uint16_t>(20 + tcp.size()));
    PutBe32(ip, 0x00004000);  // id 0, DF
    ip.push_back(64);
    ip.push_back(6);
    PutBe16(ip, 0);
    in_addr a{};
    ::inet_pton(AF_INET, src.c_str(), &a);
    ip.append(reinterpret_cast<const char*>(&a), 4);
    ::inet_pton(AF_INET, dst.c_str(), &a);
    ip.append(reinterpret_cast<const char*>(&a), 4);
    std::string frame(12, '\x02');
    PutBe16(frame, 0x0800);
    frame += ip + tcp;
    while (frame.size() < 60) frame.push_back(0);  // Ethernet padding, not part of the datagram
    const size_t captured = truncate_to != 0 ? truncate_to : frame.size();
    PutLe32(file_, 1700000000);
    PutLe32(file_, 0);
    PutLe32(file_, static_cast<uint32_t>(captured));
    PutLe32(file_, static_cast<uint32_t>(frame.size()));
    file_.append(frame, 0, captured);
  }

  const std::string& bytes() const { return file_; }

 private:
  std::string file_;
};

std::string TlsRecord(uint8_t type, absl::string_view body) {
  std::string r;
  r.push_back(static_cast<char>(type));
  r.append("\x03\x03", 2);
  PutBe16(r, static_cast<uint16_t>(body.size()));
  r.append(body.data(), body.size());
  return r;
}

TEST(ReadTcpConnectionsTest, ReassemblesBothDirectionsInSequenceOrder) {
  PcapBuilder p;
  p.Tcp("10.0.0.2", 40000, "10.0.0.3", 8080, 1000, kSyn);
  p.Tcp("10.0.0.3", 8080, "10.0.0.2", 40000, 5000, kSyn | kAck);
  // Out of order, with a retransmission overlapping what arrived.
  p.Tcp("10.0.0.2", 40000, "10.0.0.3", 8080, 1007, kAck | kPsh, "world");
  p.Tcp("10.0.0.2", 40000, "10.0.0.3", 8080, 1001, kAck | kPsh, "hello ");
  p.Tcp("10.0.0.2", 40000, "10.0.0.3", 8080, 1004, kAck | kPsh, "lo wo");
  p.Tcp("10.0.0.3", 8080, "10.0.0.2", 40000, 5001, kAck | kPsh | kFin, "ok");
  absl::StatusOr<std::vector<TcpConnection>> c = ReadTcpConnections(p.bytes());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].client, "10.0.0.2:40000");
  EXPECT_EQ((*c)[0].server, "10.0.0.3:8080");
  EXPECT_EQ((*c)[0].to_server.bytes, "hello world");
  EXPECT_TRUE((*c)[0].to_server.saw_syn);
  EXPECT_FALSE((*c)[0].to_server.saw_fin);
  EXPECT_FALSE((*c)[0].to_server.gap);
  EXPECT_EQ((*c)[0].to_client.bytes, "ok");
  EXPECT_TRUE((*c)[0].to_client.saw_fin);
}

TEST(ReadTcpConnectionsTest, AConnectionSeenMidwayStartsAtItsFirstCapturedByteAndReportsGaps) {
  PcapBuilder p;
  p.Tcp("10.0.0.3", 8080, "10.0.0.2", 40000, 7000, kAck, "abc");
  p.Tcp("10.0.0.3", 8080, "10.0.0.2", 40000, 7010, kAck, "xyz");  // 7003..7009 never captured
  absl::StatusOr<std::vector<TcpConnection>> c = ReadTcpConnections(p.bytes());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].client, "10.0.0.3:8080");  // a guess without a SYN: the first sender
  EXPECT_FALSE((*c)[0].to_server.saw_syn);
  EXPECT_EQ((*c)[0].to_server.bytes, "abc");
  EXPECT_TRUE((*c)[0].to_server.gap);
}

TEST(ReadTcpConnectionsTest, SeparatesConnectionsAndSkipsEthernetPadding) {
  PcapBuilder p;
  p.Tcp("10.0.0.2", 40000, "10.0.0.3", 8080, 1, kAck, "a");  // padded to 60 bytes
  p.Tcp("10.0.0.2", 40001, "10.0.0.3", 8080, 1, kAck, "b");
  p.Tcp("10.0.0.3", 8080, "10.0.0.2", 40000, 9, kAck, "c");
  absl::StatusOr<std::vector<TcpConnection>> c = ReadTcpConnections(p.bytes());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].to_server.bytes, "a");
  EXPECT_EQ((*c)[0].to_client.bytes, "c");
  EXPECT_EQ((*c)[1].to_server.bytes, "b");
}

TEST(ReadTcpConnectionsTest, RefusesTruncatedPacketsAndOtherFormats) {
  PcapBuilder p;
  p.Tcp("10.0.0.2", 40000, "10.0.0.3", 8080, 1, kAck, std::string(100, 'x'), 80);
  EXPECT_THAT(ReadTcpConnections(p.bytes()).status().message(),
              HasSubstr("truncated to 80 of 154 bytes"));
  EXPECT_THAT(
      ReadTcpConnections("\x0a\x0d\x0d\x0a and more bytes of a pcapng file").status().message(),
      HasSubstr("pcapng is not supported"));
  EXPECT_THAT(ReadTcpConnections("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status().message(),
              HasSubstr("not a pcap file"));
  PcapBuilder cut;
  cut.Tcp("10.0.0.2", 40000, "10.0.0.3", 8080, 1, kAck, "payload");
  EXPECT_THAT(ReadTcpConnections(cut.bytes().substr(0, cut.bytes().size() - 3)).status().message(),
              HasSubstr("record cut short"));
}

TEST(TlsRecordTypesTest, ListsTheRecordsOfATls13Exchange) {
  const std::string flow =
      TlsRecord(kTlsHandshake, "\x01 client hello") + TlsRecord(kTlsChangeCipherSpec, "\x01") +
      TlsRecord(kTlsApplicationData, std::string(300, '\xaa')) + TlsRecord(kTlsAlert, "\x01\x00");
  absl::StatusOr<std::vector<uint8_t>> types = TlsRecordTypes(flow, false);
  ASSERT_TRUE(types.ok()) << types.status();
  EXPECT_THAT(*types,
              ElementsAre(kTlsHandshake, kTlsChangeCipherSpec, kTlsApplicationData, kTlsAlert));
  EXPECT_THAT(*TlsRecordTypes("", false), ElementsAre());
}

TEST(TlsRecordTypesTest, RefusesPlaintextAndSaysWhereItIs) {
  const std::string flow =
      TlsRecord(kTlsApplicationData, "sealed") + "GET /?marker HTTP/1.1\r\nHost: web\r\n\r\n";
  absl::Status s = TlsRecordTypes(flow, false).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("byte 11 is not a TLS record (content type 71)"));
  EXPECT_THAT(s.message(), HasSubstr("GET /?marker HTTP/1.1"));
}

TEST(TlsRecordTypesTest, RefusesBadVersionsAndLengths) {
  EXPECT_THAT(
      TlsRecordTypes(absl::string_view("\x17\x02\x00\x00\x01x", 6), false).status().message(),
      HasSubstr("version 2.0"));
  EXPECT_THAT(TlsRecordTypes("\x17\x03\x03\x48\x01", false).status().message(),
              HasSubstr("length 18433"));
}

TEST(TlsRecordTypesTest, ARecordCutOffAtTheEndIsAnErrorUnlessTheCaptureEndedThere) {
  const std::string flow = TlsRecord(kTlsApplicationData, "complete") +
                           TlsRecord(kTlsApplicationData, "cut off here").substr(0, 9);
  EXPECT_THAT(TlsRecordTypes(flow, false).status().message(), HasSubstr("a record cut short"));
  absl::StatusOr<std::vector<uint8_t>> types = TlsRecordTypes(flow, true);
  ASSERT_TRUE(types.ok()) << types.status();
  EXPECT_THAT(*types, ElementsAre(kTlsApplicationData));
  EXPECT_TRUE(TlsRecordTypes(flow.substr(0, 15), true).ok());  // header itself cut
}

}  // namespace
}  // namespace remora::e2e
