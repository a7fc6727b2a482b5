#include "config/yaml_reader.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace sluice::config::internal {
namespace {

bool ValidMark(const YAML::Mark& m) { return m.line >= 0 && m.column >= 0; }

// Where to point for a value: its own position, or its key's when it has none (null values
// are positioned at whatever follows them).
YAML::Mark ValueMark(const YAML::Node& value, const YAML::Mark& fallback) {
  if (value.IsNull()) return fallback;
  YAML::Mark m = value.Mark();
  return ValidMark(m) ? m : fallback;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Records "expected <what>, got <kind>" and returns false unless the field is a scalar. Also
// false once the reader's budget for value text is spent.
bool ExpectScalar(Reader& r, const Field& f, std::string_view what) {
  if (f.node.IsScalar()) return r.ChargeValue(f.node.Scalar().size());
  r.AddError(f, "expected " + std::string(what) + ", got " + Describe(f.node));
  return false;
}

}  // namespace

std::string JoinPath(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) out += '.';
  if (key.size() <= kShownValueBytes) {
    out += key;
  } else {
    // Keys come from the document: a long one must not be copied into every path below it.
    // The cut may split a UTF-8 sequence; the error's ToString escapes what remains.
    out += key.substr(0, kShownValueBytes);
    out += "\xE2\x80\xA6";
  }
  return out;
}

std::string IndexPath(std::string_view parent, size_t index) {
  std::string out(parent);
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

void Reader::AddError(const YAML::Mark& mark, std::string_view field, std::string message) {
  if (aborted_) return;
  if (errors_.size() >= kMaxErrors) {
    errors_.push_back(ConfigError{file_, 0, 0, "",
                                  "too many errors; stopping after " + std::to_string(kMaxErrors)});
    aborted_ = true;
    return;
  }
  Location loc = LocationOf(mark);
  errors_.push_back(ConfigError{file_, loc.line, loc.column, BoundText(field, kMaxFieldBytes),
                                BoundText(message, kMaxMessageBytes)});
}

void Reader::AddFileError(std::string message) {
  errors_.push_back(ConfigError{file_, 0, 0, "", BoundText(message, kMaxMessageBytes)});
}

ConfigErrors Reader::TakeErrors() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  if (errors_.size() > kMaxReportedErrors) {
    const size_t omitted = errors_.size() - kMaxReportedErrors;
    errors_.resize(kMaxReportedErrors);
    ConfigError more{file_, 0, 0, "", "and " + std::to_string(omitted) + " more error(s)"};
    more.omitted = omitted;
    errors_.push_back(std::move(more));
  }
  return std::move(errors_);
}

bool Reader::Step() {
  if (aborted_) return false;
  if (++steps_ > kMaxSteps) {
    AddFileError("document is too large after expanding aliases (more than " +
                 std::to_string(kMaxSteps) + " values)");
    aborted_ = true;
    return false;
  }
  return true;
}

bool Reader::ChargeValue(size_t bytes) {
  if (aborted_) return false;
  value_bytes_ += bytes;
  if (value_bytes_ > kMaxValueBytes) {
    AddFileError(
        "document is too large after expanding aliases (its values add up to more "
        "than " +
        std::to_string(kMaxValueBytes >> 20) + " MiB)");
    aborted_ = true;
    return false;
  }
  return true;
}

