// libFuzzer target for the stickiness cookie parsers (src/balancer/sticky_cookie.h):
//  - the input as a Cookie header value: FindCookie for a few names, compared against a slow
//    reference scanner; the AWSALB value found (if any) is decoded with a fixed-key codec;
//  - the input as a raw cookie value for StickyCookieCodec::Decode;
//  - a round trip: a StickyValue derived from the input's last 24 bytes must survive
//    Encode/Decode, must not decode under another key, and any one-character change, truncation
//    or extension of its encoding must be rejected.
// Seeds (corpus/) contain cookies encoded with kKey below. Traps (abort) on any violation.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "balancer/sticky_cookie.h"

namespace {

using sluice::balancer::FindCookie;
using sluice::balancer::StickyCookieCodec;
using sluice::balancer::StickyValue;

constexpr size_t kEncodedChars = 70;
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Key 0x00, 0x01, ..., 0x1f (the corpus cookies were made with it).
constexpr std::array<uint8_t, 32> MakeKey(uint8_t offset) {
  std::array<uint8_t, 32> key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i + offset);
  return key;
}

const StickyCookieCodec& Codec() {
  static const StickyCookieCodec codec(MakeKey(0));
  return codec;
}

const StickyCookieCodec& OtherCodec() {
  static const StickyCookieCodec codec(MakeKey(1));
  return codec;
}

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Same(const StickyValue& a, const StickyValue& b) {
  return a.scope == b.scope && a.target == b.target && a.expires_unix == b.expires_unix;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Reference for FindCookie, index-based: ';'-separated pairs, the first '=' splits name and
// value, spaces/tabs trimmed around both, one pair of surrounding quotes removed from the
// value, pairs without '=' skipped, first match wins, empty names never match.
bool RefFindCookie(std::string_view h, std::string_view name, std::string_view* out) {
  if (name.empty()) return false;
  size_t begin = 0;
  while (begin < h.size()) {
    size_t end = begin;
    while (end < h.size() && h[end] != ';') ++end;
    size_t eq = begin;
    while (eq < end && h[eq] != '=') ++eq;
    if (eq < end) {
      size_t ns = begin, ne = eq;
      while (ns < ne && IsSpace(h[ns])) ++ns;
      while (ne > ns && IsSpace(h[ne - 1])) --ne;
      if (h.substr(ns, ne - ns) == name) {
        size_t vs = eq + 1, ve = end;
        while (vs < ve && IsSpace(h[vs])) ++vs;
        while (ve > vs && IsSpace(h[ve - 1])) --ve;
        if (ve - vs >= 2 && h[vs] == '"' && h[ve - 1] == '"') {
          ++vs;
          --ve;
        }
        *out = h.substr(vs, ve - vs);
        return true;
      }
    }
    begin = end + 1;
  }
  return false;
}

void CheckFind(std::string_view header, std::string_view name) {
  std::string_view got, want;
  const bool found = FindCookie(header, name, &got);
  Check(found == RefFindCookie(header, name, &want));
  Check(found == FindCookie(header, name, nullptr));
  if (!found) return;
  // Same bytes of the same buffer (a view into the header, not a copy).
  Check(got.data() == want.data() && got.size() == want.size());
  Check(got.find(';') == std::string_view::npos);
}

// The codec's own output for a value must decode back to it.
void CheckRoundTrip(const StickyValue& value, std::string_view tweak) {
  std::string out = "prefix=";
  Codec().Encode(value, &out);
  Check(out.size() == 7 + kEncodedChars && out.compare(0, 7, "prefix=") == 0);
  std::string_view enc = std::string_view(out).substr(7);
  for (char c : enc) Check(kAlphabet.find(c) != std::string_view::npos);

  std::optional<StickyValue> back = Codec().Decode(enc);
  Check(back.has_value() && Same(*back, value));
  Check(!OtherCodec().Decode(enc).has_value());

  // As a cookie in a header, bare and quoted.
  std::string header =
      "a=b; AWSALB=" + std::string(enc) + "; AWSALBCORS=\"" + std::string(enc) + "\"";
  std::string_view v;
  Check(FindCookie(header, "AWSALB", &v) && v == enc);
  Check(FindCookie(header, "AWSALBCORS", &v) && v == enc);

  // Truncated or extended encodings never decode.
  Check(!Codec().Decode(enc.substr(0, kEncodedChars - 1)).has_value());
  Check(!Codec().Decode(std::string(enc) + "A").has_value());

  // A single changed character (position and replacement chosen by the input) must be
  // rejected: by the strict base64 decoder or by the GCM tag.
  if (tweak.size() >= 2) {
    std::string bad(enc);
    const size_t pos = static_cast<uint8_t>(tweak[0]) % kEncodedChars;
    const char repl = (static_cast<uint8_t>(tweak[1]) & 0x80) != 0
                          ? static_cast<char>(tweak[1] & 0x7f)
                          : kAlphabet[static_cast<uint8_t>(tweak[1]) % 64];
    bad[pos] = repl;
    if (bad != enc) Check(!Codec().Decode(bad).has_value());
  }
}

uint64_t Le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // 1. As a Cookie header.
  for (std::string_view name :
       {"AWSALB", "AWSALBCORS", "AWSALBAPP-0", "AWSALBTG", "AWSALBTGCORS", "a", ""}) {
    CheckFind(input, name);
  }
  // A name taken from the input itself (up to the first '='), so that arbitrary names match.
  const size_t eq = input.find('=');
  if (eq != std::string_view::npos && eq <= 32) CheckFind(input, input.substr(0, eq));

  std::string_view cookie;
  if (FindCookie(input, "AWSALB", &cookie)) {
    // A value that decodes was made by the codec: re-encoding it must round-trip too.
    if (std::optional<StickyValue> v = Codec().Decode(cookie)) CheckRoundTrip(*v, input);
  }

  // 2. As a raw cookie value.
  if (std::optional<StickyValue> v = Codec().Decode(input)) {
    Check(input.size() == kEncodedChars);
    Check(!OtherCodec().Decode(input).has_value());
  }

  // 3. Round trip of a value made from the input's last 24 bytes (zero-padded).
  uint8_t raw[24] = {};
  const size_t n = size < sizeof(raw) ? size : sizeof(raw);
  for (size_t i = 0; i < n; ++i) raw[i] = data[size - n + i];
  StickyValue value;
  value.scope = Le64(raw);
  value.target = Le64(raw + 8);
  value.expires_unix = static_cast<int64_t>(Le64(raw + 16));
  CheckRoundTrip(value, input);
  return 0;
}
