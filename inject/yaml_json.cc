#include "inject/yaml_json.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/json_text.h"
#include "common/status_macros.h"
#include "common/yaml.h"

namespace remora::inject {
namespace {

constexpr int kMaxDepth = 200;
constexpr int64_t kMaxNodes = 1000000;

// ---------------------------------------------------------------------------------------------
// YAML -> JSON

bool IsOneOf(absl::string_view s, std::initializer_list<absl::string_view> words) {
  for (absl::string_view w : words) {
    if (s == w) return true;
  }
  return false;
}

// Go's strconv.ParseInt(s, 0, 64) after removing "_", as go-yaml v2 resolves plain integers:
// an optional sign, then 0x/0X hex, 0o/0O or a leading 0 for octal, 0b/0B binary, or decimal.
bool ParseYamlInt(absl::string_view text, OrderedJson* out) {
  std::string s = absl::StrReplaceAll(text, {{"_", ""}});
  absl::string_view v = s;
  bool negative = false;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
    negative = v[0] == '-';
    v.remove_prefix(1);
  }
  if (v.empty()) return false;
  int base = 10;
  if (v.size() > 1 && v[0] == '0') {
    char p = v[1];
    if (p == 'x' || p == 'X') {
      base = 16;
      v.remove_prefix(2);
    } else if (p == 'o' || p == 'O') {
      base = 8;
      v.remove_prefix(2);
    } else if (p == 'b' || p == 'B') {
      base = 2;
      v.remove_prefix(2);
    } else {
      base = 8;
      v.remove_prefix(1);
    }
    if (v.empty()) return false;
  }
  unsigned __int128 value = 0;
  for (char c : v) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return false;
    }
    if (digit >= base) return false;
    value = value * base + digit;
    if (value > static_cast<unsigned __int128>(UINT64_MAX)) return false;
  }
  if (negative) {
    if (value > static_cast<unsigned __int128>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(-static_cast<__int128>(value));
  } else if (value <= static_cast<unsigned __int128>(INT64_MAX)) {
    *out = static_cast<int64_t>(value);
  } else {
    *out = static_cast<uint64_t>(value);
  }
  return true;
}

// go-yaml v2's float syntax: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool ParseYamlFloat(absl::string_view text, OrderedJson* out) {
  std::string s = absl::StrReplaceAll(text, {{"_", ""}});
  size_t i = 0;
  auto digits = [&]() {
    size_t start = i;
    while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  if (i != s.size()) return false;
  double value = std::strtod(s.c_str(), nullptr);
  if (!std::isfinite(value)) return false;
  *out = value;
  return true;
}

