// The response-head half of DownstreamConnection's forwarding: reading the target's head,
// deciding whether it can be relayed unchanged, and building the head the client gets
// (status line, dropped hop-by-hop fields, stickiness cookies). Loop thread only.
#include <ctime>

#include "proxy/downstream_connection.h"
#include "proxy/local_response.h"
#include "proxy/upstream_connection.h"
#include "proxy/worker.h"

namespace sluice::proxy {

using http::EqualsIgnoreCase;

namespace {

// The downstream status line without its CRLF: the target's status and reason, as HTTP/1.1.
[[gnu::always_inline]] inline void AppendDownstreamStatusLine(const http::ResponseHead& rh,
                                                              std::string* out) {
  out->append("HTTP/1.1 ");
  out->append(std::to_string(rh.status));
  out->push_back(' ');
  out->append(rh.reason);
}

// Response fields that are not relayed with a 101: the connection's own (we write
// "Connection: Upgrade" ourselves) and body framing, which a 101 cannot have.
bool DropsUpgradeResponseField(std::string_view name) {
  return EqualsIgnoreCase(name, "connection") || EqualsIgnoreCase(name, "keep-alive") ||
         EqualsIgnoreCase(name, "proxy-connection") || EqualsIgnoreCase(name, "content-length") ||
         EqualsIgnoreCase(name, "transfer-encoding");
}

}  // namespace

// The stages of ProcessResponseHead. They run for every response head: forced inline so
// that the split costs no instructions; only the rare interim response is out of line.

// An interim (1xx) upstream response: relayed to an HTTP/1.1 client (an HTTP/2 stream reads
// it as one) with its fields but those about the connection or a body. As the HTTP/2 stream
// reader, at most kMaxInterimHeads of at most kMaxInterimHeadBytes each per exchange: a
// target's stream of interim heads to a client that does not read cannot grow out_.
[[gnu::noinline, gnu::cold]] void DownstreamConnection::RelayInterimResponse(
    const http::ResponseHead& rh, size_t head_len) {
  if (version_minor_ == 0 || interim_relayed_ == http::kMaxInterimHeads ||
      head_len > http::kMaxInterimHeadBytes) {
    return;
  }
  ++interim_relayed_;
  worker_->TakeString(out_);
  AppendDownstreamStatusLine(rh, &out_);
  out_.append("\r\n");
  std::string_view connection;
  for (const http::HeaderField& h : rh.header_span()) {
    if (EqualsIgnoreCase(h.name, "connection")) connection = h.value;
  }
  for (const http::HeaderField& h : rh.header_span()) {
    if (http::IsConnectionSpecificField(h.name) || EqualsIgnoreCase(h.name, "content-length") ||
        (!connection.empty() && http::HeaderHasToken(connection, h.name))) {
      continue;
    }
    out_.append(h.name);
    out_.append(": ");
    out_.append(h.value);
    out_.append("\r\n");
  }
  out_.append("\r\n");
  response_started_ = true;
}

// The final upstream response head: its body framing, the outcome, and whether the
// downstream and upstream connections stay open after it. False when its framing is
// invalid (the exchange has then failed).
[[gnu::always_inline]] inline bool DownstreamConnection::ApplyResponseHead(
    const http::ResponseHead& rh, http::ParseError* err) {
  if (!http::DetermineResponseFraming(rh, head_request_ ? "HEAD" : "", &resp_framing_, err)) {
    FailUpstream(Cause::kMalformedResponse);
    return false;
  }
  first_byte_ms_ = worker_->now_ms();
  target_status_ = static_cast<uint16_t>(rh.status);
  SetOutcome(Cause::kTargetResponse, rh.status);
  resp_remaining_ = resp_framing_.kind == http::BodyKind::kContentLength ? resp_framing_.length : 0;
  dechunk_ = version_minor_ == 0 && resp_framing_.kind == http::BodyKind::kChunked;
  if (resp_framing_.kind == http::BodyKind::kUntilClose || dechunk_) keep_alive_ = false;
  for (const http::HeaderField& h : rh.header_span()) {
    if (EqualsIgnoreCase(h.name, "connection") && http::HeaderHasToken(h.value, "close")) {
      upstream_reusable_ = false;
    }
  }
  if (rh.version_minor == 0) upstream_reusable_ = false;
  return true;
}

// Application-cookie stickiness: a fresh AWSALBAPP-0 when the target sets the application
// cookie, or the client is in an application session (app_cookie_refresh_).
[[gnu::always_inline]] inline void DownstreamConnection::AppendAppCookie(
    const http::ResponseHead& rh) {
  bool sets_app_cookie = app_cookie_refresh_;
  for (const http::HeaderField& h : rh.header_span()) {
    if (EqualsIgnoreCase(h.name, "set-cookie") && h.value.size() > app_cookie_name_->size() &&
        h.value.compare(0, app_cookie_name_->size(), *app_cookie_name_) == 0 &&
        h.value[app_cookie_name_->size()] == '=') {
      sets_app_cookie = true;
    }
  }
  if (sets_app_cookie) {
    char date[40];
    size_t date_len = FormatHttpDate(worker_->unix_seconds() + 7 * 86400, date);
    out_.append("Set-Cookie: AWSALBAPP-0=");
    out_.append(app_cookie_value_);
    out_.append("; Expires=");
    out_.append(date, date_len);
    out_.append("; Path=/\r\n");
  }
}

// The response head rebuilt for the downstream client in out_: HTTP/1.1 status line, the
// target's fields less the dropped ones (also those its Connection field names: they are
// hop-by-hop, RFC 9110 §7.6.1), the stickiness cookies, and Connection.
[[gnu::always_inline]] inline void DownstreamConnection::BuildDownstreamResponseHead(
    const http::ResponseHead& rh) {
  worker_->TakeString(out_);
  AppendDownstreamStatusLine(rh, &out_);
  out_.append("\r\n");
  std::string_view connection;
  if (rh.name_lengths & http::NameLengthBit(sizeof("connection") - 1)) [[unlikely]] {
    for (const http::HeaderField& h : rh.header_span()) {
      if (EqualsIgnoreCase(h.name, "connection")) connection = h.value;
    }
  }
  for (const http::HeaderField& h : rh.header_span()) {
    if (DropsResponseField(h.name)) continue;
    // Never a framing field: the client frames the body by the one we keep.
    if (!connection.empty() && http::HeaderHasToken(connection, h.name) &&
        !EqualsIgnoreCase(h.name, "content-length") &&
        !EqualsIgnoreCase(h.name, "transfer-encoding")) [[unlikely]]
      continue;
    out_.append(h.name);
    out_.append(": ");
    out_.append(h.value);
    out_.append("\r\n");
  }
  out_.append(set_cookie_headers_);
  if (app_cookie_name_ != nullptr) AppendAppCookie(rh);
  if (!keep_alive_) {
    out_.append("Connection: close\r\n");
  } else if (version_minor_ == 0) {
    out_.append("Connection: keep-alive\r\n");
  }
  out_.append("\r\n");
}

// A WebSocket upgrade the target accepted: its 101 (with the stickiness cookies) for the
// client, then the tunnel (downstream_tunnel.cc).
void DownstreamConnection::StartTunnel(const http::ResponseHead& rh, size_t head_len) {
  first_byte_ms_ = worker_->now_ms();
  target_status_ = 101;
  SetOutcome(Cause::kTargetResponse, 101);
  worker_->TakeString(out_);
  AppendDownstreamStatusLine(rh, &out_);
  out_.append("\r\n");
  for (const http::HeaderField& h : rh.header_span()) {
    if (DropsUpgradeResponseField(h.name)) continue;
    out_.append(h.name);
    out_.append(": ");
    out_.append(h.value);
    out_.append("\r\n");
  }
  out_.append(set_cookie_headers_);  // stickiness applies to the upgrade request
  if (app_cookie_name_ != nullptr) AppendAppCookie(rh);
  out_.append("Connection: Upgrade\r\n\r\n");
  upstream_->in().Consume(head_len);  // what follows the head is the target's first frames
  resp_state_ = ResponseState::kDone;
  response_started_ = true;
  resp_eof_ = false;
  upstream_shut_ = downstream_shut_ = false;
  phase_ = Phase::kTunnel;
  // From here the idle timeout and the drain deadline are the only timers.
  worker_->CheckSooner(this, NextCheckMs());
}

bool DownstreamConnection::ProcessResponseHead() {
  if (upstream_ == nullptr) return false;
  net::Buffer& b = upstream_->in();
  bool progress = false;
  while (resp_state_ == ResponseState::kHead) {
    size_t head_len = http::FindHeadEnd(b.readable(), &resp_scan_pos_);
    if (head_len == 0) {
      if (b.size() > http::kMaxResponseHead) FailUpstream(Cause::kResponseHeadTooLarge);
      return progress;
    }
    http::ResponseHead& rh = worker_->response_scratch();
    http::ParseError err;
    if (http::ParseResponseHead(b.readable(), head_len, &rh, &err) !=
        http::ParseStatus::kComplete) {
      FailUpstream(err.too_large ? Cause::kResponseHeadTooLarge : Cause::kMalformedResponse);
      return true;
    }
    if (rh.status == 101) {
      if (upgrade_requested_) {
        StartTunnel(rh, head_len);
        return true;
      }
      FailUpstream(Cause::kUpgradeNotSupported);  // a switch the client did not ask for
      return true;
    }
    if (rh.status < 200) {
      RelayInterimResponse(rh, head_len);
      b.Consume(head_len);
      resp_scan_pos_ = 0;
      progress = true;
      continue;
    }
    if (!ApplyResponseHead(rh, &err)) return true;

    if (CanRelayHeadUnchanged(rh, head_len)) {
      // The head the client would get is byte for byte the one the target sent: send it
      // from the upstream buffer with the body instead of copying it (decision 0004).
      resp_ready_ = head_len;
      response_started_ = true;
      resp_state_ = ResponseState::kBody;
      progress = true;
      continue;
    }

    BuildDownstreamResponseHead(rh);
    b.Consume(head_len);
    response_started_ = true;
    resp_state_ = ResponseState::kBody;
    progress = true;
  }
  return progress;
}

bool DownstreamConnection::DropsResponseField(std::string_view name) const {
  return EqualsIgnoreCase(name, "connection") || EqualsIgnoreCase(name, "keep-alive") ||
         EqualsIgnoreCase(name, "proxy-connection") || EqualsIgnoreCase(name, "upgrade") ||
         (dechunk_ && EqualsIgnoreCase(name, "transfer-encoding")) ||
         // Chunked wins over Content-Length; the stale length must not reach the client
         // (RFC 9112 §6.3).
         (resp_framing_.kind == http::BodyKind::kChunked &&
          EqualsIgnoreCase(name, "content-length"));
}

// The lengths of the names DropsResponseField drops now (kept in step with it): a head
// whose name summary has none of them has nothing to drop.
uint32_t DownstreamConnection::DroppedNameLengths() const {
  static_assert(sizeof("connection") == sizeof("keep-alive"));
  uint32_t lengths = http::NameLengthBit(sizeof("connection") - 1) |
                     http::NameLengthBit(sizeof("proxy-connection") - 1) |
                     http::NameLengthBit(sizeof("upgrade") - 1);
  if (dechunk_) lengths |= http::NameLengthBit(sizeof("transfer-encoding") - 1);
  if (resp_framing_.kind == http::BodyKind::kChunked) {
    lengths |= http::NameLengthBit(sizeof("content-length") - 1);
  }
  return lengths;
}

bool DownstreamConnection::CanRelayHeadUnchanged(const http::ResponseHead& rh,
                                                 size_t head_len) const {
  // Nothing to add or remove: otherwise the rebuild adds Connection or cookies, drops fields
  // (DropsResponseField) or rewrites an HTTP/1.0 status line.
  if (rh.version_minor != 1 || version_minor_ != 1 || !keep_alive_ || rh.reason.empty() ||
      !set_cookie_headers_.empty() || app_cookie_name_ != nullptr) {
    return false;
  }
  if ((rh.name_lengths & DroppedNameLengths()) != 0) {
    for (const http::HeaderField& h : rh.header_span()) {
      if (DropsResponseField(h.name)) return false;
    }
  }
  // Canonical form only: "HTTP/1.1 SSS reason" CRLF, then "name: value" CRLF per field, then
  // CRLF. Any other spacing, bare LF or folded line is normalised by the rebuild instead, so
  // the client never frames a response differently from us.
  std::string_view raw = upstream_->in().readable().substr(0, head_len);
  constexpr std::string_view kVersion = "HTTP/1.1 ";
  if (raw.substr(0, kVersion.size()) != kVersion) return false;
  size_t pos = kVersion.size() + 3;
  if (raw.size() < pos + 1 || raw[pos] != ' ' || rh.reason.data() != raw.data() + pos + 1) {
    return false;
  }
  pos += 1 + rh.reason.size();
  auto crlf_at = [&](size_t at) {
    return at + 1 < raw.size() && raw[at] == '\r' && raw[at + 1] == '\n';
  };
  if (!crlf_at(pos)) return false;
  pos += 2;
  for (const http::HeaderField& h : rh.header_span()) {
    size_t value_at = pos + h.name.size() + 2;
    if (h.name.data() != raw.data() + pos || value_at > raw.size() || raw[value_at - 2] != ':' ||
        raw[value_at - 1] != ' ' || (!h.value.empty() && h.value.data() != raw.data() + value_at) ||
        !crlf_at(value_at + h.value.size())) {
      return false;
    }
    pos = value_at + h.value.size() + 2;
  }
  return crlf_at(pos) && pos + 2 == head_len;
}

}  // namespace sluice::proxy
