// HTTP/2 health checks: nghttp2's client session in memory mode over the probe's transport.
// See probe_h2.h.
#include "health/probe_h2.h"

#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cstring>

namespace sluice::health {
namespace {

// The body of a gRPC check: one empty message (not compressed, length 0).
constexpr uint8_t kEmptyGrpcMessage[5] = {0, 0, 0, 0, 0};
// nghttp2 refuses a header block of more continuation frames than this (CVE-2024-28182).
constexpr size_t kMaxContinuations = 8;
// SETTINGS_MAX_HEADER_LIST_SIZE announced to the target.
constexpr uint32_t kMaxHeaderList = 16 * 1024;

H2ProbeIo* Self(void* user_data) { return static_cast<H2ProbeIo*>(user_data); }

std::string_view View(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

int OnHeaderCb(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
               const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  Self(user_data)->OnHeader(frame->hd.stream_id, View(name, namelen), View(value, valuelen));
  return 0;
}

int OnFrameRecvCb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  H2ProbeIo* self = Self(user_data);
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      self->OnHeadersEnd(frame->hd.stream_id, end_stream);
      break;
    case NGHTTP2_DATA:
      if (end_stream) self->OnEndStream(frame->hd.stream_id);
      break;
    case NGHTTP2_GOAWAY:
      self->OnGoAway(frame->goaway.last_stream_id);
      break;
    default:
      break;
  }
  return 0;
}

// The probe never submits a GOAWAY: one going out means nghttp2 ended the connection for a
// protocol error of the target (bytes that were not HTTP/2, a bad frame).
int OnFrameSendCb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type == NGHTTP2_GOAWAY) Self(user_data)->OnGoAwaySent();
  return 0;
}

int OnStreamCloseCb(nghttp2_session*, int32_t stream_id, uint32_t, void* user_data) {
  Self(user_data)->OnStreamClose(stream_id);
  return 0;
}

ssize_t ReadGrpcBodyCb(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* data_flags,
                       nghttp2_data_source*, void* user_data) {
  return static_cast<ssize_t>(Self(user_data)->ReadBody(buf, length, data_flags));
}

nghttp2_nv Nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

bool Matches(const StatusMatcher* m, int code) { return m != nullptr && m->Matches(code); }

}  // namespace

int ParseH2Code(std::string_view text) {
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) return -1;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<CheckResult> JudgeH2Answer(const H2Answer& a, H2CheckKind kind,
                                         const StatusMatcher* http, const StatusMatcher* grpc) {
  if (kind == H2CheckKind::kHttp2) {
    if (a.status > 0) {
      if (Matches(http, a.status)) return CheckResult{CheckOutcome::kSuccess, a.status};
      return CheckResult{CheckOutcome::kCodeMismatch, a.status};
    }
  } else if (a.status > 0 && a.status != 200) {
    return CheckResult{CheckOutcome::kCodeMismatch, a.status};
  } else if (a.ended && a.status == 200) {
    if (a.grpc_status < 0) return CheckResult{CheckOutcome::kCodeMismatch, kGrpcStatusMissing};
    if (Matches(grpc, a.grpc_status)) return CheckResult{CheckOutcome::kSuccess, 0};
    return CheckResult{CheckOutcome::kCodeMismatch, kGrpcStatusBase + a.grpc_status};
  }
  if (a.failed || a.ended) return CheckResult{CheckOutcome::kFailed, 0};
  return std::nullopt;
}

H2ProbeIo::~H2ProbeIo() { Close(); }

H2ProbeIo::H2ProbeIo(H2ProbeIo&& other) noexcept
    : session_(other.session_),
      kind_(other.kind_),
      tls_(other.tls_),
      connected_(other.connected_),
      handshaken_(other.handshaken_),
      stream_id_(other.stream_id_),
      block_status_(other.block_status_),
      body_sent_(other.body_sent_),
      received_(other.received_),
      out_(std::move(other.out_)),
      out_sent_(other.out_sent_),
      answer_(other.answer_) {
  other.session_ = nullptr;
  if (session_ != nullptr) nghttp2_session_set_user_data(session_, this);
}

