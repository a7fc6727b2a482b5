// One health check over HTTP/2, for target groups of ProtocolVersion HTTP2 and GRPC
// (reference §2.3): a fresh connection per check, as the HTTP/1.1 probe (probe.h), speaking
// cleartext HTTP/2 with prior knowledge (h2c) for HTTP checks, or over TLS for HTTPS checks,
// where the target must select "h2" by ALPN (the checker offers only h2; another answer fails
// the check: Target.FailedHealthChecks). nghttp2's client session in memory mode frames one
// request on stream 1:
//   HTTP2: GET <path>, judged by :status against Matcher.HttpCode as soon as the response
//          head arrives (as the HTTP/1.1 probe judges the status line);
//   GRPC:  POST <path> (content-type application/grpc, te: trailers) carrying one empty gRPC
//          message (00 00 00 00 00), judged when the target ends the stream by grpc-status
//          (trailers, or the head of a trailers-only answer) against Matcher.GrpcCode. A
//          :status other than 200 is a mismatch at once (its HTTP code); an answer without a
//          valid grpc-status is a mismatch (kGrpcStatusMissing). Either is
//          Target.ResponseCodeMismatch; a reset stream, a GOAWAY, a closed connection or a
//          malformed frame before a verdict is Target.FailedHealthChecks.
// Bounded: one nghttp2 output chunk waits to be written at a time, at most kMaxH2Answer
// bytes are read per check (past them the check fails) and header blocks are limited by
// nghttp2's options. Timeouts are the checker's (the probe's deadline), not this file's.
//
// Contract: checker thread only. No exceptions (nghttp2 is C; its allocation failures make
// Start return false). The session points back at its H2ProbeIo: a probe in flight is never
// moved (the checker's slots never move once made).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "health/target_health.h"
#include "net/transport.h"

struct nghttp2_session;

namespace sluice::health {

enum class H2CheckKind : uint8_t { kHttp2, kGrpc };

// Most bytes read from the target per HTTP/2 check (frames of any kind).
inline constexpr size_t kMaxH2Answer = 64 * 1024;

// What an HTTP/2 check has seen of its stream so far.
struct H2Answer {
  int status = 0;        // the final :status (1xx heads skipped); 0 until it arrives
  int grpc_status = -1;  // grpc-status (0..999) of any head or trailer; -1: none or invalid
  bool ended = false;    // the target ended the stream (END_STREAM)
  bool failed = false;   // connection or stream failed before ending (reset, GOAWAY, EOF...)
};

// Pure: the verdict on `a`, or nullopt while more must arrive. A null matcher matches nothing.
// HTTP2: the :status decides. GRPC: a :status other than 200 decides at once; otherwise the
// end of the stream, by grpc-status. Without a verdict a failed stream is kFailed.
std::optional<CheckResult> JudgeH2Answer(const H2Answer& a, H2CheckKind kind,
                                         const StatusMatcher* http, const StatusMatcher* grpc);

// "0".."999" without leading zeros → the value; -1 otherwise (grpc-status, :status).
int ParseH2Code(std::string_view text);

class H2ProbeIo {
 public:
  struct Request {
    H2CheckKind kind = H2CheckKind::kHttp2;
    bool tls = false;            // HTTPS check: ALPN must have selected h2
    std::string_view path;       // HealthCheckPath
    std::string_view authority;  // as the HTTP/1.1 check's Host: the target's ip:port
  };

  H2ProbeIo() = default;
  ~H2ProbeIo();
  // Only idle probes move (the checker's slots as they are made); a session moves along.
  H2ProbeIo(H2ProbeIo&& other) noexcept;
  H2ProbeIo& operator=(H2ProbeIo&&) = delete;
  H2ProbeIo(const H2ProbeIo&) = delete;
  H2ProbeIo& operator=(const H2ProbeIo&) = delete;

  // Starts a check: a fresh client session with SETTINGS and the request queued (they go out
  // once the stream is connected). False when nghttp2 could not make them (this host's
  // shortage, no verdict on the target); the probe is then idle.
  bool Start(const Request& request);
  // Frees the session; the probe is idle. Idempotent.
  void Close();
  bool active() const { return session_ != nullptr; }
  const H2Answer& answer() const { return answer_; }

  // Handles epoll readiness of `stream` (edge-triggered: reads and writes until it would
  // block). Returns the verdict when the check is over, nullopt while it must wait.
  std::optional<CheckResult> OnEvents(net::Transport& stream, uint32_t events,
                                      const StatusMatcher* http, const StatusMatcher* grpc);

  // Feeds `size` bytes received from the target to the session. False when the session is
  // over: a GOAWAY received ended it, nghttp2 refused the bytes, or past kMaxH2Answer bytes.
  // Bytes that are not HTTP/2 make the session send a GOAWAY: answer().failed is set once
  // that frame is taken out (TakeOutput, or the writes of OnEvents).
  bool Receive(const uint8_t* data, size_t size);
  // Every frame the session has to send now, taken out of it; empty when there is nothing
  // to send, nullopt when the session failed (no transport: for tests).
  std::optional<std::string> TakeOutput();

  // nghttp2's callbacks (probe_h2.cc) report to these.
  void OnHeader(int32_t stream_id, std::string_view name, std::string_view value);
  void OnHeadersEnd(int32_t stream_id, bool end_stream);
  void OnEndStream(int32_t stream_id);
  void OnGoAway(int32_t last_stream_id);
  void OnGoAwaySent();
  void OnStreamClose(int32_t stream_id);
  // The gRPC body's next bytes into buf (at most `length`); sets NGHTTP2_DATA_FLAG_EOF last.
  size_t ReadBody(uint8_t* buf, size_t length, uint32_t* data_flags);

 private:
  // False when the connection failed (connect, TLS handshake or ALPN, I/O, HTTP/2 framing).
  bool Progress(net::Transport& stream, uint32_t events);
  bool Flush(net::Transport& stream);
  bool ReadAll(net::Transport& stream);
  bool SubmitRequest(const Request& request);
  // Takes the session's next chunk of frames into out_: 1 (some), 0 (none), -1 (failed).
  int Pull();

  nghttp2_session* session_ = nullptr;
  H2CheckKind kind_ = H2CheckKind::kHttp2;
  bool tls_ = false;
  bool connected_ = false;
  bool handshaken_ = false;
  int32_t stream_id_ = -1;
  int block_status_ = 0;  // :status of the head being received
  size_t body_sent_ = 0;  // bytes of the gRPC body handed to nghttp2
  size_t received_ = 0;   // bytes read from the target
  std::string out_;       // one chunk of frames from nghttp2, not yet written
  size_t out_sent_ = 0;   // of out_, written
  H2Answer answer_;
};

}  // namespace sluice::health
