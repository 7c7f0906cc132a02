#include "xds/kube/kube_sync.h"

#include <boost/beast/http/verb.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "kube/events.h"
#include "xds/kube/cluster_mapping.h"
#include "xds/kube/pod_trim.h"
#include "xds/server/operator_service.h"

namespace remora::xds {

KubeSync::KubeSync(std::shared_ptr<kube::ApiClient> client, ConfigStore& store, AdsServer& ads,
                   std::string root_namespace, KubeSyncStats& stats)
    : client_(std::move(client)),
      store_(store),
      ads_(ads),
      root_namespace_(std::move(root_namespace)),
      stats_(stats) {}

KubeSync::~KubeSync() { Stop(); }

std::shared_ptr<kube::Informer> KubeSync::MakeInformer(const kube::ResourceType& type) {
  kube::InformerOptions options;
  options.type = type;
  // Pods are most of a cluster's bytes; keep only what the mapping reads (pod_trim.h).
  if (type.resource == kube::types::kPods.resource && type.group.empty())
    options.transform = TrimPod;
  options.on_change = [this,
                       alive = std::weak_ptr<std::atomic<bool>>(alive_)](const kube::ChangeBatch&) {
    if (auto a = alive.lock(); a && *a) Schedule();
  };
  options.on_list_page = [stats = &stats_](const kube::ListPageInfo& page) {
    if (!page.more) stats->lists_completed.Inc();
  };
  return kube::Informer::Create(client_, std::move(options));
}

void KubeSync::Start() {
  namespaces_ = MakeInformer(kube::types::kNamespaces);
  pods_ = MakeInformer(kube::types::kPods);
  services_ = MakeInformer(kube::types::kServices);
  slices_ = MakeInformer(kube::types::kEndpointSlices);
  std::shared_ptr<kube::Informer> netpol = MakeInformer(kube::types::kNetworkPolicies);
  {
    absl::MutexLock lock(&mu_);
    policies_ = {netpol};
  }
  for (auto* informer : {&namespaces_, &pods_, &services_, &slices_, &netpol}) {
    (*informer)->Start();
  }
  discovery_timer_ = std::make_shared<asio::steady_timer>(client_->executor());
  asio::co_spawn(
      client_->executor(),
      DiscoverIstioTypes(this, alive_, client_, discovery_timer_, istio_discovery_period_),
      [](std::exception_ptr e) {
        if (e) LOG_ERROR("kube", "discovery of the Istio security types threw");
      });
  LOG_INFO("kube", "watching namespaces, pods, services, endpointslices and networkpolicies at ",
           client_->config().source);
}

bool KubeSync::StartPolicyInformer(const kube::ResourceType& type) {
  std::shared_ptr<kube::Informer> informer = MakeInformer(type);
  absl::MutexLock lock(&mu_);
  if (!*alive_) return false;
  policies_.push_back(informer);
  informer->Start();  // posts to the executor: nothing runs under mu_
  return true;
}

awaitable<void> KubeSync::DiscoverIstioTypes(KubeSync* self,
                                             std::shared_ptr<std::atomic<bool>> alive,
                                             std::shared_ptr<kube::ApiClient> client,
                                             std::shared_ptr<asio::steady_timer> timer,
                                             absl::Duration period) {
  absl::Duration retry = absl::Seconds(1);
  bool reported_missing = false;
  std::set<std::string> started;  // resources whose informer runs
  while (*alive) {
    // Named arguments: GCC 12 may destroy a temporary in a co_await expression twice.
    std::string path = "/apis/security.istio.io/v1", query, content_type;
    std::optional<std::string> body;
    absl::StatusOr<nlohmann::json> list =
        co_await client->Call(boost::beast::http::verb::get, path, query, body, content_type);
    if (!*alive) co_return;
    absl::Duration pause = period;
    if (list.ok() || absl::IsNotFound(list.status())) {
      // 404: the group is not served at all (no CRD of it installed).
      std::set<std::string> served;
      if (list.ok() && list->is_object() && list->contains("resources") &&
          (*list)["resources"].is_array()) {
        for (const nlohmann::json& r : (*list)["resources"]) {
          if (r.is_object() && r.contains("name") && r["name"].is_string()) {
            served.insert(r["name"].get<std::string>());
          }
        }
      }
      std::vector<std::string> watched, missing;
      for (const kube::ResourceType* type :
           {&kube::types::kAuthorizationPolicies, &kube::types::kPeerAuthentications}) {
        if (started.count(type->resource) != 0) continue;
        if (served.count(type->resource) == 0) {
          missing.push_back(type->Name());
          continue;
        }
        if (!self->StartPolicyInformer(*type)) co_return;
        started.insert(type->resource);
        watched.push_back(type->Name());
      }
      if (!watched.empty()) {
        LOG_INFO("kube", self->istio_discovered_ ? "the cluster now serves " : "watching ",
                 absl::StrJoin(watched, " and "),
                 self->istio_discovered_ ? ": watching them (policies of those kinds apply once "
                                           "listed)"
                                         : "");
      }
      if (!missing.empty() && !reported_missing) {
        LOG_WARN("kube", "the cluster does not serve ", absl::StrJoin(missing, " or "),
                 " (security.istio.io/v1): policies of those kinds are not read until it does "
                 "(Istio's CRDs installed); asking discovery again every ",
                 absl::FormatDuration(period));
        reported_missing = true;
      }
      if (!self->istio_discovered_ || !watched.empty()) {
        self->istio_discovered_ = true;
        self->Schedule();
      }
      if (missing.empty()) co_return;
      retry = absl::Seconds(1);
    } else {
      pause = retry;
      LOG_WARN("kube", "cannot read discovery for security.istio.io/v1: ", list.status().message(),
               "; retrying in ", absl::FormatDuration(pause));
      retry = std::min(retry * 2, absl::Seconds(30));
    }
    timer->expires_after(absl::ToChronoMilliseconds(pause));
    auto [ec] = co_await timer->async_wait(kUseTuple);
    if (ec) co_return;  // cancelled by Stop()
  }
}

void KubeSync::Stop() {
  std::vector<std::shared_ptr<kube::Informer>> policies;
  {
    absl::MutexLock lock(&mu_);
    *alive_ = false;
    policies = policies_;
  }
  if (discovery_timer_ != nullptr) {
    // The timer belongs to the executor's thread, like the coroutine waiting on it.
    asio::post(client_->executor(), [timer = discovery_timer_] { timer->cancel(); });
  }
  for (auto* informer : {&namespaces_, &pods_, &services_, &slices_}) {
    if (*informer) (*informer)->Stop();
  }
  for (auto& informer : policies) informer->Stop();
}

bool KubeSync::Synced() const {
  absl::MutexLock lock(&mu_);
  return synced_;
}

std::shared_ptr<const MeshPods> KubeSync::Pods() const {
  absl::MutexLock lock(&mu_);
  return mesh_pods_;
}

std::shared_ptr<const std::set<std::string>> KubeSync::MeshNamespaces() const {
  absl::MutexLock lock(&mu_);
  return mesh_namespaces_;
}

std::shared_ptr<const PublishedCluster> KubeSync::Published() const {
  absl::MutexLock lock(&mu_);
  return published_;
}

void KubeSync::Schedule() {
  // Coalesces the batches of every informer that arrive before the resync runs.
  if (scheduled_) return;
  scheduled_ = true;
  asio::post(client_->executor(), [this, alive = std::weak_ptr<std::atomic<bool>>(alive_)] {
    if (auto a = alive.lock(); !a || !*a) return;
    scheduled_ = false;
    Resync();
  });
}

void KubeSync::Resync() {
  if (!istio_discovered_) return;
  std::vector<std::shared_ptr<kube::Informer>> policies;
  {
    absl::MutexLock lock(&mu_);
    policies = policies_;
  }
  std::vector<std::shared_ptr<kube::Informer>> all = {namespaces_, pods_, services_, slices_};
  all.insert(all.end(), policies.begin(), policies.end());
  for (const auto& informer : all) {
    if (!informer->HasSynced()) return;
  }
  // The snapshots own the objects MapCluster points into until the end of this function.
  std::vector<std::shared_ptr<const kube::CacheSnapshot>> snapshots;
  auto published = std::make_shared<PublishedCluster>();
  auto collect = [&](const std::shared_ptr<kube::Informer>& informer,
                     std::vector<const nlohmann::json*>* out) {
    snapshots.push_back(informer->Snapshot());
    published->by_kind[informer->options().type.kind] = snapshots.back();
    for (const auto& [key, object] : snapshots.back()->items()) out->push_back(&object->object);
  };
  ClusterObjects objects;
  collect(namespaces_, &objects.namespaces);
  collect(pods_, &objects.pods);
  collect(services_, &objects.services);
  collect(slices_, &objects.endpoint_slices);
  for (const auto& informer : policies) collect(informer, &objects.policies);
  ClusterDocuments mapped = MapCluster(objects, ValidateDocument);
  stats_.resyncs.Inc();
  size_t cached = 0;
  for (const auto& snapshot : snapshots) cached += snapshot->size();
  stats_.cached_objects.Set(static_cast<int64_t>(cached));
  stats_.refused_objects.Set(static_cast<int64_t>(mapped.refused.size()));

  std::set<std::string> reported;
  for (const RefusedObject& refused : mapped.refused) {
    const kube::ObjectReference ref = kube::ReferenceTo(*refused.object);
    const std::string id = absl::StrCat(ref.uid, "/", ref.resource_version);
    published->refused[id] = refused.message;
    reported.insert(id);
    if (reported_.count(id) != 0) continue;
    LOG_WARN("kube", "refused ", ref.kind, " ", ref.namespace_name, "/", ref.name, ": ",
             refused.message);
    if (!refused.is_policy) continue;
    kube::EventInfo info;
    info.type = "Warning";
    info.reason = "PolicyRejected";
    info.message = refused.message;
    auto record = kube::RecordEventWithRetry(client_, ref, std::move(info), kube::RealClock(),
                                             kube::DefaultRandom());
    asio::co_spawn(client_->executor(), std::move(record),
                   [what = absl::StrCat(ref.kind, " ", ref.namespace_name, "/", ref.name),
                    stats = &stats_](std::exception_ptr e, absl::StatusOr<nlohmann::json> result) {
                     if (!e && result.ok()) {
                       stats->events_recorded.Inc();
                       return;
                     }
                     stats->events_failed.Inc();
                     if (e) {
                       LOG_ERROR("kube", "recording an Event on ", what, " threw");
                     } else {
                       LOG_WARN("kube", "cannot record an Event on ", what,
                                " (gave up retrying): ", result.status().message());
                     }
                   });
  }
  reported_ = std::move(reported);

  absl::StatusOr<ApplyResult> result = store_.Replace(mapped.documents);
  if (!result.ok()) {
    LOG_ERROR("kube", "cannot store the cluster's state: ", result.status().message());
    return;
  }
  bool first = false;
  {
    absl::MutexLock lock(&mu_);
    first = !synced_;
    synced_ = true;
    mesh_pods_ = std::make_shared<const MeshPods>(std::move(mapped.pods));
    mesh_namespaces_ =
        std::make_shared<const std::set<std::string>>(std::move(mapped.mesh_namespaces));
    published->version = result->version;
    stats_.synced.Set(1);
    published_ = std::move(published);
  }
  if (result->changed || first) {
    if (absl::Status s = PublishRegistry(store_, ads_, root_namespace_); !s.ok()) {
      LOG_ERROR("kube", "registry rebuild failed: ", s.message());
    } else {
      LOG_INFO("kube", first ? "synced" : "resynced", ": ", mapped.documents.size(), " object(s), ",
               result->changes.size(), " changed; configuration version ", result->version);
    }
  }
  for (const auto& listener : listeners_) listener();
}

}  // namespace remora::xds
