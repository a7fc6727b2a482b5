#include "api/query.h"

#include <charconv>

namespace sluice::api {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes one form component; false on a truncated or non-hex escape.
bool Decode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

// For "<prefix>.member.<N>[.<rest>]", sets *index and *rest; false otherwise.
bool MemberIndex(std::string_view name, std::string_view prefix, size_t* index,
                 std::string_view* rest) {
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) return false;
  std::string_view tail = name.substr(prefix.size());
  constexpr std::string_view kMember = ".member.";
  if (tail.substr(0, kMember.size()) != kMember) return false;
  tail.remove_prefix(kMember.size());
  size_t digits = 0;
  while (digits < tail.size() && tail[digits] >= '0' && tail[digits] <= '9') ++digits;
  if (digits == 0 || digits > 7 || tail[0] == '0') return false;
  std::from_chars(tail.data(), tail.data() + digits, *index);
  *rest = tail.substr(digits);
  return rest->empty() || (*rest)[0] == '.';
}

}  // namespace

ApiResult<QueryParams> QueryParams::Parse(std::string_view form) {
  QueryParams out;
  std::string name;
  std::string value;
  while (!form.empty()) {
    size_t amp = form.find('&');
    std::string_view pair = form.substr(0, amp);
    form = amp == std::string_view::npos ? std::string_view() : form.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view raw_name = pair.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    if (!Decode(raw_name, &name) || !Decode(raw_value, &value)) {
      return SenderError("MalformedQueryString",
                         "The query string contains a malformed percent-encoded sequence.", 404);
    }
    if (name.empty() || name.size() > kMaxNameLength) {
      return SenderError("MalformedQueryString",
                         "A parameter name is empty or longer than " +
                             std::to_string(kMaxNameLength) + " characters.",
                         404);
    }
    out.values_[name] = value;
    if (out.values_.size() > kMaxParameters) {
      return SenderError("ValidationError", "The request has more than " +
                                                std::to_string(kMaxParameters) + " parameters.");
    }
  }
  return out;
}

void QueryParams::MergeMissing(const QueryParams& other) {
  for (const auto& [k, v] : other.values_) values_.emplace(k, v);
}

const std::string* QueryParams::Get(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

bool QueryParams::HasAny(std::string_view name) const {
  if (Has(name)) return true;
  // The first key at or after "name." (not after "name": "name-x" sorts before "name.y").
  std::string prefix = std::string(name) + ".";
  auto it = values_.lower_bound(prefix);
  return it != values_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

std::optional<std::vector<std::string>> QueryParams::List(std::string_view name) const {
  std::map<size_t, std::string> items;
  std::string prefix = std::string(name) + ".member.";
  for (auto it = values_.lower_bound(prefix); it != values_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    size_t index = 0;
    std::string_view rest;
    if (MemberIndex(it->first, name, &index, &rest) && rest.empty()) items[index] = it->second;
  }
  if (items.empty()) {
    if (Has(name)) return std::vector<std::string>{};
    return std::nullopt;
  }
  std::vector<std::string> out;
  out.reserve(items.size());
  for (auto& [i, v] : items) out.push_back(std::move(v));
  return out;
}

std::optional<std::vector<QueryParams>> QueryParams::StructList(std::string_view name) const {
  std::map<size_t, QueryParams> items;
  std::string prefix = std::string(name) + ".member.";
  for (auto it = values_.lower_bound(prefix); it != values_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    size_t index = 0;
    std::string_view rest;
    if (!MemberIndex(it->first, name, &index, &rest) || rest.empty()) continue;
    items[index].values_.emplace(std::string(rest.substr(1)), it->second);
  }
  if (items.empty()) {
    if (Has(name)) return std::vector<QueryParams>{};
    return std::nullopt;
  }
  std::vector<QueryParams> out;
  out.reserve(items.size());
  for (auto& [i, v] : items) out.push_back(std::move(v));
  return out;
}

QueryParams QueryParams::Struct(std::string_view name) const {
  QueryParams out;
  std::string prefix = std::string(name) + ".";
  for (auto it = values_.lower_bound(prefix); it != values_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.values_.emplace(it->first.substr(prefix.size()), it->second);
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace sluice::api
