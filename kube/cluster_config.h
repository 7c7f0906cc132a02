// How to reach a Kubernetes API server and who to be there: from a kubeconfig file (kubectl's
// format, one context of it) or from inside a pod (the ServiceAccount files the kubelet mounts).
//
// Only what a long-running control plane should use is accepted: HTTPS with the server verified
// against a CA, a bearer token (static or a file that rotates) or a client certificate. Settings
// that weaken that or need code we do not run (insecure-skip-tls-verify, exec and auth-provider
// plugins, basic auth, impersonation, proxies) are refused with a message that says what to use
// instead, never silently ignored.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/token_source.h"

namespace remora::kube {

// An https:// server URL, split. IPv6 hosts are kept without brackets.
struct ServerAddress {
  std::string host;  // DNS name or IP literal
  uint16_t port = 443;
  std::string base_path;  // "" or "/prefix" (API paths are appended to it)

  // "host:port" for the Host header and messages ("[::1]:6443" for IPv6).
  std::string HostPort() const;
  std::string Url() const;  // "https://host:port/prefix"
};

// Parses "https://host[:port][/path]". Refuses other schemes, user info, queries and fragments.
absl::StatusOr<ServerAddress> ParseServerUrl(absl::string_view url);

struct ClusterConfig {
  ServerAddress server;
  // PEM of the CA bundle that signs the server's certificate. Empty: the system's trust store.
  std::string ca_pem;
  // Name to verify in (and send as SNI for) the server's certificate instead of server.host
  // (kubeconfig `tls-server-name`).
  std::string tls_server_name;
  // Bearer token; null when the client authenticates with a certificate only.
  std::shared_ptr<TokenSource> token;
  // Client certificate chain and key (PEM), both or neither.
  std::string client_cert_pem;
  std::string client_key_pem;
  // The context's namespace (in cluster: the pod's); "default" when none is set.
  std::string default_namespace = "default";
  // Where this came from, for messages: `kubeconfig /etc/kc (context "prod")`, `in-cluster`.
  std::string source;
};

// ---- kubeconfig -----------------------------------------------------------------------------

// What one context of a kubeconfig says, before any referenced file is read. File paths are as
// written (relative ones are resolved against the kubeconfig's folder by LoadKubeconfig).
struct KubeconfigContext {
  std::string context_name, cluster_name, user_name;
  std::string server;
  std::string ca_file, ca_data;  // ca_data: decoded PEM
  std::string tls_server_name;
  std::string token, token_file;
  std::string client_cert_file, client_cert_data;
  std::string client_key_file, client_key_data;
  std::string namespace_name;  // empty when the context sets none
  // YAML paths of the fields above, for messages ("clusters[0].cluster.certificate-authority").
  std::string cluster_path, user_path;
};

// Parses kubeconfig `text` and selects `context` (empty: its current-context). A pure function of
// untrusted text: every refusal names `what` and the field path. kubectl's precedence rules apply
// (certificate-authority-data over certificate-authority; tokenFile over token, as client-go's
// transport does).
absl::StatusOr<KubeconfigContext> ParseKubeconfig(absl::string_view text, absl::string_view what,
                                                  absl::string_view context = "");

// Reads the kubeconfig at `path`, selects `context` (empty: current-context) and reads the files
// it names (CA, token file, client certificate and key), checking each.
absl::StatusOr<ClusterConfig> LoadKubeconfig(const std::string& path,
                                             absl::string_view context = "");

// ---- in cluster -----------------------------------------------------------------------------

// Where a pod's ServiceAccount credentials are mounted (under `root`, "/" in production).
inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// The configuration of a pod talking to its own cluster, as client-go's rest.InClusterConfig:
// the server from KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, the CA from ca.crt, the
// token from the rotating `token` file and the namespace from POD_NAMESPACE or the `namespace`
// file. `getenv` and `root` are injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
absl::StatusOr<ClusterConfig> InClusterConfig(const EnvLookup& getenv,
                                              const std::string& root = "/");
// The process environment, for InClusterConfig.
std::optional<std::string> ProcessEnv(const std::string& name);

}  // namespace remora::kube
