// libFuzzer target: bytes into the HTTP/1 request path (head scanner, partial-head limits,
// request parser, framing, desync classifier, upstream rewrite, chunked decoder).
//
// Input layout: byte 0 = flags (bits 0-2: number of piece sizes that follow; bits 3-7 vary the
// rewrite attributes), then that many piece sizes (1..256 bytes each), then the raw request.
// The request is scanned as if it arrived in those pieces (cycled) and whole; both must agree
// (__builtin_trap on any disagreement). Nothing may crash, hang or read out of bounds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../h1_pieces.h"
#include "balancer/picker.h"
#include "base/ip_address.h"
#include "config/model.h"
#include "http/desync.h"
#include "http/h1_framing.h"
#include "http/h1_parser.h"
#include "http/host.h"
#include "proxy/request_rewrite.h"

namespace {

using namespace sluice;
using namespace sluice::fuzz;

// Scans `msg` for its head end as it grows piece by piece. *rejected is set when the
// partial-head limit check refuses one of the incomplete prefixes.
size_t FindInPieces(std::string_view msg, const Pieces& pieces, bool* rejected) {
  size_t scan = 0;
  size_t avail = 0;
  for (size_t i = 0;; ++i) {
    size_t step = pieces.Step(i);
    avail = step >= msg.size() - avail ? msg.size() : avail + step;
    std::string_view prefix = msg.substr(0, avail);
    size_t n = http::FindHeadEnd(prefix, &scan);
    CHECK(scan <= avail);
    if (n != 0) {
      CHECK(n <= avail);
      return n;
    }
    http::ParseError err;
    if (!*rejected && !http::CheckPartialRequestHead(prefix, &err)) {
      CHECK(err.status == 400 || err.status == 414);
      *rejected = true;
    }
    if (avail == msg.size()) return 0;
  }
}

void DecodeBothWays(std::string_view body, const Pieces& pieces) {
  Decoded whole = Decode(body, Pieces{});
  Decoded split = Decode(body, pieces);
  CHECK(whole.done == split.done);
  CHECK(whole.failed == split.failed);
  CHECK(whole.consumed == split.consumed);
  CHECK(whole.data_bytes == split.data_bytes);
  CHECK(whole.hash == split.hash);
}

class CountingRng : public balancer::Rng {
 public:
  uint64_t Next() override { return state_ += 0x9e3779b97f4a7c15ULL; }

 private:
  uint64_t state_ = 0;
};

// The upstream head carries at most one framing field, and only under its exact name; its
// request line has exactly two spaces (nothing a target could split elsewhere).
void CheckUpstreamFraming(std::string_view out) {
  for (size_t i = 0; i < out.size(); ++i) {  // CR and LF only as CRLF line ends
    if (out[i] == '\r') CHECK(i + 1 < out.size() && out[i + 1] == '\n');
    if (out[i] == '\n') CHECK(i > 0 && out[i - 1] == '\r');
  }
  size_t line_end = out.find("\r\n");
  std::string_view request_line = out.substr(0, line_end);
  CHECK(std::count(request_line.begin(), request_line.end(), ' ') == 2);
  int framing_fields = 0;
  for (size_t pos = line_end + 2; pos < out.size();) {
    size_t end = out.find("\r\n", pos);
    CHECK(end != std::string_view::npos);
    std::string_view line = out.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) break;
    std::string_view name = line.substr(0, line.find(':'));
    if (!http::IsFramingFieldName(name)) continue;
    CHECK(name == "Transfer-Encoding" || name == "Content-Length");
    ++framing_fields;
  }
  CHECK(framing_fields <= 1);
}