void H2ProbeIo::Close() {
  if (session_ != nullptr) nghttp2_session_del(session_);
  session_ = nullptr;
}

bool H2ProbeIo::Start(const Request& request) {
  Close();
  kind_ = request.kind;
  tls_ = request.tls;
  connected_ = handshaken_ = false;
  stream_id_ = -1;
  block_status_ = 0;
  body_sent_ = 0;
  received_ = 0;
  out_.clear();
  out_sent_ = 0;
  answer_ = H2Answer{};
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return false;
  nghttp2_session_callbacks_set_on_header_callback(cbs, OnHeaderCb);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, OnFrameRecvCb);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, OnStreamCloseCb);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, OnFrameSendCb);
  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return false;
  }
  nghttp2_option_set_max_continuations(opt, kMaxContinuations);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, 0);  // our one request: no table
  int rv = nghttp2_session_client_new2(&session_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    session_ = nullptr;
    return false;
  }
  if (!SubmitRequest(request)) {
    Close();
    return false;
  }
  return true;
}

// SETTINGS (no push, a bounded header list), then the request on stream 1.
bool H2ProbeIo::SubmitRequest(const Request& request) {
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, kMaxHeaderList},
  };
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2) != 0) return false;
  const bool grpc = kind_ == H2CheckKind::kGrpc;
  const nghttp2_nv fields[] = {
      Nv(":method", grpc ? "POST" : "GET"),
      Nv(":scheme", tls_ ? "https" : "http"),
      Nv(":authority", request.authority),
      Nv(":path", request.path),
      Nv("user-agent", "ELB-HealthChecker/2.0"),
      grpc ? Nv("content-type", "application/grpc") : Nv("accept", "*/*"),
      Nv("te", "trailers"),
  };
  const size_t count = grpc ? 7 : 6;  // te: trailers is gRPC's
  nghttp2_data_provider body{};
  body.read_callback = ReadGrpcBodyCb;
  // The fields are copied by nghttp2: the views need not outlive the call.
  stream_id_ =
      nghttp2_submit_request(session_, nullptr, fields, count, grpc ? &body : nullptr, nullptr);
  return stream_id_ > 0;
}

std::optional<CheckResult> H2ProbeIo::OnEvents(net::Transport& stream, uint32_t events,
                                               const StatusMatcher* http,
                                               const StatusMatcher* grpc) {
  if (session_ == nullptr) return CheckResult{CheckOutcome::kFailed, 0};
  if (!Progress(stream, events)) answer_.failed = true;
  return JudgeH2Answer(answer_, kind_, http, grpc);
}

bool H2ProbeIo::Progress(net::Transport& stream, uint32_t events) {
  if (!connected_) {
    if (stream.ConnectError() != 0) return false;
    if (!(events & EPOLLOUT)) return true;  // still connecting
    connected_ = true;
  }
  if (!handshaken_) {
    switch (stream.Handshake()) {
      case net::HandshakeStatus::kDone:
        break;
      case net::HandshakeStatus::kFailed:
        return false;
      case net::HandshakeStatus::kWantRead:
      case net::HandshakeStatus::kWantWrite:
        return true;  // the transport reports the readiness it waits for
    }
    handshaken_ = true;
    // An HTTPS check speaks HTTP/2 only when the target chose it: no h2, no check.
    if (tls_ && stream.ApplicationProtocol() != "h2") return false;
  }
  if (!Flush(stream) || !ReadAll(stream) || !Flush(stream)) return false;
  // A session that wants neither to read nor to write is over (GOAWAY sent or received).
  return nghttp2_session_want_read(session_) != 0 || nghttp2_session_want_write(session_) != 0;
}

