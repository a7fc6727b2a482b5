// The HTTP/2 connection: nghttp2 in memory-buffer mode (mem_recv / mem_send) over the
// client's transport, and the life of each stream's exchange. See h2_session.h.
#include "proxy/h2_session.h"

#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "proxy/downstream_connection.h"
#include "proxy/worker.h"

namespace sluice::proxy {
namespace {

constexpr size_t kMaxPendingOutput = 64 * 1024;   // frames made but not written, then we wait
constexpr size_t kIdleOutputCapacity = 4 * 1024;  // kept between streams; larger is released
constexpr int kPumpRounds = 8;

H2Session* Self(void* user_data) { return static_cast<H2Session*>(user_data); }

int OnBeginHeadersCb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  return Self(user_data)->OnBeginHeaders(frame->hd.stream_id);
}

int OnHeaderCb(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
               const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
  // Trailer fields of a request are dropped (they never reach a target: h1_framing.h).
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  return Self(user_data)->OnHeader(
      frame->hd.stream_id, std::string_view(reinterpret_cast<const char*>(name), namelen),
      std::string_view(reinterpret_cast<const char*>(value), valuelen));
}

int OnFrameRecvCb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  H2Session* self = Self(user_data);
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    return self->OnRequestHeadersDone(frame->hd.stream_id, end_stream);
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

int OnFrameSendCb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type == NGHTTP2_DATA) Self(user_data)->OnDataMoved();
  if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    Self(user_data)->OnResponseSent(frame->hd.stream_id);
  }
  return 0;
}

int OnStreamCloseCb(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  return Self(user_data)->OnStreamClose(stream_id, error_code);
}

ssize_t ReadBodyCb(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                   uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
  return Self(user_data)->ReadBody(stream_id, buf, length, data_flags);
}

nghttp2_nv Nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

H2Session::H2Session(DownstreamConnection* owner, Worker* worker, net::Transport* transport,
                     const ListenerRuntime* listener, const SocketAddress& peer)
    : owner_(owner), worker_(worker), transport_(transport), listener_(listener), peer_(peer) {
  last_stream_activity_ms_ = worker_->now_ms();
}

H2Session::~H2Session() {
  Detach();
  if (session_ != nullptr) nghttp2_session_del(session_);
}

bool H2Session::Start(std::string_view received) {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return false;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, OnBeginHeadersCb);
  nghttp2_session_callbacks_set_on_header_callback(cbs, OnHeaderCb);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, OnFrameRecvCb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, OnDataChunkCb);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, OnStreamCloseCb);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, OnFrameSendCb);
  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return false;
  }
  // Flow-control credit is returned only once the exchange has read the bytes (OnRequestRead).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
  // Rapid reset (CVE-2023-44487): at most a burst of 1000 resets, then 33 per second.
  nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
  // CONTINUATION flood (CVE-2024-28182): a header block in at most 8 frames.
  nghttp2_option_set_max_continuations(opt, 8);
  int rv = nghttp2_session_server_new2(&session_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    session_ = nullptr;
    return false;
  }
  // WebSocket over HTTP/2 (RFC 8441) only where the load balancer asks for it (beyond ALB):
  // nghttp2 then takes extended CONNECT requests (:protocol), and refuses them otherwise.
  const bool websocket = listener_ != nullptr && listener_->load_balancer != nullptr &&
                         listener_->load_balancer->attributes.http2_websocket;
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kH2MaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kH2StreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(http::kH2MaxHeaderBytes)},
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
  };
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, websocket ? 4 : 3) != 0 ||
      nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kH2ConnectionWindow) !=
          0) {
    return false;
  }
  if (!received.empty()) {
    ssize_t n = nghttp2_session_mem_recv(
        session_, reinterpret_cast<const uint8_t*>(received.data()), received.size());
    if (n < 0) Terminate(static_cast<int>(n));
  }
  return true;
}

void H2Session::Terminate(int codec_error) {
  // nghttp2 stops reading after a fatal error but queues no GOAWAY itself: say why
  // (a flood or a CONTINUATION storm is ENHANCE_YOUR_CALM), send it, then close.
  reading_stopped_ = true;
  const uint32_t code =
      codec_error == NGHTTP2_ERR_FLOODED || codec_error == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
          ? NGHTTP2_ENHANCE_YOUR_CALM
          : NGHTTP2_PROTOCOL_ERROR;
  if (nghttp2_session_terminate_session(session_, code) != 0) failed_ = true;
}

