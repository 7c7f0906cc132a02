#include "kube/cluster_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "certs/keys.h"
#include "certs/pem.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "common/yaml.h"

namespace remora::kube {
namespace {

constexpr size_t kMaxKubeconfigBytes = 1 << 20;

bool IsIpv6(const std::string& host) {
  in6_addr addr;
  return ::inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

absl::Status Prefixed(absl::string_view what, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

// The entry of list `list_name` whose `name` is `name`: its `inner` field ("cluster", "user",
// "context"), with its YAML path.
absl::StatusOr<YamlField> FindNamed(const YamlField& root, absl::string_view list_name,
                                    absl::string_view inner, absl::string_view name,
                                    absl::string_view referrer) {
  const YamlField list = root[list_name];
  if (!list.IsMissing() && !list.IsSequence()) return list.Error("must be a list");
  std::vector<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    const YamlField entry = list.At(i);
    absl::StatusOr<std::string> entry_name = entry["name"].String();
    if (!entry_name.ok()) return entry_name.status();
    if (*entry_name == name) {
      const YamlField body = entry[inner];
      if (!body.IsMissing() && !body.IsMap()) return body.Error("must be a map");
      return body;
    }
    names.push_back(absl::StrCat("\"", *entry_name, "\""));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      list_name.substr(0, list_name.size() - 1), " \"", name, "\"", referrer, " is not in ",
      list_name, " (", names.empty() ? "the list is empty" : absl::StrJoin(names, ", "), ")"));
}

// An optional string field: "" when absent.
absl::StatusOr<std::string> OptionalString(const YamlField& field) {
  if (field.IsMissing()) return std::string();
  return field.String();
}

absl::StatusOr<std::string> OptionalBase64(const YamlField& field) {
  ASSIGN_OR_RETURN(std::string text, OptionalString(field));
  std::string decoded;
  // Go encodes []byte as standard base64; tools wrap long values, so whitespace is dropped first.
  text.erase(std::remove_if(text.begin(), text.end(), absl::ascii_isspace), text.end());
  if (!text.empty() && !absl::Base64Unescape(text, &decoded)) {
    return field.Error("is not valid base64 (it holds the PEM file's content, base64-encoded)");
  }
  return decoded;
}

absl::Status Refuse(const YamlField& field, absl::string_view why) {
  if (field.IsMissing()) return absl::OkStatus();
  return field.Error(why);
}

absl::Status ParseCluster(const YamlField& cluster, KubeconfigContext* out) {
  ASSIGN_OR_RETURN(out->server, cluster["server"].String());
  if (absl::StatusOr<ServerAddress> server = ParseServerUrl(out->server); !server.ok()) {
    return cluster["server"].Error(server.status().message());
  }
  if (!cluster["insecure-skip-tls-verify"].IsMissing()) {
    ASSIGN_OR_RETURN(bool skip, cluster["insecure-skip-tls-verify"].Bool());
    if (skip) {
      return cluster["insecure-skip-tls-verify"].Error(
          "true is refused: the control plane must verify the API server it trusts for "
          "identities and policy; remove it and set certificate-authority or "
          "certificate-authority-data to the cluster's CA");
    }
  }
  RETURN_IF_ERROR(Refuse(cluster["proxy-url"],
                         "HTTP proxies are not supported; reach the API server directly"));
  ASSIGN_OR_RETURN(out->ca_file, OptionalString(cluster["certificate-authority"]));
  ASSIGN_OR_RETURN(out->ca_data, OptionalBase64(cluster["certificate-authority-data"]));
  ASSIGN_OR_RETURN(out->tls_server_name, OptionalString(cluster["tls-server-name"]));
  return absl::OkStatus();
}

absl::Status ParseUser(const YamlField& user, KubeconfigContext* out) {
  constexpr char kUse[] = "; use a token, tokenFile or client certificate instead";
  RETURN_IF_ERROR(
      Refuse(user["exec"], absl::StrCat("exec credential plugins are not supported", kUse)));
  RETURN_IF_ERROR(
      Refuse(user["auth-provider"], absl::StrCat("auth-provider plugins are not supported", kUse)));
  RETURN_IF_ERROR(Refuse(user["username"], absl::StrCat("basic authentication was removed in "
                                                        "Kubernetes 1.19 and is not supported",
                                                        kUse)));
  RETURN_IF_ERROR(Refuse(user["password"], absl::StrCat("basic authentication was removed in "
                                                        "Kubernetes 1.19 and is not supported",
                                                        kUse)));
  for (const char* key : {"as", "as-uid", "as-groups", "as-user-extra"}) {
    RETURN_IF_ERROR(Refuse(user[key],
                           "impersonation is not supported; give the control plane's "
                           "own credentials the permissions it needs"));
  }
  ASSIGN_OR_RETURN(out->token, OptionalString(user["token"]));
  ASSIGN_OR_RETURN(out->token_file, OptionalString(user["tokenFile"]));
  ASSIGN_OR_RETURN(out->client_cert_file, OptionalString(user["client-certificate"]));
  ASSIGN_OR_RETURN(out->client_cert_data, OptionalBase64(user["client-certificate-data"]));
  ASSIGN_OR_RETURN(out->client_key_file, OptionalString(user["client-key"]));
  ASSIGN_OR_RETURN(out->client_key_data, OptionalBase64(user["client-key-data"]));
  const bool has_cert = !out->client_cert_file.empty() || !out->client_cert_data.empty();
  const bool has_key = !out->client_key_file.empty() || !out->client_key_data.empty();
  if (has_cert != has_key) {
    return user.Error(has_cert ? "client-certificate is set without client-key; set both or neither"
                               : "client-key is set without client-certificate; set both or "
                                 "neither");
  }
  if (out->token.empty() && out->token_file.empty() && !has_cert) {
    return user.Error(
        "no credentials: set token, tokenFile, or client-certificate and client-key (the control "
        "plane does not call the API server anonymously)");
  }
  return absl::OkStatus();
}

absl::StatusOr<KubeconfigContext> ParseKubeconfigUnguarded(absl::string_view text,
                                                           absl::string_view what,
                                                           absl::string_view context) {
  ASSIGN_OR_RETURN(std::vector<YamlDocument> docs,
                   LoadYamlDocuments(text, what, kMaxKubeconfigBytes));
  if (docs.empty()) {
    return absl::InvalidArgumentError(
        "the file is empty; expected a kubeconfig (apiVersion: v1, kind: Config)");
  }
  if (docs.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the file holds ", docs.size(), " YAML documents; a kubeconfig is one"));
  }
  const YamlField root(docs[0].root, "");
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        "not a kubeconfig: expected a map with clusters, users and contexts");
  }
  if (!root["kind"].IsMissing()) {
    ASSIGN_OR_RETURN(std::string kind, root["kind"].String());
    if (kind != "Config") {
      return root["kind"].Error(absl::StrCat("\"", kind, "\" is not a kubeconfig (kind: Config)"));
    }
  }
  KubeconfigContext out;
  out.context_name = std::string(context);
  if (out.context_name.empty()) {
    ASSIGN_OR_RETURN(out.context_name, OptionalString(root["current-context"]));
    if (out.context_name.empty()) {
      return absl::InvalidArgumentError(
          "current-context is not set; name a context (remora-control --kube-context=NAME) or "
          "run `kubectl config use-context NAME`");
    }
  }
  ASSIGN_OR_RETURN(YamlField ctx, FindNamed(root, "contexts", "context", out.context_name, ""));
  ASSIGN_OR_RETURN(out.cluster_name, ctx["cluster"].String());
  ASSIGN_OR_RETURN(out.user_name, OptionalString(ctx["user"]));
  ASSIGN_OR_RETURN(out.namespace_name, OptionalString(ctx["namespace"]));
  const std::string referrer = absl::StrCat(" (named by context \"", out.context_name, "\")");
  ASSIGN_OR_RETURN(YamlField cluster,
                   FindNamed(root, "clusters", "cluster", out.cluster_name, referrer));
  out.cluster_path = cluster.path();
  RETURN_IF_ERROR(ParseCluster(cluster, &out));
  if (out.user_name.empty()) {
    return ctx.Error(
        "names no user; the control plane needs credentials (a user with a token, tokenFile or "
        "client certificate)");
  }
  ASSIGN_OR_RETURN(YamlField user, FindNamed(root, "users", "user", out.user_name, referrer));
  out.user_path = user.path();
  RETURN_IF_ERROR(ParseUser(user, &out));
  return out;
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string Resolve(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return absl::StrCat(dir, dir == "/" ? "" : "/", path);
}

// The PEM of `data` when set, else of `file` (read); `field` names them in messages.
absl::StatusOr<std::string> DataOrFile(const std::string& data, const std::string& file,
                                       const std::string& field) {
  if (!data.empty()) return data;
  absl::StatusOr<std::string> text = ReadFile(file);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat(field, ": cannot read ", text.status().message()));
  }
  return text;
}

