#include "common/yaml.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/json_text.h"

namespace remora {

std::string YamlScalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  std::optional<size_t> bad = FindInvalidUtf8(text);
  if (!bad.has_value()) return text;
  std::string out;
  size_t done = 0;
  while (bad.has_value()) {
    const size_t at = done + *bad;
    out.append(text, done, at - done);
    const unsigned char byte = static_cast<unsigned char>(text[at]);
    // 0x85 and 0xA0 are what \N and \_ became; anything else cannot come from yaml-cpp over UTF-8
    // text, and is replaced rather than passed on.
    out += byte == 0x85 ? "\xc2\x85" : byte == 0xA0 ? "\xc2\xa0" : "\xef\xbf\xbd";
    done = at + 1;
    bad = FindInvalidUtf8(absl::string_view(text).substr(done));
  }
  out.append(text, done, std::string::npos);
  return out;
}

bool YamlField::IsMissing() const { return !node_.IsDefined() || node_.IsNull(); }

absl::Status YamlField::Error(absl::string_view why) const {
  return absl::InvalidArgumentError(absl::StrCat(path_.empty() ? "(document)" : path_, ": ", why));
}

YamlField YamlField::operator[](absl::string_view key) const {
  std::string path = path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
  if (!node_.IsMap()) return YamlField(YAML::Node(YAML::NodeType::Undefined), std::move(path));
  return YamlField(node_[std::string(key)], std::move(path));
}

size_t YamlField::size() const { return node_.IsSequence() ? node_.size() : 0; }

YamlField YamlField::At(size_t i) const {
  return YamlField(node_[i], absl::StrCat(path_, "[", i, "]"));
}

absl::StatusOr<std::vector<std::pair<std::string, YamlField>>> YamlField::Entries() const {
  std::vector<std::pair<std::string, YamlField>> out;
  if (IsMissing()) return out;
  if (!node_.IsMap()) return Error("must be a map");
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar()) return Error("map keys must be plain strings");
    std::string key = YamlScalar(kv.first);
    std::string path = path_.empty() ? key : absl::StrCat(path_, ".", key);
    out.emplace_back(key, YamlField(kv.second, std::move(path)));
  }
  return out;
}

