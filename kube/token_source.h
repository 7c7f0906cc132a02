// Where the bearer token of API requests comes from: a fixed string (a kubeconfig `token`), or a
// file the kubelet rotates (a projected ServiceAccount token, a kubeconfig `tokenFile`).
//
// A file token is re-read as client-go's transport does (k8s.io/client-go/transport/
// token_source.go, NewCachedFileTokenSource): cached for at most a minute ("half of the duration
// between when the kubelet refreshes a projected service account token and when the original
// token expires"), forgotten when the server answers 401 (ResetTokenOlderThan), and a failed
// re-read keeps serving the last good token. Unlike client-go it also re-reads as soon as the
// file changes (its inode, size or modification time), which a stat per request makes cheap, so a
// rotation is picked up on the next request rather than up to a minute later.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace remora::kube {

class TokenSource {
 public:
  // A token that never changes.
  static std::shared_ptr<TokenSource> Static(std::string token);
  // A token read from `path` now (it must be readable and non-empty) and re-read as above.
  // `now` is the clock of the one-minute period (tests inject one).
  static absl::StatusOr<std::shared_ptr<TokenSource>> FromFile(
      std::string path, std::function<absl::Time()> now = nullptr);

  // The token to send. Thread-safe; costs a stat(2) for a file token, and a read when it changed.
  std::string Token();
  // The server refused a token obtained before now (401): the next Token() re-reads the file.
  void Invalidate();
  // "token file /var/run/...": for messages ("" for a static token).
  const std::string& path() const { return path_; }

  // How long a file token is trusted without re-reading (client-go's period).
  static constexpr absl::Duration kRereadPeriod = absl::Minutes(1);
  // A token file larger than this is refused (tokens are a few KiB).
  static constexpr size_t kMaxTokenBytes = 64 * 1024;

 private:
  struct FileId {
    ino_t inode = 0;
    off_t size = -1;
    int64_t mtime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  TokenSource(std::string token, std::string path, std::function<absl::Time()> now)
      : path_(std::move(path)), now_(std::move(now)), token_(std::move(token)) {}
  // Reads the file; returns its token and identity.
  absl::StatusOr<std::string> ReadTokenFile(FileId* id) const;

  const std::string path_;
  const std::function<absl::Time()> now_;
  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  FileId file_id_ ABSL_GUARDED_BY(mu_);
  absl::Time read_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace remora::kube
