#include "iptables-init/command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace remora::iptables_init {
namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";
constexpr char kSbinDirs[] = "/usr/local/sbin:/usr/sbin:/sbin";

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Owns the file descriptors of the pipes to one child.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    Reset();
    fd_ = std::exchange(other.fd_, -1);
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

absl::Status MakePipe(Fd* read_end, Fd* write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  *read_end = Fd(fds[0]);
  *write_end = Fd(fds[1]);
  return absl::OkStatus();
}

std::string Quote(absl::string_view word) {
  if (!word.empty() &&
      word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "0123456789-_./=:,+@%*") == absl::string_view::npos &&
      word != "*") {
    return std::string(word);
  }
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

std::string FindProgram(absl::string_view program) {
  if (program.empty()) return "";
  if (absl::StrContains(program, '/')) {
    return IsExecutableFile(std::string(program)) ? std::string(program) : "";
  }
  const char* path = std::getenv("PATH");
  const std::string dirs = absl::StrCat(path != nullptr ? path : kDefaultPath, ":", kSbinDirs);
  for (absl::string_view dir : absl::StrSplit(dirs, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", program);
    if (IsExecutableFile(candidate)) return candidate;
  }
  return "";
}

bool SubprocessRunner::HasProgram(absl::string_view program) {
  return !FindProgram(program).empty();
}

absl::StatusOr<CommandResult> SubprocessRunner::Run(const std::vector<std::string>& argv,
                                                    absl::string_view input) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  const std::string path = FindProgram(argv[0]);
  if (path.empty()) {
    return absl::NotFoundError(
        absl::StrCat(argv[0], ": program not found (looked in PATH and ", kSbinDirs, ")"));
  }
  // Everything the child needs is prepared before fork: it only calls async-signal-safe functions.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args[0] = const_cast<char*>(path.c_str());
  args.push_back(nullptr);

  Fd stdin_read, stdin_write, stdout_read, stdout_write, stderr_read, stderr_write, exec_read,
      exec_write;
  for (auto [r, w] : {std::pair{&stdin_read, &stdin_write}, std::pair{&stdout_read, &stdout_write},
                      std::pair{&stderr_read, &stderr_write}, std::pair{&exec_read, &exec_write}}) {
    if (absl::Status s = MakePipe(r, w); !s.ok()) return s;
  }

  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(stdin_read.get(), STDIN_FILENO);
    ::dup2(stdout_write.get(), STDOUT_FILENO);
    ::dup2(stderr_write.get(), STDERR_FILENO);
    ::execv(args[0], args.data());
    const int error = errno;
    (void)!::write(exec_write.get(), &error, sizeof(error));
    ::_exit(127);
  }
  stdin_read.Reset();
  stdout_write.Reset();
  stderr_write.Reset();
  exec_write.Reset();

  int exec_errno = 0;
  if (::read(exec_read.get(), &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run ", path, ": ", std::strerror(exec_errno)));
  }

  if (input.empty()) stdin_write.Reset();
  if (stdin_write.get() >= 0) ::fcntl(stdin_write.get(), F_SETFL, O_NONBLOCK);
  CommandResult result;
  size_t written = 0;
  const absl::Time deadline = absl::Now() + timeout_;
  bool timed_out = false;
  while (stdout_read.get() >= 0 || stderr_read.get() >= 0) {
    pollfd fds[3];
    nfds_t n = 0;
    for (const Fd* fd : {&stdout_read, &stderr_read}) {
      if (fd->get() >= 0) fds[n++] = {fd->get(), POLLIN, 0};
    }
    if (stdin_write.get() >= 0) fds[n++] = {stdin_write.get(), POLLOUT, 0};
    const int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait_ms <= 0) {
      timed_out = true;
      break;
    }
    if (::poll(fds, n, static_cast<int>(std::min<int64_t>(wait_ms, 1000))) < 0 && errno != EINTR) {
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == stdin_write.get()) {
        const ssize_t w =
            ::write(stdin_write.get(), input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        // EPIPE: the program stopped reading (it failed early); its exit status says why.
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
          stdin_write.Reset();
        }
        continue;
      }
      Fd& source = fds[i].fd == stdout_read.get() ? stdout_read : stderr_read;
      std::string& sink = &source == &stdout_read ? result.out : result.err;
      char buffer[16384];
      const ssize_t r = ::read(source.get(), buffer, sizeof(buffer));
      if (r > 0) {
        sink.append(buffer, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        source.Reset();
      }
    }
  }
  stdin_write.Reset();
  // The program closed its output; it should be exiting. Wait for it within the same deadline.
  int status = 0;
  while (!timed_out) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    if (absl::Now() >= deadline) {
      timed_out = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(CommandLine(argv), " did not finish within ",
                                                    absl::FormatDuration(timeout_),
                                                    " and was killed"));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string CommandLine(const std::vector<std::string>& argv) {
  return absl::StrJoin(
      argv, " ", [](std::string* out, const std::string& a) { absl::StrAppend(out, Quote(a)); });
}

std::string DescribeFailure(const std::vector<std::string>& argv, const CommandResult& result) {
  std::string detail(absl::StripAsciiWhitespace(result.err.empty() ? result.out : result.err));
  if (detail.empty()) detail = "(no output)";
  return absl::StrCat("`", CommandLine(argv), "` failed (exit ", result.exit_code, "): ", detail);
}

}  // namespace remora::iptables_init
