// Shared by the fuzz targets that drive a whole worker (proxy/memory_harness.h): walks what
// a client received, response by response, and traps (__builtin_trap) unless every response
// is well-framed HTTP/1.1 (interim 1xx aside), bodies framed as their heads say; only the
// last may be cut short (a target closed mid-body). Request methods come from the
// harness's exchange records, in order.
#pragma once

#include <string_view>

#include "h1_pieces.h"
#include "http/h1_framing.h"
#include "http/h1_parser.h"
#include "proxy/memory_harness.h"

namespace sluice::fuzz {

inline std::string_view MethodOf(std::string_view request_line) {
  size_t sp = request_line.find(' ');
  return sp == std::string_view::npos ? request_line : request_line.substr(0, sp);
}

// Walks the client's bytes response by response.
inline void CheckResponses(std::string_view out, const proxy::MemoryHarness& h) {
  size_t pos = 0;
  size_t exchange = 0;
  http::ResponseHead head;
  while (pos < out.size()) {
    std::string_view rest = out.substr(pos);
    size_t scan = 0;
    size_t head_len = http::FindHeadEnd(rest, &scan);
    CHECK(head_len > 0);  // the load balancer writes whole heads
    http::ParseError error;
    CHECK(http::ParseResponseHead(rest, head_len, &head, &error) == http::ParseStatus::kComplete);
    pos += head_len;
    if (head.status < 200) continue;
    std::string_view method = "GET";
    if (exchange < h.records().size()) method = MethodOf(h.records()[exchange].request_line);
    ++exchange;
    http::Framing framing;
    CHECK(http::DetermineResponseFraming(head, method, &framing, &error));
    rest = out.substr(pos);
    switch (framing.kind) {
      case http::BodyKind::kNone:
        break;
      case http::BodyKind::kContentLength:
        if (framing.length > rest.size()) return;  // cut short: must be the last
        pos += framing.length;
        break;
      case http::BodyKind::kChunked: {
        http::ChunkedDecoder chunks;
        size_t used = 0;
        while (!chunks.done() && used < rest.size()) {
          std::string_view data;
          size_t n = chunks.Feed(rest.substr(used), &data);
          CHECK(!chunks.failed());
          if (n == 0) break;
          used += n;
        }
        if (!chunks.done()) return;  // cut short
        pos += used;
        break;
      }
      case http::BodyKind::kUntilClose:
        return;
    }
  }
}

}  // namespace sluice::fuzz
