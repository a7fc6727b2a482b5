// libFuzzer target: a whole downstream connection through the in-memory transport
// (proxy/memory_harness.h): a worker on a fake clock, one client, targets played here.
//
// Input layout: byte 0 = flags (bits 0-1: the listener's desync mitigation mode, 3 = strictest;
// bit 2: the target closes after answering; bits 3-7: the client's piece size - 1, 1..32), then
// the client's bytes, then optionally "\xff\xfe" and the bytes every target answers with (a
// default 200 when absent). The client writes its bytes piece by piece, the worker runs after
// each, targets answer every time they read something, then the clock passes every timeout.
//
// Asserted (__builtin_trap): nothing crashes or leaks (ASan); every response the client gets
// is a well-framed HTTP/1.1 response (interim 1xx aside), in order, bodies framed as the
// heads say (only the last may be cut short, when a target closed mid-body); no connection to
// a target is opened for a request the classifier refused.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "../exchange_checks.h"

namespace {

using namespace sluice;

constexpr const char* kModes[] = {"defensive", "monitor", "strictest", "strictest"};

std::string Config(int mode) {
  return std::string(R"(LoadBalancers:
  - Name: lb
    Attributes: {routing.http.desync_mitigation_mode: )") +
         kModes[mode] + R"(}
    Listeners:
      - Protocol: HTTP
        Port: 80
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: fixed-response
            FixedResponseConfig: {StatusCode: "404", MessageBody: "none"}
        Rules:
          - Priority: 10
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/a*"]}}]
            Actions: [{Type: forward, TargetGroupName: app}]
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
}

// Targets answer whatever they read with `response`; `close_after` ends the stream then.
void PlayTargets(proxy::MemoryHarness& h, std::string_view response, bool close_after) {
  for (auto& u : h.upstreams()) {
    if (u.target->closed()) continue;
    if (u.target->ReadAll().empty()) continue;
    u.target->Write(response.data(), response.size());
    if (close_after) u.target->Close();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  int mode = data[0] & 3;
  bool close_after = (data[0] & 4) != 0;
  size_t piece = static_cast<size_t>(data[0] >> 3) + 1;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string_view client = input;
  std::string_view response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  if (size_t sep = input.find("\xff\xfe"); sep != std::string_view::npos) {
    client = input.substr(0, sep);
    response = input.substr(sep + 2);
  }
  auto created = proxy::MemoryHarness::Create(Config(mode));
  CHECK(created.ok());
  proxy::MemoryHarness& h = *created.value();
  net::MemoryTransport* conn = h.Connect();
  std::string out;
  for (size_t at = 0; at < client.size();) {
    std::string_view chunk = client.substr(at, piece);
    net::IoResult r = conn->Write(chunk.data(), chunk.size());
    if (!r.ok()) break;  // the load balancer closed, or its buffer is full
    at += r.bytes();
    h.Run();
    PlayTargets(h, response, close_after);
    h.Run();
    out += conn->ReadAll();
  }
  h.Advance(61000);  // every timeout: head, idle, target
  PlayTargets(h, response, close_after);
  h.Run();
  out += conn->ReadAll();
  fuzz::CheckResponses(out, h);
  // A refused request opens no target connection (it is the first, and the last, exchange).
  if (!h.records().empty() && h.records()[0].record.cause == proxy::Cause::kDesyncRefused) {
    CHECK(h.upstreams().empty());
  }
  return 0;
}
