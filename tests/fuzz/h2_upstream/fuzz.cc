// libFuzzer target: the HTTP/1.1 ↔ HTTP/2 translation on the target side (http/h2_upstream.h).
//
// Input layout: byte 0 = flags. Bit 0 clear: bytes of an HTTP/1.1 request for
// H1RequestReader (bit 1: scheme "http", else "https"; bits 2-7 seed the piece sizes and the
// body_room of each Feed). Bit 0 set: a script for H1ResponseWriter (bit 1: the request was
// HEAD), one step per line (\n):
//   "F<name>\t<value>"     AddField
//   "R<c><name>\t<value>"  AddField, the value repeated until it is (c & 0x7f) * 128 bytes
//   "H<e><r>"              the header block ended (e == '1': with END_STREAM; the reason
//                          phrase is kReasons[r % size]); after the final head: ignored
//   "D<data>"              a DATA frame
//   "Z<c>"                 a DATA frame of (c & 0x7f) * 64 bytes
//   "E"                    the stream ended
// The steps follow what nghttp2 delivers: no DATA before the final head, trailers (fields
// after the final head) end with the stream.
//
// Asserted (__builtin_trap): the request reader never consumes more than it was given nor
// more body than body_room, the body lies inside the consumed bytes, it progresses while it
// has bytes and room, errors and the end are final, the header block is :method, :scheme,
// [:authority,] :path, then lower-case fields without connection-specific ones, ending with
// "te: trailers", and the outcome does not depend on how the bytes were split. The response
// writer refuses a block without a (single, three-digit) :status, with another pseudo-field,
// or over its limits, and nothing else nghttp2 would let through; a response nghttp2 would
// let through is written as bytes the HTTP/1 response path reads back (FindHeadEnd,
// ParseResponseHead, DetermineResponseFraming, ChunkedDecoder) with the same status, the
// fields less the connection-specific ones, the framing announced, the same body and the
// trailers, and nothing after its end.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../h1_pieces.h"
#include "http/h1_framing.h"
#include "http/h1_parser.h"
#include "http/h2_upstream.h"
#include "http/header.h"

namespace {

using namespace sluice;
using sluice::fuzz::Within;
using State = http::H1RequestReader::State;
using Fields = std::vector<std::pair<std::string, std::string>>;

bool IsTchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool IsLowerToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTchar);
}
// A field value nghttp2 passes on (RFC 9113 §8.2.1), restricted to what HTTP/1.1 allows.
bool IsCleanValue(std::string_view s) {
  for (char c : s) {
    if (!(c == '\t' || (c >= 0x20 && c <= 0x7e))) return false;
  }
  return s.empty() ||
         (s.front() != ' ' && s.front() != '\t' && s.back() != ' ' && s.back() != '\t');
}
bool IsDropped(std::string_view n) {
  return http::EqualsIgnoreCase(n, "connection") || http::EqualsIgnoreCase(n, "keep-alive") ||
         http::EqualsIgnoreCase(n, "proxy-connection") ||
         http::EqualsIgnoreCase(n, "transfer-encoding") || http::EqualsIgnoreCase(n, "upgrade") ||
         http::EqualsIgnoreCase(n, "te") || http::EqualsIgnoreCase(n, "host");
}
bool IsDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// A small deterministic generator for piece sizes and rooms.
struct Lcg {
  uint32_t s;
  uint32_t Next() {
    s = s * 1103515245u + 12345u;
    return s >> 16;
  }
};

// ---------------------------------------------------------------------------------------------
// H1RequestReader.

struct RequestOutcome {
  State state = State::kHead;
  bool head_seen = false;
  bool has_body = false;
  Fields fields;
  std::string body;
  size_t consumed = 0;
};

void CheckRequestFields(const http::H1RequestReader& r, std::string_view scheme) {
  const auto& f = r.fields();
  CHECK(f.size() >= 4);
  CHECK(f[0].first == ":method" && f[0].second == r.method() && !f[0].second.empty());
  CHECK(f[1].first == ":scheme" && f[1].second == scheme);
  size_t i = 2;
  if (f[i].first == ":authority") {
    CHECK(!f[i].second.empty());
    ++i;
  }
  CHECK(f[i].first == ":path");
  for (++i; i < f.size(); ++i) {
    const std::string_view name = f[i].first;
    CHECK(name.empty() || name[0] != ':');
    for (char c : name) CHECK(!(c >= 'A' && c <= 'Z'));
    if (i + 1 < f.size()) CHECK(!IsDropped(name));
  }
  CHECK(f.back().first == "te" && f.back().second == "trailers");
}

