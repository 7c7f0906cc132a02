// The operator credential: a random secret in <state>/operator.token (mode 0600), created on first
// start. remoractl sends it as a bearer token; anyone who can read the file administers the mesh.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"

namespace remora::xds {

class OperatorAuth {
 public:
  static absl::StatusOr<OperatorAuth> Open(const std::string& state_dir);

  // OK when the call carries the operator token; Unauthenticated otherwise, saying how to get it.
  absl::Status Check(const grpc::ServerContextBase& context) const;
  const std::string& path() const { return path_; }

 private:
  OperatorAuth(std::string path, std::string secret)
      : path_(std::move(path)), secret_(std::move(secret)) {}
  std::string path_;
  std::string secret_;
};

}  // namespace remora::xds
