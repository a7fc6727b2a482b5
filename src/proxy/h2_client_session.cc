// An HTTP/2 connection to a target: nghttp2's client session in memory-buffer mode over the
// connection's transport, and the streams of the exchanges it carries. See h2_client_session.h.
#include "proxy/h2_client_session.h"

#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cstring>

#include "proxy/local_response.h"
#include "proxy/worker.h"

namespace sluice::proxy {
namespace {

constexpr size_t kMaxPendingOutput = 64 * 1024;
constexpr int kPumpRounds = 8;

H2ClientSession* Self(void* user_data) { return static_cast<H2ClientSession*>(user_data); }

bool ResponseBlock(const nghttp2_frame* frame) {
  return frame->hd.type == NGHTTP2_HEADERS && (frame->headers.cat == NGHTTP2_HCAT_RESPONSE ||
                                               frame->headers.cat == NGHTTP2_HCAT_HEADERS);
}

int OnHeaderCb(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
               const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
  if (!ResponseBlock(frame)) return 0;  // PUSH_PROMISE: push is disabled by our SETTINGS
  return Self(user_data)->OnHeader(
      frame->hd.stream_id, std::string_view(reinterpret_cast<const char*>(name), namelen),
      std::string_view(reinterpret_cast<const char*>(value), valuelen));
}

int OnFrameRecvCb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  H2ClientSession* self = Self(user_data);
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_GOAWAY) self->OnGoAway(frame->goaway.last_stream_id);
  if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
    self->OnSettings();
  }
  if (ResponseBlock(frame)) {
    int rv = self->OnHeadersDone(frame->hd.stream_id, end_stream);
    if (rv != 0) return rv;
  }
  if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) && end_stream) {
    return self->OnEndStream(frame->hd.stream_id);
  }
  return 0;
}

int OnDataChunkCb(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                  void* user_data) {
  return Self(user_data)->OnData(stream_id, data, len);
}

int OnStreamCloseCb(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  return Self(user_data)->OnStreamClose(stream_id, error_code);
}

ssize_t ReadBodyCb(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                   uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
  return Self(user_data)->ReadRequestBody(stream_id, buf, length, data_flags);
}

nghttp2_nv Nv(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

H2ClientSession::H2ClientSession(Worker* worker, std::unique_ptr<net::Transport> transport,
                                 const UpstreamKey& key, bool tls, int64_t idle_timeout_ms)
    : worker_(worker),
      transport_(std::move(transport)),
      key_(key),
      tls_(tls),
      idle_timeout_ms_(idle_timeout_ms),
      idle_since_ms_(worker->now_ms()) {}

H2ClientSession::~H2ClientSession() {
  Close();
  if (session_ != nullptr) nghttp2_session_del(session_);
}

bool H2ClientSession::Start() {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return false;
  nghttp2_session_callbacks_set_on_header_callback(cbs, OnHeaderCb);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, OnFrameRecvCb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, OnDataChunkCb);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, OnStreamCloseCb);
  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return false;
  }
  // Credit goes back only once the exchange has read the bytes (OnResponseRead).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_continuations(opt, 8);
  // Until the target's SETTINGS arrive its stream limit is unknown: one stream goes out, the
  // others wait in nghttp2's queue (never more than a target that allows 1 accepts).
  nghttp2_option_set_peer_max_concurrent_streams(opt, 1);
  int rv = nghttp2_session_client_new2(&session_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    session_ = nullptr;
    return false;
  }
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kH2UpstreamStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 64 * 1024},
  };
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 3) != 0 ||
      nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                            kH2UpstreamConnectionWindow) != 0) {
    return false;
  }
  return transport_->Watch(worker_->loop(), this);
}

bool H2ClientSession::HasRoom() const {
  if (closed_ || going_away_ || session_ == nullptr) return false;
  uint32_t limit = kH2UpstreamMaxStreams;
  // Before the target's SETTINGS, streams wait in nghttp2's queue (Start): they may join.
  if (settings_received_) {
    limit = std::min(limit, nghttp2_session_get_remote_settings(
                                session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS));
  }
  return streams_.size() < limit;
}

