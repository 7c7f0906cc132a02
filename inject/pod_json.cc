#include "inject/pod_json.h"

#include "absl/strings/str_cat.h"

namespace remora::inject {
namespace {

const char* TypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "a list";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "a number";
    default:
      return "null";
  }
}

std::string Child(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

// The member `key` of an object, or nullptr if `parent` is not an object or has no such member.
const Json* Member(const Json& parent, absl::string_view key) {
  if (!parent.is_object()) return nullptr;
  auto it = parent.find(std::string(key));
  if (it == parent.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status TypeError(absl::string_view path, absl::string_view key, absl::string_view want,
                       const Json& got) {
  return absl::InvalidArgumentError(
      absl::StrCat(Child(path, key), " must be ", want, ", not ", TypeName(got)));
}

}  // namespace

absl::StatusOr<const Json*> ObjectField(const Json& parent, absl::string_view key,
                                        absl::string_view path) {
  const Json* v = Member(parent, key);
  if (v != nullptr && !v->is_object()) return TypeError(path, key, "an object", *v);
  return v;
}

absl::StatusOr<const Json*> ArrayField(const Json& parent, absl::string_view key,
                                       absl::string_view path) {
  const Json* v = Member(parent, key);
  if (v != nullptr && !v->is_array()) return TypeError(path, key, "a list", *v);
  return v;
}

absl::StatusOr<std::string> StringField(const Json& parent, absl::string_view key,
                                        absl::string_view path) {
  const Json* v = Member(parent, key);
  if (v == nullptr) return std::string();
  if (!v->is_string()) return TypeError(path, key, "a string", *v);
  return v->get<std::string>();
}

absl::StatusOr<bool> BoolField(const Json& parent, absl::string_view key, absl::string_view path) {
  const Json* v = Member(parent, key);
  if (v == nullptr) return false;
  if (!v->is_boolean()) return TypeError(path, key, "true or false", *v);
  return v->get<bool>();
}

absl::StatusOr<std::map<std::string, std::string>> StringMapField(const Json& parent,
                                                                  absl::string_view key,
                                                                  absl::string_view path) {
  std::map<std::string, std::string> out;
  absl::StatusOr<const Json*> object = ObjectField(parent, key, path);
  if (!object.ok()) return object.status();
  if (*object == nullptr) return out;
  for (auto it = (*object)->begin(); it != (*object)->end(); ++it) {
    if (!it->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(Child(path, key), "[\"", it.key(),
                                                     "\"] must be a string (quote the value in "
                                                     "YAML), not ",
                                                     TypeName(*it)));
    }
    out[it.key()] = it->get<std::string>();
  }
  return out;
}

std::string EscapePointerToken(absl::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace remora::inject
