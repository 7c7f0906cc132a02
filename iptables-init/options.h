// What remora-init captures, validated: the flag values as the sidecar injector writes them, turned
// into options that cannot contradict themselves.
//
// The webhook passes pod annotations through to these flags, so ParseCaptureOptions treats every
// value as untrusted input: a pure function that refuses anything it does not fully understand,
// naming the flag and the value, before any rule is touched.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iptables-init/cidr.h"

namespace remora::iptables_init {

// The proxy's fixed ports besides the two capture ports (README, ARCHITECTURE.md): admin API
// (loopback only), kubelet readiness and Prometheus. They are never captured inbound.
//
// 15020 is not among them. Istio excludes it because its agent serves merged metrics there;
// Remora has no agent and nothing of Remora listens on 15020, so excluding it only opened a hole:
// an app listening there was reachable without mTLS or policy (issue 16). It is captured like any
// app port. (Reserving it in the injector instead would not help: an app need not declare a port
// to listen on it.)
inline constexpr uint16_t kAdminPort = 15000;
inline constexpr uint16_t kReadinessPort = 15021;
inline constexpr uint16_t kPrometheusPort = 15090;

// Flag values exactly as given on the command line; the defaults are the flags' defaults.
struct FlagValues {
  std::string inbound_capture_port = "15006";
  std::string outbound_capture_port = "15001";
  std::string proxy_uid = "1337";
  std::string proxy_gid = "1337";
  std::string inbound_ports = "*";
  std::string exclude_inbound_ports = "";
  std::string outbound_ports = "*";
  std::string exclude_outbound_ports = "";
  std::string outbound_cidrs = "*";
  std::string exclude_outbound_cidrs = "";
  std::string ipv6 = "auto";
  std::string backend = "auto";
};

// "*" (every port), or the listed ports; an empty list captures nothing in that direction.
struct PortSelection {
  bool all = false;
  std::vector<uint16_t> ports;  // sorted, unique; empty when `all`
  friend bool operator==(const PortSelection&, const PortSelection&) = default;
};

// "*" (every destination of both families), or the listed networks; empty captures nothing.
struct CidrSelection {
  bool all = false;
  std::vector<Cidr> cidrs;  // NormalizeCidrs order; empty when `all`
  friend bool operator==(const CidrSelection&, const CidrSelection&) = default;
};

enum class Ipv6Mode { kAuto, kOn, kOff };

enum class Backend {
  kAuto,            // nft where it works, else iptables
  kNft,             // native nftables: one `inet remora` table
  kIptables,        // iptables-restore; nf_tables or legacy variant detected
  kIptablesNft,     // iptables-nft-restore
  kIptablesLegacy,  // iptables-legacy-restore
};

struct CaptureOptions {
  uint16_t inbound_capture_port = 15006;
  uint16_t outbound_capture_port = 15001;
  uint32_t proxy_uid = 1337;
  uint32_t proxy_gid = 1337;
  PortSelection inbound_ports;
  std::vector<uint16_t> exclude_inbound_ports;  // sorted, unique
  PortSelection outbound_ports;
  std::vector<uint16_t> exclude_outbound_ports;  // sorted, unique
  CidrSelection outbound_cidrs;
  std::vector<Cidr> exclude_outbound_cidrs;  // NormalizeCidrs order
  Ipv6Mode ipv6 = Ipv6Mode::kAuto;
  Backend backend = Backend::kAuto;
  friend bool operator==(const CaptureOptions&, const CaptureOptions&) = default;
};

// Validates every flag and their combinations. InvalidArgument names the flag and the value:
//   --inbound-ports: "70000" is not a port (1-65535)
// Exclusions win over inclusions: a port both listed and excluded (or one of the proxy's own
// ports in --inbound-ports) is dropped from the inclusion list.
absl::StatusOr<CaptureOptions> ParseCaptureOptions(const FlagValues& flags);

// Flag values that parse back to `options` (normalized spelling): ParseCaptureOptions(
// ToFlagValues(o)) == o for every valid `o`.
FlagValues ToFlagValues(const CaptureOptions& options);

// The ports never captured inbound: the proxy's own ports (both capture ports, admin, readiness,
// Prometheus) and --exclude-inbound-ports. Sorted, unique.
std::vector<uint16_t> InboundExcludedPorts(const CaptureOptions& options);

absl::string_view BackendName(Backend backend);

}  // namespace remora::iptables_init
