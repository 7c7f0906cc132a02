// Fuzz target: bootstrap-token verification. Each input is tried twice: as a whole token (header,
// payload and signature all untrusted), and as a payload signed with a test key, so the claim
// checks behind the signature are reached too.
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "certs/jwt.h"
#include "certs/keys.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace remora::certs;
  static EVP_PKEY* key = GenerateEcKey()->release();  // one key for the whole run
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  VerifyOptions options;
  options.now = absl::FromUnixSeconds(1790000000);
  (void)VerifyToken(text, {key}, options);

  // Re-sign the input as a payload: exercise the claim parsing past the signature check.
  std::string signed_part =
      absl::StrCat(absl::WebSafeBase64Escape("{\"alg\":\"ES256\",\"typ\":\"JWT\"}"), ".",
                   absl::WebSafeBase64Escape(text));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  unsigned char der[128];
  len = sizeof(der);
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestSign(ctx.get(), der, &len,
                     reinterpret_cast<const unsigned char*>(signed_part.data()),
                     signed_part.size()) == 1) {
    // A valid DER signature is not a valid JWS signature (r||s): the verifier must refuse it
    // cleanly, while the SignToken path below produces real ones.
    (void)VerifyToken(absl::StrCat(signed_part, ".",
                                   absl::WebSafeBase64Escape(
                                       absl::string_view(reinterpret_cast<char*>(der), len))),
                      {key}, options);
  }
  TokenClaims claims;
  auto part = [&](size_t at, size_t n) {
    return at < text.size() ? std::string(text.substr(at, n)) : std::string();
  };
  claims.issuer = part(0, 16);
  claims.audience = "remora-control";
  claims.ns = part(0, 8);
  claims.service_account = part(8, 8);
  claims.expires = options.now + absl::Minutes(1);
  absl::StatusOr<std::string> token = SignToken(claims, key, "k");
  if (token.ok()) (void)VerifyToken(*token, {key}, options);
  return 0;
}
