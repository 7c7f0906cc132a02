// tls_handshake_loop: the ceiling for connection churn. Full mutual-TLS handshakes between an
// OpenSSL client and server in one thread, over an in-memory BIO pair (no sockets, no kernel):
// what one core can do when it runs both sides, as the two sidecars of a chain share one core.
// Same settings as the benchmark's chain: TLS 1.3, the given suite and group, both certificates
// verified against the CA, no session resumption.
//
// usage: tls_handshake_loop --certs=DIR [--seconds=5] [--ciphersuites=TLS_AES_128_GCM_SHA256]
//                           [--groups=X25519]
//   DIR holds ca.crt, client.{crt,key}, web.{crt,key} (bench/make_certs).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "certs/openssl_ptr.h"

namespace remora::bench {
namespace {

double Clock(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
double Now() { return Clock(CLOCK_MONOTONIC); }
// CPU time of this thread: the per-side costs stay right when other work shares the core.
double Cpu() { return Clock(CLOCK_THREAD_CPUTIME_ID); }

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "tls_handshake_loop: %s\n", what.c_str());
  ERR_print_errors_fp(stderr);
  std::exit(1);
}

certs::SslCtxPtr Context(bool server, const std::string& dir, const std::string& name,
                         const std::string& suites, const std::string& groups) {
  certs::SslCtxPtr owned(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  SSL_CTX* ctx = owned.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  if (SSL_CTX_set_ciphersuites(ctx, suites.c_str()) != 1) Die("ciphersuites");
  if (SSL_CTX_set1_groups_list(ctx, groups.c_str()) != 1) Die("groups");
  if (SSL_CTX_use_certificate_chain_file(ctx, (dir + "/" + name + ".crt").c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, (dir + "/" + name + ".key").c_str(), SSL_FILETYPE_PEM) !=
          1) {
    Die("loading " + name);
  }
  if (SSL_CTX_load_verify_locations(ctx, (dir + "/ca.crt").c_str(), nullptr) != 1) Die("ca.crt");
  SSL_CTX_set_verify(
      ctx, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (server) SSL_CTX_set_num_tickets(ctx, 0);
  return owned;
}

int Main(int argc, char** argv) {
  std::string dir, suites = "TLS_AES_128_GCM_SHA256", groups = "X25519";
  double seconds = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--certs=", 0) == 0)
      dir = a.substr(8);
    else if (a.rfind("--seconds=", 0) == 0)
      seconds = std::atof(a.c_str() + 10);
    else if (a.rfind("--ciphersuites=", 0) == 0)
      suites = a.substr(15);
    else if (a.rfind("--groups=", 0) == 0)
      groups = a.substr(9);
    else
      dir.clear(), seconds = -1;
  }
  if (dir.empty() || seconds <= 0 || seconds > 600) {
    std::fprintf(
        stderr,
        "usage: tls_handshake_loop --certs=DIR [--seconds=5] [--ciphersuites=S] [--groups=G]\n");
    return 2;
  }
  certs::SslCtxPtr client_ctx = Context(false, dir, "client", suites, groups);
  certs::SslCtxPtr server_ctx = Context(true, dir, "web", suites, groups);

  long handshakes = 0;
  double client_time = 0, server_time = 0;
  std::string cipher, group;
  const double start = Now();
  const double cpu_start = Cpu();
  const double end = start + seconds;
  while (Now() < end) {
    certs::SslPtr client(SSL_new(client_ctx.get()));
    certs::SslPtr server(SSL_new(server_ctx.get()));
    SSL* c = client.get();
    SSL* s = server.get();
    BIO* cb = nullptr;
    BIO* sb = nullptr;
    BIO_new_bio_pair(&cb, 0, &sb, 0);
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    int client_done = 0, server_done = 0;
    for (int round = 0; round < 20 && !(client_done && server_done); ++round) {
      double t = Cpu();
      if (!client_done) {
        int rc = SSL_do_handshake(c);
        if (rc == 1)
          client_done = 1;
        else if (SSL_get_error(c, rc) != SSL_ERROR_WANT_READ)
          Die("client handshake failed");
      }
      double u = Cpu();
      if (!server_done) {
        int rc = SSL_do_handshake(s);
        if (rc == 1)
          server_done = 1;
        else if (SSL_get_error(s, rc) != SSL_ERROR_WANT_READ)
          Die("server handshake failed");
      }
      double v = Cpu();
      client_time += u - t;
      server_time += v - u;
    }
    if (!client_done || !server_done) Die("handshake did not finish");
    if (SSL_get_verify_result(c) != X509_V_OK || SSL_get_verify_result(s) != X509_V_OK) {
      Die("a certificate did not verify");
    }
    if (handshakes == 0) {
      cipher = SSL_get_cipher_name(c);
      group = SSL_group_to_name(c, SSL_get_negotiated_group(c));
    }
    ++handshakes;
  }
  const double elapsed = Now() - start;
  const double cpu = Cpu() - cpu_start;
  std::printf(
      "{\"handshakes\": %ld, \"handshakes_per_s\": %.1f, \"handshakes_per_cpu_s\": %.1f, "
      "\"client_us\": %.1f, "
      "\"server_us\": %.1f, \"cipher\": \"%s\", \"group\": \"%s\", \"openssl\": \"%s\"}\n",
      handshakes, handshakes / elapsed, handshakes / cpu, 1e6 * client_time / handshakes,
      1e6 * server_time / handshakes, cipher.c_str(), group.c_str(),
      OpenSSL_version(OPENSSL_VERSION));
  return 0;
}

}  // namespace
}  // namespace remora::bench

int main(int argc, char** argv) { return remora::bench::Main(argc, argv); }
