// HTTP/2 from clients (ALPN h2 on HTTPS listeners), with nghttp2 as the frame codec.
//
// Shape: the client connection's DownstreamConnection keeps the socket, the TLS session, the
// timers and the worker's bookkeeping, and hands its bytes to an H2Session (Phase::kH2). Each
// request stream becomes an exchange of its own: a DownstreamConnection of kind kH2Stream
// over an H2StreamTransport, the byte-stream seam (net/transport.h). The stream's request is
// written to it as one HTTP/1.1 request (http/h2_translate.h) and the request path — routing,
// rules, actions, stickiness, X-Forwarded-*, trace ids, the upstream pool, error pages,
// access-log records — runs unchanged; what it writes back is read as an HTTP/1.1 response
// and sent as HEADERS and DATA. Decision 0016 gives the measured cost of this seam.
//
// Limits (reference §4.1): 128 concurrent streams, GOAWAY after 10,000 requests, 8 KiB per
// field and 64 KiB per header block (beyond: GOAWAY ENHANCE_YOUR_CALM), PING frames do not
// count as activity. Flow control bounds the buffers: a stream's request bytes wait in at
// most its 64 KiB window (WINDOW_UPDATE only once the exchange has read them), all streams'
// in at most the 1 MiB connection window, and a stream's response bytes in at most
// kH2ResponseBuffer before the exchange is told to wait (its target then by TCP).
//
// Contract: loop thread only. The owner deletes the session after Detach(); a stream's
// exchange may outlive the session (its transport then reports a reset).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/ip_address.h"
#include "http/h2_translate.h"
#include "net/transport.h"

struct nghttp2_session;

namespace sluice::snapshot {
struct ListenerRuntime;
}

namespace sluice::proxy {

class DownstreamConnection;
class Worker;
class H2StreamTransport;
using snapshot::ListenerRuntime;

inline constexpr size_t kH2ResponseBuffer = 64 * 1024;  // per stream, response DATA waiting
inline constexpr uint32_t kH2MaxConcurrentStreams = 128;
inline constexpr uint32_t kH2MaxRequestsPerConnection = 10000;
inline constexpr int32_t kH2StreamWindow = 64 * 1024 - 1;
inline constexpr int32_t kH2ConnectionWindow = 1024 * 1024;

// One request stream: what the client sent (request bytes for the exchange) and what the
// exchange answered (response head and body waiting for DATA frames). Owned by the session.
struct H2Stream {
  int32_t id = 0;
  H2StreamTransport* transport = nullptr;  // null before the exchange starts / after it ended
  http::H2RequestHead request_head;
  std::string request;         // HTTP/1.1 bytes not yet read by the exchange
  size_t request_read = 0;     // of them, read
  uint32_t unconsumed = 0;     // DATA bytes received but not yet given back to flow control
  bool chunked = false;        // request body sent with chunked framing
  bool request_ended = false;  // END_STREAM received (and written to `request`)
  http::H1ResponseReader response;
  std::string body;  // response DATA not yet taken by nghttp2
  size_t body_sent = 0;
  bool head_submitted = false;
  bool body_ended = false;        // the whole response body is in `body`
  bool data_deferred = false;     // the data source said DEFERRED: resume when bytes arrive
  bool exchange_waiting = false;  // a write found the buffer full: tell the exchange later
  bool closed = false;            // nghttp2 closed the stream
};

class H2Session {
 public:
  H2Session(DownstreamConnection* owner, Worker* worker, net::Transport* transport,
            const ListenerRuntime* listener, const SocketAddress& peer);
  ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // Sends the server's SETTINGS and takes the bytes already read with the handshake. False:
  // the session could not be created or the bytes are not HTTP/2 (close the connection).
  bool Start(std::string_view received);
  enum class Step : uint8_t { kIdle, kMore, kClose };
  // Reads what the transport has, runs it through nghttp2, writes what nghttp2 has; clears
  // the flags when the transport would block. kMore: the round budget ran out with work
  // left (yield, then pump again); kClose: the connection is over.
  Step Pump(bool* readable, bool* writable);
  // Graceful stop: GOAWAY, the open streams finish, then the connection closes.
  void BeginShutdown();
  // Ends every stream's tie to this session (their exchanges see a reset). Before deletion.
  void Detach();
  size_t open_streams() const { return streams_.size(); }
  // Streams whose exchange still runs (it has its own timeouts: 408, 504, ...).
  size_t live_exchanges() const { return live_exchanges_; }
  // When a stream last began or ended or DATA last moved either way (PING, SETTINGS and
  // WINDOW_UPDATE do not count: reference §4.1). With no live exchange, the connection is
  // idle from then: a stream whose response waits for a window the client keeps shut does
  // not keep it open.
  int64_t last_stream_activity_ms() const { return last_stream_activity_ms_; }

