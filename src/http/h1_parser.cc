#include "http/h1_parser.h"

#include <cstring>

#include "base/ascii.h"

namespace sluice::http {
namespace {

std::string_view TrimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Splits off the next line of `rest` (without its line end). Sets *bare_lf when the line
// ended with LF alone. Returns false when no LF remains.
// Inlined: it runs once per header line of every request and response.
[[gnu::always_inline]] inline bool NextLine(std::string_view* rest, std::string_view* line,
                                            bool* bare_lf) {
  const char* p = static_cast<const char*>(std::memchr(rest->data(), '\n', rest->size()));
  if (p == nullptr) return false;
  size_t end = static_cast<size_t>(p - rest->data());
  size_t content_end = end;
  *bare_lf = true;
  if (content_end > 0 && (*rest)[content_end - 1] == '\r') {
    --content_end;
    *bare_lf = false;
  }
  *line = rest->substr(0, content_end);
  rest->remove_prefix(end + 1);
  return true;
}

// Parses "HTTP/1.d"; returns the minor digit, or -1 (bad), or -2 (a well-formed but
// unsupported major version such as HTTP/2.0).
int ParseVersion(std::string_view v) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.') return -1;
  char major = v[5], minor = v[7];
  if (major < '0' || major > '9' || minor < '0' || minor > '9') return -1;
  if (major != '1') return -2;
  return minor - '0';
}

struct HeaderLimits {
  size_t max_line;
  size_t max_total;
};

// The stages of ParseHeaderLines. They run in its loop over the header lines of every
// request and response: forced inline so that the split costs no instructions. (The line
// and head size limits stay in the loop: as a stage they cost 16 instructions per head.)

// An obs-fold line (starting with SP or HTAB): joined to the previous field's value in a
// request; false (with *error) in a response, or before any field.
[[gnu::always_inline]] inline bool UnfoldContinuation(std::string_view line, bool strict,
                                                      HeaderField* out, size_t count,
                                                      DesyncVerdict* verdict, ParseError* error) {
  // obs-fold: a continuation of the previous field's value.
  if (strict || count == 0) {
    *error = {strict ? 502 : 400, "header continuation line"};
    return false;
  }
  HeaderField& prev = out[count - 1];
  const char* start = prev.value.empty() ? line.data() : prev.value.data();
  const char* end = line.data() + line.size();
  prev.value = TrimOws(std::string_view(start, static_cast<size_t>(end - start)));
  *verdict = Worse(*verdict, {DesyncTier::kAmbiguous, DesyncReason::kMultilineHeader});
  return true;
}

// A response field name must be a non-empty token.
[[gnu::always_inline]] inline bool CheckResponseFieldName(std::string_view name,
                                                          ParseError* error) {
  if (name.empty()) {
    *error = {502, "empty header name"};
    return false;
  }
  for (unsigned char c : name) {
    if (!IsTokenChar(c)) {
      *error = {502, "invalid header name"};
      return false;
    }
  }
  return true;
}

// A response field value must hold no NUL, CR or LF.
[[gnu::always_inline]] inline bool CheckResponseFieldValue(std::string_view value,
                                                           ParseError* error) {
  for (unsigned char c : value) {
    if (c == 0 || c == '\r' || c == '\n') {
      *error = {502, "invalid header value"};
      return false;
    }
  }
  return true;
}

// Parses header lines from `rest` up to the empty line. Lenient tokenization for requests
// (records anomalies in *verdict); strict for responses (strict == true).
bool ParseHeaderLines(std::string_view rest, bool strict, HeaderLimits limits, HeaderField* out,
                      size_t* count, uint32_t* name_lengths, DesyncVerdict* verdict,
                      bool* space_before_colon, ParseError* error) {
  size_t total = 0;
  *count = 0;
  *name_lengths = 0;
  std::string_view line;
  bool bare_lf = false;
  while (NextLine(&rest, &line, &bare_lf)) {
    if (bare_lf) {
      if (strict) {
        // Responses: a bare LF is tolerated by every client we know; accept it.
      } else {
        *verdict =
            Worse(*verdict, {DesyncTier::kAcceptable, DesyncReason::kNonCrLfLineTermination});
      }
    }
    if (line.empty()) return true;
    if (line.size() > limits.max_line) {
      *error = {strict ? 502 : 400, "header line too long", true};
      return false;
    }
    total += line.size() + 2;
    if (total > limits.max_total) {
      *error = {strict ? 502 : 400, "headers too large", true};
      return false;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      if (!UnfoldContinuation(line, strict, out, *count, verdict, error)) return false;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      if (strict) {
        *error = {502, "header line without colon"};
        return false;
      }
      *verdict = Worse(*verdict, {DesyncTier::kAmbiguous, DesyncReason::kMissingHeaderColon});
      continue;  // not a header: dropped
    }
    std::string_view name = line.substr(0, colon);
    if (!name.empty() && (name.back() == ' ' || name.back() == '\t')) *space_before_colon = true;
    if (strict && !CheckResponseFieldName(name, error)) return false;
    if (*count >= kMaxHeaderCount) {
      *error = {strict ? 502 : 400, "too many headers"};
      return false;
    }
    std::string_view value = TrimOws(line.substr(colon + 1));
    if (strict && !CheckResponseFieldValue(value, error)) return false;
    out[(*count)++] = {name, value};
    *name_lengths |= NameLengthBit(name.size());
  }
  *error = {strict ? 502 : 400, "incomplete head"};
  return false;
}

// True when a space-separated piece of `target` after its first one starts with "HTTP/"
// followed by a digit: a second version on the request line. A target without SP (almost
// every one) costs one memchr.
bool TargetHoldsVersion(std::string_view target) {
  const void* sp = std::memchr(target.data(), ' ', target.size());
  if (sp == nullptr) return false;
  size_t pos = static_cast<size_t>(static_cast<const char*>(sp) - target.data());
  while (pos != std::string_view::npos) {
    std::string_view piece = target.substr(pos + 1);
    if (piece.size() > 5 && piece.starts_with("HTTP/") && piece[5] >= '0' && piece[5] <= '9') {
      return true;
    }
    pos = target.find(' ', pos + 1);
  }
  return false;
}

}  // namespace

