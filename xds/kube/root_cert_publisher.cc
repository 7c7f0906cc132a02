#include "xds/kube/root_cert_publisher.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "kube/writers.h"

namespace remora::xds {

nlohmann::json RootCertConfigMap(const std::string& ns, const std::string& pem) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", kRootCertConfigMap},
            {"namespace", ns},
            {"labels", {{"app.kubernetes.io/managed-by", "remora-control"}}}}},
          {"data", {{kRootCertKey, pem}}}};
}

void RootCertPublisher::Publish(const std::set<std::string>& namespaces) {
  namespaces_.insert(namespaces.begin(), namespaces.end());
  const std::string pem = bundle_();
  for (const std::string& ns : namespaces_) {
    auto it = published_.find(ns);
    if ((it != published_.end() && it->second == pem) || in_flight_.count(ns) != 0) continue;
    in_flight_.insert(ns);
    asio::co_spawn(client_->executor(), Ensure(ns, pem), [ns](std::exception_ptr e) {
      if (e) LOG_ERROR("kube", "publishing ", kRootCertConfigMap, " in ", ns, " threw");
    });
  }
}

awaitable<void> RootCertPublisher::Ensure(std::string ns, std::string pem) {
  auto self = shared_from_this();
  // Every argument of a co_await is a named object: GCC 12 has mishandled temporaries in
  // co_await expressions (destroyed twice), and this coroutine showed heap corruption.
  const kube::ResourceType type = kube::types::kConfigMaps;
  const std::string name = kRootCertConfigMap;
  nlohmann::json object = RootCertConfigMap(ns, pem);
  absl::StatusOr<kube::CreateOrGetResult> created =
      co_await kube::CreateOrGet(client_, type, ns, std::move(object));
  absl::Status status = created.status();
  if (created.ok() && !created->created) {
    kube::Mutator mutate = [pem](nlohmann::json& object) -> absl::StatusOr<bool> {
      const nlohmann::json& data = object["data"];
      if (data.is_object() && data.contains(kRootCertKey) && data[kRootCertKey] == pem) {
        return false;
      }
      object["data"] = {{kRootCertKey, pem}};
      return true;
    };
    absl::StatusOr<nlohmann::json> updated =
        co_await kube::GetAndUpdate(client_, type, ns, name, std::move(mutate));
    status = updated.status();
  }
  in_flight_.erase(ns);
  if (status.ok()) {
    if (published_[ns] != pem) {
      LOG_INFO("kube", "published the mesh roots in ConfigMap ", ns, "/", kRootCertConfigMap);
    }
    published_[ns] = pem;
    // The roots may have changed while this write was in flight.
    if (pem != bundle_()) Publish({});
    co_return;
  }
  LOG_WARN("kube", "cannot publish ConfigMap ", ns, "/", kRootCertConfigMap, ": ", status.message(),
           "; retrying in ", absl::FormatDuration(retry_));
  asio::steady_timer timer(client_->executor());
  timer.expires_after(absl::ToChronoMilliseconds(retry_));
  auto [ec] = co_await timer.async_wait(kUseTuple);
  if (!ec) Publish({});
}

}  // namespace remora::xds