Location LocationOf(const YAML::Mark& mark) {
  if (!ValidMark(mark)) return Location{};
  return Location{mark.line + 1, mark.column + 1};
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return QuoteValue(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

MapReader::MapReader(Reader& reader, const Field& field,
                     std::initializer_list<std::string_view> allowed)
    : reader_(reader), path_(field.path), mark_(field.mark) {
  if (!reader_.Step()) return;
  if (!field.present || field.node.IsNull()) {
    ok_ = true;
    return;
  }
  if (!field.node.IsMap()) {
    reader_.AddError(field, "expected a mapping, got " + Describe(field.node));
    return;
  }
  if (ValidMark(field.node.Mark())) mark_ = field.node.Mark();
  ok_ = true;
  // An empty allow-list means "any key" (free-form maps).
  const bool check_keys = allowed.size() > 0;
  for (auto it = field.node.begin(); it != field.node.end(); ++it) {
    if (!reader_.Step()) return;
    // it-> yields a temporary proxy; copy the (cheap, handle-like) nodes out of it.
    const YAML::Node key = it->first;
    const YAML::Node value_node = it->second;
    YAML::Mark key_mark = ValidMark(key.Mark()) ? key.Mark() : mark_;
    if (!key.IsScalar()) {
      reader_.AddError(key_mark, path_, "expected a field name, got " + Describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    if (!reader_.ChargeValue(name.size())) return;
    std::string path = JoinPath(path_, name);
    auto dup = std::find_if(entries_.begin(), entries_.end(),
                            [&](const Entry& e) { return e.key == name; });
    if (dup != entries_.end()) {
      reader_.AddError(key_mark, path,
                       "duplicate field " + QuoteValue(name) + " (first given at line " +
                           std::to_string(LocationOf(dup->key_mark).line) + ")");
      continue;
    }
    if (check_keys && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      reader_.AddError(key_mark, path,
                       "unknown field " + QuoteValue(name) + "; allowed: " + JoinNames(allowed));
      continue;
    }
    Field value{value_node, ValueMark(value_node, key_mark), std::move(path), true};
    entries_.push_back(Entry{name, key_mark, std::move(value)});
  }
}

Field MapReader::Get(std::string_view key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) return e.value;
  }
  return Field{YAML::Node(YAML::NodeType::Undefined), mark_, JoinPath(path_, key), false};
}

Field MapReader::Require(std::string_view key) const {
  Field f = Get(key);
  if (!f.present && ok_) {
    reader_.AddError(mark_, f.path, "missing required field '" + std::string(key) + "'");
  }
  return f;
}

MapReader OpenFreeMap(Reader& reader, const Field& field) { return MapReader(reader, field, {}); }

bool ParseInteger(std::string_view text, int64_t* out) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  if (i == text.size()) return false;
  int64_t value = 0;
  constexpr int64_t kCap = std::numeric_limits<int64_t>::max() / 10 - 10;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return false;
    if (value < kCap) value = value * 10 + (c - '0');
  }
  *out = negative ? -value : value;
  return true;
}

std::optional<int64_t> ReadInt(Reader& r, const Field& f, int64_t min, int64_t max,
                               std::string_view noun) {
  if (!f.present || !ExpectScalar(r, f, "an integer")) return std::nullopt;
  const std::string& text = f.node.Scalar();
  int64_t value = 0;
  if (!ParseInteger(text, &value)) {
    r.AddError(f, "expected an integer, got " + Describe(f.node));
    return std::nullopt;
  }
  if (value < min || value > max) {
    r.AddError(f, std::string(noun) + " " + BoundText(text, kShownValueBytes) +
                      " is out of range " + std::to_string(min) + ".." + std::to_string(max));
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> ReadString(Reader& r, const Field& f) {
  if (!f.present || !ExpectScalar(r, f, "a string")) return std::nullopt;
  const std::string& s = f.node.Scalar();
  if (s.find('\0') != std::string::npos) {
    // No field allows one, and C APIs behind the model would stop reading at it.
    r.AddError(f, "value " + QuoteValue(s) + " contains a NUL character");
    return std::nullopt;
  }
  return s;
}

std::optional<bool> ReadBool(Reader& r, const Field& f) {
  if (!f.present || !ExpectScalar(r, f, "true or false")) return std::nullopt;
  std::string lower = ToLower(f.node.Scalar());
  if (lower == "true") return true;
  if (lower == "false") return false;
  r.AddError(f, "expected true or false, got " + Describe(f.node));
  return std::nullopt;
}

std::optional<std::string> ReadEnum(Reader& r, const Field& f, std::string_view noun,
                                    std::initializer_list<std::string_view> allowed) {
  std::optional<std::string> s = ReadString(r, f);
  if (!s) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *s) != allowed.end()) return s;
  r.AddError(
      f, std::string(noun) + " " + QuoteValue(*s) + " is invalid; allowed: " + JoinNames(allowed));
  return std::nullopt;
}

std::optional<std::vector<Field>> ReadList(Reader& r, const Field& f) {
  std::vector<Field> items;
  if (!f.present || f.node.IsNull()) return items;
  if (!f.node.IsSequence()) {
    r.AddError(f, "expected a list, got " + Describe(f.node));
    return std::nullopt;
  }
  size_t index = 0;
  for (auto it = f.node.begin(); it != f.node.end(); ++it, ++index) {
    if (!r.Step()) break;
    YAML::Mark mark = ValueMark(*it, f.mark);
    items.push_back(Field{*it, mark, IndexPath(f.path, index), true});
  }
  return items;
}

std::string JoinNames(std::initializer_list<std::string_view> names) {
  return JoinNames(std::vector<std::string_view>(names));
}

std::string JoinNames(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

}  // namespace sluice::config::internal
