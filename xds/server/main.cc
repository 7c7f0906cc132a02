// remora-control: the Remora control plane.
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "common/flags.h"
#include "common/log.h"
#include "xds/server/control_plane.h"

namespace {

constexpr char kUsage[] =
    "remora-control: the Remora control plane. Issues workload certificates (a CA with root\n"
    "rotation, Istio-compatible CreateCertificate), serves configuration to proxies over xDS\n"
    "(Envoy v3 ADS, state of the world and delta), and stores the policies operators apply with\n"
    "remoractl. Everything it keeps lives in --state-dir; the operator token is written there.\n"
    "In Kubernetes mode (--kubeconfig, or in a pod) the cluster's Namespaces, Pods, Services,\n"
    "EndpointSlices, NetworkPolicies and Istio security policies are the configuration, and\n"
    "kubectl changes it.\n"
    "\n"
    "usage: remora-control [flags]";

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  remora::xds::ControlPlaneOptions o;
  std::string log_level = "info";
  remora::FlagSet flags("remora-control", kUsage);
  flags.String("state-dir", &o.state_dir, "directory for the CA, the store and the operator token");
  flags.String("trust-domain", &o.trust_domain, "SPIFFE trust domain of the mesh");
  flags.String("listen", &o.listen, "xDS + CA + operator API over TLS (host:port)");
  flags.String("dev-listen", &o.dev_listen,
               "plaintext xDS, and nothing else, for development only (host:port; empty = off)");
  flags.String("admin", &o.admin_listen, "health and metrics (host:port; empty = off)");
  flags.String("root-namespace", &o.root_namespace, "namespace whose policies apply mesh-wide");
  std::string own_namespace;
  flags.String("namespace", &own_namespace,
               "namespace the control plane runs in (default: in a pod, the pod's; otherwise "
               "remora-system)");
  flags.String("service-name", &o.service_name,
               "the control plane's Service: its serving certificate names "
               "NAME.NAMESPACE.svc[.cluster.local], which proxies and the API server dial");
  flags.String("webhook-config-name", &o.webhook_config_name,
               "Kubernetes mode: the MutatingWebhookConfiguration whose caBundle is kept equal to "
               "the mesh roots when the webhook serves the control plane's own certificate (empty "
               "= leave it alone)");
  flags.Duration("debounce", &o.debounce, "how long pushes wait to coalesce changes");
  flags.Duration("cert-lifetime", &o.cert_lifetime, "default workload certificate lifetime");
  flags.Duration("max-cert-lifetime", &o.max_cert_lifetime,
                 "longest lifetime a workload may ask for");
  flags.String("plugin-ca-cert", &o.plugin_ca_chain,
               "operator-supplied CA: signing certificate chain (PEM, up to its root)");
  flags.String("plugin-ca-key", &o.plugin_ca_key, "operator-supplied CA: signing key (PEM)");
  flags.String("bound-ports-file", &o.bound_ports_file, "write the bound addresses here as JSON");
  flags.String("webhook-listen", &o.webhook_listen,
               "sidecar injection webhook over HTTPS (host:port, e.g. 0.0.0.0:15017; empty = off)");
  flags.String("webhook-cert", &o.webhook_cert,
               "webhook certificate chain (PEM); default: the control plane's own, from its CA");
  flags.String("webhook-key", &o.webhook_key, "webhook private key (PEM)");
  flags.String(
      "injector-settings", &o.injector_settings,
      "YAML with the injector's images, control plane address, defaults (see inject/settings.h)");
  flags.String(
      "kubeconfig", &o.kubeconfig,
      "Kubernetes mode: read the cluster through this kubeconfig (in a pod, the in-cluster "
      "configuration is used when KUBERNETES_SERVICE_HOST is set)");
  flags.String("kube-context", &o.kube_context,
               "the kubeconfig context (default: current-context)");
  flags.Duration("kube-discovery-period", &o.kube_discovery_period,
                 "Kubernetes mode: while the cluster does not serve AuthorizationPolicy or "
                 "PeerAuthentication (Istio's CRDs not installed), ask discovery again this often "
                 "and watch them once served");
  flags.String("log-level", &log_level, "debug, info, warn or error");
  std::vector<std::string> positional;
  absl::Status parsed = flags.Parse(argc, argv, &positional);
  if (absl::IsCancelled(parsed)) return 0;
  remora::LogLevel level;
  if (!parsed.ok() || !positional.empty() || !remora::ParseLogLevel(log_level, &level)) {
    std::cerr << "remora-control: "
              << (!parsed.ok()          ? std::string(parsed.message())
                  : !positional.empty() ? "unexpected argument " + positional[0]
                                        : "--log-level must be debug, info, warn or error")
              << "\nrun remora-control --help for usage\n";
    return remora::kExitUsage;
  }
  if (o.plugin_ca_chain.empty() != o.plugin_ca_key.empty()) {
    std::cerr << "remora-control: --plugin-ca-cert and --plugin-ca-key go together\n";
    return remora::kExitUsage;
  }
  if (o.kube_discovery_period <= absl::ZeroDuration()) {
    std::cerr << "remora-control: --kube-discovery-period must be positive\n";
    return remora::kExitUsage;
  }
  if (!o.kube_context.empty() && o.kubeconfig.empty()) {
    std::cerr << "remora-control: --kube-context needs --kubeconfig\n";
    return remora::kExitUsage;
  }
  if (own_namespace.empty()) {
    o.namespace_from_cluster = true;
  } else {
    o.own_namespace = own_namespace;
  }
  // In a pod, as client-go's rest.InClusterConfig: the service host the kubelet sets.
  const char* service_host = std::getenv("KUBERNETES_SERVICE_HOST");
  o.in_cluster = o.kubeconfig.empty() && service_host != nullptr && *service_host != '\0';
  remora::SetLogLevel(level);
  try {
    remora::xds::ControlPlane control(o);
    if (absl::Status s = control.Run(); !s.ok()) {
      LOG_ERROR("control", "cannot start: ", s.message());
      return 1;
    }
  } catch (const std::exception& e) {
    LOG_ERROR("control", "fatal: ", e.what());
    return 1;
  }
  return 0;
}
