#include "ctl/control_client.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"

namespace remora::ctl {

void AddConnectionFlags(FlagSet& flags, ConnectionFlags* c) {
  flags.String("server", &c->server,
               "remora-control address (default $REMORA_SERVER, else 127.0.0.1:15012)");
  flags.String("state-dir", &c->state_dir,
               "remora-control's state directory, for its CA bundle and operator token (default "
               "$REMORA_STATE_DIR, else /var/lib/remora)");
  flags.String("ca-file", &c->ca_file, "PEM roots that verify the control plane");
  flags.String("token-file", &c->token_file, "file holding the operator token");
  flags.String("server-name", &c->server_name, "name the control plane's certificate carries");
}

absl::StatusOr<OperatorClient> OperatorClient::Connect(const ConnectionFlags& flags) {
  auto env = [](const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return std::string(v != nullptr && *v != '\0' ? v : fallback);
  };
  const std::string server =
      flags.server.empty() ? env("REMORA_SERVER", "127.0.0.1:15012") : flags.server;
  const std::string state =
      flags.state_dir.empty() ? env("REMORA_STATE_DIR", "/var/lib/remora") : flags.state_dir;
  const std::string ca_file = flags.ca_file.empty() ? state + "/ca-bundle.pem" : flags.ca_file;
  const std::string token_file =
      flags.token_file.empty() ? state + "/operator.token" : flags.token_file;
  absl::StatusOr<std::string> roots = ReadFile(ca_file);
  if (!roots.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the control plane's CA bundle: ", roots.status().message(),
                     " (pass --ca-file or --state-dir)"));
  }
  absl::StatusOr<std::string> token = ReadFile(token_file);
  if (!token.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the operator token: ", token.status().message(),
                     " (pass --token-file or --state-dir)"));
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *roots;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(flags.server_name);
  args.SetMaxReceiveMessageSize(64 << 20);
  OperatorClient client;
  client.stub_ = remora::v1::Operator::NewStub(
      grpc::CreateCustomChannel(server, grpc::SslCredentials(ssl), args));
  client.token_ = std::string(absl::StripAsciiWhitespace(*token));
  client.server_ = server;
  return client;
}

std::unique_ptr<grpc::ClientContext> OperatorClient::Context(absl::Duration timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  return context;
}

std::string DescribeRpcError(const std::string& what, const grpc::Status& status,
                             const std::string& server) {
  std::string out = absl::StrCat(what, ": ", status.error_message());
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      absl::StrContains(status.error_message(), "certificate verify failed")) {
    absl::StrAppend(
        &out, " (", server, " presented a certificate that does not verify against ",
        "the CA bundle: pass the control plane's current ca-bundle.pem with --ca-file)");
  } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    absl::StrAppend(&out, " (is remora-control running at ", server, "?)");
  } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    absl::StrAppend(&out, " (no answer in time from ", server, ")");
  }
  return out;
}

}  // namespace remora::ctl
