// Kubeconfig and in-cluster configuration: what is read, kubectl's precedence rules, and one test
// per refusal with the exact message a user sees.
#include "kube/cluster_config.h"

#include <sys/stat.h>

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "certs/pem.h"
#include "certs/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace remora::kube {
namespace {

using remora::testing::TestDir;
using remora::testing::WriteFileOrDie;
using ::testing::HasSubstr;

std::string CaPem() {
  static const std::string pem = certs::ToPem(certs::testing::MakeRoot().cert());
  return pem;
}

// A kubeconfig like kubectl writes, with $CA_DATA replaced by the test CA.
constexpr char kKubeconfig[] = R"(apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: $CA_DATA
users:
- name: admin
  user:
    token: secret-token
contexts:
- name: fake
  context:
    cluster: fake
    user: admin
    namespace: shop
- name: other
  context:
    cluster: fake
    user: admin
current-context: fake
)";

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = TestDir(absl::StrCat("kc-", info->name()));
  }
  // Writes `text` (with $CA_DATA filled in) as the kubeconfig and loads it.
  absl::StatusOr<ClusterConfig> Load(const std::string& text, absl::string_view context = "") {
    WriteFileOrDie(Path(), absl::StrReplaceAll(text, {{"$CA_DATA", absl::Base64Escape(CaPem())}}));
    return LoadKubeconfig(Path(), context);
  }
  // The kubeconfig above with `from` replaced by `to`.
  absl::StatusOr<ClusterConfig> LoadEdited(absl::string_view from, absl::string_view to) {
    std::string text = kKubeconfig;
    EXPECT_NE(text.find(std::string(from)), std::string::npos) << from;
    return Load(absl::StrReplaceAll(text, {{from, to}}));
  }
  std::string Error(const absl::StatusOr<ClusterConfig>& config) {
    EXPECT_FALSE(config.ok());
    return config.ok() ? "" : std::string(config.status().message());
  }
  std::string Path() const { return dir_ + "/kubeconfig"; }
  std::string What() const { return absl::StrCat("kubeconfig ", Path(), ": "); }

  std::string dir_;
};

TEST_F(KubeconfigTest, LoadsServerCaTokenAndNamespaceOfTheCurrentContext) {
  auto config = Load(kKubeconfig);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.host, "127.0.0.1");
  EXPECT_EQ(config->server.port, 6443);
  EXPECT_EQ(config->server.Url(), "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, CaPem());
  ASSERT_NE(config->token, nullptr);
  EXPECT_EQ(config->token->Token(), "secret-token");
  EXPECT_EQ(config->default_namespace, "shop");
  EXPECT_EQ(config->source, absl::StrCat("kubeconfig ", Path(), " (context \"fake\")"));
}

TEST_F(KubeconfigTest, ANamedContextWinsOverTheCurrentOne) {
  auto config = Load(kKubeconfig, "other");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->default_namespace, "default");
  EXPECT_THAT(config->source, HasSubstr("(context \"other\")"));
}

TEST_F(KubeconfigTest, ResolvesRelativeFilesAgainstTheKubeconfigFolder) {
  WriteFileOrDie(dir_ + "/ca.crt", CaPem());
  WriteFileOrDie(dir_ + "/token", "file-token\n");
  auto config = LoadEdited("certificate-authority-data: $CA_DATA", "certificate-authority: ca.crt");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, CaPem());
  config = LoadEdited("token: secret-token", "tokenFile: token");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->token->Token(), "file-token");
  EXPECT_EQ(config->token->path(), dir_ + "/token");
}

TEST_F(KubeconfigTest, CertificateAuthorityDataWinsOverTheFile) {
  auto config = LoadEdited("certificate-authority-data: $CA_DATA",
                           "certificate-authority-data: $CA_DATA\n"
                           "    certificate-authority: /nonexistent/ca.crt");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, CaPem());
}

