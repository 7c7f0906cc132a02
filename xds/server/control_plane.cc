#include "xds/server/control_plane.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/file.h"
#include "common/log.h"
#include "kube/cluster_config.h"
#include "net/endpoint.h"
#include "xds/kube/root_cert_publisher.h"
#include "xds/kube/token_review_authenticator.h"

namespace remora::xds {

ControlPlane::ControlPlane(ControlPlaneOptions options) : options_(std::move(options)) {
  ca_stats_.Register(registry_, "ca_", "");
  ads_stats_.Register(registry_, "xds_", "");
  if (options_.kube_mode()) kube_stats_.Register(registry_, "kube_", "");
}

namespace {

void AddChannelArguments(grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
}

}  // namespace

ControlPlane::~ControlPlane() {
  // First: the Secret's watch calls into the CA and posts to io_.
  if (ca_secret_ != nullptr) ca_secret_->Stop();
  if (dev_grpc_ != nullptr) {
    dev_grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  if (grpc_ != nullptr) grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  if (kube_sync_ != nullptr) kube_sync_->Stop();
  if (webhook_ca_bundle_ != nullptr) webhook_ca_bundle_->Stop();
  if (ads_ != nullptr) ads_->Stop();
}

absl::Status ControlPlane::RefreshServing(absl::Time now) {
  const absl::Time renew_at = serving_->renew_at();
  absl::Status s = serving_->Refresh(now);
  // Reissued: a webhook serving these files switches now rather than at its next poll.
  if (s.ok() && serving_->renew_at() != renew_at && webhook_ != nullptr &&
      options_.webhook_cert.empty()) {
    (void)webhook_->ReloadCertificate();
  }
  return s;
}

void ControlPlane::OnCaChange() {
  if (absl::Status s = RefreshServing(absl::Now()); !s.ok()) {
    LOG_ERROR("control", "cannot renew the serving certificate: ", s.message());
  }
  // Also publish the new bundle for clients that bootstrap from the state directory.
  (void)WriteFileAtomic(options_.state_dir + "/ca-bundle.pem", absl::StrJoin(ca_->BundlePem(), ""),
                        0644);
  ads_->Refresh();
  if (root_publisher_ != nullptr) root_publisher_->Republish();
  if (webhook_ca_bundle_ != nullptr) webhook_ca_bundle_->Refresh();
}

absl::StatusOr<int> ControlPlane::StartDevPort() {
  // A server of its own: on the TLS server every service is reachable from every port, and the
  // CA (bootstrap tokens) and the operator API (the operator token) must not be offered in the
  // clear. Istio's plaintext 15010 is likewise xDS only; its CA is on 15012.
  LOG_WARN("control", "--dev-listen=", options_.dev_listen,
           ": plaintext xDS without authentication, for development only: any client there may "
           "claim any registered workload and read its configuration. The CA and the operator "
           "API are served only on ",
           options_.listen, " (TLS)");
  dev_ads_ = std::make_unique<AdsForwarder>(*ads_);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options_.dev_listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(dev_ads_.get());
  AddChannelArguments(builder);
  dev_grpc_ = builder.BuildAndStart();
  if (dev_grpc_ == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on --dev-listen=", options_.dev_listen, " (port in use?)"));
  }
  return port;
}

absl::StatusOr<std::unique_ptr<certs::CertificateAuthority>> ControlPlane::OpenKubeCa(
    const certs::CaOptions& ca_options, absl::Time now) {
  // Several replicas share the CA through Secret remora-ca (xds/kube/ca_secret_store.h); the
  // state directory keeps only a copy, for a start while the API server is down.
  CaSecretStoreOptions secret;
  secret.namespace_name = options_.own_namespace;
  secret.cache_dir = options_.state_dir + "/kube-ca";
  secret.seed_dir = options_.state_dir + "/ca";  // where one replica kept it before
  absl::StatusOr<std::unique_ptr<CaSecretStore>> store = CaSecretStore::New(*kube_config_, secret);
  if (!store.ok()) return store.status();
  ca_secret_ = store->get();
  absl::StatusOr<std::unique_ptr<certs::CertificateAuthority>> ca =
      certs::CertificateAuthority::Open(ca_options, std::move(*store), now);
  if (!ca.ok()) {
    ca_secret_ = nullptr;
    return ca.status();
  }
  // The operator token is shared the same way, so remoractl may reach any replica: the Secret's
  // is written where remoractl --state-dir looks for it (and OperatorAuth reads it).
  absl::StatusOr<std::string> token = ca_secret_->LoadOrCreateOperatorToken();
  if (token.ok()) {
    if (absl::Status s =
            WriteFileAtomic(options_.state_dir + "/operator.token", *token + "\n", 0600);
        !s.ok()) {
      return s;
    }
  } else {
    LOG_WARN("control", "cannot read the operator token from ", ca_secret_->Describe(), ": ",
             token.status().message(), "; using the one in ", options_.state_dir,
             " (made on first start), which other replicas do not accept");
  }
  return ca;
}

void ControlPlane::FollowKubeCa() {
  if (ca_secret_ == nullptr) return;
  // Another replica's rotation step: install it, then renew and republish as after our own.
  ca_secret_->Follow([this](const certs::CaState& state) {
    absl::StatusOr<bool> changed = ca_->Reload(state);
    if (!changed.ok()) {
      LOG_ERROR("control", "keeping the installed CA: ", ca_secret_->Describe(), ": ",
                changed.status().message());
    } else if (*changed) {
      LOG_INFO("control", "CA roots changed in ", ca_secret_->Describe(), " (phase ", ca_->Phase(),
               "); renewing and republishing");
      asio::post(io_, [this] { OnCaChange(); });
    }
  });
}

absl::Status ControlPlane::StartKube() {
  absl::StatusOr<std::shared_ptr<kube::ApiClient>> client =
      kube::ApiClient::New(io_.get_executor(), std::move(*kube_config_));
  if (!client.ok()) return client.status();
  kube_client_ = std::move(*client);
  kube_sync_ = std::make_unique<KubeSync>(kube_client_, *store_, *ads_, options_.root_namespace,
                                          kube_stats_);
  kube_sync_->SetIstioDiscoveryPeriod(options_.kube_discovery_period);
  root_publisher_ = std::make_shared<RootCertPublisher>(
      kube_client_, [this] { return absl::StrJoin(ca_->BundlePem(), ""); });
  kube_sync_->OnResync([this] { root_publisher_->Publish(*kube_sync_->MeshNamespaces()); });
  kube_sync_->Start();
  return absl::OkStatus();
}

absl::Status ControlPlane::Start() {
  if (::mkdir(options_.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create state directory ", options_.state_dir,
                                               ": ", std::strerror(errno)));
  }
  if (options_.kube_mode()) {
    absl::StatusOr<kube::ClusterConfig> config =
        options_.kubeconfig.empty()
            ? kube::InClusterConfig(kube::ProcessEnv)
            : kube::LoadKubeconfig(options_.kubeconfig, options_.kube_context);
    if (!config.ok()) {
      return absl::Status(config.status().code(),
                          absl::StrCat("Kubernetes mode: ", config.status().message()));
    }
    // In a pod the control plane's namespace is the pod's (the `namespace` file or POD_NAMESPACE,
    // as client-go reads it), unless --namespace says otherwise. A kubeconfig's namespace is the
    // operator's, not the control plane's.
    if (options_.in_cluster && options_.namespace_from_cluster) {
      options_.own_namespace = config->default_namespace;
    }
    kube_config_ = std::move(*config);
  }
  const absl::Time now = absl::Now();
  certs::CaOptions ca_options;
  ca_options.state_dir = options_.state_dir;
  ca_options.trust_domain = options_.trust_domain;
  ca_options.default_lifetime = options_.cert_lifetime;
  ca_options.max_lifetime = std::max(options_.max_cert_lifetime, options_.cert_lifetime);
  ca_options.plugin_chain_file = options_.plugin_ca_chain;
  ca_options.plugin_key_file = options_.plugin_ca_key;
  absl::StatusOr<std::unique_ptr<certs::CertificateAuthority>> ca =
      options_.kube_mode() && ca_options.plugin_chain_file.empty()
          ? OpenKubeCa(ca_options, now)
          : certs::CertificateAuthority::Open(ca_options, now);
  if (!ca.ok()) return ca.status();
  ca_ = std::move(*ca);
  absl::StatusOr<std::unique_ptr<certs::TokenAuthority>> tokens =
      certs::TokenAuthority::Open(options_.state_dir);
  if (!tokens.ok()) return tokens.status();
  tokens_ = std::move(*tokens);
  absl::StatusOr<OperatorAuth> auth = OperatorAuth::Open(options_.state_dir);
  if (!auth.ok()) return auth.status();
  operator_auth_ = std::make_unique<OperatorAuth>(std::move(*auth));
  // Kubernetes mode mirrors the cluster into a store of its own: switching modes never mixes
  // objects applied with remoractl with the cluster's.
  absl::StatusOr<std::unique_ptr<ConfigStore>> store =
      ConfigStore::Open(options_.state_dir + (options_.kube_mode() ? "/kube-store" : "/store"));
  if (!store.ok()) return store.status();
  store_ = std::move(*store);

  ServingIdentityOptions serving;
  serving.dir = options_.state_dir + "/serving";
  serving.spiffe_id = absl::StrCat("spiffe://", options_.trust_domain, "/ns/",
                                   options_.own_namespace, "/sa/remora-control");
  // The names the API server dials for the webhook (clientConfig.service: <name>.<ns>.svc) and
  // proxies for xDS.
  serving.dns_names = {
      absl::StrCat(options_.service_name, ".", options_.own_namespace, ".svc"),
      absl::StrCat(options_.service_name, ".", options_.own_namespace, ".svc.cluster.local"),
      "localhost"};
  serving.lifetime = std::min(options_.cert_lifetime, absl::Hours(24));
  serving_ = std::make_unique<ServingIdentity>(*ca_, serving);
  if (absl::Status s = serving_->Refresh(now); !s.ok()) return s;
  if (absl::Status s = WriteFileAtomic(options_.state_dir + "/ca-bundle.pem",
                                       absl::StrJoin(ca_->BundlePem(), ""), 0644);
      !s.ok()) {
    return s;
  }

  AdsOptions ads_options;
  ads_options.trust_domain = options_.trust_domain;
  ads_options.debounce = options_.debounce;
  ads_options.allow_plaintext = !options_.dev_listen.empty();
  ads_options.bundle = [this] { return ca_->BundlePem(); };
  ads_ = std::make_unique<AdsServer>(ads_options, tracker_, ads_stats_);
  if (absl::Status s = PublishRegistry(*store_, *ads_, options_.root_namespace); !s.ok()) {
    return absl::DataLossError(absl::StrCat("stored configuration does not load: ", s.message()));
  }
  if (options_.kube_mode()) {
    if (absl::Status s = StartKube(); !s.ok()) return s;
    FollowKubeCa();
    // The projected ServiceAccount token, reviewed by the API server, bound to a known pod.
    // Bootstrap tokens are for embedded mode only: here the cluster vouches for pods.
    authenticator_ = std::make_unique<TokenReviewAuthenticator>(
        kube_client_, [sync = kube_sync_.get()](const std::string& ns, const std::string& name) {
          std::shared_ptr<const MeshPods> pods = sync->Pods();
          auto it = pods->find(absl::StrCat(ns, "/", name));
          return it == pods->end() ? std::nullopt : std::optional<MeshPod>(it->second);
        });
  } else {
    authenticator_ = std::make_unique<BootstrapTokenAuthenticator>(*tokens_);
  }
  ca_service_ = std::make_unique<CaService>(*ca_, *authenticator_, ca_stats_);
  OperatorDeps operator_deps{*store_,
                             *ads_,
                             tracker_,
                             *ca_,
                             *tokens_,
                             *operator_auth_,
                             options_.root_namespace,
                             [this] { asio::post(io_, [this] { OnCaChange(); }); },
                             options_.kube_mode(),
                             /*kube_published=*/nullptr};
  if (kube_sync_ != nullptr) {
    operator_deps.kube_published = [sync = kube_sync_.get()] { return sync->Published(); };
  }
  operator_service_ = std::make_unique<OperatorService>(std::move(operator_deps));

  // TLS whose files (serving certificate, key, bundle) are reloaded when they change, so
  // renewals and root rotations need no restart. Client certificates are verified when sent:
  // xDS requires one (checked per stream), the CA accepts bootstrap tokens instead.
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      serving_->key_file(), serving_->cert_file(), serving_->bundle_file(), 1);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_root_certs();
  tls.watch_identity_key_cert_pairs();
  tls.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::ServerBuilder builder;
  int tls_port = 0;
  builder.AddListeningPort(options_.listen, grpc::experimental::TlsServerCredentials(tls),
                           &tls_port);
  builder.RegisterService(ca_service_.get());
  builder.RegisterService(ads_.get());
  builder.RegisterService(operator_service_.get());
  AddChannelArguments(builder);
  grpc_ = builder.BuildAndStart();
  if (grpc_ == nullptr || tls_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.listen, " (port in use?)"));
  }
  int dev_port = 0;
  if (!options_.dev_listen.empty()) {
    absl::StatusOr<int> port = StartDevPort();
    if (!port.ok()) return port.status();
    dev_port = *port;
  }
  nlohmann::json ports;
  const std::string host = options_.listen.substr(0, options_.listen.rfind(':'));
  ports["grpc"] = absl::StrCat(host, ":", tls_port);
  if (dev_port != 0) {
    ports["dev"] =
        absl::StrCat(options_.dev_listen.substr(0, options_.dev_listen.rfind(':')), ":", dev_port);
  }
  if (!options_.admin_listen.empty()) {
    absl::StatusOr<tcp::endpoint> admin = net::ParseEndpoint(options_.admin_listen);
    if (!admin.ok())
      return absl::InvalidArgumentError(absl::StrCat("--admin: ", admin.status().message()));
    http::ServerOptions admin_options;
    admin_options.name = "control.admin";
    admin_ = std::make_unique<http::Server>(
        io_,
        [this](const http::Request& r) {
          std::string path(r.target());
          if (path == "/ready") {
            // In Kubernetes mode, ready once the cluster has been read (before, proxies would
            // get the state of the last run, or none).
            const bool ready = ready_ && (kube_sync_ == nullptr || kube_sync_->Synced());
            return http::MakeResponse(r,
                                      ready ? http::beast_http::status::ok
                                            : http::beast_http::status::service_unavailable,
                                      ready ? "ready\n" : "starting\n");
          }
          if (path == "/stats/prometheus" || path == "/metrics") {
            return http::MakeResponse(r, http::beast_http::status::ok, registry_.RenderPrometheus(),
                                      "text/plain; version=0.0.4");
          }
          return http::MakeResponse(r, http::beast_http::status::not_found,
                                    "control plane admin: /ready, /stats/prometheus\n");
        },
        admin_options);
    if (absl::Status s = admin_->Listen(*admin); !s.ok()) return s;
    admin_->Start();
    ports["admin"] = net::ToString(admin_->bound());
  }
  if (!options_.webhook_listen.empty()) {
    absl::StatusOr<tcp::endpoint> listen = net::ParseEndpoint(options_.webhook_listen);
    if (!listen.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--webhook-listen: ", listen.status().message()));
    }
    inject::InjectorSettings settings;
    if (!options_.injector_settings.empty()) {
      absl::StatusOr<inject::InjectorSettings> loaded =
          inject::LoadSettingsFile(options_.injector_settings);
      if (!loaded.ok()) return loaded.status();
      settings = std::move(*loaded);
    }
    inject::WebhookServerOptions webhook;
    webhook.listen = *listen;
    webhook.cert_file =
        options_.webhook_cert.empty() ? serving_->cert_file() : options_.webhook_cert;
    webhook.key_file = options_.webhook_key.empty() ? serving_->key_file() : options_.webhook_key;
    absl::StatusOr<std::unique_ptr<inject::WebhookServer>> server =
        inject::WebhookServer::Create(io_, webhook, std::move(settings));
    if (!server.ok()) return server.status();
    webhook_ = std::move(*server);
    if (absl::Status s = webhook_->Start(); !s.ok()) return s;
    ports["webhook"] = net::ToString(webhook_->bound());
    // The API server must trust the certificate we issued ourselves: keep the webhook
    // configuration's caBundle on our roots. With an operator's certificate (--webhook-cert) its
    // caBundle is the operator's (or cert-manager's) to manage.
    if (kube_client_ != nullptr && options_.webhook_cert.empty() &&
        !options_.webhook_config_name.empty()) {
      webhook_ca_bundle_ = std::make_shared<WebhookCaBundlePatcher>(
          kube_client_, options_.webhook_config_name,
          [this] { return absl::StrJoin(ca_->BundlePem(), ""); });
      webhook_ca_bundle_->Start();
    }
  }
  if (!options_.bound_ports_file.empty()) {
    if (absl::Status s = WriteFileAtomic(options_.bound_ports_file, ports.dump() + "\n", 0644);
        !s.ok()) {
      return s;
    }
  }
  ready_ = true;
  LOG_INFO("control", "serving xDS, CA and operator API on ", ports["grpc"].get<std::string>(),
           dev_port ? absl::StrCat("; plaintext development xDS (only) on ",
                                   ports["dev"].get<std::string>())
                    : std::string(""),
           "; trust domain ", options_.trust_domain, "; state ", options_.state_dir,
           "; operator token ", operator_auth_->path());
  return absl::OkStatus();
}

