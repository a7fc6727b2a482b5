// The block-style YAML writer behind ExportYaml (export.cc): quoting exactly as the loader
// reads it back, and a line-by-line writer with list items. Internal to config/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config::yaml_out {

inline constexpr char kHex[] = "0123456789abcdef";

// Appends `s` as a YAML double-quoted scalar on one line. yaml-cpp reads every byte other
// than '"', '\' and line breaks back as it is (bytes >= 0x80 included, valid UTF-8 or not),
// so only those and the other control characters are escaped.
inline void AppendQuoted(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c < 0x20 || c == 0x7f) {
      out->append("\\x");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

inline std::string Quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendQuoted(&out, s);
  return out;
}

inline const char* BoolText(bool b) { return b ? "true" : "false"; }

// ["a", "b"]
inline std::string FlowStrings(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    AppendQuoted(&out, values[i]);
  }
  return out + "]";
}

// Block-style YAML, line by line. A list item is started with Item(): the next line written
// puts "- " in the last two columns of its indentation.
class Out {
 public:
  // "key: <raw>" (raw is YAML text: a quoted string, a number, a flow collection).
  void Raw(int indent, std::string_view key, std::string_view raw) {
    Indent(indent);
    text_.append(key);
    text_.append(": ");
    text_.append(raw);
    text_.push_back('\n');
  }
  void Str(int indent, std::string_view key, std::string_view value) {
    Indent(indent);
    text_.append(key);
    text_.append(": ");
    AppendQuoted(&text_, value);
    text_.push_back('\n');
  }
  void Int(int indent, std::string_view key, int64_t value) {
    Raw(indent, key, std::to_string(value));
  }
  void Bool(int indent, std::string_view key, bool value) { Raw(indent, key, BoolText(value)); }
  // "key:" opening a mapping or a list below it; "key: []" for an empty list.
  void Open(int indent, std::string_view key) {
    Indent(indent);
    text_.append(key);
    text_.append(":\n");
  }
  void OpenList(int indent, std::string_view key, bool empty) {
    if (empty) {
      Raw(indent, key, "[]");
    } else {
      Open(indent, key);
    }
  }
  // A list item whose whole value is `raw` ("- {Id: ...}").
  void ItemRaw(int indent, std::string_view raw) {
    text_.append(static_cast<size_t>(indent - 2), ' ');
    text_.append("- ");
    text_.append(raw);
    text_.push_back('\n');
  }
  void Item() { item_ = true; }
  void Reserve(size_t n) { text_.reserve(n); }
  std::string Take() { return std::move(text_); }

 private:
  void Indent(int indent) {
    if (item_) {
      text_.append(static_cast<size_t>(indent - 2), ' ');
      text_.append("- ");
      item_ = false;
    } else {
      text_.append(static_cast<size_t>(indent), ' ');
    }
  }

  std::string text_;
  bool item_ = false;
};

}  // namespace sluice::config::yaml_out
