#include "xds/server/operator_auth.h"

#include <openssl/rand.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "xds/server/grpc_auth.h"

namespace remora::xds {

absl::StatusOr<OperatorAuth> OperatorAuth::Open(const std::string& state_dir) {
  const std::string path = state_dir + "/operator.token";
  absl::StatusOr<std::string> existing = ReadFile(path);
  if (existing.ok()) {
    std::string secret(absl::StripAsciiWhitespace(*existing));
    if (secret.size() < 32) {
      return absl::DataLossError(absl::StrCat(path, " is too short to be an operator token"));
    }
    return OperatorAuth(path, secret);
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  unsigned char random[32];
  RAND_bytes(random, sizeof(random));
  std::string secret =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(random), sizeof(random)));
  if (absl::Status s = WriteFileAtomic(path, secret + "\n", 0600); !s.ok()) return s;
  return OperatorAuth(path, secret);
}

absl::Status OperatorAuth::Check(const grpc::ServerContextBase& context) const {
  absl::StatusOr<std::string> token = BearerToken(context);
  if (!token.ok() || !SecretEquals(*token, secret_)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "operator API: missing or wrong operator token; remoractl reads it from --token-file "
        "(the control plane keeps it in ",
        path_, ")"));
  }
  return absl::OkStatus();
}

}  // namespace remora::xds
