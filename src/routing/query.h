// Query-string decoding for query-string conditions.
//
// The query (text after the first '?', up to '#') is split on '&'; each pair is split at its
// first '='. A pair without '=' is a key with an empty value; empty pairs ("a=1&&b=2") are
// skipped. Keys and values are percent-decoded: every valid "%XX" becomes its byte, an invalid
// '%' is kept literally. '+' is NOT decoded to a space: ALB documents only percent-encoding,
// and '+'-as-space is an HTML-form convention, not part of RFC 3986.
//
// Decoded pairs are written as records into a caller-provided buffer (the per-worker scratch),
// so nothing here allocates. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::routing {

// Buffer bytes that always suffice for a query of `n` bytes (records carry 2+2 bytes of
// lengths per pair; a non-empty pair takes at least 2 raw bytes including its '&').
constexpr size_t DecodedQueryCapacity(size_t n) { return 3 * n + 4; }

inline constexpr size_t kQueryOverflow = static_cast<size_t>(-1);

// Percent-decodes `in` into `out` (which must hold in.size() bytes); returns the length.
size_t PercentDecode(std::string_view in, char* out);

// Decodes all pairs of `query` into buf[0, cap) and returns the bytes used, or kQueryOverflow
// when they do not fit or the query is longer than 65535 bytes.
size_t DecodeQuery(std::string_view query, char* buf, size_t cap);

// Walks the records written by DecodeQuery.
class DecodedPairs {
 public:
  explicit DecodedPairs(std::string_view records) : records_(records) {}
  // Returns false at the end; otherwise sets *key and *value (views into the records).
  bool Next(std::string_view* key, std::string_view* value);

 private:
  std::string_view records_;
  size_t pos_ = 0;
};

}  // namespace sluice::routing
