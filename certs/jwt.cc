#include "certs/jwt.h"

#include <openssl/ecdsa.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "certs/openssl_error.h"
#include "certs/spiffe_id.h"
#include "common/json_text.h"

namespace remora::certs {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxTokenSize = 8192;
constexpr size_t kP256Bytes = 32;

std::string Base64Url(absl::string_view data) { return absl::WebSafeBase64Escape(data); }

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("bootstrap token refused: ", why));
}

bool DecodeBase64Url(absl::string_view in, std::string* out) {
  // RFC 7515 2: base64url without padding; anything else is malformed.
  for (char c : in) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return absl::WebSafeBase64Unescape(in, out);
}

std::string ToRfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

// ES256 signatures are r||s, 32 bytes each (RFC 7518 3.4); OpenSSL speaks DER.
absl::StatusOr<std::string> DerToRaw(const unsigned char* der, size_t len) {
  const unsigned char* p = der;
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)), ECDSA_SIG_free);
  if (sig == nullptr) return absl::InternalError("malformed ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * kP256Bytes, '\0');
  if (BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), kP256Bytes) < 0 ||
      BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + kP256Bytes, kP256Bytes) < 0) {
    return absl::InternalError("ECDSA signature does not fit P-256");
  }
  return raw;
}

std::string RawToDer(absl::string_view raw) {
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), kP256Bytes, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + kP256Bytes, kP256Bytes,
                        nullptr);
  ECDSA_SIG_set0(sig.get(), r, s);  // takes ownership of r and s
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  std::string out(reinterpret_cast<char*>(der), len > 0 ? len : 0);
  OPENSSL_free(der);
  return out;
}

bool VerifyWith(EVP_PKEY* key, absl::string_view signed_part, absl::string_view der) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok = EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der.data()),
                             der.size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                             signed_part.size()) == 1;
  DrainOpenSslErrors();
  return ok;
}

absl::StatusOr<absl::Time> TimeClaim(const json& payload, const char* name) {
  auto it = payload.find(name);
  if (it == payload.end()) return Unauthenticated(absl::StrCat("claim \"", name, "\" is missing"));
  if (!it->is_number_integer()) {
    return Unauthenticated(absl::StrCat("claim \"", name, "\" is not an integer NumericDate"));
  }
  return absl::FromUnixSeconds(it->get<int64_t>());
}

absl::StatusOr<std::string> StringClaim(const json& payload, const char* name) {
  auto it = payload.find(name);
  if (it == payload.end() || !it->is_string()) {
    return Unauthenticated(absl::StrCat("claim \"", name, "\" is missing or not a string"));
  }
  return it->get<std::string>();
}

}  // namespace

std::string KeyId(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, len > 0 ? static_cast<size_t>(len) : 0, digest);
  OPENSSL_free(der);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 8));
}

absl::StatusOr<std::string> SignToken(const TokenClaims& claims, EVP_PKEY* key,
                                      absl::string_view key_id) {
  // JWS protects JSON text (RFC 7515 section 2; JSON is UTF-8, RFC 8259 section 8.1): a claim that
  // is not UTF-8 cannot be serialized as written, and replacing its bytes would sign an identity
  // nobody asked for. Refuse it.
  for (const auto& [name, value] :
       {std::pair<const char*, absl::string_view>{"header \"kid\"", key_id},
        {"claim \"iss\"", claims.issuer},
        {"claim \"aud\"", claims.audience},
        {"claim \"ns\"", claims.ns},
        {"claim \"sa\"", claims.service_account},
        {"claim \"jti\"", claims.id}}) {
    if (absl::Status s = CheckUtf8(value, name); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot sign a bootstrap token: ", s.message()));
    }
  }
  unsigned char random[12];
  RAND_bytes(random, sizeof(random));
  json header = {{"alg", "ES256"}, {"typ", "JWT"}, {"kid", std::string(key_id)}};
  json payload = {
      {"iss", claims.issuer},
      {"aud", claims.audience},
      {"sub", absl::StrCat("system:serviceaccount:", claims.ns, ":", claims.service_account)},
      {"ns", claims.ns},
      {"sa", claims.service_account},
      {"iat", absl::ToUnixSeconds(claims.issued_at)},
      {"nbf", absl::ToUnixSeconds(claims.not_before)},
      {"exp", absl::ToUnixSeconds(claims.expires)},
      {"jti", claims.id.empty() ? absl::BytesToHexString(absl::string_view(
                                      reinterpret_cast<char*>(random), sizeof(random)))
                                : claims.id}};
  std::string signed_part =
      absl::StrCat(Base64Url(DumpJson(header)), ".", Base64Url(DumpJson(payload)));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t der_len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_len,
                     reinterpret_cast<const unsigned char*>(signed_part.data()),
                     signed_part.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "signing the token");
  }
  std::string der(der_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &der_len,
                     reinterpret_cast<const unsigned char*>(signed_part.data()),
                     signed_part.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "signing the token");
  }
  absl::StatusOr<std::string> raw =
      DerToRaw(reinterpret_cast<const unsigned char*>(der.data()), der_len);
  if (!raw.ok()) return raw.status();
  return absl::StrCat(signed_part, ".", Base64Url(*raw));
}

