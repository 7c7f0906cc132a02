// The webhook over real HTTPS on loopback: a TLS client that verifies the serving certificate's
// DNS name as the API server does, AdmissionReview in, AdmissionReview out; limits, wrong
// requests, and certificate rotation.
#include "inject/webhook_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <future>
#include <thread>

#include "absl/strings/escaping.h"
#include "certs/cert_builder.h"
#include "certs/cert_info.h"
#include "certs/pem.h"
#include "certs/testing/test_pki.h"
#include "common/file.h"
#include "inject/pod_json.h"
#include "tests/support/process.h"

namespace remora::inject {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using ::testing::HasSubstr;

// The name the API server dials: the webhook Service's DNS name.
constexpr char kHost[] = "remora-control.remora-system.svc";

struct HttpsResult {
  int status = 0;
  std::string body;
  std::string allow;
  std::string tls_version;
  std::string serial;
  std::string error;  // non-empty when the connection or the exchange failed
};

struct ClientOptions {
  int min_version = 0;
  int max_version = 0;
  std::string content_type = "application/json";
  bhttp::verb method = bhttp::verb::post;
};

HttpsResult Exchange(const tcp::endpoint& server, const std::string& bundle_pem,
                     const std::string& target, const std::string& body,
                     const ClientOptions& options = {}) {
  HttpsResult result;
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX* native = ctx.native_handle();
  absl::StatusOr<certs::CertChain> roots = certs::ParseCertificates(bundle_pem, "bundle");
  if (!roots.ok()) {
    result.error = std::string(roots.status().message());
    return result;
  }
  for (auto& root : *roots) X509_STORE_add_cert(SSL_CTX_get_cert_store(native), root.get());
  if (options.min_version != 0) SSL_CTX_set_min_proto_version(native, options.min_version);
  if (options.max_version != 0) {
    SSL_CTX_set_max_proto_version(native, options.max_version);
    if (options.max_version < TLS1_2_VERSION) {
      // Let this client offer old versions at all, to show that the server is what refuses.
      SSL_CTX_set_security_level(native, 0);
      SSL_CTX_set_cipher_list(native, "DEFAULT:@SECLEVEL=0");
    }
  }
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  SSL_set_tlsext_host_name(stream.native_handle(), kHost);
  stream.set_verify_callback(ssl::host_name_verification(kHost));
  error_code ec;
  beast::get_lowest_layer(stream).socket().connect(server, ec);
  if (ec) {
    result.error = "connect: " + ec.message();
    return result;
  }
  timeval timeout{10, 0};
  int fd = beast::get_lowest_layer(stream).socket().native_handle();
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) {
    result.error = "handshake: " + ec.message();
    return result;
  }
  result.tls_version = SSL_get_version(stream.native_handle());
  if (X509* peer = SSL_get0_peer_certificate(stream.native_handle())) {
    result.serial = certs::DescribeCertificate(peer).serial_hex;
  }
  bhttp::request<bhttp::string_body> request{options.method, target, 11};
  request.set(bhttp::field::host, kHost);
  if (!options.content_type.empty()) request.set(bhttp::field::content_type, options.content_type);
  request.body() = body;
  request.prepare_payload();
  bhttp::write(stream, request, ec);
  if (ec) {
    result.error = "write: " + ec.message();
    return result;
  }
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> response;
  bhttp::read(stream, buffer, response, ec);
  if (ec) {
    result.error = "read: " + ec.message();
    return result;
  }
  result.status = response.result_int();
  result.body = response.body();
  result.allow = std::string(response[bhttp::field::allow]);
  return result;
}

