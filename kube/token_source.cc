#include "kube/token_source.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file.h"
#include "common/log.h"

namespace remora::kube {
namespace {

constexpr char kComponent[] = "kube.token";

}  // namespace

std::shared_ptr<TokenSource> TokenSource::Static(std::string token) {
  return std::shared_ptr<TokenSource>(new TokenSource(std::move(token), "", nullptr));
}

absl::StatusOr<std::shared_ptr<TokenSource>> TokenSource::FromFile(
    std::string path, std::function<absl::Time()> now) {
  if (!now) now = [] { return absl::Now(); };
  std::shared_ptr<TokenSource> source(new TokenSource("", std::move(path), std::move(now)));
  FileId id;
  absl::StatusOr<std::string> token = source->ReadTokenFile(&id);
  if (!token.ok()) return token.status();
  absl::MutexLock lock(&source->mu_);
  source->token_ = std::move(*token);
  source->file_id_ = id;
  source->read_at_ = source->now_();
  return source;
}

absl::StatusOr<std::string> TokenSource::ReadTokenFile(FileId* id) const {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) {
    const int err = errno;
    return absl::UnavailableError(absl::StrCat("token file ", path_, ": ", std::strerror(err)));
  }
  if (static_cast<size_t>(st.st_size) > kMaxTokenBytes) {
    return absl::InvalidArgumentError(absl::StrCat("token file ", path_, ": ", st.st_size,
                                                   " bytes is over the limit of ", kMaxTokenBytes,
                                                   "; it should hold one bearer token"));
  }
  absl::StatusOr<std::string> text = ReadFile(path_);
  if (!text.ok()) return text.status();
  std::string token(absl::StripAsciiWhitespace(*text));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path_, " is empty; it should hold one bearer token"));
  }
  if (token.find_first_of("\r\n") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token file ", path_, " holds several lines; it should hold one bearer token"));
  }
  id->inode = st.st_ino;
  id->size = st.st_size;
  id->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return token;
}

std::string TokenSource::Token() {
  absl::MutexLock lock(&mu_);
  if (path_.empty()) return token_;
  const absl::Time now = now_();
  bool stale = now - read_at_ >= kRereadPeriod;
  if (!stale) {
    struct stat st;
    if (::stat(path_.c_str(), &st) == 0) {
      const FileId current{
          st.st_ino, st.st_size,
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
      stale = !(current == file_id_);
    }
  }
  if (!stale) return token_;
  FileId id;
  absl::StatusOr<std::string> fresh = ReadTokenFile(&id);
  if (!fresh.ok()) {
    // client-go: "Unable to rotate token" and keep the last good one; the server decides.
    LOG_WARN(kComponent,
             "cannot re-read the token, keeping the previous one: ", fresh.status().message());
    read_at_ = now;
    return token_;
  }
  if (*fresh != token_) LOG_INFO(kComponent, "token rotated path=", path_);
  token_ = std::move(*fresh);
  file_id_ = id;
  read_at_ = now;
  return token_;
}

void TokenSource::Invalidate() {
  absl::MutexLock lock(&mu_);
  read_at_ = absl::InfinitePast();
}

}  // namespace remora::kube
