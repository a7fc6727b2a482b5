#include "routing/query.h"

#include <cstring>

#include "routing/path_normalize.h"

namespace sluice::routing {
namespace {

void PutLength(char* p, size_t n) {
  p[0] = static_cast<char>(n & 0xff);
  p[1] = static_cast<char>((n >> 8) & 0xff);
}

size_t GetLength(const char* p) {
  return static_cast<size_t>(static_cast<uint8_t>(p[0])) |
         (static_cast<size_t>(static_cast<uint8_t>(p[1])) << 8);
}

}  // namespace

size_t PercentDecode(std::string_view in, char* out) {
  size_t o = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 && HexValue(in[i + 2]) >= 0) {
      out[o++] = static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2]));
      i += 2;
    } else {
      out[o++] = in[i];
    }
  }
  return o;
}

size_t DecodeQuery(std::string_view query, char* buf, size_t cap) {
  if (query.size() > 0xffff) return kQueryOverflow;
  size_t used = 0;
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (cap - used < 4 + key.size() + value.size()) return kQueryOverflow;
    size_t n = PercentDecode(key, buf + used + 2);
    PutLength(buf + used, n);
    used += 2 + n;
    n = PercentDecode(value, buf + used + 2);
    PutLength(buf + used, n);
    used += 2 + n;
  }
  return used;
}

bool DecodedPairs::Next(std::string_view* key, std::string_view* value) {
  if (records_.size() - pos_ < 4) return false;
  size_t n = GetLength(records_.data() + pos_);
  *key = records_.substr(pos_ + 2, n);
  pos_ += 2 + n;
  n = GetLength(records_.data() + pos_);
  *value = records_.substr(pos_ + 2, n);
  pos_ += 2 + n;
  return true;
}

}  // namespace sluice::routing
