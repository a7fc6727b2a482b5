// libFuzzer target: raw HTTP/2 client bytes into a whole worker (proxy/memory_harness.h) on a
// fake clock, over a cleartext listener that takes HTTP/2 by prior knowledge
// (sluice.routing.http2.cleartext.enabled): the session (proxy/h2_session.h), every stream's
// exchange over its H2StreamTransport, and the translation both ways.
//
// Input layout: byte 0 = flags (bits 0-2: the client's piece size, 1/9/64/512/4096/16384/
// 65536/all; bits 3-4: what targets do, 0 answer with a Content-Length, 1 chunked, 2 until
// they close, 3 nothing; bit 5: the client reads nothing until the end; bit 6: a second
// passes between pieces; bit 7: no client preface is prepended), byte 1 = more flags (bits
// 0-1: the body size targets answer with, 2/1000/70000/300000 bytes; bit 2: a 100 Continue
// first; bit 3: targets close after answering), then the client's bytes (after the 24-byte
// preface, unless bit 7). Targets answer every request they read; then the clock passes every
// timeout, the client reading.
//
// Asserted (__builtin_trap): nothing crashes or leaks (ASan); what the client receives is a
// sequence of whole HTTP/2 frames (unless the preface came too slowly for the HTTP/1.1 head
// timeout), the first a SETTINGS, none larger than 16 KiB, on stream ids a client may have
// opened; and after the timeouts no connection is left open (not even one whose responses
// wait for a flow-control window the client never opens).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "../h1_pieces.h"
#include "proxy/memory_harness.h"

namespace {

using namespace sluice;

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr size_t kPieces[] = {1, 9, 64, 512, 4096, 16384, 65536, SIZE_MAX};
constexpr size_t kBodies[] = {2, 1000, 70000, 300000};

constexpr char kConfig[] = R"(LoadBalancers:
  - Name: lb
    Attributes:
      idle_timeout.timeout_seconds: "5"
      sluice.routing.http2.cleartext.enabled: "true"
    Listeners:
      - Protocol: HTTP
        Port: 80
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: forward
            TargetGroupName: app
        Rules:
          - Priority: 10
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/f*"]}}]
            Actions:
              - Type: fixed-response
                FixedResponseConfig: {StatusCode: "404", ContentType: text/plain, MessageBody: "none"}
          - Priority: 20
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/r*"]}}]
            Actions:
              - Type: redirect
                RedirectConfig: {Protocol: HTTPS, StatusCode: HTTP_301}
TargetGroups:
  - Name: app
    Port: 8080
    HealthCheckEnabled: false
    Targets: [{Id: 10.0.0.1}, {Id: 10.0.0.2}]
)";

struct Targets {
  int mode = 0;  // 0 length, 1 chunked, 2 until close, 3 silent
  bool interim = false;
  bool close_after = false;
  std::string response;
  std::vector<size_t> sent;  // per upstream: response bytes written (SIZE_MAX: none due)

  void Build(size_t body_size) {
    std::string body(body_size, 'b');
    if (interim) response = "HTTP/1.1 100 Continue\r\n\r\n";
    if (mode == 0) {
      response += "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_size) + "\r\n\r\n";
      response += body;
    } else if (mode == 1) {
      response += "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
      for (size_t at = 0; at < body.size(); at += 4096) {
        size_t n = std::min<size_t>(4096, body.size() - at);
        char size[16];
        snprintf(size, sizeof(size), "%zx\r\n", n);
        response += size;
        response.append(body, at, n);
        response += "\r\n";
      }
      response += "0\r\n\r\n";
    } else {
      response += "HTTP/1.1 200 OK\r\n\r\n" + body;
    }
  }

