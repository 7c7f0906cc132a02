#include "proxy/tls/file_identity_watcher.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace remora::proxy::tls {

FileIdentityWatcher::FileIdentityWatcher(asio::io_context& io, IdentityFilesConfig files,
                                         std::string trust_domain, Callback on_change,
                                         ProxyStats& stats)
    : io_(io),
      files_(std::move(files)),
      trust_domain_(std::move(trust_domain)),
      on_change_(std::move(on_change)),
      stats_(stats),
      timer_(io) {}

std::string FileIdentityWatcher::Fingerprint() const {
  // stat() follows symlinks, so a Kubernetes secret volume's "..data" swap shows up as a new inode.
  std::string out;
  for (const std::string* path : {&files_.cert_file, &files_.key_file, &files_.bundle_file}) {
    struct stat st {};
    if (::stat(path->c_str(), &st) != 0) {
      absl::StrAppend(&out, "missing;");
      continue;
    }
    absl::StrAppend(&out, st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                    st.st_mtim.tv_nsec, ";");
  }
  return out;
}

absl::Status FileIdentityWatcher::LoadNow() {
  last_fingerprint_ = Fingerprint();
  absl::StatusOr<std::shared_ptr<const Identity>> identity = LoadIdentityFiles(
      files_.cert_file, files_.key_file, files_.bundle_file, trust_domain_, absl::Now());
  if (!identity.ok()) {
    stats_.identity_update_failures.Inc();
    std::string error(identity.status().message());
    if (error != last_error_) {
      LOG_ERROR("proxy.identity",
                "certificate files not loaded, keeping the previous identity: ", error);
      last_error_ = error;
    }
    return identity.status();
  }
  last_error_.clear();
  stats_.identity_updates.Inc();
  LOG_INFO("proxy.identity", "loaded identity ", (*identity)->id.str(),
           " serial=", (*identity)->leaf.serial_hex, " expires=",
           absl::FormatTime(absl::RFC3339_sec, (*identity)->leaf.not_after, absl::UTCTimeZone()),
           " bundle_roots=", (*identity)->bundle.roots().size());
  on_change_(std::move(*identity));
  return absl::OkStatus();
}

void FileIdentityWatcher::Start() {
  asio::co_spawn(io_, PollLoop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      LOG_ERROR("proxy.identity", "file watcher stopped: ", ex.what());
    }
  });
}

void FileIdentityWatcher::Stop() {
  stopped_ = true;
  timer_.cancel();
}

awaitable<void> FileIdentityWatcher::PollLoop() {
  while (!stopped_) {
    timer_.expires_after(absl::ToChronoNanoseconds(files_.poll_interval));
    auto [ec] = co_await timer_.async_wait(kUseTuple);
    if (ec || stopped_) co_return;
    // Retry a failed load on every tick, even without a change: the failure may have been a race
    // with a writer that has since finished.
    if (Fingerprint() != last_fingerprint_ || !last_error_.empty()) (void)LoadNow();
  }
}

}  // namespace remora::proxy::tls
