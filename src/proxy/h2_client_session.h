// HTTP/2 to targets (target groups with ProtocolVersion HTTP2 or GRPC), with nghttp2 as the
// frame codec: a worker's connections to a target are shared by the exchanges of all its
// client connections, one stream per exchange, at most the target's
// SETTINGS_MAX_CONCURRENT_STREAMS (and kH2UpstreamMaxStreams) per connection; a new
// connection is opened when every one is full.
//
// Shape: the exchange (DownstreamConnection) keeps speaking HTTP/1.1 to an UpstreamConnection
// whose transport is an H2UpstreamTransport: the request bytes it writes are read by an
// http::H1RequestReader and submitted as HEADERS and DATA, and the response arrives as
// HTTP/1.1 bytes written by an http::H1ResponseWriter (trailers in the chunked trailer
// section). The same seam as the HTTP/2 downstream (h2_session.h, decision 0016): the request
// path — timeouts, retries of a refused stream, error pages, access-log records — is unchanged.
//
// Connections: cleartext with prior knowledge (h2c) for HTTP groups, TLS with ALPN h2 for
// HTTPS groups (a target that does not select h2 fails like a failed handshake). An exchange
// sees its upstream "connected" once the connection is ready (TLS done, SETTINGS sent); a
// connection that fails fails each of its streams (connect error, reset). A connection with
// no stream closes after the listener's idle timeout (the worker's tick).
//
// Buffers: a stream's request body waits in at most kH2UpstreamBodyBuffer before the exchange
// is told to wait; its response bytes in at most the 64 KiB stream window we advertise (plus
// framing), given back to flow control only once the exchange has read them.
//
// Contract: loop thread only. The pool owns the sessions; a session is deleted through the
// loop (DeferDelete) once it has no stream and is closed. A stream's UpstreamConnection may
// outlive its session: its transport then reports a reset.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/h2_upstream.h"
#include "net/event_loop.h"
#include "net/transport.h"
#include "proxy/upstream_connection.h"

struct nghttp2_session;

namespace sluice::tls {
class ClientContext;
}

namespace sluice::proxy {

class Worker;
class H2ClientSession;
class H2UpstreamTransport;

inline constexpr uint32_t kH2UpstreamMaxStreams = 100;
inline constexpr size_t kH2UpstreamBodyBuffer = 64 * 1024;
inline constexpr int32_t kH2UpstreamStreamWindow = 64 * 1024 - 1;
inline constexpr int32_t kH2UpstreamConnectionWindow = 4 * 1024 * 1024;

// One exchange's stream. Owned by its session.
struct H2UpstreamStream {
  explicit H2UpstreamStream(std::string_view scheme) : request(scheme) {}
  int32_t id = 0;                            // 0 until submitted
  H2UpstreamTransport* transport = nullptr;  // null once the exchange let go
  http::H1RequestReader request;
  std::string body;  // request DATA not yet taken by nghttp2
  size_t body_sent = 0;
  bool body_ended = false;
  bool data_deferred = false;
  bool exchange_waiting = false;  // a write found the body buffer full
  http::H1ResponseWriter response;
  std::string response_bytes;  // HTTP/1.1 bytes for the exchange
  size_t response_read = 0;
  uint32_t unconsumed = 0;  // DATA bytes received, not yet given back to flow control
  bool ended = false;       // the response is complete in response_bytes
  bool closed = false;      // nghttp2 closed the stream
  int error = 0;            // an errno value for the exchange: the stream or connection failed
};

class H2ClientSession final : public net::EventHandler {
 public:
  H2ClientSession(Worker* worker, std::unique_ptr<net::Transport> transport, const UpstreamKey& key,
                  bool tls, int64_t idle_timeout_ms);
  ~H2ClientSession() override;
  H2ClientSession(const H2ClientSession&) = delete;
  H2ClientSession& operator=(const H2ClientSession&) = delete;

  // Creates the codec and queues the preface and SETTINGS; watches the transport. False:
  // the session cannot work (delete it).
  bool Start();
  void OnEvents(uint32_t events) override;

  // Room for one more stream (and not failing, not going away).
  bool HasRoom() const;
  // A new stream for `transport`'s exchange (submitted once its request head is written).
  H2UpstreamStream* AddStream(H2UpstreamTransport* transport);
  // Nothing open and nothing to say: closable.
  bool Idle() const { return streams_.empty(); }
  bool Closed() const { return closed_; }
  int64_t idle_since_ms() const { return idle_since_ms_; }
  int64_t idle_timeout_ms() const { return idle_timeout_ms_; }
  const UpstreamKey& key() const { return key_; }
  // Closes the connection now; open streams fail with ECONNRESET.
  void Close();
  // A GOAWAY to the target: no new stream; closes once the last one ends.
  void Retire();

  // For H2UpstreamTransport.
  bool ready() const { return ready_; }
  int connect_error() const { return ready_ ? 0 : error_; }
  const char* tls_failure() const { return tls_failure_; }
  net::Transport* transport() const { return transport_.get(); }
  void OnRequestWritten(H2UpstreamStream* stream);
  void OnResponseRead(H2UpstreamStream* stream);
  void OnExchangeClosed(H2UpstreamStream* stream);