absl::Status CheckCaBundle(const std::string& pem, const std::string& what) {
  absl::StatusOr<certs::CertChain> certs = certs::ParseCertificates(pem, what);
  return certs.ok() ? absl::OkStatus() : certs.status();
}

}  // namespace

std::string ServerAddress::HostPort() const {
  return IsIpv6(host) ? absl::StrCat("[", host, "]:", port) : absl::StrCat(host, ":", port);
}

std::string ServerAddress::Url() const { return absl::StrCat("https://", HostPort(), base_path); }

absl::StatusOr<ServerAddress> ParseServerUrl(absl::string_view url) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("\"", url, "\" ", why));
  };
  constexpr absl::string_view kScheme = "https://";
  if (url.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(url.substr(0, kScheme.size()), kScheme)) {
    return bad(absl::StrContains(url, "://")
                   ? "is not an https:// URL (plaintext API access is not supported)"
                   : "is not a URL; expected https://HOST[:PORT]");
  }
  absl::string_view rest = url.substr(kScheme.size());
  for (char c : rest) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return bad("holds a space or control character");
    }
  }
  if (absl::StrContains(rest, "?") || absl::StrContains(rest, "#")) {
    return bad("has a query or fragment; expected https://HOST[:PORT][/PATH]");
  }
  const size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  ServerAddress out;
  if (slash != absl::string_view::npos) {
    out.base_path = std::string(rest.substr(slash));
    while (absl::EndsWith(out.base_path, "/")) out.base_path.pop_back();
  }
  if (absl::StrContains(authority, "@")) return bad("has user info; put credentials in users");
  absl::string_view port_text;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return bad("has an unterminated [IPv6] host");
    out.host = std::string(authority.substr(1, close - 1));
    if (!IsIpv6(out.host)) return bad("has a bracketed host that is not an IPv6 address");
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("has text after the ]");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("has an empty port");
    }
  } else {
    const size_t colon = authority.find(':');
    if (colon != absl::string_view::npos &&
        authority.find(':', colon + 1) != absl::string_view::npos) {
      return bad("has an IPv6 host without brackets; write https://[ADDRESS]:PORT");
    }
    out.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return bad("has an empty port");
    }
    for (char c : out.host) {
      if (!absl::ascii_isalnum(c) && c != '-' && c != '.') {
        return bad("has a host that is not a DNS name or IP address");
      }
    }
  }
  if (out.host.empty()) return bad("has no host");
  if (!port_text.empty()) {
    int port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535 ||
        !absl::ascii_isdigit(port_text[0])) {
      return bad("has a port that is not a number from 1 to 65535");
    }
    out.port = static_cast<uint16_t>(port);
  }
  return out;
}

