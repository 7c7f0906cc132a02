// Counters and gauges that each component declares in one list, exposed as Prometheus metrics.
//
// A component writes its list once as an X-macro and gets a plain struct of stats:
//
//   #define REMORA_LISTENER_STATS(COUNTER, GAUGE)
//     COUNTER(cx_total, "Connections accepted")
//     GAUGE(cx_active, "Connections open now")
//   REMORA_DECLARE_STATS(ListenerStats, REMORA_LISTENER_STATS);
//
// (the #define's lines end in backslashes, left out here: in a // comment they would splice the
// next line into it; proxy/proxy_stats.h is a real one)
//
// Updates are relaxed atomics: no lock on the data path, and exposition may read a value a few
// nanoseconds stale.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace remora {

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Add(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  void Sub(int64_t n = 1) { value_.fetch_sub(n, std::memory_order_relaxed); }
  void Set(int64_t n) { value_.store(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Collects references to stats owned elsewhere (they must outlive the registry's use) and renders
// them in the Prometheus text exposition format, version 0.0.4.
class StatsRegistry {
 public:
  // `name` is the metric name without the "remora_" prefix; `labels` is either empty or a
  // Prometheus label set body such as `listener="inbound"`.
  void Add(absl::string_view name, absl::string_view help, absl::string_view labels,
           const Counter* counter);
  void Add(absl::string_view name, absl::string_view help, absl::string_view labels,
           const Gauge* gauge);

  std::string RenderPrometheus() const;
  // Flat `name{labels} value` lines, for the admin /stats page.
  std::string RenderText() const;

 private:
  struct Entry {
    std::string name;
    std::string help;
    std::string labels;
    const Counter* counter = nullptr;
    const Gauge* gauge = nullptr;
  };
  std::vector<Entry> entries_;
};

}  // namespace remora

#define REMORA_STATS_FIELD_(name, help) ::remora::Counter name;
#define REMORA_STATS_GAUGE_FIELD_(name, help) ::remora::Gauge name;
#define REMORA_STATS_REGISTER_(name, help) registry.Add(prefix + #name, help, labels, &name);

// Declares `struct Type` with one member per stat and
// `void Register(StatsRegistry&, std::string prefix, absl::string_view labels) const`.
#define REMORA_DECLARE_STATS(Type, LIST)                                        \
  struct Type {                                                                 \
    LIST(REMORA_STATS_FIELD_, REMORA_STATS_GAUGE_FIELD_)                        \
    void Register(::remora::StatsRegistry& registry, const std::string& prefix, \
                  absl::string_view labels) const {                             \
      LIST(REMORA_STATS_REGISTER_, REMORA_STATS_REGISTER_)                      \
    }                                                                           \
  }