void Rewrite(const http::RequestHead& head, const http::Framing& framing,
             http::DesyncVerdict verdict, uint8_t flags) {
  proxy::RequestTarget target;
  if (!proxy::SplitRequestTarget(head.target, &target)) return;
  CHECK(Within(target.authority, head.target));
  CHECK(Within(target.path_and_query, head.target) || target.path_and_query == "/");
  config::LoadBalancerAttributes attrs;
  attrs.xff_client_port = flags & 0x08;
  switch ((flags >> 4) & 3) {
    case 1:
      attrs.xff_header_processing_mode = config::XffProcessingMode::kPreserve;
      break;
    case 2:
      attrs.xff_header_processing_mode = config::XffProcessingMode::kRemove;
      break;
    default:
      attrs.xff_header_processing_mode = config::XffProcessingMode::kAppend;
      break;
  }
  attrs.preserve_host_header = flags & 0x40;
  attrs.drop_invalid_header_fields = flags & 0x80;
  static const IpAddress kV4 = *IpAddress::Parse("203.0.113.7");
  static const IpAddress kV6 = *IpAddress::Parse("2001:db8::1");
  CountingRng rng;
  proxy::ForwardContext ctx;
  ctx.attributes = &attrs;
  ctx.listener_https = flags & 0x80;
  ctx.listener_port = flags & 0x40 ? "8080" : (ctx.listener_https ? "443" : "80");
  ctx.client_ip = flags & 0x20 ? kV6 : kV4;
  ctx.client_port = 50000;
  ctx.fallback_host = "lb.example";
  ctx.unix_seconds = 1700000000;
  ctx.rng = &rng;
  proxy::ApplyDesyncVerdict(verdict, &ctx);
  (void)http::IsValidHost(target.authority);
  std::string out;
  int status = proxy::AppendUpstreamRequestHead(head, target, framing, ctx, &out);
  CHECK(status == 0 || status == 463);
  if (status == 0) {
    CHECK(out.size() >= 4 && out.compare(out.size() - 4, 4, "\r\n\r\n") == 0);
    // Monitor mode forwards even a Severe request; its values may then hold line breaks that
    // the rewrite unfolds, so the line check holds for every verdict.
    CheckUpstreamFraming(out);
  } else {
    CHECK(out.empty());
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
  bool rejected_early = false;
  CHECK(FindInPieces(msg, pieces, &rejected_early) == head_len);
  if (head_len == 0) return 0;
  CHECK(msg[head_len - 1] == '\n');

  static http::RequestHead head;
  http::ParseError err;
  http::ParseStatus st = http::ParseRequestHead(msg, head_len, &head, &err);
  if (st != http::ParseStatus::kComplete) {
    CHECK(st == http::ParseStatus::kError);
    CHECK(err.status == 400 || err.status == 414 || err.status == 505);
    return 0;
  }
  // A head the parser accepts must not have been refused while it was still arriving.
  CHECK(!rejected_early);
  std::string_view head_bytes = msg.substr(0, head_len);
  CHECK(head.head_length == head_len);
  CHECK(head.header_count <= http::kMaxHeaderCount);
  CHECK(Within(head.method, head_bytes) && Within(head.target, head_bytes) &&
        Within(head.version, head_bytes));
  for (const http::HeaderField& h : head.header_span()) {
    CHECK(Within(h.name, head_bytes) && Within(h.value, head_bytes));
  }

  http::DesyncVerdict verdict = http::Worse(
      head.wire_verdict,
      http::ClassifyRequest(head.method, head.target, head.version, head.header_span()));
  (void)http::ToString(verdict.tier);
  (void)http::ToString(verdict.reason);

  http::Framing framing;
  if (!http::DetermineRequestFraming(head, &framing, &err)) {
    CHECK(err.status == 400 || err.status == 501);
    return 0;
  }
  CHECK(framing.kind != http::BodyKind::kUntilClose);
  if (framing.kind == http::BodyKind::kContentLength) CHECK(framing.length > 0);
  for (const http::HeaderField& h : head.header_span()) (void)http::IsValidHost(h.value);
  Rewrite(head, framing, verdict, flags);
  if (framing.kind == http::BodyKind::kChunked) DecodeBothWays(msg.substr(head_len), pieces);
  return 0;
}