TEST_F(KubeconfigTest, TokenFileWinsOverTokenAsInClientGo) {
  WriteFileOrDie(dir_ + "/token", "rotating-token");
  auto config = LoadEdited("token: secret-token", "token: secret-token\n    tokenFile: token");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->token->Token(), "rotating-token");
}

TEST_F(KubeconfigTest, LoadsAClientCertificateAndKey) {
  const certs::Authority ca = certs::testing::MakeRoot();
  const certs::testing::Workload client = certs::testing::MakeWorkload(ca, "kube-system", "admin");
  const std::string cert = certs::ToPem(client.chain);
  const std::string key = certs::PrivateKeyToPem(client.key.get());
  auto config = LoadEdited("token: secret-token",
                           absl::StrCat("client-certificate-data: ", absl::Base64Escape(cert),
                                        "\n    client-key-data: ", absl::Base64Escape(key)));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->client_cert_pem, cert);
  EXPECT_EQ(config->client_key_pem, key);
  EXPECT_EQ(config->token, nullptr);
}

TEST_F(KubeconfigTest, TakesTheServerNameToVerify) {
  auto config = LoadEdited("server: https://127.0.0.1:6443",
                           "server: https://[::1]/k8s/clusters/c-1/\n"
                           "    tls-server-name: kubernetes.default.svc");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.host, "::1");
  EXPECT_EQ(config->server.port, 443);
  EXPECT_EQ(config->server.base_path, "/k8s/clusters/c-1");
  EXPECT_EQ(config->server.HostPort(), "[::1]:443");
  EXPECT_EQ(config->tls_server_name, "kubernetes.default.svc");
}

// ---- refusals, one per rule -------------------------------------------------------------------

TEST_F(KubeconfigTest, RefusesAMissingFile) {
  auto config = LoadKubeconfig(dir_ + "/absent");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr(dir_ + "/absent"));
}

TEST_F(KubeconfigTest, RefusesAnEmptyFile) {
  EXPECT_EQ(Error(Load("")),
            What() + "the file is empty; expected a kubeconfig (apiVersion: v1, kind: Config)");
}

TEST_F(KubeconfigTest, RefusesSeveralDocuments) {
  EXPECT_EQ(Error(Load(absl::StrCat(kKubeconfig, "---\n", kKubeconfig))),
            What() + "the file holds 2 YAML documents; a kubeconfig is one");
}

TEST_F(KubeconfigTest, RefusesAYamlSyntaxErrorNamingTheLine) {
  EXPECT_THAT(Error(Load("apiVersion: v1\nclusters: [\n")),
              HasSubstr(What() + "YAML syntax error at line"));
}

TEST_F(KubeconfigTest, RefusesADocumentThatIsNotAMap) {
  EXPECT_EQ(Error(Load("- a\n- b\n")),
            What() + "not a kubeconfig: expected a map with clusters, users and contexts");
}

TEST_F(KubeconfigTest, RefusesAnotherKind) {
  EXPECT_EQ(Error(LoadEdited("kind: Config", "kind: Pod")),
            What() + "kind: \"Pod\" is not a kubeconfig (kind: Config)");
}

TEST_F(KubeconfigTest, RefusesAFileWithoutCurrentContext) {
  EXPECT_EQ(Error(LoadEdited("current-context: fake", "")),
            What() +
                "current-context is not set; name a context (remora-control "
                "--kube-context=NAME) or run `kubectl config use-context NAME`");
}

TEST_F(KubeconfigTest, RefusesAnUnknownContext) {
  EXPECT_EQ(Error(Load(kKubeconfig, "prod")),
            What() + "context \"prod\" is not in contexts (\"fake\", \"other\")");
}

TEST_F(KubeconfigTest, RefusesAContextWithoutCluster) {
  EXPECT_EQ(Error(LoadEdited("    cluster: fake\n    user: admin\n    namespace: shop",
                             "    user: admin")),
            What() + "contexts[0].context.cluster: is required");
}

