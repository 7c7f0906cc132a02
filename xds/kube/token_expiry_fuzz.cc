// Fuzz target: the exp claim of a bearer token, read without verification to bound the
// TokenReview cache (xds/kube/token_review_authenticator.h).
#include <cstdint>

#include "xds/kube/token_review_authenticator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)remora::xds::UnverifiedExpiry(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
