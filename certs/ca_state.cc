#include "certs/ca_state.h"

#include <openssl/sha.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "certs/pem.h"
#include "common/file.h"
#include "common/json_nesting.h"

namespace remora::certs {
namespace {

using json = nlohmann::json;

// A Secret holds at most 1 MiB; a state of a few roots is a few KiB.
constexpr size_t kMaxStateBytes = 1 << 20;
constexpr size_t kMaxRoots = 8;

}  // namespace

std::string Fingerprint(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, len > 0 ? static_cast<size_t>(len) : 0, digest);
  OPENSSL_free(der);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 8));
}

absl::StatusOr<std::string> PemFingerprint(absl::string_view cert_pem) {
  absl::StatusOr<CertChain> chain = ParseCertificates(cert_pem, "root certificate");
  if (!chain.ok()) return chain.status();
  return Fingerprint((*chain)[0].get());
}

std::string SerializeCaState(const CaState& state) {
  json roots = json::array();
  for (const CaRootRecord& r : state.roots) {
    roots.push_back({{"cert", r.cert_pem},
                     {"key", r.key_pem},
                     {"signing", r.signing},
                     {"inBundle", r.in_bundle}});
  }
  return json{{"roots", roots}}.dump(1) + "\n";
}

absl::StatusOr<CaState> ParseCaState(absl::string_view text, absl::string_view what) {
  auto fail = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(what, ": ", why));
  };
  if (text.size() > kMaxStateBytes) return fail("larger than 1 MiB");
  if (JsonNestsDeeperThan(text, 16)) return fail("nested too deeply to be a CA state");
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return fail("not a JSON object");
  auto roots = j.find("roots");
  if (roots == j.end() || !roots->is_array()) return fail("\"roots\" is missing or not a list");
  if (roots->empty()) return fail("\"roots\" is empty");
  if (roots->size() > kMaxRoots) return fail(absl::StrCat("more than ", kMaxRoots, " roots"));
  CaState state;
  int signing = 0;
  for (size_t i = 0; i < roots->size(); ++i) {
    const json& r = (*roots)[i];
    const std::string at = absl::StrCat("roots[", i, "]");
    if (!r.is_object()) return fail(absl::StrCat(at, " is not an object"));
    CaRootRecord record;
    for (const char* key : {"cert", "key"}) {
      auto it = r.find(key);
      if (it == r.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
        return fail(absl::StrCat(at, ".", key, " is missing or not a PEM string"));
      }
    }
    record.cert_pem = r["cert"].get<std::string>();
    record.key_pem = r["key"].get<std::string>();
    for (const auto& [key, target] : {std::pair<const char*, bool*>{"signing", &record.signing},
                                      {"inBundle", &record.in_bundle}}) {
      auto it = r.find(key);
      if (it == r.end()) continue;
      if (!it->is_boolean()) return fail(absl::StrCat(at, ".", key, " is not true or false"));
      *target = it->get<bool>();
    }
    signing += record.signing ? 1 : 0;
    state.roots.push_back(std::move(record));
  }
  if (signing != 1) {
    return fail(absl::StrCat(signing, " roots are marked signing; exactly one must be"));
  }
  return state;
}

// ---- files ----------------------------------------------------------------------------------

absl::StatusOr<CaState> FileCaStateStore::Load() const {
  const std::string state_file = dir_ + "/roots.json";
  absl::StatusOr<std::string> text = ReadFile(state_file);
  if (!text.ok()) return text.status();
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j["roots"].is_array()) {
    return absl::DataLossError(absl::StrCat(state_file, " is not a valid CA state file"));
  }
  CaState state;
  for (const json& r : j["roots"]) {
    if (!r.is_object() || !r["fingerprint"].is_string()) {
      return absl::DataLossError(absl::StrCat(state_file, ": a root entry lacks its fingerprint"));
    }
    const std::string fp = r["fingerprint"];
    absl::StatusOr<std::string> cert = ReadFile(absl::StrCat(dir_, "/", fp, ".crt"));
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(absl::StrCat(dir_, "/", fp, ".key"));
    if (!key.ok()) return key.status();
    CaRootRecord record;
    record.cert_pem = std::move(*cert);
    record.key_pem = std::move(*key);
    record.signing = r.value("signing", false);
    record.in_bundle = r.value("in_bundle", false);
    state.roots.push_back(std::move(record));
  }
  return state;
}

absl::Status FileCaStateStore::Save(const CaState& state) const {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create ", dir_, ": ", std::strerror(errno)));
  }
  json roots = json::array();
  for (const CaRootRecord& r : state.roots) {
    absl::StatusOr<std::string> fp = PemFingerprint(r.cert_pem);
    if (!fp.ok()) return fp.status();
    const std::string base = absl::StrCat(dir_, "/", *fp);
    absl::Status s = WriteFileAtomic(base + ".key", r.key_pem, 0600);
    if (s.ok()) s = WriteFileAtomic(base + ".crt", r.cert_pem, 0644);
    if (!s.ok()) return s;
    roots.push_back({{"fingerprint", *fp}, {"signing", r.signing}, {"in_bundle", r.in_bundle}});
  }
  // Written last: the files it names are already on disk, so a crash leaves a loadable state.
  return WriteFileAtomic(dir_ + "/roots.json", json{{"roots", roots}}.dump(2) + "\n", 0600);
}

absl::StatusOr<CaState> FileCaStateStore::LoadOrCreate(
    const std::function<absl::StatusOr<CaState>()>& create) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<CaState> loaded = Load();
  if (!absl::IsNotFound(loaded.status())) return loaded;
  absl::StatusOr<CaState> created = create();
  if (!created.ok()) return created.status();
  if (absl::Status s = Save(*created); !s.ok()) return s;
  return created;
}

absl::StatusOr<CaState> FileCaStateStore::Update(
    const std::function<absl::StatusOr<CaState>(CaState)>& change) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<CaState> loaded = Load();
  if (!loaded.ok()) return loaded.status();
  absl::StatusOr<CaState> changed = change(std::move(*loaded));
  if (!changed.ok()) return changed.status();
  if (absl::Status s = Save(*changed); !s.ok()) return s;
  return changed;
}

}  // namespace remora::certs