TEST_F(KubeconfigTest, RefusesAnUnknownCluster) {
  EXPECT_EQ(Error(LoadEdited("- name: fake\n  cluster:", "- name: staging\n  cluster:")),
            What() +
                "cluster \"fake\" (named by context \"fake\") is not in clusters "
                "(\"staging\")");
}

TEST_F(KubeconfigTest, RefusesAClusterWithoutServer) {
  EXPECT_EQ(Error(LoadEdited("    server: https://127.0.0.1:6443\n", "")),
            What() + "clusters[0].cluster.server: is required");
}

TEST_F(KubeconfigTest, RefusesAPlaintextServer) {
  EXPECT_EQ(Error(LoadEdited("https://127.0.0.1:6443", "http://127.0.0.1:8080")),
            What() +
                "clusters[0].cluster.server: \"http://127.0.0.1:8080\" is not an https:// "
                "URL (plaintext API access is not supported)");
}

TEST_F(KubeconfigTest, RefusesInsecureSkipTlsVerify) {
  EXPECT_EQ(Error(LoadEdited("    certificate-authority-data: $CA_DATA",
                             "    insecure-skip-tls-verify: true")),
            What() +
                "clusters[0].cluster.insecure-skip-tls-verify: true is refused: the control "
                "plane must verify the API server it trusts for identities and policy; "
                "remove it and set certificate-authority or certificate-authority-data to "
                "the cluster's CA");
}

TEST_F(KubeconfigTest, RefusesAProxyUrl) {
  EXPECT_EQ(Error(LoadEdited("    certificate-authority-data: $CA_DATA",
                             "    certificate-authority-data: $CA_DATA\n"
                             "    proxy-url: http://proxy:3128")),
            What() +
                "clusters[0].cluster.proxy-url: HTTP proxies are not supported; reach the "
                "API server directly");
}

TEST_F(KubeconfigTest, RefusesCaDataThatIsNotBase64) {
  EXPECT_EQ(Error(LoadEdited("certificate-authority-data: $CA_DATA",
                             "certificate-authority-data: \"not base64!\"")),
            What() +
                "clusters[0].cluster.certificate-authority-data: is not valid base64 (it "
                "holds the PEM file's content, base64-encoded)");
}

TEST_F(KubeconfigTest, RefusesCaDataThatIsNotACertificate) {
  EXPECT_THAT(
      Error(LoadEdited("certificate-authority-data: $CA_DATA",
                       absl::StrCat("certificate-authority-data: ", absl::Base64Escape("hello")))),
      HasSubstr(What() + "clusters[0].cluster.certificate-authority-data"));
}

TEST_F(KubeconfigTest, RefusesAnUnreadableCaFile) {
  auto config =
      LoadEdited("certificate-authority-data: $CA_DATA", "certificate-authority: missing-ca.crt");
  EXPECT_THAT(Error(config), HasSubstr(What() + "clusters[0].cluster.certificate-authority: "
                                                "cannot read "));
  EXPECT_THAT(Error(config), HasSubstr(dir_ + "/missing-ca.crt"));
}

TEST_F(KubeconfigTest, RefusesAContextWithoutUser) {
  EXPECT_EQ(Error(LoadEdited("    cluster: fake\n    user: admin\n    namespace: shop",
                             "    cluster: fake")),
            What() +
                "contexts[0].context: names no user; the control plane needs credentials "
                "(a user with a token, tokenFile or client certificate)");
}

TEST_F(KubeconfigTest, RefusesAnUnknownUser) {
  EXPECT_EQ(Error(LoadEdited("- name: admin\n  user:", "- name: root\n  user:")),
            What() + "user \"admin\" (named by context \"fake\") is not in users (\"root\")");
}

