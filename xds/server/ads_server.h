// The control plane's xDS server: the Envoy v3 Aggregated Discovery Service (state of the world
// and delta) carrying Remora's resource types. Each proxy authenticates with its mesh certificate
// and receives only its own workload's view; views are recomputed (debounced) when the registry
// changes, and only resources whose content changed are sent. ACKs and NACKs (with the refused
// resources) are tracked per proxy.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/stats.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "xds/registry/registry.h"
#include "xds/server/proxy_tracker.h"
#include "xds/view/workload_view.h"

namespace remora::xds {

#define REMORA_ADS_STATS(COUNTER, GAUGE)                                              \
  GAUGE(streams_active, "Connected xDS streams")                                      \
  COUNTER(streams_refused, "xDS streams refused (identity or registration problems)") \
  COUNTER(responses_sent, "DiscoveryResponses sent")                                  \
  COUNTER(acks, "Responses acknowledged")                                             \
  COUNTER(nacks, "Responses refused by a proxy (in whole or in part)")                \
  COUNTER(pushes, "Registry versions pushed")                                         \
  GAUGE(config_version, "Latest configuration version")
REMORA_DECLARE_STATS(AdsStats, REMORA_ADS_STATS);

class SotwStream;
class DeltaStream;

struct AdsOptions {
  std::string trust_domain = "cluster.local";
  absl::Duration debounce = absl::Milliseconds(10);
  // Plaintext streams (the development port) may name their workload without a certificate.
  bool allow_plaintext = false;
  // The current trust bundle, PEM roots.
  std::function<std::vector<std::string>()> bundle;
};

class AdsServer final
    : public envoy::service::discovery::v3::AggregatedDiscoveryService::CallbackService {
 public:
  AdsServer(AdsOptions options, ProxyTracker& tracker, AdsStats& stats);
  ~AdsServer() override;

  // Sets the registry views are computed from and schedules a push.
  void Update(std::shared_ptr<const Registry> registry);
  // Re-pushes with the current registry (e.g. after the trust bundle changed).
  void Refresh();
  void Stop();

  // The view the control plane computes for a workload now ("ns/name").
  absl::StatusOr<WorkloadView> ViewFor(absl::string_view ns, absl::string_view name) const;

  grpc::ServerBidiReactor<envoy::service::discovery::v3::DiscoveryRequest,
                          envoy::service::discovery::v3::DiscoveryResponse>*
  StreamAggregatedResources(grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                          envoy::service::discovery::v3::DeltaDiscoveryResponse>*
  DeltaAggregatedResources(grpc::CallbackServerContext* context) override;

  class Stream;

 private:
  friend class Stream;
  friend class SotwStream;
  friend class DeltaStream;
  // Creates a stream of type S, registers it and starts it.
  template <typename S>
  S* Open(grpc::CallbackServerContext* context);
  void PushLoop();
  void Remove(Stream* stream);
  std::shared_ptr<const Registry> registry() const;

  const AdsOptions options_;
  ProxyTracker& tracker_;
  AdsStats& stats_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Registry> registry_ ABSL_GUARDED_BY(mu_);
  std::map<Stream*, std::shared_ptr<Stream>> streams_ ABSL_GUARDED_BY(mu_);
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread pusher_;
};

// The same AdsServer offered on a second gRPC server (a service object registers with one server
// only): the plaintext development port serves xDS and nothing else.
class AdsForwarder final
    : public envoy::service::discovery::v3::AggregatedDiscoveryService::CallbackService {
 public:
  explicit AdsForwarder(AdsServer& ads) : ads_(ads) {}

  grpc::ServerBidiReactor<envoy::service::discovery::v3::DiscoveryRequest,
                          envoy::service::discovery::v3::DiscoveryResponse>*
  StreamAggregatedResources(grpc::CallbackServerContext* context) override {
    return ads_.StreamAggregatedResources(context);
  }
  grpc::ServerBidiReactor<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                          envoy::service::discovery::v3::DeltaDiscoveryResponse>*
  DeltaAggregatedResources(grpc::CallbackServerContext* context) override {
    return ads_.DeltaAggregatedResources(context);
  }

 private:
  AdsServer& ads_;
};

}  // namespace remora::xds