// Feeds `in` with piece sizes and rooms from `lcg` (or all at once and unbounded if null).
RequestOutcome ReadRequest(std::string_view in, std::string_view scheme, Lcg* lcg) {
  http::H1RequestReader r(scheme);
  RequestOutcome out;
  size_t guard = 4 * in.size() + 1000;
  while (guard-- > 0) {
    const State before = r.state();
    size_t piece = in.size() - out.consumed;
    size_t room = SIZE_MAX;
    if (lcg != nullptr) {
      uint32_t p = lcg->Next() % 8;
      piece = std::min(piece, p == 0 ? size_t{1} : p < 6 ? size_t{1} + lcg->Next() % 64 : 4096);
      uint32_t q = lcg->Next() % 8;
      room = q == 0 ? 0 : q < 6 ? 1 + lcg->Next() % 64 : q == 6 ? 65536 : SIZE_MAX;
    }
    std::string_view offered = in.substr(out.consumed, piece);
    std::string_view body = "not set";
    size_t n = r.Feed(offered, room, &body);
    CHECK(n <= offered.size());
    CHECK(body.size() <= room);
    CHECK(body.size() <= n);
    CHECK(Within(body, offered.substr(0, n)));
    if (before == State::kDone || before == State::kError) {
      CHECK(n == 0 && body.empty() && r.state() == before);
    }
    if (before == State::kHead) CHECK(body.empty());
    if ((before == State::kHead || (before == State::kBody && room > 0)) && !offered.empty()) {
      CHECK(n > 0 || r.state() == State::kError);
    }
    CHECK((r.state() == State::kError) == (r.error() != nullptr));
    if (r.head_ready()) {
      CHECK(!out.head_seen);
      CHECK(before == State::kHead);
      CHECK(r.state() == State::kBody || r.state() == State::kDone);
      CHECK(r.has_body() == (r.state() == State::kBody));
      CheckRequestFields(r, scheme);
      out.head_seen = true;
      out.has_body = r.has_body();
      for (const auto& [name, value] : r.fields()) out.fields.emplace_back(name, value);
      r.TakeHead();
      CHECK(!r.head_ready());
    } else if (before == State::kHead) {
      CHECK(r.state() == State::kHead || r.state() == State::kError);
    }
    if (before == State::kBody) CHECK(r.state() != State::kHead);
    out.body.append(body);
    out.consumed += n;
    if (r.state() == State::kDone || r.state() == State::kError) break;
    if (out.consumed == in.size()) break;
    if (n == 0) CHECK(before == State::kBody && room == 0);  // retried with other room
  }
  CHECK(guard > 0 || r.state() == State::kBody);
  if (!out.head_seen) CHECK(out.body.empty());
  std::string_view body;
  if (r.state() == State::kDone || r.state() == State::kError) {
    CHECK(r.Feed("GET / HTTP/1.1\r\n\r\n", SIZE_MAX, &body) == 0 && body.empty());
  }
  out.state = r.state();
  return out;
}

void FuzzRequest(uint8_t flags, std::string_view in) {
  const std::string_view scheme = (flags & 2) != 0 ? "http" : "https";
  Lcg lcg{static_cast<uint32_t>(flags >> 2) * 2654435761u + 1};
  RequestOutcome pieces = ReadRequest(in, scheme, &lcg);
  RequestOutcome whole = ReadRequest(in, scheme, nullptr);
  if (pieces.state == State::kBody && whole.state != State::kBody) {
    return;  // the room-0 retries ran out of guard; nothing to compare
  }
  CHECK(pieces.state == whole.state);
  CHECK(pieces.head_seen == whole.head_seen);
  CHECK(pieces.fields == whole.fields);
  CHECK(pieces.has_body == whole.has_body);
  if (whole.state == State::kDone) {
    CHECK(pieces.body == whole.body);
    CHECK(pieces.consumed == whole.consumed);
  } else if (whole.state != State::kError) {
    CHECK(whole.consumed == in.size());
  }
}

// ---------------------------------------------------------------------------------------------
// H1ResponseWriter.