TEST_F(KubeconfigTest, RefusesExecPlugins) {
  EXPECT_EQ(Error(LoadEdited("    token: secret-token",
                             "    exec: {apiVersion: client.authentication.k8s.io/v1, "
                             "command: aws}")),
            What() +
                "users[0].user.exec: exec credential plugins are not supported; use a "
                "token, tokenFile or client certificate instead");
}

TEST_F(KubeconfigTest, RefusesAuthProviderPlugins) {
  EXPECT_EQ(Error(LoadEdited("    token: secret-token", "    auth-provider: {name: gcp}")),
            What() +
                "users[0].user.auth-provider: auth-provider plugins are not supported; use "
                "a token, tokenFile or client certificate instead");
}

TEST_F(KubeconfigTest, RefusesBasicAuthentication) {
  EXPECT_EQ(Error(LoadEdited("    token: secret-token", "    username: admin\n    password: x")),
            What() +
                "users[0].user.username: basic authentication was removed in Kubernetes "
                "1.19 and is not supported; use a token, tokenFile or client certificate "
                "instead");
}

TEST_F(KubeconfigTest, RefusesImpersonation) {
  EXPECT_EQ(Error(LoadEdited("    token: secret-token", "    token: secret-token\n    as: bob")),
            What() +
                "users[0].user.as: impersonation is not supported; give the control plane's "
                "own credentials the permissions it needs");
}

TEST_F(KubeconfigTest, RefusesAClientCertificateWithoutKey) {
  EXPECT_EQ(Error(LoadEdited("    token: secret-token", "    client-certificate: c.crt")),
            What() +
                "users[0].user: client-certificate is set without client-key; set both or "
                "neither");
}

TEST_F(KubeconfigTest, RefusesAClientKeyOfAnotherCertificate) {
  const certs::Authority ca = certs::testing::MakeRoot();
  const certs::testing::Workload a = certs::testing::MakeWorkload(ca, "x", "a");
  const certs::testing::Workload b = certs::testing::MakeWorkload(ca, "x", "b");
  EXPECT_EQ(
      Error(LoadEdited(
          "    token: secret-token",
          absl::StrCat(
              "    client-certificate-data: ", absl::Base64Escape(certs::ToPem(a.chain)),
              "\n    client-key-data: ", absl::Base64Escape(certs::PrivateKeyToPem(b.key.get()))))),
      What() +
          "users[0].user.client-key-data: the key does not belong to the client "
          "certificate");
}

TEST_F(KubeconfigTest, RefusesAUserWithoutCredentials) {
  EXPECT_EQ(Error(LoadEdited("    token: secret-token", "    {}")),
            What() +
                "users[0].user: no credentials: set token, tokenFile, or client-certificate "
                "and client-key (the control plane does not call the API server "
                "anonymously)");
}

TEST_F(KubeconfigTest, RefusesAnEmptyTokenFile) {
  WriteFileOrDie(dir_ + "/token", "\n");
  EXPECT_EQ(Error(LoadEdited("token: secret-token", "tokenFile: token")),
            What() + "users[0].user.tokenFile: token file " + dir_ +
                "/token is empty; it should hold one bearer token");
}

// ---- server URLs --------------------------------------------------------------------------------

TEST(ParseServerUrlTest, SplitsHostPortAndPath) {
  auto a = ParseServerUrl("HTTPS://api.example.com");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->HostPort(), "api.example.com:443");
  auto b = ParseServerUrl("https://[fd00::1]:6443/");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->host, "fd00::1");
  EXPECT_EQ(b->Url(), "https://[fd00::1]:6443");
}

