// Watches the certificate, key and trust bundle files and hands every new valid identity to a
// callback. A file that changed but does not load (half-written, key and certificate from
// different generations, expired) is logged and skipped: the last good identity stays in force
// until a good one appears.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "net/asio.h"
#include "proxy/config/proxy_config.h"
#include "proxy/proxy_stats.h"
#include "proxy/tls/identity.h"

namespace remora::proxy::tls {

class FileIdentityWatcher {
 public:
  using Callback = std::function<void(std::shared_ptr<const Identity>)>;

  FileIdentityWatcher(asio::io_context& io, IdentityFilesConfig files, std::string trust_domain,
                      Callback on_change, ProxyStats& stats);

  // Loads the files now, calling the callback on success.
  absl::Status LoadNow();
  // Polls every `poll_interval` from now on.
  void Start();
  void Stop();

 private:
  awaitable<void> PollLoop();
  std::string Fingerprint() const;

  asio::io_context& io_;
  IdentityFilesConfig files_;
  std::string trust_domain_;
  Callback on_change_;
  ProxyStats& stats_;
  asio::steady_timer timer_;
  std::string last_fingerprint_;
  std::string last_error_;
  bool stopped_ = false;
};

}  // namespace remora::proxy::tls
