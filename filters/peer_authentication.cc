#include "filters/peer_authentication.h"

#include "absl/strings/str_cat.h"

namespace remora::filters {
namespace {

bool SelectorMatches(const Labels& selector, const Labels& labels) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

// Policies without a creation time sort as older than any with one, in input order.
bool Before(const PeerAuthentication& a, const PeerAuthentication& b) {
  if (!a.meta.created.has_value()) return b.meta.created.has_value();
  return b.meta.created.has_value() && *a.meta.created < *b.meta.created;
}

}  // namespace

absl::Status ValidatePeerAuthentication(const PeerAuthentication& policy) {
  if (policy.meta.dry_run) {
    // Silently enforcing a policy its author marked dry-run would be the worst outcome.
    return absl::InvalidArgumentError(
        "metadata.annotations: dry-run is not supported for PeerAuthentication (it would change "
        "which connections are accepted); remove the annotation");
  }
  for (const auto& [key, value] : policy.selector) {
    absl::Status s = ValidateLabelKey(key);
    if (s.ok()) s = ValidateLabelValue(value);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.selector.matchLabels.", key, ": ", s.message()));
    }
  }
  if (policy.selector.empty() && !policy.port_level.empty()) {
    return absl::InvalidArgumentError(
        "spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS; "
        "add a selector");
  }
  for (const auto& [port, mode] : policy.port_level) {
    if (port < 1 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.portLevelMtls.", port, ": port must be in range 1..65535"));
    }
  }
  return absl::OkStatus();
}

MtlsSettings ComputeMtlsSettings(const std::vector<const PeerAuthentication*>& policies,
                                 const std::string& ns, const Labels& labels,
                                 const std::string& root_namespace) {
  const PeerAuthentication* mesh = nullptr;
  const PeerAuthentication* namespace_wide = nullptr;
  const PeerAuthentication* workload = nullptr;
  for (const PeerAuthentication* p : policies) {
    const bool in_root = p->meta.ns == root_namespace;
    if (!in_root && p->meta.ns != ns) continue;
    if (p->selector.empty()) {
      const PeerAuthentication*& slot = in_root ? mesh : namespace_wide;
      if (slot == nullptr || Before(*p, *slot)) slot = p;  // the oldest wins
    } else if (!in_root && SelectorMatches(p->selector, labels)) {
      if (workload == nullptr || Before(*workload, *p)) workload = p;  // the newest wins
    }
  }
  MtlsSettings out;
  for (const PeerAuthentication* p : {mesh, namespace_wide, workload}) {
    if (p != nullptr && p->mode != MtlsMode::kUnset) {
      out.mode = p->mode;
      out.mode_policy = p->meta.Id();
      out.mode_source = p;
    }
  }
  if (workload != nullptr && !workload->port_level.empty()) {
    out.port_policy = workload->meta.Id();
    out.port_source = workload;
    for (const auto& [port, mode] : workload->port_level) {
      out.port_modes[port] = mode == MtlsMode::kUnset ? out.mode : mode;
    }
  }
  return out;
}

}  // namespace remora::filters