constexpr std::string_view kReasons[] = {"OK", "", "Not Found", "Reason With Spaces", "x"};
// The writer holds a head to what the request path reads (kMaxResponseHead), less room for
// the status line and framing.
constexpr size_t kMaxBlockBytes = http::kMaxResponseHead - 256;
constexpr size_t kMaxFields = http::kMaxHeaderCount - 8;
constexpr size_t kMaxTrailerBytes = 15 * 1024;

// What one header block (or the trailers) was, for the checks.
struct Block {
  Fields fields;
  size_t bytes = 0;
  int statuses = 0;
  bool status_first = true;
  bool bad_status = false;  // not three digits
  bool other_pseudo = false;
  bool bad_regular = false;  // a name or value nghttp2 refuses
  bool over_limits = false;
  size_t trailer_kept = 0;
  int status = -1;  // the first :status, when it has three digits
};

void AddToBlock(Block* b, std::string_view name, std::string_view value, bool trailers) {
  b->fields.emplace_back(name, value);
  b->bytes += name.size() + value.size() + 32;
  if (trailers) {
    if (!name.empty() && name[0] != ':') {
      if (b->trailer_kept + name.size() + value.size() + 4 > kMaxTrailerBytes) {
        b->over_limits = true;
      } else if (!IsDropped(name) && name != "content-length") {
        b->trailer_kept += name.size() + value.size() + 4;
      }
    }
  } else if (b->bytes > kMaxBlockBytes || b->fields.size() > kMaxFields) {
    b->over_limits = true;
  }
  if (!name.empty() && name[0] == ':') {
    if (name == ":status" && !trailers) {
      ++b->statuses;
      if (b->fields.size() != 1) b->status_first = false;
      if (value.size() != 3 || !IsDigits(value)) {
        b->bad_status = true;
      } else if (b->statuses == 1) {
        b->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
      }
    } else {
      b->other_pseudo = true;
    }
    return;
  }
  if (!IsLowerToken(name) || !IsCleanValue(value)) b->bad_regular = true;
}

// A block nghttp2 (HTTP messaging on) lets through, as far as the writer's checks go.
bool Acceptable(const Block& b, bool trailers) {
  if (b.other_pseudo || b.bad_regular) return false;
  return trailers || (b.statuses == 1 && b.status_first && !b.bad_status);
}

struct Step {
  char op = 0;
  std::string name, value;
  bool flag = false;
  uint8_t c = 0;
};

std::vector<Step> ParseScript(std::string_view in) {
  std::vector<Step> steps;
  while (!in.empty() && steps.size() < 2000) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    if (line.empty()) continue;
    Step s;
    s.op = line[0];
    line.remove_prefix(1);
    switch (s.op) {
      case 'R':
        if (line.empty()) continue;
        s.c = static_cast<uint8_t>(line[0]);
        line.remove_prefix(1);
        [[fallthrough]];
      case 'F': {
        size_t tab = line.find('\t');
        s.name = std::string(line.substr(0, tab));
        if (tab != std::string_view::npos) s.value = std::string(line.substr(tab + 1));
        const size_t repeat_to = static_cast<size_t>(s.c & 0x7f) * 128;
        if (s.op == 'R' && !s.value.empty()) {
          const std::string unit = s.value;
          while (s.value.size() < repeat_to) s.value += unit;
        }
        s.op = 'F';
        break;
      }
      case 'H':
        s.flag = !line.empty() && line[0] == '1';
        s.c = line.size() > 1 ? static_cast<uint8_t>(line[1]) : 0;
        break;
      case 'D':
        s.value = std::string(line);
        break;
      case 'Z':
        s.c = line.empty() ? 1 : static_cast<uint8_t>(line[0]);
        for (size_t i = 0; i < static_cast<size_t>(s.c & 0x7f) * 64; ++i) {
          s.value.push_back(static_cast<char>(i % 251));
        }
        s.op = 'D';
        break;
      case 'E':
        break;
      default:
        continue;
    }
    steps.push_back(std::move(s));
  }
  return steps;
}

