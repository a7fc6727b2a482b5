// The write position the log formats build their lines with: pieces are written at a raw
// pointer with no capacity check per piece, because the caller sized the buffer for the
// whole line beforehand (AccessLogLineBound, or the per-piece maxima below). Measured on the
// access log: string appends with a capacity check per piece cost ~9,500 instructions per
// entry, this ~2,500 (docs/decisions/0027).
// Pure; any thread; never allocates. Lifetime: the buffer outlives the cursor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "base/ip_address.h"

namespace sluice::observe {

// How a client-controlled value is escaped: a byte outside printable ASCII and a double
// quote always become \xHH; a backslash too, except in a distinguished name (RFC 2253
// escapes, kept as ALB writes them); a space only in an unquoted token.
enum class Escaping { kQuoted, kToken, kDistinguishedName };

// Room each piece may take at most.
inline constexpr size_t kMaxIntChars = 20;      // INT64_MIN
inline constexpr size_t kMaxSecondsChars = 24;  // ms / 1000, '.', 3 digits
inline constexpr size_t kIsoTimeChars = 27;     // 2018-07-02T22:23:00.186641Z
inline constexpr size_t kTraceIdChars = 36;     // TID_ and 32 hex digits
inline constexpr size_t kMaxAddressChars = 64;  // IPv6 text, ':', port
inline constexpr size_t kEscapeGrowth = 4;      // one byte becomes \xHH at most

class LogCursor {
 public:
  explicit LogCursor(char* p) : p_(p) {}
  char* position() const { return p_; }

  void Put(char c) { *p_++ = c; }
  void Put(std::string_view s) {
    if (!s.empty()) std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void Int(int64_t v);
  // `width` digits, zero-padded (v >= 0).
  void Padded(int64_t v, int width);
  // Seconds with 3 decimals from ms ("0.037"); "-1" for a negative value.
  void Seconds(int64_t ms);
  // "2018-07-02T22:23:00.186641Z" for a time in µs since the epoch (UTC; no time zone
  // lookup, no lock). A second time in the same second as the last reuses its date and time
  // of day (an access-log line's two times usually are).
  void IsoTime(int64_t unix_us);
  // "TID_" and 32 lower-case hex digits.
  void TraceId(const uint64_t id[2]);
  // "192.0.2.1:80", "2001:db8::1:80" (the address as ip.Format writes it, ':', the port).
  void Address(const SocketAddress& a);
  // At most kEscapeGrowth * v.size() bytes.
  void Escaped(std::string_view v, Escaping how);
  // An unquoted field: the value as a token, or "-" when empty.
  void TokenOrDash(std::string_view v) {
    if (v.empty()) {
      Put('-');
    } else {
      Escaped(v, Escaping::kToken);
    }
  }

 private:
  static constexpr size_t kIsoSecondChars = 20;  // "2018-07-02T22:23:00."
  char* p_;
  int64_t last_second_ = INT64_MIN;  // of the last IsoTime; its text in last_second_text_
  char last_second_text_[kIsoSecondChars];
};

}  // namespace sluice::observe