  // nghttp2 callbacks (h2_client_session.cc).
  int OnHeader(int32_t stream_id, std::string_view name, std::string_view value);
  int OnHeadersDone(int32_t stream_id, bool end_stream);
  int OnData(int32_t stream_id, const uint8_t* data, size_t len);
  int OnEndStream(int32_t stream_id);
  int OnStreamClose(int32_t stream_id, uint32_t error_code);
  void OnGoAway(int32_t last_stream_id);
  void OnSettings() { settings_received_ = true; }
  long ReadRequestBody(int32_t stream_id, uint8_t* buf, size_t length, uint32_t* data_flags);

 private:
  H2UpstreamStream* Find(int32_t stream_id);
  // Connect, TLS handshake and ALPN; true once ready_.
  bool Establish(uint32_t events);
  void Pump();
  bool Flush();
  void Submit(H2UpstreamStream* stream);
  void Fail(int error, const char* tls_failure);
  void Wake(H2UpstreamStream* stream, uint32_t events);
  void Forget(H2UpstreamStream* stream);

  Worker* worker_;
  std::unique_ptr<net::Transport> transport_;
  UpstreamKey key_;
  bool tls_;
  int64_t idle_timeout_ms_;
  int64_t idle_since_ms_ = 0;
  nghttp2_session* session_ = nullptr;
  std::vector<std::unique_ptr<H2UpstreamStream>> streams_;  // few: a linear search is fastest
  std::string out_;
  size_t out_sent_ = 0;
  bool readable_ = false, writable_ = false;
  bool connected_ = false, ready_ = false;
  bool going_away_ = false;
  bool settings_received_ = false;  // the target's stream limit is known
  bool closed_ = false;
  int error_ = 0;
  const char* tls_failure_ = nullptr;
};

// The exchange's view of its stream: writes take the HTTP/1.1 request, reads give the
// HTTP/1.1 response. Readiness is posted to the exchange's handler through the loop.
class H2UpstreamTransport final : public net::Transport {
 public:
  H2UpstreamTransport(H2ClientSession* session, const SocketAddress& target)
      : session_(session), target_(target) {}
  ~H2UpstreamTransport() override { Close(); }

  void Attach(H2UpstreamStream* stream) { stream_ = stream; }
  bool Watch(net::EventLoop& loop, net::EventHandler* handler) override;
  void Unwatch() override { handler_ = nullptr; }
  int ConnectError() override;
  net::IoResult Read(char* dst, size_t capacity) override;
  net::IoResult Write(const iovec* pieces, int count) override;
  void ShutdownWrite() override {}
  void Close() override;
  SocketAddress PeerAddress() const override { return target_; }
  SocketAddress LocalAddress() const override;
  const char* TlsFailure() const override;
  std::string_view ApplicationProtocol() const override { return "h2"; }

  // The session closed after this stream's response arrived whole: the transport keeps the
  // stream so that the exchange still reads it (then the end of stream); writes fail.
  void Orphan(std::unique_ptr<H2UpstreamStream> stream) {
    session_ = nullptr;
    orphan_ = std::move(stream);
    stream_ = orphan_.get();
  }
  // The session is going away: later calls fail with `error` (an errno value); `tls_failure`
  // (static, or null) says why a TLS connection never became ready.
  void Detach(int error, const char* tls_failure, bool was_ready) {
    session_ = nullptr;
    stream_ = nullptr;
    error_after_detach_ = error;
    tls_failure_ = tls_failure;
    was_ready_ = was_ready;
  }
  net::EventHandler* handler() const { return handler_; }
  net::EventLoop* loop() const { return loop_; }

 private:
  H2ClientSession* session_;
  H2UpstreamStream* stream_ = nullptr;
  std::unique_ptr<H2UpstreamStream> orphan_;  // see Orphan
  SocketAddress target_;
  net::EventLoop* loop_ = nullptr;
  net::EventHandler* handler_ = nullptr;
  int error_after_detach_ = ECONNRESET;
  const char* tls_failure_ = nullptr;
  bool was_ready_ = true;
};

// A worker's HTTP/2 connections to targets, by UpstreamKey.
class H2ClientPool {
 public:
  explicit H2ClientPool(Worker* worker) : worker_(worker) {}
  ~H2ClientPool();
  // An UpstreamConnection over a new stream to `key` (a session with room, else a new
  // connection), owned by the caller like one from UpstreamPools; null when no connection
  // could be started. *reused: the stream went to a connection that was already open.
  UpstreamConnection* OpenStream(const UpstreamKey& key,
                                 const std::shared_ptr<const tls::ClientContext>& tls,
                                 int64_t idle_timeout_ms, UpstreamPools* pools, bool* reused);
  // Closes sessions idle past their timeout (all idle ones when `all`) and frees closed ones.
  void Sweep(int64_t now_ms, bool all);
  // Retires the sessions whose key keep(key) refuses (their target or group is gone).
  template <class Keep>
  void Retain(Keep keep) {
    for (auto& [key, list] : sessions_) {
      if (keep(key)) continue;
      for (H2ClientSession* s : list) s->Retire();
    }
  }
  size_t session_count() const;

 private:
  Worker* worker_;
  std::unordered_map<UpstreamKey, std::vector<H2ClientSession*>, UpstreamKeyHash> sessions_;
};

}  // namespace sluice::proxy