// An interim head the writer appended (out[from..]) reads back as exactly one 1xx head with
// the block's status and its fields less the dropped ones and Content-Length.
void ReadBackInterim(const std::string& out, size_t from, const Block& block) {
  const std::string_view added = std::string_view(out).substr(from);
  size_t scan = 0;
  const size_t len = http::FindHeadEnd(added, &scan);
  CHECK(len == added.size());
  CHECK(len <= http::kMaxInterimHeadBytes);
  auto rh = std::make_unique<http::ResponseHead>();
  http::ParseError err;
  CHECK(http::ParseResponseHead(added, len, rh.get(), &err) == http::ParseStatus::kComplete);
  CHECK(rh->status == block.status);
  Fields got, expected;
  for (const http::HeaderField& f : rh->header_span()) got.emplace_back(f.name, f.value);
  for (const auto& [name, value] : block.fields) {
    if (name.empty() || name[0] == ':' || IsDropped(name) || name == "content-length") continue;
    expected.emplace_back(name, value);
  }
  CHECK(got == expected);
}

// Reads the writer's output back as the request path does; checks it against what was sent.
void ReadBack(const std::string& out, bool head_request, int status, const Fields& expected,
              bool chunked, const std::string& data, const std::string& trailers) {
  size_t scan = 0;
  const size_t len = http::FindHeadEnd(out, &scan);
  CHECK(len > 0);
  auto rh = std::make_unique<http::ResponseHead>();
  http::ParseError err;
  // Every head the writer accepts fits the request path's limit on a target's head.
  CHECK(len <= http::kMaxResponseHead);
  CHECK(http::ParseResponseHead(out, len, rh.get(), &err) == http::ParseStatus::kComplete);
  CHECK(rh->status == status);
  Fields got;
  for (const http::HeaderField& f : rh->header_span()) got.emplace_back(f.name, f.value);
  CHECK(got == expected);
  http::Framing framing;
  CHECK(http::DetermineResponseFraming(*rh, head_request ? "HEAD" : "GET", &framing, &err));
  std::string_view rest = std::string_view(out).substr(len);
  const bool bodiless = head_request || status == 204 || status == 304;
  if (bodiless) {
    CHECK(framing.kind == http::BodyKind::kNone);
    CHECK(rest.empty());
    return;
  }
  if (!chunked) {
    // (A length of 0 is no body to the framing.)
    CHECK(framing.kind == (data.empty() ? http::BodyKind::kNone : http::BodyKind::kContentLength));
    CHECK(framing.length == data.size());
    CHECK(rest == data);
    return;
  }
  CHECK(framing.kind == http::BodyKind::kChunked);
  http::ChunkedDecoder dec;
  std::string body, trailer_bytes;
  while (!rest.empty() && !dec.done() && !dec.failed()) {
    std::string_view piece;
    const size_t n = dec.Feed(rest, &piece);
    CHECK(n > 0);
    if (dec.fed_trailer()) trailer_bytes.append(rest.substr(0, n));
    body.append(piece);
    rest.remove_prefix(n);
  }
  CHECK(dec.done());
  CHECK(rest.empty());
  CHECK(body == data);
  CHECK(trailer_bytes == trailers);
}