H2Session::Step H2Session::Pump(bool* readable, bool* writable) {
  for (int round = 0; round < kPumpRounds; ++round) {
    bool moved = false;
    if (*readable && !failed_ && !reading_stopped_ && out_.size() - out_sent_ < kMaxPendingOutput) {
      char buf[16 * 1024];
      net::IoResult r = transport_->Read(buf, sizeof(buf));
      if (r.ok()) {
        moved = true;
        ssize_t n =
            nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf), r.bytes());
        if (n < 0) Terminate(static_cast<int>(n));  // bad preface, flood, callback failure
        if (r.bytes() < sizeof(buf)) *readable = false;
      } else if (r.status() == net::IoStatus::kWouldBlock) {
        *readable = false;
      } else if (r.status() != net::IoStatus::kInterrupted) {
        return Step::kClose;  // the client closed or reset the connection
      }
    }
    moved |= Flush(writable);
    if (out_sent_ == out_.size() &&
        (failed_ || (reading_stopped_ && nghttp2_session_want_write(session_) == 0) ||
         (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0))) {
      return Step::kClose;
    }
    if (!moved) return Step::kIdle;
  }
  return Step::kMore;
}

bool H2Session::Flush(bool* writable) {
  bool moved = false;
  while (!failed_ && out_.size() - out_sent_ < kMaxPendingOutput) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      failed_ = true;
      break;
    }
    if (n == 0) break;
    out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  while (*writable && out_sent_ < out_.size()) {
    net::IoResult r = transport_->Write(out_.data() + out_sent_, out_.size() - out_sent_);
    if (r.ok()) {
      out_sent_ += r.bytes();
      moved = true;
    } else if (r.status() == net::IoStatus::kWouldBlock) {
      *writable = false;
    } else if (r.status() != net::IoStatus::kInterrupted) {
      failed_ = true;
      out_.clear();
      out_sent_ = 0;
      return moved;
    }
  }
  if (out_sent_ == out_.size()) {
    out_.clear();
    out_sent_ = 0;
    // An idle connection keeps no large output buffer (a big response grew it to 64 KiB+).
    if (streams_.empty() && out_.capacity() > kIdleOutputCapacity) std::string().swap(out_);
  }
  return moved;
}

void H2Session::BeginShutdown() {
  if (session_ == nullptr || going_away_) return;
  GoAway(nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR);
  WakeOwner();
}

void H2Session::GoAway(int32_t last_stream_id, uint32_t code) {
  going_away_ = true;
  goaway_last_stream_id_ = last_stream_id;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, last_stream_id, code, nullptr, 0);
}

void H2Session::Detach() {
  live_exchanges_ = 0;
  for (auto& [id, stream] : streams_) {
    if (stream->transport == nullptr) continue;
    H2StreamTransport* t = stream->transport;
    net::EventHandler* h = t->handler();
    net::EventLoop* loop = t->loop();
    t->Detach();
    stream->transport = nullptr;
    if (h != nullptr && loop != nullptr) loop->Post(h, EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP);
  }
  streams_.clear();
}

