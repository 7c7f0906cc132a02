#include "iptables-init/testing/sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/netfilter_ipv4.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace remora::iptables_init::testing {
namespace {

// From linux/netfilter_ipv6/ip6_tables.h, which does not compile standalone in C++.
constexpr int kIp6tSoOriginalDst = 80;

absl::Status Errno(absl::string_view what, int error) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(error)));
}

// An IPv6 host may carry a zone, "[fe80::1%eth0]:80": the interface name goes to `zone`, to be
// resolved inside the namespace that owns the interface (SetZone).
absl::StatusOr<sockaddr_storage> ParseEndpoint(absl::string_view endpoint, socklen_t* len,
                                               std::string* zone = nullptr) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", endpoint, "\" is not ip:port or [ipv6]:port"));
  };
  const size_t colon = endpoint.rfind(':');
  if (colon == absl::string_view::npos) return bad();
  absl::string_view host = endpoint.substr(0, colon);
  uint32_t port = 0;
  if (!absl::SimpleAtoi(endpoint.substr(colon + 1), &port) || port > 65535) return bad();
  sockaddr_storage storage{};
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    absl::string_view ip = host.substr(1, host.size() - 2);
    if (const size_t percent = ip.find('%'); percent != absl::string_view::npos) {
      if (zone == nullptr) return bad();
      *zone = std::string(ip.substr(percent + 1));
      ip = ip.substr(0, percent);
    }
    if (::inet_pton(AF_INET6, std::string(ip).c_str(), &sin6->sin6_addr) != 1) return bad();
    *len = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, std::string(host).c_str(), &sin->sin_addr) != 1) return bad();
    *len = sizeof(sockaddr_in);
  }
  return storage;
}

std::string FormatAddress(const sockaddr_storage& storage) {
  char text[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&storage);
    ::inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    return absl::StrCat(text, ":", ntohs(sin->sin_port));
  }
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage);
  ::inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
  return absl::StrCat("[", text, "]:", ntohs(sin6->sin6_port));
}

// Inside the namespace: the interface index of `zone` becomes the address's scope. False (errno
// set) when there is no such interface.
bool SetZone(sockaddr_storage* address, const std::string& zone) {
  if (zone.empty()) return true;
  const unsigned index = ::if_nametoindex(zone.c_str());
  if (index == 0) return false;
  reinterpret_cast<sockaddr_in6*>(address)->sin6_scope_id = index;
  return true;
}

// Child side: send `fd` (or, when it is -1, `error`) to the parent.
void SendResult(int channel, int fd, int error) {
  char data = fd >= 0 ? 'F' : 'E';
  iovec iov[2] = {{&data, 1}, {&error, sizeof(error)}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  }
  (void)::sendmsg(channel, &msg, MSG_NOSIGNAL);
}

}  // namespace

