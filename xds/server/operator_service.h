// remora.v1.Operator: how remoractl applies and deletes configuration, reads it back, waits for
// a change to be enforced, inspects proxies, mints bootstrap tokens and rotates the CA.
// Synchronous handlers (operator calls are rare and may block, e.g. waiting for ACKs).
#pragma once

#include <functional>
#include <memory>

#include "certs/ca.h"
#include "certs/token_authority.h"
#include "remora/v1/operator.grpc.pb.h"
#include "xds/kube/object_wait.h"
#include "xds/server/ads_server.h"
#include "xds/server/operator_auth.h"
#include "xds/server/proxy_tracker.h"
#include "xds/store/config_store.h"

namespace remora::xds {

struct OperatorDeps {
  ConfigStore& store;
  AdsServer& ads;
  ProxyTracker& tracker;
  certs::CertificateAuthority& ca;
  const certs::TokenAuthority& tokens;
  const OperatorAuth& auth;
  std::string root_namespace;
  // Called after the CA's roots changed (serving certificate, bundles).
  std::function<void()> on_ca_change;
  // Kubernetes mode: the cluster is the source of truth and Apply refuses (kubectl changes it).
  bool kube_mode = false;
  // Kubernetes mode: what the cluster sync last published (null before its first publication).
  std::function<std::shared_ptr<const PublishedCluster>()> kube_published;
};

// Checks one document before it is stored: a supported kind whose content is valid.
absl::Status ValidateDocument(const Document& doc);

// Rebuilds the registry from the store and hands it to the xDS server.
absl::Status PublishRegistry(ConfigStore& store, AdsServer& ads, const std::string& root_namespace);

class OperatorService final : public remora::v1::Operator::Service {
 public:
  explicit OperatorService(OperatorDeps deps) : deps_(std::move(deps)) {}

  grpc::Status Apply(grpc::ServerContext* context, const remora::v1::ApplyRequest* request,
                     remora::v1::ApplyResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const remora::v1::GetRequest* request,
                   remora::v1::GetResponse* response) override;
  grpc::Status WaitForVersion(grpc::ServerContext* context, const remora::v1::WaitRequest* request,
                              remora::v1::WaitResponse* response) override;
  grpc::Status WaitForObjects(grpc::ServerContext* context,
                              const remora::v1::WaitObjectsRequest* request,
                              remora::v1::WaitObjectsResponse* response) override;
  grpc::Status ProxyStatus(grpc::ServerContext* context,
                           const remora::v1::ProxyStatusRequest* request,
                           remora::v1::ProxyStatusResponse* response) override;
  grpc::Status ProxyConfig(grpc::ServerContext* context,
                           const remora::v1::ProxyConfigRequest* request,
                           remora::v1::ProxyConfigResponse* response) override;
  grpc::Status CreateToken(grpc::ServerContext* context,
                           const remora::v1::CreateTokenRequest* request,
                           remora::v1::CreateTokenResponse* response) override;
  grpc::Status RotateCa(grpc::ServerContext* context, const remora::v1::RotateCaRequest* request,
                        remora::v1::RotateCaResponse* response) override;

 private:
  // Waits until every proxy `version` affects acknowledged or refused it, or `deadline`.
  grpc::Status AwaitAcks(grpc::ServerContext& context, uint64_t version, absl::Time deadline,
                         remora::v1::WaitResponse* response);

  OperatorDeps deps_;
};

}  // namespace remora::xds