std::string Fixture() {
  absl::StatusOr<std::string> text =
      ReadFile(remora::testing::Runfile("inject/testdata/reviews/replicaset_pod.json"));
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

class WebhookServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = remora::testing::TestDir("webhook");
    WriteServing(dir_, "serving");
    files_ = {dir_ + "/serving.crt", dir_ + "/serving.key"};
  }

  void TearDown() override { StopServer(); }

  // A serving certificate for the webhook Service's name, from the test root.
  certs::testing::WrittenFiles WriteServing(const std::string& dir, const std::string& name) {
    certs::CertBuilder builder;
    builder.Subject("remora", kHost).AddDnsSan(kHost).AddDnsSan("localhost");
    certs::testing::Workload w = certs::testing::MakeCustom(ca_, builder);
    serials_.push_back(certs::DescribeCertificate(w.chain[0].get()).serial_hex);
    return certs::testing::WriteFiles(dir, name, w, bundle_);
  }

  absl::Status StartServer(WebhookServerOptions options = {}) {
    options.listen = tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
    options.cert_file = files_.first;
    options.key_file = files_.second;
    if (options.cert_poll_interval == absl::Seconds(10)) {
      options.cert_poll_interval = absl::ZeroDuration();
    }
    absl::StatusOr<std::unique_ptr<WebhookServer>> server =
        WebhookServer::Create(io_, options, InjectorSettings{});
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    if (absl::Status s = server_->Start(); !s.ok()) return s;
    thread_ = std::thread([this] { io_.run(); });
    return absl::OkStatus();
  }

  void StopServer() {
    if (!thread_.joinable()) return;
    (void)RunOnIo([this] {
      server_->Stop();
      return absl::OkStatus();
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // Runs `f` on the server's io_context thread and waits for its result.
  absl::Status RunOnIo(std::function<absl::Status()> f) {
    std::promise<absl::Status> done;
    asio::post(io_, [&] { done.set_value(f()); });
    return done.get_future().get();
  }

  HttpsResult Post(const std::string& target, const std::string& body,
                   const ClientOptions& options = {}) {
    return Exchange(server_->bound(), bundle_, target, body, options);
  }

  certs::Authority ca_ = certs::testing::MakeRoot();
  std::string bundle_ = certs::ToPem(ca_.anchor());
  std::string dir_;
  std::pair<std::string, std::string> files_;
  std::vector<std::string> serials_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<WebhookServer> server_;
  std::thread thread_;
};

TEST_F(WebhookServerTest, AnswersAnAdmissionReviewOverTls13AndTls12) {
  ASSERT_TRUE(StartServer().ok());
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    ClientOptions options;
    options.min_version = version;
    options.max_version = version;
    // The API server adds ?timeout=... to the configured path.
    HttpsResult r = Post("/inject?timeout=10s", Fixture(), options);
    ASSERT_EQ(r.error, "") << version;
    EXPECT_EQ(r.tls_version, version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2");
    EXPECT_EQ(r.serial, serials_[0]);
    ASSERT_EQ(r.status, 200) << r.body;
    Json review = Json::parse(r.body);
    EXPECT_EQ(review["apiVersion"], "admission.k8s.io/v1");
    EXPECT_EQ(review["kind"], "AdmissionReview");
    EXPECT_EQ(review["response"]["uid"], "3b7d2f0e-51c4-4f7b-9a3e-8c1d0e6f2a91");
    EXPECT_EQ(review["response"]["allowed"], true);
    EXPECT_EQ(review["response"]["patchType"], "JSONPatch");
    std::string patch;
    ASSERT_TRUE(absl::Base64Unescape(review["response"]["patch"].get<std::string>(), &patch));
    EXPECT_THAT(patch, HasSubstr("\"name\":\"remora-proxy\""));
  }
}

TEST_F(WebhookServerTest, RefusesTlsOlderThan12) {
  ASSERT_TRUE(StartServer().ok());
  ClientOptions options;
  options.min_version = TLS1_VERSION;
  options.max_version = TLS1_1_VERSION;
  HttpsResult r = Post("/inject", Fixture(), options);
  EXPECT_THAT(r.error, HasSubstr("handshake"));
}

TEST_F(WebhookServerTest, WrongPathMethodOrContentTypeAreRefused) {
  ASSERT_TRUE(StartServer().ok());
  HttpsResult r = Post("/mutate", Fixture());
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("serves POST /inject"));

  ClientOptions get;
  get.method = bhttp::verb::get;
  r = Post("/inject", "", get);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.allow, "POST");

  ClientOptions yaml;
  yaml.content_type = "application/yaml";
  r = Post("/inject", Fixture(), yaml);
  EXPECT_EQ(r.status, 415);
  EXPECT_THAT(r.body, HasSubstr("send an AdmissionReview as application/json"));

  ClientOptions charset;
  charset.content_type = "application/json; charset=utf-8";
  EXPECT_EQ(Post("/inject", Fixture(), charset).status, 200);

  r = Post("/inject", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("request body is not JSON"));
}

