#include "observe/log_cursor.h"

#include <netinet/in.h>

#include <array>
#include <charconv>

#include "observe/access_log_format.h"

namespace sluice::observe {

namespace {

// plain[how][byte]: the byte is written as itself (see Escaping).
struct PlainTable {
  std::array<std::array<bool, 256>, 3> plain{};
  constexpr PlainTable() {
    for (int how = 0; how < 3; ++how) {
      for (int c = 0x21; c < 0x7f; ++c) plain[how][c] = c != '"' && c != '\\';
      plain[how][' '] = how != static_cast<int>(Escaping::kToken);
      plain[how]['\\'] = how == static_cast<int>(Escaping::kDistinguishedName);
    }
  }
};
constexpr PlainTable kPlain;

constexpr char kUpperHex[] = "0123456789ABCDEF";
constexpr char kLowerHex[] = "0123456789abcdef";

}  // namespace

void LogCursor::Int(int64_t v) { p_ = std::to_chars(p_, p_ + kMaxIntChars, v).ptr; }

void LogCursor::Padded(int64_t v, int width) {
  for (int n = width - 1; n >= 0; --n) {
    p_[n] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  p_ += width;
}

void LogCursor::Seconds(int64_t ms) {
  if (ms < 0) {
    Put("-1");
    return;
  }
  Int(ms / 1000);
  Put('.');
  Padded(ms % 1000, 3);
}

void LogCursor::IsoTime(int64_t unix_us) {
  // Floor division (a time before 1970 rounds down), without overflow at INT64_MIN.
  const int64_t secs = unix_us / 1000000 - (unix_us % 1000000 < 0 ? 1 : 0);
  const int64_t micros = unix_us % 1000000 + (unix_us % 1000000 < 0 ? 1000000 : 0);
  if (secs == last_second_) {
    Put(std::string_view(last_second_text_, kIsoSecondChars));
  } else {
    char* const start = p_;
    const int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    const int64_t in_day = secs - days * 86400;
    const CivilDate d = CivilFromDays(days);
    Padded(d.year, 4);
    Put('-');
    Padded(d.month, 2);
    Put('-');
    Padded(d.day, 2);
    Put('T');
    Padded(in_day / 3600, 2);
    Put(':');
    Padded(in_day / 60 % 60, 2);
    Put(':');
    Padded(in_day % 60, 2);
    Put('.');
    std::memcpy(last_second_text_, start, kIsoSecondChars);
    last_second_ = secs;
  }
  Padded(micros, 6);
  Put('Z');
}

void LogCursor::TraceId(const uint64_t id[2]) {
  Put("TID_");
  for (int w = 0; w < 2; ++w) {
    for (int i = 0; i < 16; ++i) p_[i] = kLowerHex[(id[w] >> (60 - 4 * i)) & 0xf];
    p_ += 16;
  }
}

void LogCursor::Address(const SocketAddress& a) {
  p_ += a.ip.Format(p_, INET6_ADDRSTRLEN);
  Put(':');
  Int(a.port);
}

void LogCursor::Escaped(std::string_view v, Escaping how) {
  const std::array<bool, 256>& plain = kPlain.plain[static_cast<int>(how)];
  const char* s = v.data();
  const char* const end = s + v.size();
  while (s != end) {
    const char* run = s;
    // Four bytes per test while they are plain (most of a line), then byte by byte.
    while (end - s >= 4 &&
           (plain[static_cast<unsigned char>(s[0])] & plain[static_cast<unsigned char>(s[1])] &
            plain[static_cast<unsigned char>(s[2])] & plain[static_cast<unsigned char>(s[3])])) {
      s += 4;
    }
    while (s != end && plain[static_cast<unsigned char>(*s)]) ++s;
    Put(std::string_view(run, static_cast<size_t>(s - run)));
    if (s == end) break;
    const unsigned char c = static_cast<unsigned char>(*s++);
    p_[0] = '\\';
    p_[1] = 'x';
    p_[2] = kUpperHex[c >> 4];
    p_[3] = kUpperHex[c & 0xf];
    p_ += 4;
  }
}

}  // namespace sluice::observe
