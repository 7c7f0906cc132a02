// The remora-control process: the CA and xDS over gRPC+TLS (15012), the operator API, an optional
// plaintext development port (15010, xDS only), health and metrics, all around one state
// directory.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "certs/ca.h"
#include "certs/token_authority.h"
#include "common/stats.h"
#include "http/http_server.h"
#include "inject/webhook_server.h"
#include "kube/api_client.h"
#include "kube/cluster_config.h"
#include "net/asio.h"
#include "xds/kube/ca_secret_store.h"
#include "xds/kube/kube_sync.h"
#include "xds/kube/root_cert_publisher.h"
#include "xds/kube/webhook_ca_bundle.h"
#include "xds/server/ads_server.h"
#include "xds/server/ca_service.h"
#include "xds/server/operator_auth.h"
#include "xds/server/operator_service.h"
#include "xds/server/proxy_tracker.h"
#include "xds/server/serving_identity.h"
#include "xds/store/config_store.h"

namespace remora::xds {

struct ControlPlaneOptions {
  std::string state_dir = "/var/lib/remora";
  std::string trust_domain = "cluster.local";
  std::string listen = "0.0.0.0:15012";  // xDS, CA and operator API over TLS
  // Plaintext xDS for development; "" = off. Only xDS is served there: the CA and the operator
  // API take bearer tokens, which must never cross the network in the clear.
  std::string dev_listen;
  std::string admin_listen = "127.0.0.1:15014";  // /ready, /stats/prometheus; "" = off
  std::string root_namespace = "remora-system";
  std::string own_namespace = "remora-system";
  // In a pod without --namespace: the pod's namespace (in-cluster configuration) replaces
  // own_namespace.
  bool namespace_from_cluster = false;
  // The Service in front of the control plane: the serving certificate (gRPC and the webhook)
  // names <service_name>.<own_namespace>.svc[.cluster.local], the names proxies and the API
  // server dial.
  std::string service_name = "remora-control";
  // Kubernetes mode, webhook served with the control plane's own certificate: the
  // MutatingWebhookConfiguration whose caBundle is kept equal to the mesh roots; "" = never touch
  // it (e.g. cert-manager's CA injector owns it).
  std::string webhook_config_name = "remora-sidecar-injector";
  absl::Duration debounce = absl::Milliseconds(10);
  absl::Duration cert_lifetime = absl::Hours(24);
  absl::Duration max_cert_lifetime = absl::Hours(24 * 30);
  std::string plugin_ca_chain;
  std::string plugin_ca_key;
  std::string bound_ports_file;  // JSON of the bound addresses, once listening
  // Sidecar injection webhook (HTTPS, admission.k8s.io/v1); "" = off. Without its own certificate
  // it serves the control plane's (names remora-control.<namespace>.svc, issued by the mesh CA).
  std::string webhook_listen;
  std::string webhook_cert;
  std::string webhook_key;
  std::string injector_settings;  // YAML file; defaults when empty
  // Kubernetes mode (issue 18): the cluster is the source of truth. A kubeconfig file (and its
  // context, "" for current-context), or the pod's in-cluster configuration. Neither: embedded
  // mode, the store and `remoractl apply`.
  std::string kubeconfig;
  std::string kube_context;
  bool in_cluster = false;
  // Kubernetes mode: while the cluster does not serve AuthorizationPolicy or PeerAuthentication
  // (Istio's CRDs not installed yet), discovery is asked again this often.
  absl::Duration kube_discovery_period = absl::Seconds(30);
  bool kube_mode() const { return !kubeconfig.empty() || in_cluster; }
};

class ControlPlane {
 public:
  explicit ControlPlane(ControlPlaneOptions options);
  ~ControlPlane();

  // Opens the state, binds every port, serves until SIGTERM/SIGINT, then shuts down.
  absl::Status Run();

 private:
  absl::Status Start();
  // The plaintext development port (xDS only); returns the bound port.
  absl::StatusOr<int> StartDevPort();
  // Kubernetes mode: the API client and the informers that fill the store.
  absl::Status StartKube();
  // Renews the serving certificate when due or stale against the CA; a webhook serving it
  // reloads it at once.
  absl::Status RefreshServing(absl::Time now);
  // Kubernetes mode: the CA over Secret remora-ca, and the operator token from it.
  absl::StatusOr<std::unique_ptr<certs::CertificateAuthority>> OpenKubeCa(
      const certs::CaOptions& ca_options, absl::Time now);
  // Installs what other replicas store in the Secret (once serving).
  void FollowKubeCa();
  void OnCaChange();
  awaitable<void> Maintenance();

  ControlPlaneOptions options_;
  asio::io_context io_{1};
  StatsRegistry registry_;
  CaStats ca_stats_;
  AdsStats ads_stats_;
  KubeSyncStats kube_stats_;
  ProxyTracker tracker_;
  std::unique_ptr<certs::CertificateAuthority> ca_;
  CaSecretStore* ca_secret_ = nullptr;  // Kubernetes mode: ca_'s store
  std::unique_ptr<certs::TokenAuthority> tokens_;
  std::unique_ptr<OperatorAuth> operator_auth_;
  std::unique_ptr<ConfigStore> store_;
  std::unique_ptr<ServingIdentity> serving_;
  std::unique_ptr<AdsServer> ads_;
  std::unique_ptr<CsrAuthenticator> authenticator_;
  std::unique_ptr<CaService> ca_service_;
  std::unique_ptr<OperatorService> operator_service_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<AdsForwarder> dev_ads_;
  std::unique_ptr<grpc::Server> dev_grpc_;  // the development port, when on
  std::unique_ptr<http::Server> admin_;
  std::unique_ptr<inject::WebhookServer> webhook_;
  std::shared_ptr<kube::ApiClient> kube_client_;  // Kubernetes mode only
  std::unique_ptr<KubeSync> kube_sync_;
  std::shared_ptr<RootCertPublisher> root_publisher_;
  std::optional<kube::ClusterConfig> kube_config_;  // loaded first, used by StartKube
  std::shared_ptr<WebhookCaBundlePatcher> webhook_ca_bundle_;
  bool ready_ = false;
};

}  // namespace remora::xds
