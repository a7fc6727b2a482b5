// libFuzzer target: bytes into the HTTP/1 response path (head scanner, strict response parser,
// response framing, chunked decoder).
//
// Input layout: byte 0 = flags (bits 0-2: number of piece sizes that follow; bit 3: the
// request was HEAD), then that many piece sizes (1..256 bytes each), then the raw response.
// The response is scanned as if it arrived in those pieces (cycled) and whole; both must agree
// (__builtin_trap on any disagreement). Nothing may crash, hang or read out of bounds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/h1_framing.h"
#include "http/h1_parser.h"

namespace {

using namespace sluice;

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

size_t FindInPieces(std::string_view msg, const Pieces& pieces) {
  size_t scan = 0;
  size_t avail = 0;
  for (size_t i = 0;; ++i) {
    size_t step = pieces.Step(i);
    avail = step >= msg.size() - avail ? msg.size() : avail + step;
    size_t n = http::FindHeadEnd(msg.substr(0, avail), &scan);
    CHECK(scan <= avail);
    if (n != 0) {
      CHECK(n <= avail);
      return n;
    }
    if (avail == msg.size()) return 0;
  }
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t flags = data[0];
  size_t k = flags & 7;
  if (size < 1 + k) return 0;
  Pieces pieces;
  for (size_t i = 0; i < k; ++i) pieces.sizes.push_back(static_cast<size_t>(data[1 + i]) + 1);
  std::string_view msg(reinterpret_cast<const char*>(data) + 1 + k, size - 1 - k);
  pieces.scale = std::max<size_t>(1, msg.size() / 4096);

  size_t scan = 0;
  size_t head_len = http::FindHeadEnd(msg, &scan);
  CHECK(head_len <= msg.size());
  CHECK(FindInPieces(msg, pieces) == head_len);
  if (head_len == 0) return 0;
  CHECK(msg[head_len - 1] == '\n');

  static http::ResponseHead head;
  http::ParseError err;
  http::ParseStatus st = http::ParseResponseHead(msg, head_len, &head, &err);
  if (st != http::ParseStatus::kComplete) {
    CHECK(st == http::ParseStatus::kError && err.status == 502);
    return 0;
  }
  std::string_view head_bytes = msg.substr(0, head_len);
  CHECK(head.head_length == head_len);
  CHECK(head_len <= http::kMaxResponseHead);
  CHECK(head.status >= 100 && head.status <= 999);
  CHECK(head.header_count <= http::kMaxHeaderCount);
  CHECK(Within(head.reason, head_bytes));
  for (const http::HeaderField& h : head.header_span()) {
    CHECK(Within(h.name, head_bytes) && Within(h.value, head_bytes));
    CHECK(!h.name.empty());
    for (char c : h.value) CHECK(c != '\r' && c != '\n' && c != '\0');
  }

  http::Framing framing;
  std::string_view method = flags & 0x08 ? "HEAD" : "GET";
  if (!http::DetermineResponseFraming(head, method, &framing, &err)) {
    CHECK(err.status == 502);
    return 0;
  }
  if (method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304) {
    CHECK(framing.kind == http::BodyKind::kNone);
  }
  if (framing.kind == http::BodyKind::kChunked) {
    std::string_view body = msg.substr(head_len);
    Decoded whole = Decode(body, Pieces{});
    Decoded split = Decode(body, pieces);
    CHECK(whole.done == split.done);
    CHECK(whole.failed == split.failed);
    CHECK(whole.consumed == split.consumed);
    CHECK(whole.data_bytes == split.data_bytes);
    CHECK(whole.hash == split.hash);
  }
  return 0;
}
