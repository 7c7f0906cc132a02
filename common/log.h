// One-line, leveled logging to stderr: `2026-11-25T07:00:00.123Z warn proxy.inbound message k=v`.
//
// abseil 20220623 predates absl/log, and the proxy needs a logger that never blocks the data path
// on a lock it shares with other workers: each line is formatted into a local buffer and written
// with one write(2), which the kernel keeps whole for pipes and files opened O_APPEND.
#pragma once

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace remora {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug" | "info" | "warn" | "error".
bool ParseLogLevel(absl::string_view text, LogLevel* out);

// The process-wide threshold is configuration, set once by main() before workers start.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// Writes one line: timestamp, level, component, message.
void LogLine(LogLevel level, absl::string_view component, absl::string_view message);

}  // namespace remora

#define REMORA_LOG(level, component, ...)                                                   \
  do {                                                                                      \
    if (::remora::LogEnabled(::remora::LogLevel::level))                                    \
      ::remora::LogLine(::remora::LogLevel::level, component, ::absl::StrCat(__VA_ARGS__)); \
  } while (false)

#define LOG_DEBUG(component, ...) REMORA_LOG(kDebug, component, __VA_ARGS__)
#define LOG_INFO(component, ...) REMORA_LOG(kInfo, component, __VA_ARGS__)
#define LOG_WARN(component, ...) REMORA_LOG(kWarn, component, __VA_ARGS__)
#define LOG_ERROR(component, ...) REMORA_LOG(kError, component, __VA_ARGS__)