  // For H2StreamTransport (the exchange's side of a stream).
  net::Transport* transport() const { return transport_; }
  // The exchange read `n` request bytes: returns flow-control credit once all are read.
  void OnRequestRead(H2Stream* stream);
  // The exchange wrote response bytes: submits the head / resumes DATA.
  void OnResponseProgress(H2Stream* stream);
  // The exchange wrote an interim (1xx) head: sends it as a HEADERS frame without END_STREAM
  // (nghttp2 copies the fields) and takes it from the reader.
  void SubmitInterim(H2Stream* stream);
  // The exchange closed its side; an unfinished response resets the stream.
  void OnExchangeClosed(H2Stream* stream);
  // Wakes the exchange of `stream` with `events` (as epoll would).
  void WakeExchange(H2Stream* stream, uint32_t events);

  // nghttp2 callbacks (h2_session_callbacks.cc).
  int OnBeginHeaders(int32_t stream_id);
  int OnHeader(int32_t stream_id, std::string_view name, std::string_view value);
  int OnRequestHeadersDone(int32_t stream_id, bool end_stream);
  int OnData(int32_t stream_id, const uint8_t* data, size_t len);
  int OnEndStream(int32_t stream_id);
  int OnStreamClose(int32_t stream_id, uint32_t error_code);
  // The response's last frame (END_STREAM) went out.
  void OnResponseSent(int32_t stream_id);
  void OnDataMoved();
  long ReadBody(int32_t stream_id, uint8_t* buf, size_t length, uint32_t* data_flags);

 private:
  H2Stream* Find(int32_t stream_id);
  // The connection's local address, asked of the socket once (a system call) and kept.
  const SocketAddress& LocalAddress() {
    if (!local_known_) {
      local_ = transport_->LocalAddress();
      local_known_ = true;
    }
    return local_;
  }
  // After a fatal codec error (nghttp2_session_mem_recv < 0): GOAWAY with a code for it,
  // no more reading; the connection closes once the GOAWAY is written.
  void Terminate(int codec_error);
  // GOAWAY naming `last_stream_id`: later streams are refused (REFUSED_STREAM), never served.
  void GoAway(int32_t last_stream_id, uint32_t code);
  void StartExchange(H2Stream* stream);
  // An extended CONNECT (RFC 8441) as the exchange's HTTP/1.1 upgrade request; false when
  // the stream was reset instead (a body declared, or END_STREAM on its HEADERS).
  bool WriteWebSocketRequest(H2Stream* stream, bool end_stream);
  void SubmitHead(H2Stream* stream);
  // The response's trailer fields, sent after its last DATA frame (from ReadBody).
  void SubmitTrailers(H2Stream* stream, uint32_t* data_flags);
  void Forget(H2Stream* stream);
  bool Flush(bool* writable);
  void WakeOwner();

  DownstreamConnection* owner_;
  Worker* worker_;
  net::Transport* transport_;
  const ListenerRuntime* listener_;
  SocketAddress peer_;
  SocketAddress local_;
  bool local_known_ = false;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<H2Stream>> streams_;
  std::string out_;  // frames nghttp2 produced, not yet written
  size_t out_sent_ = 0;
  uint32_t requests_ = 0;
  size_t live_exchanges_ = 0;
  bool going_away_ = false;
  int32_t goaway_last_stream_id_ = 0;
  bool reading_stopped_ = false;  // Terminate: only the GOAWAY is left to write
  bool failed_ = false;           // the codec or the transport failed: close now
  int64_t last_stream_activity_ms_ = 0;
};

// The exchange's view of one stream: reads give the HTTP/1.1 request, writes take the
// HTTP/1.1 response. Readiness is posted to the exchange's handler through the loop.
class H2StreamTransport final : public net::Transport {
 public:
  H2StreamTransport(H2Session* session, H2Stream* stream, const SocketAddress& peer,
                    const SocketAddress& local)
      : session_(session), stream_(stream), peer_(peer), local_(local) {}
  ~H2StreamTransport() override { Close(); }

  bool Watch(net::EventLoop& loop, net::EventHandler* handler) override;
  void Unwatch() override { handler_ = nullptr; }
  int ConnectError() override { return 0; }
  net::IoResult Read(char* dst, size_t capacity) override;
  net::IoResult Write(const iovec* pieces, int count) override;
  void ShutdownWrite() override;
  void Close() override;
  SocketAddress PeerAddress() const override { return peer_; }
  SocketAddress LocalAddress() const override { return local_; }
  std::string_view TlsVersion() const override;
  std::string_view TlsCipher() const override;
  std::string_view TlsServerName() const override;
  ssl_st* TlsSession() const override;
  std::string_view ApplicationProtocol() const override { return "h2"; }

  // The session is going away: every later call fails as after a reset.
  void Detach() {
    session_ = nullptr;
    stream_ = nullptr;
  }
  net::EventHandler* handler() const { return handler_; }
  net::EventLoop* loop() const { return loop_; }

 private:
  // A WebSocket whose client sent END_STREAM and whose upgrade was answered: posts a read
  // event so that the exchange reads the end (its half-close) after the last bytes.
  void WakeIfTunnelEnded();
  H2Session* session_;
  H2Stream* stream_;
  SocketAddress peer_, local_;
  net::EventLoop* loop_ = nullptr;
  net::EventHandler* handler_ = nullptr;
  bool write_shut_ = false;
};

}  // namespace sluice::proxy
