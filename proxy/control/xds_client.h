// The proxy's xDS client: one aggregated stream to the control plane (state of the world or
// delta), subscribing to every Remora resource type for its own workload. Each response is handed
// to the proxy, which applies every valid resource and reports the refused ones; the client answers
// with an ACK, or a NACK carrying exactly which resources were refused and why. While the control
// plane is unreachable it reconnects with jittered exponential backoff and the proxy keeps
// enforcing what it last accepted.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "proxy/config/proxy_config.h"
#include "remora/v1/resources.pb.h"

namespace remora::proxy::control {

// One resource of a response.
struct ReceivedResource {
  std::string name;
  std::string version;
  const google::protobuf::Any* resource;
};

// What a response carries, normalized across the two protocol variants.
struct ReceivedUpdate {
  std::string type_url;
  std::string version;        // the control plane's configuration version
  bool complete_set = false;  // state of the world: resources absent here are removed
  std::vector<ReceivedResource> resources;
  std::vector<std::string> removed;  // delta
};

// Applies an update; returns the resources it refused (it applied the rest). Runs on the client's
// thread; the proxy hands the work to its own thread and waits.
using ApplyFn = std::function<std::vector<remora::v1::ResourceError>(const ReceivedUpdate&)>;

// The protocol logic, free of transport: turns responses into applies and acknowledgements.
// Tests drive it with hand-made responses.
class XdsProtocol {
 public:
  XdsProtocol(envoy::config::core::v3::Node node, std::vector<std::string> types)
      : node_(std::move(node)), types_(std::move(types)) {}

  // The requests that open a stream (one subscription per type).
  std::vector<envoy::service::discovery::v3::DiscoveryRequest> InitialSotw() const;
  std::vector<envoy::service::discovery::v3::DeltaDiscoveryRequest> InitialDelta() const;

  envoy::service::discovery::v3::DiscoveryRequest OnResponse(
      const envoy::service::discovery::v3::DiscoveryResponse& response, const ApplyFn& apply);
  envoy::service::discovery::v3::DeltaDiscoveryRequest OnResponse(
      const envoy::service::discovery::v3::DeltaDiscoveryResponse& response, const ApplyFn& apply);

 private:
  google::rpc::Status Nack(const std::vector<remora::v1::ResourceError>& errors) const;

  envoy::config::core::v3::Node node_;
  std::vector<std::string> types_;
  std::map<std::string, std::string> accepted_version_;  // per type (SotW ACK/NACK version_info)
  std::map<std::string, std::map<std::string, std::string>> delta_versions_;  // per type, per name
};

// Transport: credentials for each new connection come from `channel`.
class XdsClient {
 public:
  using ChannelFactory = std::function<std::shared_ptr<grpc::Channel>()>;

  XdsClient(ControlPlaneConfig config, envoy::config::core::v3::Node node,
            std::vector<std::string> types, ChannelFactory channel, ApplyFn apply);
  ~XdsClient();

  void Start();
  void Stop();
  // Retry now instead of waiting out the backoff (the proxy just got its certificate).
  void Kick();
  bool connected() const;

 private:
  void Loop();
  // One stream until it ends; returns whether any response arrived (resets the backoff).
  bool RunSotw(const std::shared_ptr<grpc::Channel>& channel, std::string* why);
  bool RunDelta(const std::shared_ptr<grpc::Channel>& channel, std::string* why);
  template <typename Request, typename Response, typename Open>
  bool RunStream(const std::shared_ptr<grpc::Channel>& channel, Open open,
                 std::vector<Request> initial, std::string* why);

  const ControlPlaneConfig config_;
  ChannelFactory channel_;
  ApplyFn apply_;
  XdsProtocol protocol_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool kicked_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;  // to cancel from Stop
  std::thread thread_;
};

}  // namespace remora::proxy::control