// Writes pending frames, taking more from the session, until it would block or nothing is
// left. False on a write error or a session failure.
bool H2ProbeIo::Flush(net::Transport& stream) {
  while (true) {
    while (out_sent_ < out_.size()) {
      net::IoResult r = stream.Write(out_.data() + out_sent_, out_.size() - out_sent_);
      if (r.status() == net::IoStatus::kInterrupted) continue;
      if (r.status() == net::IoStatus::kWouldBlock) return true;
      if (!r.ok()) return false;
      out_sent_ += r.bytes();
    }
    const int more = Pull();
    if (more < 0) return false;
    if (more == 0) return true;
  }
}

// Reads until the stream would block, feeding the session. False at end of stream, on a read
// error, or when Receive says the session is over.
bool H2ProbeIo::ReadAll(net::Transport& stream) {
  uint8_t buf[4096];
  while (true) {
    net::IoResult r = stream.Read(reinterpret_cast<char*>(buf), sizeof(buf));
    if (r.status() == net::IoStatus::kInterrupted) continue;
    if (r.status() == net::IoStatus::kWouldBlock) break;
    if (!r.ok()) return false;  // end of stream or reset
    if (!Receive(buf, r.bytes())) return false;
  }
  return true;
}

bool H2ProbeIo::Receive(const uint8_t* data, size_t size) {
  if (session_ == nullptr) return false;
  received_ += size;
  if (received_ > kMaxH2Answer) return false;
  ssize_t n = nghttp2_session_mem_recv(session_, data, size);
  if (n < 0 || static_cast<size_t>(n) != size) return false;
  // A session that wants no more (a GOAWAY received, or bytes that were not HTTP/2, which it
  // answers with one) is over.
  return nghttp2_session_want_read(session_) != 0;
}

int H2ProbeIo::Pull() {
  if (session_ == nullptr) return -1;
  out_.clear();
  out_sent_ = 0;
  const uint8_t* data = nullptr;
  ssize_t n = nghttp2_session_mem_send(session_, &data);
  if (n < 0) return -1;
  // The chunk is nghttp2's until the next call: keep a copy until it is written.
  out_.assign(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  return n > 0 ? 1 : 0;
}

std::optional<std::string> H2ProbeIo::TakeOutput() {
  std::string all;
  while (true) {
    const int more = Pull();
    if (more < 0) return std::nullopt;
    if (more == 0) return all;
    all += out_;
    out_.clear();
  }
}

size_t H2ProbeIo::ReadBody(uint8_t* buf, size_t length, uint32_t* data_flags) {
  const size_t n = std::min(length, sizeof(kEmptyGrpcMessage) - body_sent_);
  std::memcpy(buf, kEmptyGrpcMessage + body_sent_, n);
  body_sent_ += n;
  if (body_sent_ == sizeof(kEmptyGrpcMessage)) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return n;
}

void H2ProbeIo::OnHeader(int32_t stream_id, std::string_view name, std::string_view value) {
  if (stream_id != stream_id_) return;
  if (name == ":status") block_status_ = ParseH2Code(value);
  if (name == "grpc-status") answer_.grpc_status = ParseH2Code(value);
}

void H2ProbeIo::OnHeadersEnd(int32_t stream_id, bool end_stream) {
  if (stream_id != stream_id_) return;
  // A 1xx head is informational: the final one follows. Trailers carry no :status.
  if (answer_.status == 0 && block_status_ >= 200) answer_.status = block_status_;
  block_status_ = 0;
  if (end_stream) answer_.ended = true;
}

void H2ProbeIo::OnEndStream(int32_t stream_id) {
  if (stream_id == stream_id_) answer_.ended = true;
}

void H2ProbeIo::OnGoAway(int32_t last_stream_id) {
  // The target will not process our stream (nghttp2 closes it too).
  if (last_stream_id < stream_id_) answer_.failed = true;
}

void H2ProbeIo::OnGoAwaySent() { answer_.failed = true; }

void H2ProbeIo::OnStreamClose(int32_t stream_id) {
  if (stream_id == stream_id_ && !answer_.ended) answer_.failed = true;
}

}  // namespace sluice::health
