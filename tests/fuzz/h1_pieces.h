// Shared by the HTTP/1 fuzz targets: feeding a message in fuzzer-chosen pieces, and running
// the chunked decoder over a body that arrives that way. Test code only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/h1_framing.h"

namespace sluice::fuzz {

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

// Piece sizes from the input, scaled so that a large message takes at most ~4096 pieces.
struct Pieces {
  std::vector<size_t> sizes;
  size_t scale = 1;
  size_t Step(size_t i) const { return sizes.empty() ? SIZE_MAX : sizes[i % sizes.size()] * scale; }
};

bool Within(std::string_view inner, std::string_view outer) {
  if (inner.empty()) return true;
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

struct Decoded {
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a over the decoded data
  size_t data_bytes = 0;
  size_t consumed = 0;
  bool done = false;
  bool failed = false;
};

Decoded Decode(std::string_view in, const Pieces& pieces) {
  http::ChunkedDecoder dec;
  Decoded r;
  size_t avail = 0;
  for (size_t i = 0;; ++i) {
    while (r.consumed < avail && !dec.done() && !dec.failed()) {
      std::string_view window = in.substr(r.consumed, avail - r.consumed);
      std::string_view data;
      size_t used = dec.Feed(window, &data);
      CHECK(used <= window.size());
      CHECK(Within(data, window.substr(0, used)));
      for (unsigned char c : data) r.hash = (r.hash ^ c) * 1099511628211ULL;
      r.data_bytes += data.size();
      r.consumed += used;
      if (used == 0) {
        CHECK(dec.done() || dec.failed());  // otherwise the caller would wait forever
        break;
      }
    }
    if (dec.done() || dec.failed() || avail == in.size()) break;
    size_t step = pieces.Step(i);
    avail = step >= in.size() - avail ? in.size() : avail + step;
  }
  r.done = dec.done();
  r.failed = dec.failed();
  CHECK(!(r.done && r.failed));
  return r;
}

}  // namespace sluice::fuzz
