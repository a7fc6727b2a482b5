#include "app/s3_get.h"

#include "control/blocking_http.h"
#include "http/h1_framing.h"
#include "http/h1_parser.h"

namespace sluice::app {
namespace {

enum class Dechunked { kDone, kShort, kBad };

// The chunked body at the start of `in` decoded into *out (trailers dropped): kShort when
// `in` ends inside it; kBad with *why on bad framing or a body over `max_body`.
Dechunked Dechunk(std::string_view in, size_t max_body, std::string* out, std::string* why) {
  http::ChunkedDecoder decoder;
  while (!decoder.done()) {
    std::string_view data;
    const size_t used = decoder.Feed(in, &data);
    if (decoder.failed()) return *why = "bad chunked coding", Dechunked::kBad;
    if (!decoder.fed_trailer()) out->append(data);
    if (out->size() > max_body) {
      *why = "object over " + std::to_string(max_body) + " bytes";
      return Dechunked::kBad;
    }
    if (used == 0 && !decoder.done()) return Dechunked::kShort;
    in.remove_prefix(used);
  }
  return Dechunked::kDone;
}

// The final response's head in `raw` (interim 1xx responses other than 101 skipped, RFC 9110
// §15.2): its length from the start of `raw` (0 when `raw` ends before it, with *why empty;
// 0 with *why when it is not HTTP).
size_t FinalHead(std::string_view raw, http::ResponseHead* head, std::string* why) {
  size_t skipped = 0;
  while (true) {
    const std::string_view rest = raw.substr(skipped);
    size_t scan = 0;
    const size_t length = http::FindHeadEnd(rest, &scan);
    if (length == 0) {
      if (rest.size() > http::kMaxResponseHead) *why = "not an HTTP response";
      return 0;
    }
    http::ParseError parse_error;
    *head = http::ResponseHead();
    if (http::ParseResponseHead(rest, length, head, &parse_error) != http::ParseStatus::kComplete) {
      *why = "not an HTTP response";
      return 0;
    }
    skipped += length;
    if (head->status >= 200 || head->status == 101) return skipped;
  }
}

}  // namespace

S3GetResult ParseS3GetResponse(std::string_view raw, size_t max_body, bool at_end) {
  S3GetResult r;
  auto short_read = [&] {
    if (at_end) r.error = "the response ends inside its body";
    r.incomplete = !at_end;
    return r;
  };
  http::ResponseHead head;
  const size_t head_length = FinalHead(raw, &head, &r.error);
  if (head_length == 0) {
    if (r.error.empty() && at_end) r.error = "not an HTTP response";
    r.incomplete = r.error.empty();
    return r;
  }
  http::Framing framing;
  http::ParseError parse_error;
  if (head.status == 101 || !http::DetermineResponseFraming(head, "GET", &framing, &parse_error)) {
    r.error = std::string("bad response framing: ") +
              (head.status == 101 ? "101 Switching Protocols" : parse_error.reason);
    return r;
  }
  const std::string_view rest = raw.substr(head_length);
  std::string body;
  if (framing.kind == http::BodyKind::kContentLength) {
    if (framing.length > max_body) {
      r.error = "object over " + std::to_string(max_body) + " bytes";
      return r;
    }
    if (rest.size() < framing.length) return short_read();
    body.assign(rest.substr(0, framing.length));
  } else if (framing.kind == http::BodyKind::kChunked) {
    const Dechunked d = Dechunk(rest, max_body, &body, &r.error);
    if (d == Dechunked::kBad) return r;
    if (d == Dechunked::kShort) return short_read();
  } else if (framing.kind == http::BodyKind::kUntilClose) {
    if (rest.size() > max_body) {
      r.error = "object over " + std::to_string(max_body) + " bytes";
      return r;
    }
    if (!at_end) return short_read();
    body.assign(rest);
  }
  r.status = head.status;
  if (r.status < 200 || r.status > 299) {
    r.s3_code = S3ErrorCode(body);
    r.error = "the store answered " + std::to_string(r.status) +
              (r.s3_code.empty() ? "" : " " + r.s3_code);
    return r;
  }
  r.body = std::move(body);
  return r;
}

S3GetResult GetObjectFromS3(const S3Target& target, const std::string& bucket,
                            const std::string& key, const std::string& version_id, size_t max_body,
                            int timeout_ms) {
  S3GetResult r;
  const int64_t deadline = control::SteadyMs() + timeout_ms;
  const std::string head =
      api::S3GetObjectHead(control::HostHeader(target.host, target.port), bucket, key, version_id,
                           target.credentials, target.region, S3AmzDateNow());
  if (head.empty()) {
    r.error = "OpenSSL cannot sign";
    return r;
  }
  auto c =
      control::BlockingConnection::Open(target.host, target.port, target.tls, timeout_ms, &r.error);
  if (c == nullptr || !c->Send(head, &r.error)) return r;
  // Read until the response is complete by its framing (a store need not close, nor send
  // TLS close_notify), the store closes, or the deadline; the head, the body and some
  // framing: an error document is small.
  const size_t limit = max_body + 64 * 1024;
  std::string raw;
  while (true) {
    if (raw.size() > limit) {
      r.error = "response over " + std::to_string(limit) + " bytes";
      return r;
    }
    const long n = c->ReadAvailable(deadline, limit + 1 - raw.size(), &raw, &r.error);
    if (n < 0) return r;
    S3GetResult parsed = ParseS3GetResponse(raw, max_body, n == 0);
    if (!parsed.incomplete) return parsed;
  }
}

}  // namespace sluice::app
