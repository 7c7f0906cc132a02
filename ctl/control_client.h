// How remoractl reaches remora-control's operator API: the address, the roots that verify the
// control plane, and the operator token. Flags, then environment (REMORA_SERVER,
// REMORA_STATE_DIR), then defaults; with a state directory the CA bundle and token come from it.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/flags.h"
#include "remora/v1/operator.grpc.pb.h"

namespace remora::ctl {

struct ConnectionFlags {
  std::string server;      // host:port
  std::string state_dir;   // where remora-control keeps ca-bundle.pem and operator.token
  std::string ca_file;     // overrides <state_dir>/ca-bundle.pem
  std::string token_file;  // overrides <state_dir>/operator.token
  std::string server_name = "remora-control.remora-system.svc";
  absl::Duration timeout = absl::Seconds(30);
};

void AddConnectionFlags(FlagSet& flags, ConnectionFlags* c);

class OperatorClient {
 public:
  static absl::StatusOr<OperatorClient> Connect(const ConnectionFlags& flags);

  // A context carrying the token and the deadline.
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) const;
  remora::v1::Operator::Stub& stub() { return *stub_; }
  const std::string& server() const { return server_; }

 private:
  std::unique_ptr<remora::v1::Operator::Stub> stub_;
  std::string token_;
  std::string server_;
};

// Waits until every proxy affected by `version` answered; prints "version N active on a/b
// affected proxies (slowest t ms)" and the ones that did not. Exit status 0 when all acknowledged.
int WaitForVersion(OperatorClient& client, uint64_t version, absl::Duration timeout);
// Prints a WaitResponse as WaitForVersion does; exit status 0 when every proxy acknowledged.
int PrintWaitResponse(const remora::v1::WaitResponse& response);

// The text of -f inputs: FILE, every .yaml/.yml of DIR (sorted), or - for standard input, joined
// as one YAML stream; `names` lists them for messages.
absl::StatusOr<std::string> ReadInputs(const std::vector<std::string>& inputs, std::string* names);

// "what failed: status" with a hint for the usual causes (control plane down, wrong token).
std::string DescribeRpcError(const std::string& what, const grpc::Status& status,
                             const std::string& server);

}  // namespace remora::ctl
