// Internal to the config loader: typed, error-collecting access to a yaml-cpp document.
//
// Every read names the dotted field path and the source position of what it reads; failures
// are recorded in a Reader (never thrown) so one pass reports every problem. Control thread
// only. Nothing here throws except std::bad_alloc and yaml-cpp's own exceptions, which the
// loader catches at its boundary.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/error.h"
#include "config/model.h"
#include "config/quote.h"

namespace sluice::config::internal {

// One value in the document together with where it is and what it is called.
struct Field {
  YAML::Node node;   // the value; undefined when !present
  YAML::Mark mark;   // where errors about the value point (the key's mark for null values)
  std::string path;  // dotted path, e.g. "LoadBalancers[0].Listeners[1].Port"
  bool present = false;
};

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c". A key longer than kShownValueBytes is cut ("…").
std::string JoinPath(std::string_view parent, std::string_view key);
// "a.b" + 3 -> "a.b[3]".
std::string IndexPath(std::string_view parent, size_t index);

// Collects the errors of one load. Caps their number, their length, and the amount of walking
// and of value text read (aliases can make a small document expand exponentially), after
// which aborted() turns true and callers stop early.
class Reader {
 public:
  static constexpr size_t kMaxErrors = 1000;
  static constexpr size_t kMaxSteps = 1000000;
  static constexpr size_t kMaxValueBytes = 32 * 1024 * 1024;
  // Longest message and field path kept; longer ones are cut (values in messages are already
  // cut by QuoteValue, so this only guards against a message that forgot to).
  static constexpr size_t kMaxMessageBytes = 1024;
  static constexpr size_t kMaxFieldBytes = 256;

  explicit Reader(std::string file) : file_(std::move(file)) {}

  void AddError(const YAML::Mark& mark, std::string_view field, std::string message);
  void AddError(const Field& at, std::string message) { AddError(at.mark, at.path, message); }
  // An error about the whole file (line 0).
  void AddFileError(std::string message);

  // Consumes one unit of walking; false once the budget is spent (one error says so).
  bool Step();
  // Accounts for reading `bytes` of scalar text; false once kMaxValueBytes is exceeded (one
  // error says so).
  bool ChargeValue(size_t bytes);
  bool aborted() const { return aborted_; }
  size_t error_count() const { return errors_.size(); }
  // The errors sorted by position (whole-file errors first), ties in the order found; at most
  // kMaxReportedErrors of them, then one that says how many more there were.
  ConfigErrors TakeErrors();
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  ConfigErrors errors_;
  size_t steps_ = 0;
  size_t value_bytes_ = 0;
  bool aborted_ = false;
};

// 1-based Location of a yaml-cpp mark; {0, 0} for the null mark.
Location LocationOf(const YAML::Mark& mark);

// Describes a node's kind for "expected X, got Y" messages: "'abc'" (see QuoteValue), "a list",
// "a mapping", "null".
std::string Describe(const YAML::Node& node);

// A mapping whose keys were checked against an allow-list on construction: unknown, duplicate
// and non-string keys are reported there. Null counts as an empty mapping.
class MapReader {
 public:
  MapReader(Reader& reader, const Field& field, std::initializer_list<std::string_view> allowed);

  // False when the field was not a mapping (already reported).
  bool ok() const { return ok_; }
  // The value under `key`, or a Field with present == false (path and mark still usable).
  Field Get(std::string_view key) const;
  // Like Get, but records "missing required field" when absent.
  Field Require(std::string_view key) const;
  bool Has(std::string_view key) const { return Get(key).present; }
  const std::string& path() const { return path_; }
  const YAML::Mark& mark() const { return mark_; }
  // Key/value pairs in document order (for free-form maps such as Attributes).
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    Field value;
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  Reader& reader_;
  std::string path_;
  YAML::Mark mark_;
  std::vector<Entry> entries_;
  bool ok_ = false;
};

// A mapping with arbitrary string keys (attribute maps). Same checks as MapReader except
// the allow-list.
MapReader OpenFreeMap(Reader& reader, const Field& field);

// Typed scalar reads. Each returns nullopt after recording an error when the value has the
// wrong type or is out of range; callers keep their default then.

// Integer in [min, max]; accepts plain or quoted decimal ("60" or 60). `noun` starts the
// range message: "<noun> 70000 is out of range 1..50000".
std::optional<int64_t> ReadInt(Reader& r, const Field& f, int64_t min, int64_t max,
                               std::string_view noun);
// Any scalar's text (numbers and booleans too, since the elbv2 API types them as strings).
std::optional<std::string> ReadString(Reader& r, const Field& f);
// true or false (any case).
std::optional<bool> ReadBool(Reader& r, const Field& f);
// A string that must be one of `allowed`: "<noun> 'X' is invalid; allowed: A, B".
std::optional<std::string> ReadEnum(Reader& r, const Field& f, std::string_view noun,
                                    std::initializer_list<std::string_view> allowed);
// The items of a list (null counts as empty); nullopt when the value is not a list. Stops
// early when the reader's budget is spent.
std::optional<std::vector<Field>> ReadList(Reader& r, const Field& f);

// Parses decimal text (optional sign) into *out; false when it is not an integer. Values too
// large for int64 saturate so that range checks still report them.
bool ParseInteger(std::string_view text, int64_t* out);
// Joins names with ", ".
std::string JoinNames(std::initializer_list<std::string_view> names);
std::string JoinNames(const std::vector<std::string_view>& names);

}  // namespace sluice::config::internal