absl::StatusOr<TokenClaims> VerifyToken(absl::string_view token, const std::vector<EVP_PKEY*>& keys,
                                        const VerifyOptions& options) {
  if (token.size() > kMaxTokenSize) return Unauthenticated("longer than 8 KiB");
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Unauthenticated("not a JWT (expected three dot-separated parts)");
  std::string header_text, payload_text, signature;
  if (!DecodeBase64Url(parts[0], &header_text) || !DecodeBase64Url(parts[1], &payload_text) ||
      !DecodeBase64Url(parts[2], &signature)) {
    return Unauthenticated("a part is not base64url");
  }
  json header = json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) return Unauthenticated("header is not a JSON object");
  auto alg = header.find("alg");
  // The algorithm is fixed, never taken from the token: "none" and HMAC confusion are impossible.
  if (alg == header.end() || !alg->is_string() || *alg != "ES256") {
    return Unauthenticated("algorithm must be ES256");
  }
  if (signature.size() != 2 * kP256Bytes) return Unauthenticated("ES256 signature is not 64 bytes");
  const std::string der = RawToDer(signature);
  const absl::string_view signed_part(token.data(), parts[0].size() + 1 + parts[1].size());
  bool verified = false;
  for (EVP_PKEY* key : keys) {
    if (VerifyWith(key, signed_part, der)) {
      verified = true;
      break;
    }
  }
  if (!verified) return Unauthenticated("signature does not verify with the control plane's key");

  json payload = json::parse(payload_text, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object()) return Unauthenticated("payload is not a JSON object");
  TokenClaims claims;
  absl::StatusOr<std::string> iss = StringClaim(payload, "iss");
  if (!iss.ok()) return iss.status();
  if (*iss != options.issuer) {
    return Unauthenticated(absl::StrCat("issuer \"", *iss, "\" is not \"", options.issuer, "\""));
  }
  claims.issuer = *iss;
  auto aud = payload.find("aud");
  bool audience_ok = false;
  if (aud != payload.end() && aud->is_string()) {
    audience_ok = *aud == options.audience;
  } else if (aud != payload.end() && aud->is_array()) {
    for (const json& a : *aud) audience_ok |= a.is_string() && a == options.audience;
  }
  if (!audience_ok) {
    return Unauthenticated(absl::StrCat("audience ",
                                        aud == payload.end() ? "(none)" : DumpJson(*aud),
                                        " does not include \"", options.audience, "\""));
  }
  claims.audience = options.audience;
  absl::StatusOr<absl::Time> exp = TimeClaim(payload, "exp");
  if (!exp.ok()) return exp.status();
  if (options.now > *exp + options.leeway) {
    return Unauthenticated(absl::StrCat("token expired at ", ToRfc3339(*exp)));
  }
  absl::StatusOr<absl::Time> nbf = TimeClaim(payload, "nbf");
  if (nbf.ok() && options.now + options.leeway < *nbf) {
    return Unauthenticated(absl::StrCat("token not valid before ", ToRfc3339(*nbf)));
  }
  absl::StatusOr<absl::Time> iat = TimeClaim(payload, "iat");
  claims.expires = *exp;
  claims.not_before = nbf.ok() ? *nbf : absl::InfinitePast();
  claims.issued_at = iat.ok() ? *iat : absl::InfinitePast();
  absl::StatusOr<std::string> ns = StringClaim(payload, "ns");
  if (!ns.ok()) return ns.status();
  absl::StatusOr<std::string> sa = StringClaim(payload, "sa");
  if (!sa.ok()) return sa.status();
  absl::StatusOr<SpiffeId> id = SpiffeId::ForServiceAccount("td", *ns, *sa);
  if (!id.ok())
    return Unauthenticated(absl::StrCat("namespace/service account: ", id.status().message()));
  claims.ns = *ns;
  claims.service_account = *sa;
  auto jti = payload.find("jti");
  if (jti != payload.end() && jti->is_string()) claims.id = *jti;
  return claims;
}

}  // namespace remora::certs