awaitable<void> ControlPlane::Maintenance() {
  asio::steady_timer timer(io_);
  // After a failed renewal, retry with backoff (1 s doubling to 10 s) rather than at once.
  absl::Duration retry = absl::ZeroDuration();
  while (true) {
    // Wake at the serving certificate's half-life (short lifetimes renew in seconds), and at least
    // every 10 s. Rounded up so the wake-up is never just before the renewal time.
    const absl::Duration until_renewal = std::max(serving_->renew_at() - absl::Now(), retry);
    timer.expires_after(absl::ToChronoMilliseconds(
        absl::Ceil(std::clamp(until_renewal, absl::Milliseconds(100), absl::Seconds(10)),
                   absl::Milliseconds(1))));
    auto [ec] = co_await timer.async_wait(kUseTuple);
    if (ec) co_return;
    absl::Status s = RefreshServing(absl::Now());
    retry = s.ok() ? absl::ZeroDuration()
                   : std::min(std::max(retry * 2, absl::Seconds(1)), absl::Seconds(10));
    if (!s.ok()) {
      LOG_ERROR("control", "cannot renew the serving certificate: ", s.message());
    }
  }
}

absl::Status ControlPlane::Run() {
  if (absl::Status s = Start(); !s.ok()) return s;
  asio::signal_set signals(io_, SIGTERM, SIGINT);
  signals.async_wait([this](const error_code& ec, int signo) {
    if (ec) return;
    LOG_INFO("control", "signal ", signo, ": shutting down");
    ready_ = false;
    if (admin_) admin_->Stop();
    if (webhook_) webhook_->Stop();
    io_.stop();
  });
  asio::co_spawn(io_, Maintenance(), asio::detached);
  io_.run();
  if (dev_grpc_ != nullptr) {
    dev_grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    dev_grpc_.reset();
  }
  if (kube_sync_ != nullptr) kube_sync_->Stop();
  if (webhook_ca_bundle_ != nullptr) webhook_ca_bundle_->Stop();
  if (ca_secret_ != nullptr) ca_secret_->Stop();
  grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc_.reset();
  ads_->Stop();
  LOG_INFO("control", "stopped");
  return absl::OkStatus();
}

}  // namespace remora::xds
