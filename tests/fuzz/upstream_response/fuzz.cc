// libFuzzer target: a whole upstream response through a worker (proxy/memory_harness.h):
// one client request, and a target that answers with the fuzzer's bytes, piece by piece.
//
// Input layout: byte 0 = flags (bits 0-4: the target's piece size - 1, 1..32; bit 5: the
// client asks HEAD; bit 6: the client speaks HTTP/1.0; bit 7: the target closes after its
// bytes), then the target's bytes.
//
// Asserted (__builtin_trap): nothing crashes or leaks (ASan); the client gets an answer, and
// everything it gets is well-framed HTTP/1.1 (exchange_checks.h); the exchange ends exactly
// once, with a cause.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "../exchange_checks.h"

namespace {

constexpr char kConfig[] = R"(LoadBalancers:
  - Name: lb
    Listeners:
      - Protocol: HTTP
        Port: 80
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: forward
            TargetGroupName: app
TargetGroups:
  - Name: app
    Port: 8080
    HealthCheckEnabled: false
    Targets: [{Id: 10.0.0.1}]
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
  if (size < 1) return 0;
  size_t piece = static_cast<size_t>(data[0] & 31) + 1;
  bool head_request = (data[0] & 32) != 0;
  bool http10 = (data[0] & 64) != 0;
  bool close_after = (data[0] & 128) != 0;
  std::string_view answer(reinterpret_cast<const char*>(data) + 1, size - 1);

  auto created = proxy::MemoryHarness::Create(kConfig);
  CHECK(created.ok());
  proxy::MemoryHarness& h = *created.value();
  net::MemoryTransport* client = h.Connect();
  std::string request = std::string(head_request ? "HEAD" : "GET") + " /x HTTP/1." +
                        (http10 ? "0" : "1") + "\r\nHost: a\r\n\r\n";
  CHECK(client->Write(request.data(), request.size()).bytes() == request.size());
  h.Run();
  CHECK(h.upstreams().size() == 1);
  net::MemoryTransport& target = *h.upstreams()[0].target;
  CHECK(!target.ReadAll().empty());
  std::string out;
  for (size_t at = 0; at < answer.size();) {
    net::IoResult r = target.Write(answer.data() + at, std::min(piece, answer.size() - at));
    if (!r.ok()) break;  // the load balancer closed the stream, or its buffer is full
    at += r.bytes();
    h.Run();
    out += client->ReadAll();
  }
  if (close_after) target.Close();
  h.Run();
  h.Advance(61000);  // the idle timeout ends a response that never completes
  out += client->ReadAll();
  CHECK(!out.empty());  // every request gets an answer (or the start of one)
  fuzz::CheckResponses(out, h);
  CHECK(h.records().size() == 1);
  CHECK(h.records()[0].record.cause != proxy::Cause::kNone);
  return 0;
}