absl::Status YamlField::OnlyKeys(std::initializer_list<absl::string_view> allowed) const {
  if (IsMissing()) return absl::OkStatus();
  if (!node_.IsMap()) return Error("must be a map");
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar()) return Error("map keys must be plain strings");
    const std::string key = YamlScalar(kv.first);
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Error(absl::StrCat("unknown field \"", key,
                                "\" (known fields: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> YamlField::String() const {
  if (!node_.IsDefined() || node_.IsNull()) return Error("is required");
  if (!node_.IsScalar()) return Error("must be a string, not a list or map");
  return YamlScalar(node_);
}

absl::StatusOr<int64_t> YamlField::Int(int64_t min, int64_t max) const {
  absl::StatusOr<std::string> text = String();
  if (!text.ok()) return text.status();
  int64_t value = 0;
  if (!absl::SimpleAtoi(*text, &value))
    return Error(absl::StrCat("\"", *text, "\" is not an integer"));
  if (value < min || value > max) {
    return Error(absl::StrCat(value, " is out of range [", min, ", ", max, "]"));
  }
  return value;
}

absl::StatusOr<bool> YamlField::Bool() const {
  absl::StatusOr<std::string> text = String();
  if (!text.ok()) return text.status();
  if (*text == "true" || *text == "True" || *text == "TRUE") return true;
  if (*text == "false" || *text == "False" || *text == "FALSE") return false;
  return Error(absl::StrCat("\"", *text, "\" is not true or false"));
}

absl::StatusOr<absl::Duration> YamlField::Duration() const {
  absl::StatusOr<std::string> text = String();
  if (!text.ok()) return text.status();
  absl::Duration d;
  if (!absl::ParseDuration(*text, &d) || d < absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return Error(absl::StrCat("\"", *text, "\" is not a duration (examples: 500ms, 10s, 5m, 1h)"));
  }
  return d;
}

absl::StatusOr<std::vector<std::string>> YamlField::StringList() const {
  std::vector<std::string> out;
  if (IsMissing()) return out;
  if (!node_.IsSequence()) return Error("must be a list");
  for (size_t i = 0; i < node_.size(); ++i) {
    absl::StatusOr<std::string> s = At(i).String();
    if (!s.ok()) return s.status();
    out.push_back(std::move(*s));
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> YamlField::StringMap() const {
  std::map<std::string, std::string> out;
  absl::StatusOr<std::vector<std::pair<std::string, YamlField>>> entries = Entries();
  if (!entries.ok()) return entries.status();
  for (auto& [key, field] : *entries) {
    absl::StatusOr<std::string> s = field.String();
    if (!s.ok()) return s.status();
    out[key] = std::move(*s);
  }
  return out;
}

namespace {

// Splits a multi-document stream at "---" separator lines, as kubectl does. yaml-cpp's LoadAll is
// not used: on some malformed input (found by fuzzing) it never stops producing documents.
std::vector<std::string> SplitDocuments(absl::string_view text, std::vector<int>* first_lines) {
  std::vector<std::string> docs(1);
  first_lines->assign(1, 0);
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.substr(0, 3) == "---" &&
        (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r')) {
      docs.emplace_back(line.substr(3));
      docs.back().push_back('\n');
      first_lines->push_back(line_no);
    } else {
      docs.back().append(line.data(), line.size());
      docs.back().push_back('\n');
    }
    ++line_no;
  }
  return docs;
}

// "line L, column C" of byte `at`, columns counting characters as editors show them (the text
// before `at` is UTF-8).
std::string Position(absl::string_view text, size_t at) {
  const absl::string_view before = text.substr(0, at);
  const size_t newline = before.rfind('\n');
  const size_t line_start = newline == absl::string_view::npos ? 0 : newline + 1;
  size_t column = 1;
  for (char c : before.substr(line_start)) column += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return absl::StrFormat("line %d, column %d", std::count(before.begin(), before.end(), '\n') + 1,
                         column);
}

// YAML 1.2 section 5.1, c-printable: tab, LF, CR, 0x20-0x7E, NEL, 0xA0-0xD7FF, 0xE000-0xFFFD and
// 0x10000 up. Other characters are written as escapes in double-quoted scalars.
bool IsPrintable(uint32_t c) {
  return c == 0x09 || c == 0x0A || c == 0x0D || (c >= 0x20 && c <= 0x7E) || c == 0x85 ||
         (c >= 0xA0 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) || c >= 0x10000;
}

// YAML is printable Unicode text (YAML 1.2 sections 5.1 and 5.2). kubectl's go-yaml refuses the
// rest ("invalid leading UTF-8 octet", "control characters are not allowed"); yaml-cpp passes
// bytes through unchecked, and guesses UTF-16 or UTF-32 from NUL bytes at the start of a document,
// so the same text could read differently once split. Refuse both here, with their position.
absl::Status CheckYamlText(absl::string_view text, absl::string_view what) {
  if (const std::optional<size_t> at = FindInvalidUtf8(text); at.has_value()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %s: byte 0x%02X is not valid UTF-8; YAML is UTF-8 text, so save the file as UTF-8",
        what, Position(text, *at), static_cast<unsigned char>(text[*at])));
  }
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size();) {
    uint32_t c = s[i];
    size_t length = 1;
    if (c >= 0xF0) {
      c = c & 0x07, length = 4;
    } else if (c >= 0xE0) {
      c = c & 0x0F, length = 3;
    } else if (c >= 0xC0) {
      c = c & 0x1F, length = 2;
    }
    for (size_t k = 1; k < length; ++k) c = (c << 6) | (s[i + k] & 0x3F);
    if (!IsPrintable(c)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: %s: character U+%04X is not allowed in YAML, which holds printable characters "
          "only; write it as an escape in a double-quoted string (\"%s\")",
          what, Position(text, i), c,
          c <= 0xFF ? absl::StrFormat("\\x%02X", c) : absl::StrFormat("\\u%04X", c)));
    }
    i += length;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<YamlDocument>> LoadYamlDocuments(absl::string_view text,
                                                            absl::string_view what,
                                                            size_t max_bytes) {
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", text.size(), " bytes is over the limit of ", max_bytes));
  }
  if (absl::Status s = CheckYamlText(text, what); !s.ok()) return s;
  std::vector<int> first_lines;
  std::vector<std::string> chunks = SplitDocuments(text, &first_lines);
  std::vector<YamlDocument> out;
  for (size_t i = 0; i < chunks.size(); ++i) {
    try {
      YAML::Node node = YAML::Load(chunks[i]);
      if (!node.IsDefined() || node.IsNull()) continue;
      out.push_back({node, static_cast<int>(i)});
    } catch (const YAML::Exception& e) {
      // yaml-cpp's only error channel; its mark is 0-based and relative to the document.
      return absl::InvalidArgumentError(absl::StrCat(what, ": YAML syntax error at line ",
                                                     first_lines[i] + e.mark.line + 1, ", column ",
                                                     e.mark.column + 1, ": ", e.msg));
    }
  }
  return out;
}

std::string DumpYaml(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return out.c_str();
}

}  // namespace remora