class YamlConverter {
 public:
  // `in_metadata`: the node is an object's metadata. `string_map`: the node is a labels or
  // annotations map. `string_value`: the node is a value of such a map.
  absl::StatusOr<OrderedJson> Convert(const YAML::Node& node, const std::string& path, int depth,
                                      bool in_metadata, bool string_map, bool string_value) {
    if (--budget_ < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(path), ": the document expands to more than ", kMaxNodes,
                       " nodes (aliases repeating aliases?)"));
    }
    if (depth > kMaxDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(path), ": nested deeper than ", kMaxDepth, " levels"));
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        // A label or annotation written `key:` is the empty string to Kubernetes.
        return string_value ? OrderedJson("") : OrderedJson(nullptr);
      case YAML::NodeType::Scalar:
        return Scalar(node, path, string_value);
      case YAML::NodeType::Sequence: {
        OrderedJson out = OrderedJson::array();
        for (size_t i = 0; i < node.size(); ++i) {
          ASSIGN_OR_RETURN(OrderedJson item, Convert(node[i], absl::StrCat(path, "[", i, "]"),
                                                     depth + 1, false, false, false));
          out.push_back(std::move(item));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        OrderedJson out = OrderedJson::object();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            return absl::InvalidArgumentError(
                absl::StrCat(Where(path), ": map keys must be strings (JSON has no other keys)"));
          }
          const std::string key = YamlScalar(kv.first);
          const std::string child = path.empty() ? key : absl::StrCat(path, ".", key);
          if (key == "<<" && kv.first.Tag() == "?") {
            return absl::InvalidArgumentError(absl::StrCat(
                Where(child), ": YAML merge keys (<<) are not supported; write the keys out"));
          }
          if (out.contains(key)) {
            return absl::InvalidArgumentError(
                absl::StrCat(Where(child), ": the key appears twice in the same map"));
          }
          const bool metadata = key == "metadata";
          const bool strings = in_metadata && (key == "labels" || key == "annotations");
          ASSIGN_OR_RETURN(out[key],
                           Convert(kv.second, child, depth + 1, metadata, strings, string_map));
        }
        return out;
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(Where(path), ": unknown YAML node"));
  }

 private:
  static std::string Where(const std::string& path) { return path.empty() ? "(document)" : path; }

  absl::StatusOr<OrderedJson> Scalar(const YAML::Node& node, const std::string& path,
                                     bool string_value) {
    const std::string text = YamlScalar(node);
    const std::string& tag = node.Tag();
    // "!" is yaml-cpp's tag for quoted and block scalars; "?" for plain ones.
    if (string_value || tag == "!" || tag == "tag:yaml.org,2002:str") return OrderedJson(text);
    if (IsOneOf(text, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
      return OrderedJson(true);
    }
    if (IsOneOf(text,
                {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
      return OrderedJson(false);
    }
    if (IsOneOf(text, {"", "~", "null", "Null", "NULL"})) return OrderedJson(nullptr);
    if (IsOneOf(text, {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
                       "-.inf", "-.Inf", "-.INF"})) {
      return absl::InvalidArgumentError(absl::StrCat(
          Where(path), ": ", text, " has no JSON form; quote it if it is meant as a string"));
    }
    OrderedJson number;
    const char first = text[0];
    if ((first >= '0' && first <= '9') || first == '-' || first == '+' || first == '.') {
      if (ParseYamlInt(text, &number) || ParseYamlFloat(text, &number)) return number;
    }
    return OrderedJson(text);
  }

  int64_t budget_ = kMaxNodes;
};

// ---------------------------------------------------------------------------------------------
// JSON -> YAML

bool IsPlainChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("-._/:$()=+~^@,% ").find(c) != absl::string_view::npos;
}

// True when `s` can be written as a plain scalar and reads back as this same string under both
// YAML 1.1 (kubectl) and YAML 1.2 rules. Deliberately conservative: quoting is always correct.
bool CanBePlain(absl::string_view s) {
  if (s.empty() || absl::StrContains(s, "$(")) return false;
  for (char c : s) {
    if (!IsPlainChar(c)) return false;
  }
  const char first = s[0];
  const char last = s.back();
  if (!absl::ascii_isalnum(static_cast<unsigned char>(first)) &&
      absl::string_view("/._$(=~^-").find(first) == absl::string_view::npos) {
    return false;
  }
  if (first == '-' && (s.size() == 1 || s[1] == ' ' || absl::StartsWith(s, "---"))) return false;
  if (last == ':' || last == ' ' || first == ' ') return false;
  if (absl::StrContains(s, ": ") || absl::StrContains(s, " #") || absl::StrContains(s, "  ")) {
    return false;
  }
  if (absl::StartsWith(s, "...")) return false;
  // Anything that could resolve to a number, a boolean, null or a timestamp.
  if (absl::ascii_isdigit(static_cast<unsigned char>(first))) return false;
  if ((first == '+' || first == '-' || first == '.') && s.size() > 1 &&
      (absl::ascii_isdigit(static_cast<unsigned char>(s[1])) || s[1] == '.')) {
    return false;
  }
  const std::string lower = absl::AsciiStrToLower(s);
  if (IsOneOf(lower, {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", ".inf",
                      "+.inf", "-.inf", ".nan", "="})) {
    return false;
  }
  return true;
}

// The characters beyond ASCII that YAML 1.1 (kubectl's go-yaml) reads as line breaks, NEL, LS and
// PS (YAML 1.1 section 4.1.4), with their YAML escapes. Written raw they would be folded inside
// quotes and end a line in a block scalar.
constexpr std::pair<absl::string_view, absl::string_view> kUnicodeBreaks[] = {
    {"\xc2\x85", "\\N"}, {"\xe2\x80\xa8", "\\L"}, {"\xe2\x80\xa9", "\\P"}};

bool HasUnicodeBreak(absl::string_view s) {
  for (const auto& pair : kUnicodeBreaks) {
    if (absl::StrContains(s, pair.first)) return true;
  }
  return false;
}

std::string DoubleQuoted(absl::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const unsigned char u = static_cast<unsigned char>(c);
    bool escaped = false;
    for (const auto& [raw, escape] : kUnicodeBreaks) {
      if (s.substr(i, raw.size()) == raw) {
        absl::StrAppend(&out, escape);
        i += raw.size() - 1;
        escaped = true;
        break;
      }
    }
    if (escaped) continue;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          static const char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[u >> 4];
          out += kHex[u & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

// A multi-line string that a literal block scalar reproduces exactly: no carriage returns,
// control characters, Unicode line breaks or trailing blanks, and a first line that does not start
// with a blank (the block's indentation is detected from it).
bool CanBeLiteral(absl::string_view s) {
  if (!absl::StrContains(s, '\n') || HasUnicodeBreak(s)) return false;
  if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n') return false;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) return false;
  }
  for (absl::string_view line : absl::StrSplit(s, '\n')) {
    if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) return false;
  }
  return true;
}

std::string Pad(int n) { return std::string(static_cast<size_t>(n), ' '); }

class YamlWriter {
 public:
  std::string Render(const OrderedJson& value) {
    if (value.is_object() && !value.empty()) {
      Map(value, 0, false);
    } else if (value.is_array() && !value.empty()) {
      Sequence(value, 0, false);
    } else {
      Inline(value, 0);
      out_.erase(0, 1);  // no separator before a top-level scalar
    }
    return std::move(out_);
  }

 private:
  // Writes what follows "key:" or "-": a space and a scalar or an empty collection, or a literal
  // block, then the newline. `indent` is the indentation of the key or dash.
  void Inline(const OrderedJson& v, int indent) {
    switch (v.type()) {
      case OrderedJson::value_t::object:
        out_ += " {}\n";
        return;
      case OrderedJson::value_t::array:
        out_ += " []\n";
        return;
      case OrderedJson::value_t::string: {
        const std::string& s = v.get_ref<const std::string&>();
        if (CanBePlain(s)) {
          absl::StrAppend(&out_, " ", s, "\n");
        } else if (CanBeLiteral(s)) {
          Literal(s, indent + 2);
        } else {
          absl::StrAppend(&out_, " ", DoubleQuoted(s), "\n");
        }
        return;
      }
      case OrderedJson::value_t::null:
        out_ += " null\n";
        return;
      default:  // numbers and booleans print as JSON does
        absl::StrAppend(&out_, " ", DumpJson(v), "\n");
    }
  }

  void Literal(absl::string_view s, int indent) {
    size_t trailing = 0;
    while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
    // Chomping: "|-" strips the final newline, "|" keeps one, "|+" keeps them all.
    out_ += trailing == 0 ? " |-\n" : trailing == 1 ? " |\n" : " |+\n";
    absl::string_view body = s.substr(0, s.size() - trailing);
    for (absl::string_view line : absl::StrSplit(body, '\n')) {
      if (line.empty()) {
        out_ += "\n";
      } else {
        absl::StrAppend(&out_, Pad(indent), line, "\n");
      }
    }
    for (size_t i = 1; i < trailing; ++i) out_ += "\n";
  }

  std::string Key(const std::string& key) { return CanBePlain(key) ? key : DoubleQuoted(key); }

  void Value(const OrderedJson& v, int indent) {
    if (v.is_object() && !v.empty()) {
      out_ += "\n";
      Map(v, indent + 2, false);
    } else if (v.is_array() && !v.empty()) {
      out_ += "\n";
      Sequence(v, indent, false);  // kubectl style: "- " at the key's indentation
    } else {
      Inline(v, indent);
    }
  }

  // `first_inline`: the first key follows a "- " already written.
  void Map(const OrderedJson& v, int indent, bool first_inline) {
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!(first && first_inline)) out_ += Pad(indent);
      first = false;
      absl::StrAppend(&out_, Key(it.key()), ":");
      Value(*it, indent);
    }
  }

  void Sequence(const OrderedJson& v, int indent, bool first_inline) {
    bool first = true;
    for (const OrderedJson& item : v) {
      if (!(first && first_inline)) out_ += Pad(indent);
      first = false;
      out_ += "-";
      if (item.is_object() && !item.empty()) {
        out_ += " ";
        Map(item, indent + 2, true);
      } else if (item.is_array() && !item.empty()) {
        out_ += " ";
        Sequence(item, indent + 2, true);
      } else {
        Inline(item, indent);
      }
    }
  }

  std::string out_;
};

}  // namespace

absl::StatusOr<OrderedJson> YamlToJson(const YAML::Node& node) {
  YamlConverter converter;
  return converter.Convert(node, "", 0, false, false, false);
}

std::string JsonToYaml(const OrderedJson& value) { return YamlWriter().Render(value); }

}  // namespace remora::inject