void FuzzResponse(uint8_t flags, std::string_view in) {
  const bool head_request = (flags & 2) != 0;
  const std::vector<Step> steps = ParseScript(in);
  http::H1ResponseWriter w(head_request);
  std::string out;
  Block block, final_head, trailers;
  bool head_done = false, ended = false, end_stream = false, valid = true;
  int interims = 0;        // interim heads written
  size_t final_start = 0;  // where the final head begins in `out`
  std::string data;
  for (const Step& s : steps) {
    if (w.failed() || ended) break;
    switch (s.op) {
      case 'F': {
        const bool ok = w.AddField(s.name, s.value);
        CHECK(ok == !w.failed());
        AddToBlock(head_done ? &trailers : &block, s.name, s.value, head_done);
        const Block& b = head_done ? trailers : block;
        if (!ok) {
          // Refused: something in the block the writer's checks name.
          CHECK(b.over_limits || b.other_pseudo || b.statuses > 1 || b.bad_status ||
                (head_done && s.name.empty()));
        } else if (!head_done) {
          CHECK(!b.other_pseudo && !b.bad_status && !b.over_limits && b.statuses <= 1);
        }
        break;
      }
      case 'H': {
        if (head_done) break;  // the session ignores the end of a trailer block
        const size_t before = out.size();
        const bool final_head_written = w.EndHead(s.flag, kReasons[s.c % 5], &out);
        CHECK(final_head_written == w.head_done());
        if (block.statuses == 0) CHECK(!final_head_written && w.failed());
        if (block.statuses > 1) CHECK(w.failed());
        const int status = block.statuses == 1 ? block.status : -1;
        if (!final_head_written) {
          if (w.failed()) {
            CHECK(out.size() == before);
            break;
          }
          CHECK(status >= 100 && status <= 199);
          // Written as an interim head, unless a 101 or over the limits (then nothing).
          if (out.size() != before) {
            CHECK(status != 101 && interims < http::kMaxInterimHeads);
            ++interims;
            // (A block nghttp2 would refuse never reaches the writer: its bytes are not read.)
            if (Acceptable(block, false)) ReadBackInterim(out, before, block);
          } else {
            // (block.bytes counts 32 per field, more than the head's ": " and CRLF.)
            CHECK(status == 101 || interims == http::kMaxInterimHeads ||
                  block.bytes + kReasons[s.c % 5].size() + 17 > http::kMaxInterimHeadBytes);
          }
          if (s.flag) valid = false;  // nghttp2 refuses a 1xx with END_STREAM
          block = Block();
          break;
        }
        final_start = before;
        if (Acceptable(block, false) && !block.over_limits) {
          CHECK(status >= 200);
        }
        CHECK(w.status() >= 200 && w.status() <= 999);
        const std::string line = "HTTP/1.1 " + std::to_string(w.status()) + " ";
        CHECK(out.compare(before, line.size(), line) == 0);
        head_done = true;
        end_stream = s.flag;
        final_head = block;
        valid = valid && Acceptable(block, false) && w.status() != 101;
        if (s.flag) {
          w.EndMessage(&out);
          ended = true;
        }
        break;
      }
      case 'D':
        if (!head_done || !trailers.fields.empty()) break;  // not what nghttp2 delivers
        w.AppendData(s.value, &out);
        data += s.value;
        break;
      case 'E':
        if (!head_done) break;
        w.EndMessage(&out);
        ended = true;
        break;
    }
  }
  if (!ended || w.failed()) {
    // A refusal is explained by the block that was being read.
    if (w.failed()) {
      const Block& b = head_done ? trailers : block;
      CHECK(!Acceptable(b, head_done) || b.over_limits ||
            (!head_done && b.statuses == 1 && b.status < 100));
    }
    return;
  }
  valid = valid && Acceptable(trailers, true);
  const int status = w.status();
  const bool bodiless = head_request || status == 204 || status == 304;
  // The fields as the target sent them, less what the writer drops.
  std::string content_length;
  bool has_content_length = false, grpc = false;
  Fields kept;
  for (const auto& [name, value] : final_head.fields) {
    if (name.empty() || name[0] == ':' || IsDropped(name)) continue;
    if (name == "content-length") {
      if (has_content_length) {
        if (value != content_length) valid = false;  // nghttp2 refuses lengths that differ
        continue;
      }
      has_content_length = true;
      content_length = value;
      if (!IsDigits(value) || value.size() > 15) valid = false;
    }
    if (name == "content-type" && value.starts_with("application/grpc")) grpc = true;
    kept.emplace_back(name, value);
  }
  const bool chunked = !bodiless && !end_stream && (!has_content_length || grpc);
  CHECK(w.chunked() == chunked);
  if (bodiless && !data.empty()) valid = false;  // nghttp2 refuses DATA here
  if (has_content_length && !bodiless &&
      std::stoull("0" + content_length.substr(0, 15)) != data.size()) {
    valid = false;  // nghttp2 checks the length at the end of the stream
  }
  if (!valid) return;
  Fields expected;
  for (const auto& f : kept) {
    if (chunked && f.first == "content-length") continue;
    expected.push_back(f);
  }
  if (chunked) expected.emplace_back("transfer-encoding", "chunked");
  if (end_stream && !bodiless && !has_content_length) expected.emplace_back("content-length", "0");
  std::string trailer_lines;
  for (const auto& [name, value] : trailers.fields) {
    if (IsDropped(name) || name == "content-length") continue;
    trailer_lines += name + ": " + value + "\r\n";
  }
  ReadBack(out.substr(final_start), head_request, status, expected, chunked, data,
           chunked ? trailer_lines : "");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    FuzzResponse(data[0], in);
  } else {
    FuzzRequest(data[0], in);
  }
  return 0;
}
