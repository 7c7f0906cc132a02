// TCP sockets inside network namespaces, made by a child process that enters the namespace (and,
// for a client, takes the UID/GID of an app or of the proxy) and hands the socket back over a
// Unix socket. The test thread never changes namespace, and the kernel sees each socket's owner
// exactly as it would see a real process's, which is what owner-based capture rules match.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "iptables-init/testing/netns.h"

namespace remora::iptables_init::testing {

class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept;
  ScopedFd& operator=(ScopedFd&& other) noexcept;
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd();
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

struct Credentials {
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// Runs `make_socket` in a child process inside `ns` (as `creds` when given, with no supplementary
// groups) and returns the file descriptor it returns. `make_socket` returns a descriptor, or -1
// with errno set; the error then says `what` failed and why.
absl::StatusOr<ScopedFd> SocketFromNetns(const NetNs& ns, const std::optional<Credentials>& creds,
                                         const std::string& what,
                                         const std::function<int()>& make_socket);

// A listening TCP socket on "127.0.0.1:15001", "0.0.0.0:8080", "[::1]:15001", "[::]:15006".
absl::StatusOr<ScopedFd> ListenTcp(const NetNs& ns, absl::string_view endpoint);

// A TCP connection to `endpoint` made inside `ns` by a process running as `creds` (root when
// absent). Fails when the connection is refused or not established within `timeout`. A link-local
// IPv6 endpoint names its interface: "[fe80::1%eth0]:9000".
absl::StatusOr<ScopedFd> ConnectTcp(const NetNs& ns, absl::string_view endpoint,
                                    const std::optional<Credentials>& creds = std::nullopt,
                                    absl::Duration timeout = absl::Seconds(5));
// The same from the source address `source` ("127.0.0.6", "::6"); "" lets the kernel choose.
absl::StatusOr<ScopedFd> ConnectTcpFrom(const NetNs& ns, absl::string_view source,
                                        absl::string_view endpoint,
                                        const std::optional<Credentials>& creds = std::nullopt,
                                        absl::Duration timeout = absl::Seconds(5));

// The next connection on `listener`; DeadlineExceeded when none arrives within `timeout`.
absl::StatusOr<ScopedFd> AcceptTcp(const ScopedFd& listener,
                                   absl::Duration timeout = absl::Seconds(5));

// The destination the client asked for before a REDIRECT (SO_ORIGINAL_DST, or
// IP6T_SO_ORIGINAL_DST for IPv6), as "192.0.2.1:9000" or "[fd00::1]:9000".
absl::StatusOr<std::string> OriginalDestination(const ScopedFd& connection);
// The socket's own address, same format.
absl::StatusOr<std::string> LocalAddress(const ScopedFd& socket);

}  // namespace remora::iptables_init::testing