ScopedFd::ScopedFd(ScopedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

ScopedFd& ScopedFd::operator=(ScopedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<ScopedFd> SocketFromNetns(const NetNs& ns, const std::optional<Credentials>& creds,
                                         const std::string& what,
                                         const std::function<int()>& make_socket) {
  ScopedFd netns(::open(ns.path().c_str(), O_RDONLY | O_CLOEXEC));
  if (netns.get() < 0) return Errno(absl::StrCat("open ", ns.path()), errno);
  int channel[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
    return Errno("socketpair", errno);
  }
  ScopedFd parent_end(channel[0]);
  ScopedFd child_end(channel[1]);
  const pid_t pid = ::fork();
  if (pid < 0) return Errno("fork", errno);
  if (pid == 0) {
    int fd = -1;
    int error = 0;
    if (::setns(netns.get(), CLONE_NEWNET) != 0) {
      error = errno;
    } else if (creds.has_value() && (::setgroups(0, nullptr) != 0 ||
                                     ::setresgid(creds->gid, creds->gid, creds->gid) != 0 ||
                                     ::setresuid(creds->uid, creds->uid, creds->uid) != 0)) {
      error = errno;
    } else {
      fd = make_socket();
      if (fd < 0) error = errno;
    }
    SendResult(child_end.get(), fd, error);
    ::_exit(0);
  }
  child_end = ScopedFd();
  char data = 0;
  int error = 0;
  iovec iov[2] = {{&data, 1}, {&error, sizeof(error)}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(parent_end.get(), &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  const int recv_errno = errno;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n <= 0) return Errno(absl::StrCat(what, ": no answer from the child process"), recv_errno);
  if (data != 'F') return Errno(what, error);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  if (cmsg == nullptr || cmsg->cmsg_type != SCM_RIGHTS) {
    return absl::InternalError(absl::StrCat(what, ": the child sent no socket"));
  }
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
  return ScopedFd(fd);
}

absl::StatusOr<ScopedFd> ListenTcp(const NetNs& ns, absl::string_view endpoint) {
  socklen_t len = 0;
  absl::StatusOr<sockaddr_storage> address = ParseEndpoint(endpoint, &len);
  if (!address.ok()) return address.status();
  return SocketFromNetns(ns, std::nullopt, absl::StrCat("listen on ", endpoint, " in ", ns.name()),
                         [&]() -> int {
                           int fd = ::socket(address->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                           if (fd < 0) return -1;
                           int one = 1;
                           ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                           if (address->ss_family == AF_INET6) {
                             ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                           }
                           if (::bind(fd, reinterpret_cast<const sockaddr*>(&*address), len) != 0 ||
                               ::listen(fd, 64) != 0) {
                             const int error = errno;
                             ::close(fd);
                             errno = error;
                             return -1;
                           }
                           return fd;
                         });
}

absl::StatusOr<ScopedFd> ConnectTcp(const NetNs& ns, absl::string_view endpoint,
                                    const std::optional<Credentials>& creds,
                                    absl::Duration timeout) {
  return ConnectTcpFrom(ns, "", endpoint, creds, timeout);
}

absl::StatusOr<ScopedFd> ConnectTcpFrom(const NetNs& ns, absl::string_view source,
                                        absl::string_view endpoint,
                                        const std::optional<Credentials>& creds,
                                        absl::Duration timeout) {
  socklen_t len = 0;
  std::string zone;
  absl::StatusOr<sockaddr_storage> parsed = ParseEndpoint(endpoint, &len, &zone);
  if (!parsed.ok()) return parsed.status();
  sockaddr_storage address = *parsed;
  sockaddr_storage from{};
  socklen_t from_len = 0;
  if (!source.empty()) {
    const bool v6 = absl::StrContains(source, ':');
    absl::StatusOr<sockaddr_storage> s = ParseEndpoint(
        v6 ? absl::StrCat("[", source, "]:0") : absl::StrCat(source, ":0"), &from_len);
    if (!s.ok()) return s.status();
    from = *s;
  }
  const std::string who =
      creds.has_value() ? absl::StrCat(" as uid ", creds->uid, " gid ", creds->gid) : "";
  const std::string from_text = source.empty() ? "" : absl::StrCat(" (source ", source, ")");
  const timeval tv{static_cast<time_t>(absl::ToInt64Seconds(timeout)),
                   static_cast<suseconds_t>(absl::ToInt64Microseconds(timeout) % 1000000)};
  return SocketFromNetns(
      ns, creds, absl::StrCat("connect to ", endpoint, from_text, " from ", ns.name(), who),
      [&]() -> int {
        if (!SetZone(&address, zone)) return -1;
        int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return -1;
        // A blocking connect gives up after SO_SNDTIMEO.
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (from_len != 0 && ::bind(fd, reinterpret_cast<const sockaddr*>(&from), from_len) != 0) {
          const int error = errno;
          ::close(fd);
          errno = error;
          return -1;
        }
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), len) != 0) {
          // A connect cut short by SO_SNDTIMEO reports EINPROGRESS.
          const int error = errno == EINPROGRESS ? ETIMEDOUT : errno;
          ::close(fd);
          errno = error;
          return -1;
        }
        return fd;
      });
}

absl::StatusOr<ScopedFd> AcceptTcp(const ScopedFd& listener, absl::Duration timeout) {
  pollfd pfd{listener.get(), POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) return Errno("poll", errno);
  if (ready == 0) {
    return absl::DeadlineExceededError(
        absl::StrCat("no connection within ", absl::FormatDuration(timeout)));
  }
  int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return Errno("accept", errno);
  return ScopedFd(fd);
}

absl::StatusOr<std::string> OriginalDestination(const ScopedFd& connection) {
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  if (::getsockname(connection.get(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    return Errno("getsockname", errno);
  }
  sockaddr_storage original{};
  len = sizeof(original);
  const int rc = local.ss_family == AF_INET6
                     ? ::getsockopt(connection.get(), SOL_IPV6, kIp6tSoOriginalDst, &original, &len)
                     : ::getsockopt(connection.get(), SOL_IP, SO_ORIGINAL_DST, &original, &len);
  if (rc != 0) return Errno("getsockopt(SO_ORIGINAL_DST)", errno);
  return FormatAddress(original);
}

absl::StatusOr<std::string> LocalAddress(const ScopedFd& socket) {
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  if (::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    return Errno("getsockname", errno);
  }
  return FormatAddress(local);
}

}  // namespace remora::iptables_init::testing