H2Stream* H2Session::Find(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void H2Session::WakeOwner() { worker_->loop().Post(owner_, 0); }

void H2Session::WakeExchange(H2Stream* stream, uint32_t events) {
  if (stream->transport == nullptr) return;
  net::EventHandler* h = stream->transport->handler();
  if (h != nullptr) worker_->loop().Post(h, events);
}

void H2Session::Forget(H2Stream* stream) {
  if (!stream->closed || stream->transport != nullptr) return;
  streams_.erase(stream->id);  // deletes it
}

int H2Session::OnBeginHeaders(int32_t stream_id) {
  if (going_away_ && stream_id > goaway_last_stream_id_) {
    // Sent before the client saw our GOAWAY (nghttp2 only refuses streams after it was
    // written): refused, so the client knows it may retry it elsewhere; never served.
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  auto stream = std::make_unique<H2Stream>();
  stream->id = stream_id;
  streams_[stream_id] = std::move(stream);
  last_stream_activity_ms_ = worker_->now_ms();
  if (++requests_ == kH2MaxRequestsPerConnection && !going_away_) {
    // Reference §4.1: after 10,000 requests the connection is told to go away; this stream
    // is still served.
    GoAway(stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

int H2Session::OnHeader(int32_t stream_id, std::string_view name, std::string_view value) {
  H2Stream* stream = Find(stream_id);
  if (stream == nullptr) return 0;
  if (stream->request_head.Add(name, value) == http::H2FieldError::kNone) return 0;
  // Over the header limits: this stream is reset and the connection told to go away
  // (reference §4.1).
  if (!going_away_) {
    GoAway(nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_ENHANCE_YOUR_CALM);
  }
  return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

int H2Session::OnRequestHeadersDone(int32_t stream_id, bool end_stream) {
  H2Stream* stream = Find(stream_id);
  if (stream == nullptr) return 0;
  if (stream->request_head.websocket()) {
    if (!WriteWebSocketRequest(stream, end_stream)) return 0;
  } else {
    stream->request_head.WriteHttp1(end_stream, &stream->request, &stream->chunked);
    stream->response = http::H1ResponseReader(stream->request_head.method() == "HEAD");
  }
  stream->request_head.Clear();
  stream->request_ended = end_stream;
  StartExchange(stream);
  return 0;
}

bool H2Session::WriteWebSocketRequest(H2Stream* stream, bool end_stream) {
  // A WebSocket has no body and needs the stream open both ways (RFC 8441 §4): a declared
  // length or a HEADERS that ends the stream is refused, not upgraded (the exchange would
  // forward such a request as a plain GET with a body).
  if (end_stream || stream->request_head.has_content_length()) {
    stream->request_head.Clear();
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_PROTOCOL_ERROR);
    WakeOwner();
    return false;
  }
  // The exchange sees the HTTP/1.1 upgrade request of RFC 6455 and, after the target's 101,
  // relays the stream's DATA both ways as the WebSocket's bytes.
  uint8_t nonce[16];
  const uint64_t a = worker_->rng().Next(), b = worker_->rng().Next();
  std::memcpy(nonce, &a, 8);
  std::memcpy(nonce + 8, &b, 8);
  stream->request_head.WriteWebSocketUpgrade(nonce, &stream->request);
  stream->response = http::H1ResponseReader(false, /*websocket=*/true);
  return true;
}

void H2Session::StartExchange(H2Stream* stream) {
  auto transport = std::make_unique<H2StreamTransport>(this, stream, peer_, LocalAddress());
  stream->transport = transport.get();
  ++live_exchanges_;
  auto* conn = new DownstreamConnection(worker_, std::move(transport), peer_, listener_,
                                        DownstreamConnection::Kind::kH2Stream);
  conn->AdoptConnectionFacts(*owner_);
  conn->Start();  // on failure it closed itself (and so reset the stream)
}

int H2Session::OnData(int32_t stream_id, const uint8_t* data, size_t len) {
  OnDataMoved();
  H2Stream* stream = Find(stream_id);
  std::string_view bytes(reinterpret_cast<const char*>(data), len);
  if (stream == nullptr || stream->transport == nullptr) {
    // Nobody will read it (the exchange has ended): give the credit back at once.
    nghttp2_session_consume(session_, stream_id, len);
    return 0;
  }
  if (stream->chunked) {
    http::AppendChunk(bytes, &stream->request);
  } else {
    stream->request.append(bytes);
  }
  stream->unconsumed += static_cast<uint32_t>(len);
  WakeExchange(stream, EPOLLIN);
  return 0;
}

int H2Session::OnEndStream(int32_t stream_id) {
  H2Stream* stream = Find(stream_id);
  if (stream == nullptr || stream->request_ended) return 0;
  stream->request_ended = true;
  if (stream->chunked) http::AppendLastChunk(&stream->request);
  WakeExchange(stream, EPOLLIN);
  return 0;
}

int H2Session::OnStreamClose(int32_t stream_id, uint32_t) {
  H2Stream* stream = Find(stream_id);
  if (stream == nullptr) return 0;
  stream->closed = true;
  last_stream_activity_ms_ = worker_->now_ms();
  // The exchange sees the end (a reset when its response was not complete) at its next read.
  WakeExchange(stream, EPOLLIN | EPOLLOUT | EPOLLHUP);
  Forget(stream);
  return 0;
}

void H2Session::OnDataMoved() { last_stream_activity_ms_ = worker_->now_ms(); }

void H2Session::OnResponseSent(int32_t stream_id) {
  H2Stream* stream = Find(stream_id);
  if (stream == nullptr || stream->request_ended) return;
  // The response is complete but the client has not ended its request (an early answer: an
  // error, a fixed response): the rest of the request is not wanted (RFC 9113 §8.1), and
  // the stream must not stay half-open, holding a stream slot and the idle timer.
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_NO_ERROR);
}

void H2Session::OnRequestRead(H2Stream* stream) {
  if (stream->request_read < stream->request.size()) return;
  stream->request.clear();
  stream->request_read = 0;
  if (stream->unconsumed != 0 && !stream->closed) {
    nghttp2_session_consume(session_, stream->id, stream->unconsumed);
    stream->unconsumed = 0;
    WakeOwner();  // WINDOW_UPDATE to send
  }
}

namespace {

// The head the reader holds as HTTP/2 fields: `status` (3 digits) must outlive the array.
// nghttp2 copies the fields: one array per thread serves every response (no allocation per
// request once it has grown to the largest head).
std::vector<nghttp2_nv>& HeadFields(const http::H1ResponseReader& r, char (&status)[3]) {
  int s = std::clamp(r.status(), 100, 999);
  status[0] = static_cast<char>('0' + s / 100);
  status[1] = static_cast<char>('0' + s / 10 % 10);
  status[2] = static_cast<char>('0' + s % 10);
  thread_local std::vector<nghttp2_nv> nva;
  nva.clear();
  nva.push_back(Nv(":status", std::string_view(status, 3)));
  for (const auto& [name, value] : r.head_fields()) nva.push_back(Nv(name, value));
  return nva;
}

}  // namespace

void H2Session::SubmitInterim(H2Stream* stream) {
  char status[3];
  std::vector<nghttp2_nv>& nva = HeadFields(stream->response, status);
  stream->response.TakeInterim();
  if (stream->closed || stream->head_submitted) return;
  if (nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, stream->id, nullptr, nva.data(),
                             nva.size(), nullptr) < 0) {
    return;  // only informational: the final response still follows
  }
  WakeOwner();
}

void H2Session::SubmitHead(H2Stream* stream) {
  const http::H1ResponseReader& r = stream->response;
  char status[3];
  std::vector<nghttp2_nv>& nva = HeadFields(r, status);
  const bool no_body = r.state() == http::H1ResponseReader::State::kDone && stream->body.empty() &&
                       r.trailers().empty();
  nghttp2_data_provider provider{};
  provider.read_callback = ReadBodyCb;
  int rv = nghttp2_submit_response(session_, stream->id, nva.data(), nva.size(),
                                   no_body ? nullptr : &provider);
  stream->head_submitted = true;
  stream->response.TakeHead();
  if (rv != 0)
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_INTERNAL_ERROR);
}

void H2Session::SubmitTrailers(H2Stream* stream, uint32_t* data_flags) {
  thread_local std::vector<nghttp2_nv> nva;  // copied by nghttp2
  nva.clear();
  for (const auto& [name, value] : stream->response.trailers()) nva.push_back(Nv(name, value));
  // The trailing HEADERS frame ends the stream instead of the last DATA frame.
  if (nghttp2_submit_trailer(session_, stream->id, nva.data(), nva.size()) == 0) {
    *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
  }
}

void H2Session::OnResponseProgress(H2Stream* stream) {
  if (stream->closed) return;
  if (stream->response.state() == http::H1ResponseReader::State::kError) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_INTERNAL_ERROR);
  } else if (stream->response.head_ready() && !stream->head_submitted) {
    SubmitHead(stream);
  } else if (stream->head_submitted && stream->data_deferred &&
             (stream->body_sent < stream->body.size() || stream->body_ended)) {
    stream->data_deferred = false;
    nghttp2_session_resume_data(session_, stream->id);
  }
  WakeOwner();
}