TEST_F(WebhookServerTest, BodyOverTheLimitGets413) {
  WebhookServerOptions options;
  options.max_body_bytes = 1024;
  ASSERT_TRUE(StartServer(options).ok());
  HttpsResult r = Post("/inject", Fixture());
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("limit 1024 bytes"));
  // The server is still serving.
  EXPECT_EQ(Post("/inject", "{}").status, 400);
}

TEST_F(WebhookServerTest, ReloadedCertificateServesNewConnections) {
  ASSERT_TRUE(StartServer().ok());
  EXPECT_EQ(Post("/inject", Fixture()).serial, serials_[0]);

  // A broken pair (key of another certificate) is refused and the current one stays.
  const std::string other = remora::testing::TestDir("webhook-other");
  certs::testing::WrittenFiles next = WriteServing(other, "next");
  remora::testing::WriteFileOrDie(files_.first, remora::testing::ReadFileOrEmpty(next.cert));
  absl::Status reload = RunOnIo([this] { return server_->ReloadCertificate(); });
  EXPECT_EQ(reload.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reload.message(), HasSubstr("the key does not belong to the certificate"));
  EXPECT_EQ(Post("/inject", Fixture()).serial, serials_[0]);

  // With the matching key the new certificate applies.
  remora::testing::WriteFileOrDie(files_.second, remora::testing::ReadFileOrEmpty(next.key));
  reload = RunOnIo([this] { return server_->ReloadCertificate(); });
  ASSERT_TRUE(reload.ok()) << reload;
  HttpsResult r = Post("/inject", Fixture());
  EXPECT_EQ(r.serial, serials_[1]);
  EXPECT_EQ(r.status, 200);
}

TEST_F(WebhookServerTest, ChangedFilesArePickedUpByPolling) {
  WebhookServerOptions options;
  options.cert_poll_interval = absl::Milliseconds(50);
  ASSERT_TRUE(StartServer(options).ok());
  EXPECT_EQ(Post("/inject", Fixture()).serial, serials_[0]);
  const std::string other = remora::testing::TestDir("webhook-poll");
  certs::testing::WrittenFiles next = WriteServing(other, "next");
  // Key first: in between, the pair does not match and the old certificate stays in use.
  remora::testing::WriteFileOrDie(files_.second, remora::testing::ReadFileOrEmpty(next.key));
  remora::testing::WriteFileOrDie(files_.first, remora::testing::ReadFileOrEmpty(next.cert));
  EXPECT_TRUE(remora::testing::WaitFor(
      absl::Seconds(10), [&] { return Post("/inject", Fixture()).serial == serials_[1]; }));
}

TEST_F(WebhookServerTest, CreateExplainsBadCertificateFiles) {
  WebhookServerOptions options;
  options.cert_file = dir_ + "/missing.crt";
  options.key_file = files_.second;
  absl::StatusOr<std::unique_ptr<WebhookServer>> s =
      WebhookServer::Create(io_, options, InjectorSettings{});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr(dir_ + "/missing.crt"));

  remora::testing::WriteFileOrDie(dir_ + "/garbage.crt", "not a certificate\n");
  options.cert_file = dir_ + "/garbage.crt";
  s = WebhookServer::Create(io_, options, InjectorSettings{});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("webhook certificate " + dir_ + "/garbage.crt"));

  options.cert_file = "";
  s = WebhookServer::Create(io_, options, InjectorSettings{});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("needs a serving certificate and key"));
}

}  // namespace
}  // namespace remora::inject