size_t FindHeadEnd(std::string_view buf, size_t* scan_pos) {
  size_t pos = *scan_pos;
  while (pos < buf.size()) {
    const char* p = static_cast<const char*>(std::memchr(buf.data() + pos, '\n', buf.size() - pos));
    if (p == nullptr) break;
    size_t i = static_cast<size_t>(p - buf.data());
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
    if (i + 2 >= buf.size()) {
      // The terminator may still be arriving: rescan from this LF next time.
      *scan_pos = i;
      return 0;
    }
    pos = i + 1;
  }
  *scan_pos = buf.size();
  return 0;
}

bool CheckPartialRequestHead(std::string_view buf, ParseError* error) {
  const char* nl = static_cast<const char*>(std::memchr(buf.data(), '\n', buf.size()));
  size_t line_len = nl ? static_cast<size_t>(nl - buf.data()) : buf.size();
  // The CR of the line end is not part of the request line (it may be the last byte so far).
  size_t content_len = line_len > 0 && buf[line_len - 1] == '\r' ? line_len - 1 : line_len;
  if (content_len > kMaxRequestLine) {
    *error = {414, "request line too long", true};
    return false;
  }
  if (nl == nullptr) return true;
  // A complete request line without a version is HTTP/0.9, which is not served: answer now
  // rather than wait for an empty line that an HTTP/0.9 client never sends.
  std::string_view line = buf.substr(0, content_len);
  size_t sp1 = line.find(' ');
  if (sp1 != std::string_view::npos && line.find(' ', sp1 + 1) == std::string_view::npos) {
    *error = {400, "HTTP/0.9 requests are not supported"};
    return false;
  }
  size_t rest = buf.size() - line_len - 1;
  if (rest > kMaxRequestHeaders + 2) {
    *error = {400, "headers too large", true};
    return false;
  }
  // One header line longer than the limit, still unterminated.
  const char* last_nl = static_cast<const char*>(memrchr(buf.data(), '\n', buf.size()));
  if (buf.size() - static_cast<size_t>(last_nl - buf.data()) - 1 > kMaxRequestHeaderLine + 1) {
    *error = {400, "header line too long", true};
    return false;
  }
  return true;
}