void H2Session::OnExchangeClosed(H2Stream* stream) {
  stream->transport = nullptr;
  --live_exchanges_;
  last_stream_activity_ms_ = worker_->now_ms();
  if (!stream->closed) {
    if (!stream->head_submitted || !stream->body_ended) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_INTERNAL_ERROR);
    }
    if (stream->unconsumed != 0) {
      nghttp2_session_consume(session_, stream->id, stream->unconsumed);
      stream->unconsumed = 0;
    }
    stream->request.clear();
    WakeOwner();
  }
  Forget(stream);
}

long H2Session::ReadBody(int32_t stream_id, uint8_t* buf, size_t length, uint32_t* data_flags) {
  H2Stream* stream = Find(stream_id);
  if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  size_t n = std::min(length, stream->body.size() - stream->body_sent);
  if (n != 0) std::memcpy(buf, stream->body.data() + stream->body_sent, n);
  stream->body_sent += n;
  if (stream->body_sent == stream->body.size()) {
    stream->body.clear();
    stream->body_sent = 0;
    if (stream->body_ended) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!stream->response.trailers().empty()) SubmitTrailers(stream, data_flags);
      return static_cast<long>(n);
    }
  }
  if (n == 0) {
    stream->data_deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  if (stream->exchange_waiting) {
    stream->exchange_waiting = false;
    WakeExchange(stream, EPOLLOUT);
  }
  return static_cast<long>(n);
}

}  // namespace sluice::proxy