H2UpstreamStream* H2ClientSession::AddStream(H2UpstreamTransport* transport) {
  auto stream = std::make_unique<H2UpstreamStream>(tls_ ? "https" : "http");
  stream->transport = transport;
  streams_.push_back(std::move(stream));
  return streams_.back().get();
}

H2UpstreamStream* H2ClientSession::Find(int32_t stream_id) {
  for (auto& s : streams_) {
    if (s->id == stream_id) return s.get();
  }
  return nullptr;
}

void H2ClientSession::OnEvents(uint32_t events) {
  if (closed_) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
  if (events & EPOLLOUT) writable_ = true;
  if (!ready_ && !Establish(events)) return;
  Pump();
}

bool H2ClientSession::Establish(uint32_t events) {
  if (!connected_) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return false;
    const int err = transport_->ConnectError();
    if (err != 0) {
      Fail(err, nullptr);
      return false;
    }
    connected_ = true;
  }
  if (tls_) {
    switch (transport_->Handshake()) {
      case net::HandshakeStatus::kDone:
        break;
      case net::HandshakeStatus::kWantRead:
      case net::HandshakeStatus::kWantWrite:
        return false;
      case net::HandshakeStatus::kFailed: {
        const char* why = transport_->TlsFailure();
        Fail(EPROTO, why != nullptr ? why : "TLS handshake failed");
        return false;
      }
    }
    if (transport_->ApplicationProtocol() != "h2") {
      Fail(EPROTO, "the target did not select h2 by ALPN");
      return false;
    }
  }
  ready_ = true;
  readable_ = writable_ = true;  // a read or write finds out
  for (auto& s : streams_) Wake(s.get(), EPOLLOUT);
  return true;
}

void H2ClientSession::Pump() {
  for (int round = 0; round < kPumpRounds && !closed_; ++round) {
    bool moved = false;
    if (readable_ && out_.size() - out_sent_ < kMaxPendingOutput) {
      char buf[16 * 1024];
      net::IoResult r = transport_->Read(buf, sizeof(buf));
      if (r.ok()) {
        moved = true;
        ssize_t n =
            nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf), r.bytes());
        if (n < 0) {  // the target broke the protocol: every stream fails
          Fail(ECONNRESET, nullptr);
          return;
        }
        if (r.bytes() < sizeof(buf) && !transport_->HasBufferedInput()) readable_ = false;
      } else if (r.status() == net::IoStatus::kWouldBlock) {
        readable_ = false;
      } else if (r.status() != net::IoStatus::kInterrupted) {
        Fail(ECONNRESET, nullptr);  // the target closed or reset the connection
        return;
      }
    }
    moved |= Flush();
    if (closed_) return;
    if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0 &&
        out_sent_ == out_.size()) {
      Close();  // GOAWAY exchanged and no stream open: whole responses stay readable
      return;
    }
    if (going_away_ && streams_.empty() && out_sent_ == out_.size()) {
      Close();
      return;
    }
    if (!moved) return;
  }
  worker_->loop().Yield(this);
}

bool H2ClientSession::Flush() {
  bool moved = false;
  while (out_.size() - out_sent_ < kMaxPendingOutput) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      Fail(ECONNRESET, nullptr);
      return false;
    }
    if (n == 0) break;
    out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  while (writable_ && out_sent_ < out_.size()) {
    net::IoResult r = transport_->Write(out_.data() + out_sent_, out_.size() - out_sent_);
    if (r.ok()) {
      out_sent_ += r.bytes();
      moved = true;
    } else if (r.status() == net::IoStatus::kWouldBlock) {
      writable_ = false;
    } else if (r.status() != net::IoStatus::kInterrupted) {
      Fail(ECONNRESET, nullptr);
      return false;
    }
  }
  if (out_sent_ == out_.size()) {
    out_.clear();
    out_sent_ = 0;
  }
  return moved;
}

