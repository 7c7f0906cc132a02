// Real processes for integration tests: start a binary from the test's runfiles with its output in
// a log file, wait for what it writes, and always clean it up (SIGKILL + wait) on scope exit.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace remora::testing {

// Absolute path of a binary built by this workspace, e.g. Runfile("proxy/remora-proxy").
std::string Runfile(const std::string& path);

// A writable directory private to this test (TEST_TMPDIR), with `sub` created inside it.
std::string TestDir(const std::string& sub);

class Subprocess {
 public:
  // Starts `argv` with stdout and stderr appended to `log_path`.
  static absl::StatusOr<Subprocess> Start(std::vector<std::string> argv, std::string log_path);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;

  void Signal(int signo) const;
  // Waits for exit; returns the exit status (128+signal if killed), or DeadlineExceeded.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  bool Running();

 private:
  Subprocess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_ = -1;
  std::string log_path_;
};

// Polls until `predicate` holds or `timeout` passes. Returns whether it held.
bool WaitFor(absl::Duration timeout, const std::function<bool()>& predicate);

// Polls `path` until it contains `needle` (log lines appear asynchronously).
bool WaitForText(const std::string& path, const std::string& needle,
                 absl::Duration timeout = absl::Seconds(10));

std::string ReadFileOrEmpty(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& content);

}  // namespace remora::testing
