// Stickiness cookies (AWSALB / AWSALBCORS, AWSALBAPP-n, AWSALBTG / AWSALBTGCORS): values
// that name a target (or a target group) and an expiry, encrypted and authenticated so that
// clients can neither read nor forge them. Reference §2.7.
//
// The key is generated at start-up and shared read-only by all workers; a cookie made before a
// restart no longer decodes, which simply re-sticks the client (ALB rotates its keys too).
// Encode/Decode are thread-safe and do not allocate beyond the output string's capacity.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::balancer {

struct StickyValue {
  uint64_t scope = 0;        // which group (or listener rule) the cookie belongs to (a hash)
  uint64_t target = 0;       // which target (a hash of ip:port) or target group
  int64_t expires_unix = 0;  // stickiness duration end (seconds since the epoch)
};

class StickyCookieCodec {
 public:
  // A codec with a fresh random 256-bit key.
  StickyCookieCodec();
  // A codec with a given key (tests).
  explicit StickyCookieCodec(const std::array<uint8_t, 32>& key);

  // Appends the cookie value (URL-safe base64 without padding, cookie-octet safe) to *out.
  void Encode(const StickyValue& value, std::string* out) const;
  // Decodes and authenticates; nullopt if malformed, tampered with, or made with another key.
  // Expiry is NOT checked here (see IsExpired).
  std::optional<StickyValue> Decode(std::string_view cookie_value) const;

  static bool IsExpired(const StickyValue& v, int64_t now_unix) {
    return now_unix >= v.expires_unix;
  }

 private:
  std::array<uint8_t, 32> key_;
};

// 64-bit stable hash used for StickyValue scope/target fields (FNV-1a).
uint64_t StickyHash(std::string_view text);

// Finds the value of cookie `name` in a Cookie request header value ("a=1; b=2"); returns
// false when absent.
bool FindCookie(std::string_view cookie_header, std::string_view name, std::string_view* value);

}  // namespace sluice::balancer
