// How an exchange (one request and its response) ended, and what it records on the way.
//
// Every way an exchange can end is a `Cause`; one table (outcome.cc) maps each to the status
// the load balancer answers with, its name (what Sluice's own logs and tests say), the ALB
// access-log `error_reason`, and the side that caused it (reference §4.6, §5.2, §5.3). Access
// logs and metrics read an `ExchangeRecord`, filled as the exchange runs.
// Pure data; no I/O. Loop thread of the worker that owns the exchange.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/ip_address.h"
#include "http/desync.h"
#include "http/h1_parser.h"

namespace sluice::snapshot {
struct ListenerRuntime;
}

namespace sluice::proxy {

enum class Cause : uint8_t {
  kNone,  // still running
  // Answered as it should be.
  kTargetResponse,  // the target's response was relayed to the client
  kFixedResponse,   // a fixed-response rule action
  kRedirect,        // a redirect rule action
  // The client.
  kMalformedRequest,           // not HTTP/1.1-conformant: bad request line, field, framing
  kDesyncRefused,              // refused by the listener's desync mitigation mode
  kInvalidHost,                // Host / absolute-form authority invalid or missing
  kRequestLineTooLong,         // 414
  kRequestHeadTooLarge,        // a field over 16 KiB, or all of them over 64 KiB
  kUnsupportedVersion,         // 505
  kUnsupportedTransferCoding,  // 501
  kMethodNotAllowed,           // TRACE, CONNECT: 405
  kMalformedRequestBody,       // a bad chunk in the request body
  kClientHeadTimeout,          // the head did not arrive in time: 408
  kClientBodyTimeout,          // the body stalled while the target waited: 408
  kClientClosed,               // the client went away before the response: 460 (logged only)
  kTooManyForwardedFor,        // X-Forwarded-For with more than 30 addresses: 463
  kIncompatibleProtocol,       // the request's protocol and the group's version: 464
  // The target.
  kTargetConnectFailed,   // refused, unreachable, reset while connecting
  kTargetConnectTimeout,  // no connection within 10 s: 504
  kTargetClosed,          // closed or reset with the request outstanding
  kTargetTimeout,         // connected, but silent for the idle timeout: 504
  kMalformedResponse,     // a response head that does not parse or frame
  kResponseHeadTooLarge,  // response headers over 32 KiB
  kUpgradeNotSupported,   // 101 from the target to a request that asked for no WebSocket
  kResponseTruncated,     // the target closed in the middle of the body
  kTargetTlsFailed,       // HTTPS group: the TLS handshake with the target failed: 502
  kTargetTlsTimeout,      // HTTPS group: the handshake did not finish within 10 s: 502
  // The load balancer and its configuration.
  kNoTargets,        // the action's target group(s) have no registered target: 503
  kDrainDeadline,    // the target's deregistration delay ended with the request open
  kTransformFailed,  // a rule transform produced an invalid Host or target: 500
  kInternalError,    // a rule with no action, a redirect that cannot be built: 500
  kCount
};

// Who caused an outcome: what an operator should look at.
enum class Side : uint8_t { kNone, kClient, kTarget, kLoadBalancer, kRule };

struct CauseInfo {
  int status;                     // what the client gets (0: the target's status)
  std::string_view name;          // e.g. "TargetConnectFailed"
  std::string_view error_reason;  // ALB access-log error_reason; "-" when ALB logs none
  Side side;
};

const CauseInfo& Describe(Cause cause);

// The cause of a local error response after a request head that did not parse or frame (the
// parser and framing code report a status and a reason, not a cause).
Cause CauseOfRequestError(const http::ParseError& error);

std::string_view SideName(Side side);

// What access logs and metrics read about one exchange. Times are the worker's cached clock
// (monotonic ms; `received_unix_ms` is the wall clock at the same moment); 0 means "did not
// happen". Text fields (`request_line`, `user_agent`, `trace_id`) are filled only when the
// worker has an exchange sink, and point into memory that lives until the sink returns.
struct ExchangeRecord {
  const snapshot::ListenerRuntime* listener = nullptr;  // valid during the sink's call
  SocketAddress client;
  uint64_t conn_trace_id[2] = {0, 0};  // the connection's (access log conn_trace_id)
  int64_t received_unix_ms = 0;        // the first byte of the request head (request_creation_time)
  int64_t received_ms = 0;
  int64_t routed_ms = 0;      // rule matched, target chosen
  int64_t sent_ms = 0;        // request head fully written to the target
  int64_t first_byte_ms = 0;  // response head from the target parsed
  int64_t done_ms = 0;
  uint64_t received_bytes = 0;  // request bytes from the client, head included
  uint64_t sent_bytes = 0;      // response bytes to the client, head included
  int rule_priority = -2;       // 0 default rule, 1..50000 a rule; -2 not routed
  bool has_target = false;
  SocketAddress target;
  int target_group = -1;  // index into the snapshot's target groups
  int elb_status = 0;     // status the client got (0: none, e.g. client gone)
  int target_status = 0;  // 0: no response from a target
  Cause cause = Cause::kNone;
  http::DesyncVerdict verdict;  // classification and classification_reason
  bool retried = false;         // resent once on a fresh connection (stale pooled one)
  bool websocket = false;       // upgraded by a 101: one record for the whole WebSocket
  bool http2 = false;           // a stream of an HTTP/2 connection
  bool grpc = false;            // of them, a gRPC request (content-type application/grpc)
  std::string_view request_line;
  std::string_view user_agent;
  std::string_view trace_id;
  std::string_view host;              // Host without its port; empty: none
  std::string_view redirect_url;      // a redirect's Location
  std::string_view target_group_arn;  // of target_group; empty when not routed to one
  // Rule transforms (routing/transform.h): the rewritten Host and request target (empty:
  // "-") and the status name ("-", "no-match", "success", "failed").
  std::string_view transformed_host;
  std::string_view transformed_uri;
  std::string_view request_transform_status;
  // TLS (HTTPS listeners; empty / -1 otherwise): the connection's protocol and cipher in
  // OpenSSL's names (access log ssl_protocol, ssl_cipher), the SNI host name the client sent
  // (domain_name) and the handshake's duration from accept (connection log
  // tls_handshake_latency).
  std::string_view tls_protocol;
  std::string_view tls_cipher;
  std::string_view tls_server_name;
  int tls_handshake_ms = -1;
};

// Receives every finished exchange of a worker. Called on that worker's loop thread; must
// not block. The record and what its views point to are valid only during the call.
class ExchangeSink {
 public:
  virtual ~ExchangeSink() = default;
  virtual void OnExchangeDone(const ExchangeRecord& record) = 0;
};

}  // namespace sluice::proxy