TEST(ParseServerUrlTest, RefusesWhatIsNotAPlainHttpsUrl) {
  const std::map<std::string, std::string> cases = {
      {"api:6443", "\"api:6443\" is not a URL; expected https://HOST[:PORT]"},
      {"https://user:pw@api", "\"https://user:pw@api\" has user info; put credentials in users"},
      {"https://api/?x=1",
       "\"https://api/?x=1\" has a query or fragment; expected https://HOST[:PORT][/PATH]"},
      {"https://fd00::1:6443",
       "\"https://fd00::1:6443\" has an IPv6 host without brackets; write "
       "https://[ADDRESS]:PORT"},
      {"https://api:0", "\"https://api:0\" has a port that is not a number from 1 to 65535"},
      {"https://api:+1", "\"https://api:+1\" has a port that is not a number from 1 to 65535"},
      {"https://a pi", "\"https://a pi\" holds a space or control character"},
      {"https://", "\"https://\" has no host"},
      {"https://[::1", "\"https://[::1\" has an unterminated [IPv6] host"},
      {"https://a_b", "\"https://a_b\" has a host that is not a DNS name or IP address"},
  };
  for (const auto& [url, message] : cases) {
    auto parsed = ParseServerUrl(url);
    ASSERT_FALSE(parsed.ok()) << url;
    EXPECT_EQ(parsed.status().message(), message);
  }
}

// ---- in cluster ---------------------------------------------------------------------------------

class InClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = TestDir(absl::StrCat("incluster-", info->name()));
    std::string dir = root_;
    for (const char* part : {"/var", "/run", "/secrets", "/kubernetes.io", "/serviceaccount"}) {
      dir += part;
      ::mkdir(dir.c_str(), 0755);
    }
    sa_dir_ = dir;
    WriteFileOrDie(sa_dir_ + "/ca.crt", CaPem());
    WriteFileOrDie(sa_dir_ + "/token", "pod-token");
    WriteFileOrDie(sa_dir_ + "/namespace", "remora-system");
    env_ = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
  }
  EnvLookup Env() {
    return [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }
  std::string root_, sa_dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(InClusterTest, ReadsTheServiceAccountFiles) {
  auto config = InClusterConfig(Env(), root_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.Url(), "https://10.96.0.1:443");
  EXPECT_EQ(config->ca_pem, CaPem());
  EXPECT_EQ(config->token->Token(), "pod-token");
  EXPECT_EQ(config->token->path(), sa_dir_ + "/token");
  EXPECT_EQ(config->default_namespace, "remora-system");
  EXPECT_EQ(config->source, "in-cluster configuration (https://10.96.0.1:443)");
}

TEST_F(InClusterTest, PodNamespaceEnvironmentWinsAndIpv6HostsGetBrackets) {
  env_["POD_NAMESPACE"] = "mesh";
  env_["KUBERNETES_SERVICE_HOST"] = "fd00:10:96::1";
  auto config = InClusterConfig(Env(), root_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->default_namespace, "mesh");
  EXPECT_EQ(config->server.Url(), "https://[fd00:10:96::1]:443");
}

TEST_F(InClusterTest, RefusesWithoutTheServiceEnvironment) {
  env_.erase("KUBERNETES_SERVICE_PORT");
  auto config = InClusterConfig(Env(), root_);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(config.status().message(),
            "in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must "
            "both be set (the kubelet sets them in every pod); outside a cluster, pass "
            "--kubeconfig");
}

TEST_F(InClusterTest, RefusesAMissingTokenSayingWhy) {
  ASSERT_EQ(::unlink((sa_dir_ + "/token").c_str()), 0);
  auto config = InClusterConfig(Env(), root_);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              HasSubstr(absl::StrCat("in-cluster configuration: token file ", sa_dir_,
                                     "/token: No such file or directory (is "
                                     "automountServiceAccountToken false for this pod")));
}

TEST_F(InClusterTest, RefusesACaThatIsNotPem) {
  WriteFileOrDie(sa_dir_ + "/ca.crt", "garbage");
  auto config = InClusterConfig(Env(), root_);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              HasSubstr(absl::StrCat("in-cluster configuration: ", sa_dir_, "/ca.crt")));
}

}  // namespace
}  // namespace remora::kube