void H2ClientSession::Fail(int error, const char* tls_failure) {
  if (error_ == 0) error_ = error;
  if (tls_failure_ == nullptr) tls_failure_ = tls_failure;
  Close();
}

void H2ClientSession::Close() {
  if (closed_) return;
  closed_ = true;
  const int error = error_ != 0 ? error_ : ECONNRESET;
  for (auto& s : streams_) {
    H2UpstreamTransport* t = s->transport;
    if (t == nullptr) continue;
    net::EventHandler* h = t->handler();
    s->transport = nullptr;
    if (s->ended) {
      t->Orphan(std::move(s));  // a whole response is still read by its exchange
      if (h != nullptr) worker_->loop().Post(h, EPOLLIN);
      continue;
    }
    t->Detach(error, tls_failure_, ready_);
    if (h != nullptr) worker_->loop().Post(h, EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP);
  }
  streams_.clear();
  transport_->Close();
  idle_since_ms_ = worker_->now_ms();
}

void H2ClientSession::Retire() {
  if (closed_ || going_away_) return;
  going_away_ = true;
  if (streams_.empty()) {
    Close();
    return;
  }
  if (ready_) nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
  worker_->loop().Post(this, 0);
}

void H2ClientSession::Wake(H2UpstreamStream* stream, uint32_t events) {
  if (stream->transport == nullptr) return;
  net::EventHandler* h = stream->transport->handler();
  if (h != nullptr) worker_->loop().Post(h, events);
}

void H2ClientSession::Forget(H2UpstreamStream* stream) {
  auto it = std::find_if(streams_.begin(), streams_.end(),
                         [stream](const auto& s) { return s.get() == stream; });
  if (it != streams_.end()) streams_.erase(it);
  if (streams_.empty()) idle_since_ms_ = worker_->now_ms();
}

void H2ClientSession::Submit(H2UpstreamStream* stream) {
  thread_local std::vector<nghttp2_nv> nva;  // nghttp2 copies the fields
  nva.clear();
  for (const auto& [name, value] : stream->request.fields()) {
    nva.push_back(Nv(name, value));
    // A value that differs on every request would only churn the HPACK dynamic table.
    if (name == "x-amzn-trace-id") nva.back().flags = NGHTTP2_NV_FLAG_NO_INDEX;
  }
  stream->request.TakeHead();
  stream->response.set_head_request(stream->request.method() == "HEAD");
  nghttp2_data_provider provider{};
  provider.read_callback = ReadBodyCb;
  const bool body = stream->request.has_body();
  int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                      body ? &provider : nullptr, nullptr);
  if (id < 0) {
    stream->error = ECONNRESET;
    stream->closed = true;
    Wake(stream, EPOLLIN | EPOLLOUT);
    return;
  }
  stream->id = id;
}

void H2ClientSession::OnRequestWritten(H2UpstreamStream* stream) {
  if (stream->id == 0 && stream->request.head_ready()) Submit(stream);
  if (stream->id > 0 && stream->data_deferred &&
      (stream->body_sent < stream->body.size() || stream->body_ended)) {
    stream->data_deferred = false;
    nghttp2_session_resume_data(session_, stream->id);
  }
  worker_->loop().Post(this, 0);
}

void H2ClientSession::OnResponseRead(H2UpstreamStream* stream) {
  if (stream->response_read < stream->response_bytes.size()) return;
  stream->response_bytes.clear();
  stream->response_read = 0;
  if (stream->unconsumed != 0 && !closed_) {
    // A closed stream needs no window: the connection's credit still comes back.
    if (stream->closed) {
      nghttp2_session_consume_connection(session_, stream->unconsumed);
    } else {
      nghttp2_session_consume(session_, stream->id, stream->unconsumed);
    }
    stream->unconsumed = 0;
    worker_->loop().Post(this, 0);  // WINDOW_UPDATE to send
  }
}

