// Kubernetes mode's source of truth (issue 18): informers on Namespaces, Pods, Services,
// EndpointSlices, NetworkPolicies, AuthorizationPolicies and PeerAuthentications; after each
// change the whole cached cluster is mapped (cluster_mapping.h) into the store with
// ConfigStore::Replace and the registry is republished, so the xDS server sees exactly what
// `remoractl apply` of the same objects would have produced. A policy the engine refuses is left
// out, logged, and reported once per resourceVersion as a Warning Event on the object.
//
// Nothing is published before every informer has synced (a partial list would, for a moment,
// drop policies a proxy enforces). When the API server goes away the informers retry with
// backoff and the store keeps its last state: proxies keep what they have.
//
// The istio CRDs are watched at v1 only: the API server serves every stored object in each
// version of a CRD, so v1beta1 objects appear there too (watching both would see them twice).
// They are watched only if discovery (/apis/security.istio.io/v1) serves them: a cluster
// without the CRDs has NetworkPolicies alone, and says so in the log. Discovery is asked again
// every IstioDiscoveryPeriod while a kind is missing, and its informer starts when the kind
// appears (someone applied Istio's CRDs later), as Istio's own delayed informers start when a CRD
// is created (pkg/kube/kclient/delayed.go). Until discovery has answered, nothing is published:
// publishing without policies that exist would fail open; and a late informer, like every other,
// holds publication back until it has listed.
//
// Threading: everything runs on the client's executor; Pods(), MeshNamespaces(), Synced() and
// Stop() work from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/stats.h"
#include "kube/api_client.h"
#include "kube/informer.h"
#include "net/asio.h"
#include "xds/kube/kube_mapping.h"
#include "xds/kube/object_wait.h"
#include "xds/server/ads_server.h"
#include "xds/store/config_store.h"

namespace remora::xds {

// Kubernetes mode's stats (remora_kube_*), what an operator watches to see the control plane keep
// up with the cluster, and what bench/ times a re-list after 410 Gone with.
#define REMORA_KUBE_SYNC_STATS(COUNTER, GAUGE)                                               \
  COUNTER(lists_completed, "Complete lists of a watched resource: first syncs and re-lists") \
  COUNTER(resyncs, "Times the cached cluster was mapped into the configuration")             \
  COUNTER(events_recorded, "Kubernetes Events written about refused policies")               \
  COUNTER(events_failed, "Kubernetes Events that could not be written after retrying")       \
  GAUGE(synced, "1 once every watched resource has been listed and the cluster published")   \
  GAUGE(cached_objects, "Objects in the watch caches at the last resync")                    \
  GAUGE(refused_objects, "Objects the engine refused at the last resync")
REMORA_DECLARE_STATS(KubeSyncStats, REMORA_KUBE_SYNC_STATS);

class KubeSync {
 public:
  // `stats` must outlive this.
  KubeSync(std::shared_ptr<kube::ApiClient> client, ConfigStore& store, AdsServer& ads,
           std::string root_namespace, KubeSyncStats& stats);
  ~KubeSync();

  // How often discovery is asked again while an Istio security kind is not served. Set before
  // Start().
  void SetIstioDiscoveryPeriod(absl::Duration period) { istio_discovery_period_ = period; }

  // Starts the informers. Call once.
  void Start();
  void Stop();

  // Called on the client's executor after each resync that may have changed the mesh pods or
  // namespaces (trust distribution). Set before Start().
  void OnResync(std::function<void()> listener) { listeners_.push_back(std::move(listener)); }

  // Every informer has synced and the cluster has been published once.
  bool Synced() const;
  // The mesh pods at the last resync (empty before the first).
  std::shared_ptr<const MeshPods> Pods() const;
  std::shared_ptr<const std::set<std::string>> MeshNamespaces() const;
  // What the last resync published (null before the first): for `remoractl wait -f`.
  std::shared_ptr<const PublishedCluster> Published() const;

 private:
  void Schedule();
  void Resync();
  std::shared_ptr<kube::Informer> MakeInformer(const kube::ResourceType& type);
  // Asks discovery which Istio security types the cluster serves and starts their informers;
  // asks again every `period` while one is missing. Static, with its own references to what it
  // uses: it touches `self` only after seeing `alive` still true on the executor (after Stop() or
  // destruction the frame may still wake, e.g. when the API call in flight completes).
  static awaitable<void> DiscoverIstioTypes(KubeSync* self,
                                            std::shared_ptr<std::atomic<bool>> alive,
                                            std::shared_ptr<kube::ApiClient> client,
                                            std::shared_ptr<asio::steady_timer> timer,
                                            absl::Duration period);
  // Starts the informer of `type` unless stopped (under mu_, so Stop() stops every one started).
  bool StartPolicyInformer(const kube::ResourceType& type);

  const std::shared_ptr<kube::ApiClient> client_;
  ConfigStore& store_;
  AdsServer& ads_;
  const std::string root_namespace_;
  KubeSyncStats& stats_;
  std::shared_ptr<kube::Informer> namespaces_, pods_, services_, slices_;
  std::vector<std::shared_ptr<kube::Informer>> policies_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> listeners_;
  absl::Duration istio_discovery_period_ = absl::Seconds(30);
  // The discovery loop's pause; Stop() cancels it on the executor.
  std::shared_ptr<asio::steady_timer> discovery_timer_;
  // On the executor only.
  bool scheduled_ = false;
  bool istio_discovered_ = false;
  std::set<std::string> reported_;  // "uid/resourceVersion" of refusals already reported

  mutable absl::Mutex mu_;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<const MeshPods> mesh_pods_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<const MeshPods>();
  std::shared_ptr<const std::set<std::string>> mesh_namespaces_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<const std::set<std::string>>();
  std::shared_ptr<const PublishedCluster> published_ ABSL_GUARDED_BY(mu_);
  // False once stopped: callbacks already queued on the executor then do nothing. Set under mu_
  // by Stop(), read under mu_ where an informer is added to policies_.
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace remora::xds