absl::StatusOr<KubeconfigContext> ParseKubeconfig(absl::string_view text, absl::string_view what,
                                                  absl::string_view context) {
  absl::StatusOr<KubeconfigContext> parsed = GuardYaml<KubeconfigContext>(
      what, [&] { return ParseKubeconfigUnguarded(text, what, context); });
  if (!parsed.ok() && !absl::StartsWith(parsed.status().message(), what)) {
    return Prefixed(what, parsed.status());
  }
  return parsed;
}

absl::StatusOr<ClusterConfig> LoadKubeconfig(const std::string& path, absl::string_view context) {
  const std::string what = absl::StrCat("kubeconfig ", path);
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  ASSIGN_OR_RETURN(KubeconfigContext kc, ParseKubeconfig(text, what, context));
  const std::string dir = Dirname(path);
  ClusterConfig out;
  out.server = *ParseServerUrl(kc.server);  // checked by ParseKubeconfig
  out.tls_server_name = kc.tls_server_name;
  out.default_namespace = kc.namespace_name.empty() ? "default" : kc.namespace_name;
  out.source = absl::StrCat(what, " (context \"", kc.context_name, "\")");
  if (!kc.ca_data.empty() || !kc.ca_file.empty()) {
    const std::string field =
        absl::StrCat(what, ": ", kc.cluster_path,
                     kc.ca_data.empty() ? ".certificate-authority" : ".certificate-authority-data");
    ASSIGN_OR_RETURN(out.ca_pem, DataOrFile(kc.ca_data, Resolve(dir, kc.ca_file), field));
    RETURN_IF_ERROR(CheckCaBundle(out.ca_pem, field));
  }
  if (!kc.token_file.empty()) {
    absl::StatusOr<std::shared_ptr<TokenSource>> token =
        TokenSource::FromFile(Resolve(dir, kc.token_file));
    if (!token.ok()) {
      return Prefixed(absl::StrCat(what, ": ", kc.user_path, ".tokenFile"), token.status());
    }
    out.token = std::move(*token);
  } else if (!kc.token.empty()) {
    out.token = TokenSource::Static(kc.token);
  }
  if (!kc.client_cert_data.empty() || !kc.client_cert_file.empty()) {
    const std::string cert_field = absl::StrCat(
        what, ": ", kc.user_path,
        kc.client_cert_data.empty() ? ".client-certificate" : ".client-certificate-data");
    const std::string key_field = absl::StrCat(
        what, ": ", kc.user_path, kc.client_key_data.empty() ? ".client-key" : ".client-key-data");
    ASSIGN_OR_RETURN(
        out.client_cert_pem,
        DataOrFile(kc.client_cert_data, Resolve(dir, kc.client_cert_file), cert_field));
    ASSIGN_OR_RETURN(out.client_key_pem,
                     DataOrFile(kc.client_key_data, Resolve(dir, kc.client_key_file), key_field));
    ASSIGN_OR_RETURN(certs::CertChain chain,
                     certs::ParseCertificates(out.client_cert_pem, cert_field));
    ASSIGN_OR_RETURN(certs::EvpPkeyPtr key, certs::ParsePrivateKey(out.client_key_pem, key_field));
    if (!certs::KeyMatchesCertificate(key.get(), chain[0].get())) {
      return absl::InvalidArgumentError(
          absl::StrCat(key_field, ": the key does not belong to the client certificate"));
    }
  }
  return out;
}

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<ClusterConfig> InClusterConfig(const EnvLookup& getenv, const std::string& root) {
  const std::optional<std::string> host = getenv("KUBERNETES_SERVICE_HOST");
  const std::optional<std::string> port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port || host->empty() || port->empty()) {
    return absl::FailedPreconditionError(
        "in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both "
        "be set (the kubelet sets them in every pod); outside a cluster, pass --kubeconfig");
  }
  const std::string url =
      absl::StrCat("https://", IsIpv6(*host) ? absl::StrCat("[", *host, "]") : *host, ":", *port);
  absl::StatusOr<ServerAddress> server = ParseServerUrl(url);
  if (!server.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("in-cluster configuration: KUBERNETES_SERVICE_HOST=", *host,
                     " KUBERNETES_SERVICE_PORT=", *port, ": ", server.status().message()));
  }
  const std::string dir = absl::StrCat(root == "/" ? "" : root, kServiceAccountDir);
  ClusterConfig out;
  out.server = *server;
  out.source = absl::StrCat("in-cluster configuration (", server->Url(), ")");
  const std::string hint =
      " (is automountServiceAccountToken false for this pod, or the volume not mounted?)";
  absl::StatusOr<std::string> ca = ReadFile(dir + "/ca.crt");
  if (!ca.ok()) {
    return absl::Status(ca.status().code(),
                        absl::StrCat("in-cluster configuration: cannot read the cluster CA: ",
                                     ca.status().message(), hint));
  }
  out.ca_pem = std::move(*ca);
  RETURN_IF_ERROR(
      CheckCaBundle(out.ca_pem, absl::StrCat("in-cluster configuration: ", dir, "/ca.crt")));
  absl::StatusOr<std::shared_ptr<TokenSource>> token = TokenSource::FromFile(dir + "/token");
  if (!token.ok()) {
    return absl::Status(token.status().code(),
                        absl::StrCat("in-cluster configuration: ", token.status().message(), hint));
  }
  out.token = std::move(*token);
  // client-go's inClusterClientConfig.Namespace: POD_NAMESPACE, then the file, then "default".
  if (std::optional<std::string> ns = getenv("POD_NAMESPACE"); ns && !ns->empty()) {
    out.default_namespace = *ns;
  } else if (absl::StatusOr<std::string> file = ReadFile(dir + "/namespace"); file.ok()) {
    std::string trimmed(absl::StripAsciiWhitespace(*file));
    if (!trimmed.empty()) out.default_namespace = std::move(trimmed);
  }
  return out;
}

}  // namespace remora::kube