void H2ClientSession::OnExchangeClosed(H2UpstreamStream* stream) {
  stream->transport = nullptr;
  if (!closed_ && stream->id > 0) {
    if (!stream->closed) {
      // An unfinished exchange cancels its stream; a finished response with the request
      // still open (the target answered early) ends it cleanly.
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream->id,
                                stream->ended ? NGHTTP2_NO_ERROR : NGHTTP2_CANCEL);
    }
    if (stream->unconsumed != 0) nghttp2_session_consume_connection(session_, stream->unconsumed);
    worker_->loop().Post(this, 0);
  }
  Forget(stream);
}

int H2ClientSession::OnHeader(int32_t stream_id, std::string_view name, std::string_view value) {
  H2UpstreamStream* stream = Find(stream_id);
  if (stream == nullptr) return 0;
  if (!stream->response.AddField(name, value)) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return 0;
}

int H2ClientSession::OnHeadersDone(int32_t stream_id, bool end_stream) {
  H2UpstreamStream* stream = Find(stream_id);
  if (stream == nullptr || stream->response.head_done()) return 0;  // trailers: at the end
  http::H1ResponseWriter& w = stream->response;
  const char* reason = ReasonPhrase(w.status());
  const size_t before = stream->response_bytes.size();
  if (!w.EndHead(end_stream, reason, &stream->response_bytes)) {
    if (w.failed()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (stream->response_bytes.size() != before) Wake(stream, EPOLLIN);  // 1xx to relay
    return 0;                                                            // wait for the final head
  }
  Wake(stream, EPOLLIN);
  return 0;
}

int H2ClientSession::OnData(int32_t stream_id, const uint8_t* data, size_t len) {
  H2UpstreamStream* stream = Find(stream_id);
  if (stream == nullptr) {
    nghttp2_session_consume_connection(session_, len);  // a cancelled stream's late bytes
    return 0;
  }
  stream->response.AppendData(std::string_view(reinterpret_cast<const char*>(data), len),
                              &stream->response_bytes);
  stream->unconsumed += static_cast<uint32_t>(len);
  Wake(stream, EPOLLIN);
  return 0;
}

int H2ClientSession::OnEndStream(int32_t stream_id) {
  H2UpstreamStream* stream = Find(stream_id);
  if (stream == nullptr || !stream->response.head_done()) return 0;
  stream->response.EndMessage(&stream->response_bytes);
  stream->ended = true;
  Wake(stream, EPOLLIN);
  return 0;
}

int H2ClientSession::OnStreamClose(int32_t stream_id, uint32_t error_code) {
  H2UpstreamStream* stream = Find(stream_id);
  if (stream == nullptr) return 0;
  stream->closed = true;
  if (!stream->ended) stream->error = ECONNRESET;  // reset or refused before the end
  (void)error_code;
  if (stream->transport == nullptr) {
    Forget(stream);
    return 0;
  }
  Wake(stream, EPOLLIN | EPOLLOUT);
  return 0;
}

void H2ClientSession::OnGoAway(int32_t) { going_away_ = true; }

long H2ClientSession::ReadRequestBody(int32_t stream_id, uint8_t* buf, size_t length,
                                      uint32_t* data_flags) {
  H2UpstreamStream* stream = Find(stream_id);
  if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  size_t n = std::min(length, stream->body.size() - stream->body_sent);
  if (n != 0) std::memcpy(buf, stream->body.data() + stream->body_sent, n);
  stream->body_sent += n;
  if (stream->body_sent == stream->body.size()) {
    stream->body.clear();
    stream->body_sent = 0;
    if (stream->body_ended) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<long>(n);
    }
  }
  if (stream->exchange_waiting) {
    stream->exchange_waiting = false;
    Wake(stream, EPOLLOUT);
  }
  if (n == 0) {
    stream->data_deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<long>(n);
}

}  // namespace sluice::proxy
