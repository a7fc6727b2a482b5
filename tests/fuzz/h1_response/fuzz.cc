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

#include "../h1_pieces.h"
#include "http/h1_framing.h"
#include "http/h1_parser.h"

namespace {

using namespace sluice;
using namespace sluice::fuzz;

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