namespace {

// Splits the request line into method, target and version (and sets version_minor); false
// (with *error) when the line is too long or malformed, the version is not HTTP/1.x or the
// method is not a token. A stage of ParseRequestHead, run once per request: forced inline so
// that the split costs no instructions.
[[gnu::always_inline]] inline bool ParseRequestLine(std::string_view line, RequestHead* out,
                                                    ParseError* error) {
  if (line.size() > kMaxRequestLine) {
    *error = {414, "request line too long", true};
    return false;
  }
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) {
    *error = {400, "malformed request line"};
    return false;
  }
  out->method = line.substr(0, sp1);
  std::string_view after = line.substr(sp1 + 1);
  size_t sp2 = after.rfind(' ');
  if (sp2 == std::string_view::npos) {
    out->target = after;
    out->version = {};
    *error = {400, "HTTP/0.9 requests are not supported"};
    return false;
  }
  out->target = after.substr(0, sp2);
  out->version = after.substr(sp2 + 1);
  if (out->target.empty()) {
    *error = {400, "missing request target"};
    return false;
  }
  int minor = ParseVersion(out->version);
  if (minor == -2) {
    *error = {505, "HTTP version not supported"};
    return false;
  }
  if (minor < 0) {
    *error = {400, "malformed HTTP version"};
    return false;
  }
  out->version_minor = minor >= 1 ? 1 : 0;
  for (unsigned char c : out->method) {
    if (!IsTokenChar(c)) {
      *error = {400, "malformed method"};
      return false;
    }
  }
  return true;
}

}  // namespace

ParseStatus ParseRequestHead(std::string_view buf, size_t head_len, RequestHead* out,
                             ParseError* error) {
  std::string_view rest = buf.substr(0, head_len);
  std::string_view line;
  bool bare_lf = false;
  out->wire_verdict = {};
  out->header_count = 0;
  out->head_length = head_len;
  if (!NextLine(&rest, &line, &bare_lf)) {
    *error = {400, "no request line"};
    return ParseStatus::kError;
  }
  if (bare_lf) {
    out->wire_verdict = {DesyncTier::kAcceptable, DesyncReason::kNonCrLfLineTermination};
  }
  if (!ParseRequestLine(line, out, error)) return ParseStatus::kError;
  if (TargetHoldsVersion(out->target)) {
    // "GET /a HTTP/1.1 HTTP/1.1": a parser that splits at the first spaces reads a bad
    // version (http-desync-guardian: Severe BadVersion), one that splits at the last reads
    // "/a HTTP/1.1" as the target. The two disagree, so the request is Severe.
    out->wire_verdict = Worse(out->wire_verdict, {DesyncTier::kSevere, DesyncReason::kBadVersion});
  }
  out->whitespace_before_colon = false;
  if (!ParseHeaderLines(rest, /*strict=*/false, {kMaxRequestHeaderLine, kMaxRequestHeaders},
                        out->headers, &out->header_count, &out->name_lengths, &out->wire_verdict,
                        &out->whitespace_before_colon, error)) {
    return ParseStatus::kError;
  }
  return ParseStatus::kComplete;
}

int ParseStatusLine(std::string_view line, int* version_minor, std::string_view* reason,
                    const char** why) {
  int minor = line.size() < 12 ? -1 : ParseVersion(line.substr(0, 8));
  if (minor < 0 || line[8] != ' ') {
    *why = "malformed status line";
    return -1;
  }
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    char c = line[i];
    if (c < '0' || c > '9') {
      *why = "malformed status code";
      return -1;
    }
    status = status * 10 + (c - '0');
  }
  if (status < 100 || (line.size() > 12 && line[12] != ' ')) {
    *why = "malformed status code";
    return -1;
  }
  *version_minor = minor >= 1 ? 1 : 0;
  *reason = line.size() > 13 ? line.substr(13) : std::string_view();
  return status;
}

ParseStatus ParseResponseHead(std::string_view buf, size_t head_len, ResponseHead* out,
                              ParseError* error, size_t max_head) {
  if (head_len > max_head) {
    *error = {502, "response head too large", true};
    return ParseStatus::kError;
  }
  std::string_view rest = buf.substr(0, head_len);
  std::string_view line;
  bool bare_lf = false;
  out->header_count = 0;
  out->head_length = head_len;
  const char* why = "malformed status line";
  int status = NextLine(&rest, &line, &bare_lf)
                   ? ParseStatusLine(line, &out->version_minor, &out->reason, &why)
                   : -1;
  if (status < 0) {
    *error = {502, why};
    return ParseStatus::kError;
  }
  out->status = status;
  DesyncVerdict ignored;
  bool ignored_space = false;
  if (!ParseHeaderLines(rest, /*strict=*/true, {max_head, max_head}, out->headers,
                        &out->header_count, &out->name_lengths, &ignored, &ignored_space, error)) {
    return ParseStatus::kError;
  }
  return ParseStatus::kComplete;
}

}  // namespace sluice::http
