// Request parsing and responses of the demo target's server: the head, Content-Length and
// chunked bodies, and the replies the demo's endpoints give.
#include "app/demo_target_server.h"
#include "http/h1_parser.h"

namespace sluice::app::demo_server {

void Server::ResetForNextRequest(Conn& c) {
  c.phase = Phase::kHead;
  c.req = Request{};
  c.head_scan = c.in_pos;
  c.remaining = 0;
  Release(c.out);
  c.out_pos = 0;
  if (c.in_pos == c.in.size()) {
    Release(c.in);
    c.in_pos = c.head_scan = 0;
  }
  Touch(c);
}

// Consumes what it can from `in`; returns false when more input is needed or the phase left
// the reading phases.
bool Server::ParseStep(Conn& c) {
  std::string_view avail(c.in.data() + c.in_pos, c.in.size() - c.in_pos);
  switch (c.phase) {
    case Phase::kHead: {
      // RFC 9112 2.2: ignore empty lines before the request line.
      while (c.head_scan == c.in_pos && !avail.empty() &&
             (avail.front() == '\n' ||
              (avail.size() >= 2 && avail.front() == '\r' && avail[1] == '\n'))) {
        size_t skip = avail.front() == '\n' ? 1 : 2;
        c.in_pos += skip;
        c.head_scan += skip;
        avail.remove_prefix(skip);
      }
      // The data plane's head scanner (http::FindHeadEnd), resumed where it stopped.
      size_t scan = c.head_scan - c.in_pos;
      size_t head_len = http::FindHeadEnd(avail, &scan);
      c.head_scan = c.in_pos + scan;
      if (head_len == 0) {
        if (avail.size() > kMaxHeadBytes) BadRequest(c, "request head too large", true);
        return false;
      }
      if (head_len > kMaxHeadBytes) {
        BadRequest(c, "request head too large", true);
        return false;
      }
      return ParseHead(c, c.in_pos + head_len);
    }
    case Phase::kBody: {
      uint64_t take = std::min<uint64_t>(c.remaining, avail.size());
      c.in_pos += take;
      c.remaining -= take;
      c.req.body_bytes += take;
      if (c.remaining > 0) return false;
      RequestComplete(c);
      return true;
    }
    case Phase::kChunked: {
      // The data plane's chunked decoder (http/): its grammar and limits, no second parser.
      while (!avail.empty()) {
        std::string_view data;
        size_t used = c.chunks.Feed(avail, &data);
        if (c.chunks.failed()) {
          BadRequest(c, "invalid chunked body", true);
          return false;
        }
        c.req.body_bytes += data.size();
        c.in_pos += used;
        avail.remove_prefix(used);
        if (c.chunks.done()) {
          RequestComplete(c);
          return true;
        }
        if (used == 0) break;
      }
      return false;
    }
    default:
      return false;
  }
}

// Parses the complete head in in[in_pos, end) and sets up body reading.
bool Server::ParseHead(Conn& c, size_t end) {
  std::string_view head(c.in.data() + c.in_pos, end - c.in_pos);
  c.in_pos = end;
  demo::HeadResult head_result;
  if (const char* error = demo::ParseRequestHead(head, &c.req, &head_result)) {
    BadRequest(c, error, true);
    return false;
  }
  const bool chunked = head_result.chunked;
  const uint64_t length = head_result.content_length;
  // Send 100 Continue when the client waits for it; the previous response is fully flushed,
  // so this tiny write does not block. If it does not go out, the client times out and sends.
  if (head_result.expect_continue && !c.req.http10 && (chunked || length > 0) &&
      c.in_pos == c.in.size()) {
    static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
    [[maybe_unused]] ssize_t n = ::send(c.fd, k100.data(), k100.size(), MSG_NOSIGNAL);
  }
  if (chunked) {
    c.phase = Phase::kChunked;
    c.chunks.Reset();
  } else if (length > 0) {
    c.phase = Phase::kBody;
    c.remaining = length;
  } else {
    RequestComplete(c);
  }
  return true;
}

void Server::RequestComplete(Conn& c) {
  Request& r = c.req;
  c.close_after = !r.keep_alive;
  if (const char* error = demo::ApplyQueryParameters(&r, &c.close_after)) {
    BadRequest(c, error, c.close_after);
    return;
  }
  if (r.delay_ms == 0) {
    StartResponse(c);
    return;
  }
  c.phase = Phase::kDelay;
  // +1: NowMs() truncates, and the delay must be at least delay_ms.
  SetDeadline(c, NowMs() + static_cast<int64_t>(r.delay_ms) + 1);
}

void Server::StartResponse(Conn& c) {
  const Request& r = c.req;
  if (r.have_bytes) {
    Reply(c, r.status, "", r.bytes, r.chunked);
  } else if (demo::RequestPath(r.target) == options_.health_path) {
    Reply(c, r.status, "ok\n", 0, r.chunked);
  } else {
    Reply(c, r.status, demo::EchoBody(name_, addr_, c.peer, r), 0, r.chunked);
  }
}

void Server::BadRequest(Conn& c, std::string_view why, bool close) {
  c.close_after = c.close_after || close;
  std::string body = "bad request: ";
  body.append(why);
  body += '\n';
  Reply(c, 400, body, 0, false);
}

// Queues a response: either `body`, or `stream_bytes` 'x' characters produced while sending.
void Server::Reply(Conn& c, int status, std::string_view body, uint64_t stream_bytes,
                   bool chunked) {
  demo::ResponseSpec spec;
  spec.status = status;
  spec.chunked = chunked;
  spec.head_request = c.req.method == "HEAD";
  spec.http10 = c.req.http10;
  spec.close = c.close_after;
  spec.server_name = name_;
  c.stream = demo::BuildResponse(spec, body, stream_bytes, &c.out);
  c.out_pos = 0;
  c.phase = Phase::kWriting;
  Touch(c);
}

}  // namespace sluice::app::demo_server