  // Each target answers once it has read something, as far as its stream takes.
  void Play(proxy::MemoryHarness& h) {
    auto& ups = h.upstreams();
    sent.resize(ups.size(), SIZE_MAX);
    for (size_t i = 0; i < ups.size(); ++i) {
      net::MemoryTransport& t = *ups[i].target;
      if (t.closed()) continue;
      if (!t.ReadAll().empty() && sent[i] == SIZE_MAX && mode != 3) sent[i] = 0;
      if (sent[i] == SIZE_MAX || sent[i] == response.size()) continue;
      net::IoResult r = t.Write(response.data() + sent[i], response.size() - sent[i]);
      if (r.ok()) sent[i] += r.bytes();
      if (sent[i] == response.size() && (close_after || mode == 2)) t.Close();
    }
  }
};

// Walks the server's bytes frame by frame.
void CheckFrames(std::string_view out, bool whole) {
  bool first = true;
  while (out.size() >= 9) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(out.data());
    size_t length = (size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2];
    uint8_t type = p[3];
    uint32_t stream =
        ((uint32_t{p[5]} & 0x7f) << 24) | (uint32_t{p[6]} << 16) | (uint32_t{p[7]} << 8) | p[8];
    CHECK(length <= 16384);
    // DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION: never
    // PRIORITY or PUSH_PROMISE.
    CHECK(type <= 9 && type != 2 && type != 5);
    if (first) CHECK(type == 4 && stream == 0);  // the server's SETTINGS come first
    first = false;
    if (type == 0 || type == 1 || type == 3 || type == 9) CHECK(stream % 2 == 1);
    if (type == 4 || type == 6 || type == 7) CHECK(stream == 0);
    if (out.size() < 9 + length) break;
    out.remove_prefix(9 + length);
  }
  // A connection closed with frames it could not write may end inside one; else whole.
  if (whole) CHECK(out.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t f0 = data[0], f1 = data[1];
  const size_t piece = kPieces[f0 & 7];
  Targets targets;
  targets.mode = (f0 >> 3) & 3;
  const bool client_reads = (f0 & 0x20) == 0;
  const bool tick = (f0 & 0x40) != 0;
  targets.interim = (f1 & 4) != 0;
  targets.close_after = (f1 & 8) != 0;
  targets.Build(kBodies[f1 & 3]);
  std::string client;
  if ((f0 & 0x80) == 0) client = kPreface;
  client.append(reinterpret_cast<const char*>(data) + 2, size - 2);

  auto created = proxy::MemoryHarness::Create(kConfig);
  CHECK(created.ok());
  proxy::MemoryHarness& h = *created.value();
  net::MemoryTransport* conn = h.Connect();
  std::string out;
  int blocked = 0;
  for (size_t at = 0; at < client.size();) {
    std::string_view chunk = std::string_view(client).substr(at, piece);
    net::IoResult r = conn->Write(chunk.data(), chunk.size());
    if (!r.ok()) {
      if (r.status() != net::IoStatus::kWouldBlock) break;  // the load balancer closed
      if (!client_reads) break;  // both sides full: a client that reads nothing is stuck
      // The load balancer reads nothing more for now (a GOAWAY to flush, a full stream):
      // let time pass, then give up writing.
      if (++blocked > 64) h.Advance(1000);
      if (blocked > 200) break;
    } else {
      at += r.bytes();
      blocked = 0;
    }
    h.Run();
    targets.Play(h);
    h.Run();
    if (client_reads) out += conn->ReadAll();
    if (tick) h.Advance(1000);
  }
  // The client reads from here on (and sends nothing more): every timeout passes (the
  // exchanges' 5 s, then the connection's 5 s idle timeout, the 10 s header timeout, the
  // 2 s linger).
  for (int i = 0; i < 15; ++i) {
    h.Advance(2000);
    targets.Play(h);
    h.Run();
    out += conn->ReadAll();
  }
  // HTTP/2 when the preface came (a preface that comes too slowly, one byte a second, gets
  // the HTTP/1.1 head timeout's 408).
  if (client.starts_with("PRI * HTTP/2.0") && !out.starts_with("HTTP/1.1 ")) {
    CheckFrames(out, client_reads);
  }
  // Every timeout has passed: nothing is left open, also not a connection with a response
  // whose DATA waits for a window the client never opened (once a bug).
  CHECK(h.worker().connection_count() == 0);
  CHECK(conn->at_eof());
  return 0;
}
