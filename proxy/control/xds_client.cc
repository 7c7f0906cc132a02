#include "proxy/control/xds_client.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "proxy/control/channel.h"

namespace remora::proxy::control {

namespace discovery = envoy::service::discovery::v3;

google::rpc::Status XdsProtocol::Nack(const std::vector<remora::v1::ResourceError>& errors) const {
  google::rpc::Status status;
  status.set_code(3);  // INVALID_ARGUMENT
  std::vector<std::string> parts;
  for (const auto& e : errors) parts.push_back(absl::StrCat(e.name(), ": ", e.reason()));
  status.set_message(absl::StrCat(
      errors.size(), " resource(s) refused, the rest applied: ", absl::StrJoin(parts, "; ")));
  remora::v1::ResourceErrors details;
  for (const auto& e : errors) *details.add_errors() = e;
  status.add_details()->PackFrom(details);
  return status;
}

std::vector<discovery::DiscoveryRequest> XdsProtocol::InitialSotw() const {
  std::vector<discovery::DiscoveryRequest> out;
  for (const std::string& type : types_) {
    discovery::DiscoveryRequest r;
    *r.mutable_node() = node_;
    r.set_type_url(type);
    auto it = accepted_version_.find(type);
    if (it != accepted_version_.end()) r.set_version_info(it->second);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<discovery::DeltaDiscoveryRequest> XdsProtocol::InitialDelta() const {
  std::vector<discovery::DeltaDiscoveryRequest> out;
  for (const std::string& type : types_) {
    discovery::DeltaDiscoveryRequest r;
    *r.mutable_node() = node_;
    r.set_type_url(type);
    r.add_resource_names_subscribe("*");
    // After a reconnect the server sends only what changed since these versions.
    auto it = delta_versions_.find(type);
    if (it != delta_versions_.end()) {
      for (const auto& [name, version] : it->second)
        (*r.mutable_initial_resource_versions())[name] = version;
    }
    out.push_back(std::move(r));
  }
  return out;
}

discovery::DiscoveryRequest XdsProtocol::OnResponse(const discovery::DiscoveryResponse& response,
                                                    const ApplyFn& apply) {
  ReceivedUpdate update;
  update.type_url = response.type_url();
  update.version = response.version_info();
  update.complete_set = true;
  for (const google::protobuf::Any& any : response.resources()) {
    update.resources.push_back({"", response.version_info(), &any});
  }
  std::vector<remora::v1::ResourceError> errors = apply(update);
  discovery::DiscoveryRequest ack;
  *ack.mutable_node() = node_;
  ack.set_type_url(response.type_url());
  ack.set_response_nonce(response.nonce());
  // The valid resources were applied even when some were refused: the proxy now runs this
  // version, minus what the error detail lists (which keeps its last accepted version).
  ack.set_version_info(response.version_info());
  accepted_version_[response.type_url()] = response.version_info();
  if (!errors.empty()) *ack.mutable_error_detail() = Nack(errors);
  return ack;
}

discovery::DeltaDiscoveryRequest XdsProtocol::OnResponse(
    const discovery::DeltaDiscoveryResponse& response, const ApplyFn& apply) {
  ReceivedUpdate update;
  update.type_url = response.type_url();
  update.version = response.system_version_info();
  for (const discovery::Resource& r : response.resources()) {
    update.resources.push_back({r.name(), r.version(), &r.resource()});
  }
  update.removed = {response.removed_resources().begin(), response.removed_resources().end()};
  std::vector<remora::v1::ResourceError> errors = apply(update);
  std::set<std::string> refused;
  for (const auto& e : errors) refused.insert(e.name());
  auto& versions = delta_versions_[response.type_url()];
  for (const discovery::Resource& r : response.resources()) {
    if (!refused.count(r.name())) versions[r.name()] = r.version();
  }
  for (const std::string& name : response.removed_resources()) versions.erase(name);
  discovery::DeltaDiscoveryRequest ack;
  ack.set_type_url(response.type_url());
  ack.set_response_nonce(response.nonce());
  if (!errors.empty()) *ack.mutable_error_detail() = Nack(errors);
  return ack;
}

XdsClient::XdsClient(ControlPlaneConfig config, envoy::config::core::v3::Node node,
                     std::vector<std::string> types, ChannelFactory channel, ApplyFn apply)
    : config_(std::move(config)),
      channel_(std::move(channel)),
      apply_(std::move(apply)),
      protocol_(std::move(node), std::move(types)) {}

XdsClient::~XdsClient() { Stop(); }

void XdsClient::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void XdsClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void XdsClient::Kick() {
  absl::MutexLock lock(&mu_);
  kicked_ = true;
}

bool XdsClient::connected() const {
  absl::MutexLock lock(&mu_);
  return connected_;
}

template <typename Request, typename Response, typename Open>
bool XdsClient::RunStream(const std::shared_ptr<grpc::Channel>& channel, Open open,
                          std::vector<Request> initial, std::string* why) {
  auto stub = discovery::AggregatedDiscoveryService::NewStub(channel);
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    context_ = &context;
  }
  auto stream = open(*stub, &context);
  bool received = false;
  bool ok = true;
  for (const Request& r : initial) ok = ok && stream->Write(r);
  Response response;
  while (ok && stream->Read(&response)) {
    if (!received) {
      absl::MutexLock lock(&mu_);
      connected_ = true;
    }
    received = true;
    ok = stream->Write(protocol_.OnResponse(response, apply_));
  }
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  *why = status.ok() ? "stream closed by the control plane"
                     : absl::StrCat(status.error_code(), ": ", status.error_message());
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
  connected_ = false;
  return received;
}

bool XdsClient::RunSotw(const std::shared_ptr<grpc::Channel>& channel, std::string* why) {
  return RunStream<discovery::DiscoveryRequest, discovery::DiscoveryResponse>(
      channel,
      [](discovery::AggregatedDiscoveryService::Stub& stub, grpc::ClientContext* context) {
        return stub.StreamAggregatedResources(context);
      },
      protocol_.InitialSotw(), why);
}

bool XdsClient::RunDelta(const std::shared_ptr<grpc::Channel>& channel, std::string* why) {
  return RunStream<discovery::DeltaDiscoveryRequest, discovery::DeltaDiscoveryResponse>(
      channel,
      [](discovery::AggregatedDiscoveryService::Stub& stub, grpc::ClientContext* context) {
        return stub.DeltaAggregatedResources(context);
      },
      protocol_.InitialDelta(), why);
}

void XdsClient::Loop() {
  int failures = 0;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    std::shared_ptr<grpc::Channel> channel = channel_();
    std::string why = "no certificate yet";
    bool received = false;
    if (channel != nullptr) {
      LOG_INFO("proxy.xds", "connecting to ", config_.address, config_.delta ? " (delta xDS)" : "");
      received = config_.delta ? RunDelta(channel, &why) : RunSotw(channel, &why);
    }
    if (received) failures = 0;
    const absl::Duration wait = Backoff(failures++, config_.retry_initial, config_.retry_max);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (channel != nullptr) {
      LOG_WARN("proxy.xds", "xDS stream to ", config_.address, " ended (", why,
               "); keeping the last accepted configuration; reconnecting in ",
               absl::FormatDuration(wait));
    }
    absl::MutexLock lock(&mu_);
    auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || kicked_; };
    mu_.AwaitWithTimeout(absl::Condition(&wake), wait);
    kicked_ = false;
  }
}

}  // namespace remora::proxy::control
