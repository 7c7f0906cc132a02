#include "common/stats.h"

#include <map>

#include "absl/strings/str_cat.h"

namespace remora {

void StatsRegistry::Add(absl::string_view name, absl::string_view help, absl::string_view labels,
                        const Counter* counter) {
  entries_.push_back({std::string(name), std::string(help), std::string(labels), counter, nullptr});
}

void StatsRegistry::Add(absl::string_view name, absl::string_view help, absl::string_view labels,
                        const Gauge* gauge) {
  entries_.push_back({std::string(name), std::string(help), std::string(labels), nullptr, gauge});
}

std::string StatsRegistry::RenderPrometheus() const {
  // The format wants every sample of one metric family together, after one HELP and TYPE line.
  std::map<std::string, std::vector<const Entry*>> families;
  for (const Entry& e : entries_) families[e.name].push_back(&e);
  std::string out;
  for (const auto& [name, entries] : families) {
    const bool is_counter = entries.front()->counter != nullptr;
    const std::string full = absl::StrCat("remora_", name, is_counter ? "_total" : "");
    absl::StrAppend(&out, "# HELP ", full, " ", entries.front()->help, "\n# TYPE ", full,
                    is_counter ? " counter\n" : " gauge\n");
    for (const Entry* e : entries) {
      absl::StrAppend(&out, full, e->labels.empty() ? "" : absl::StrCat("{", e->labels, "}"), " ",
                      e->counter ? static_cast<int64_t>(e->counter->value()) : e->gauge->value(),
                      "\n");
    }
  }
  return out;
}

std::string StatsRegistry::RenderText() const {
  std::string out;
  for (const Entry& e : entries_) {
    absl::StrAppend(&out, e.name, e.labels.empty() ? "" : absl::StrCat("{", e.labels, "}"), ": ",
                    e.counter ? static_cast<int64_t>(e.counter->value()) : e.gauge->value(), "\n");
  }
  return out;
}

}  // namespace remora
