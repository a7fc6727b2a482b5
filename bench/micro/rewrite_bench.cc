// Upstream request head rewriting (proxy::AppendUpstreamRequestHead): the head Sluice sends to
// the target, with X-Forwarded-For/Proto/Port, X-Amzn-Trace-Id and Host, hop-by-hop headers
// removed. Measured on a parsed request, as the proxy does it, into a reused string.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "balancer/picker.h"
#include "config/model.h"
#include "http/h1_framing.h"
#include "http/h1_parser.h"
#include "proxy/request_rewrite.h"
#include "requests.h"

namespace sluice::bench {
namespace {

void BM_AppendUpstreamRequestHead(benchmark::State& state) {
  const std::string req(RequestByIndex(static_cast<int>(state.range(0))));
  auto head = std::make_unique<http::RequestHead>();
  http::ParseError error;
  size_t scan = 0;
  size_t len = http::FindHeadEnd(req, &scan);
  http::Framing framing;
  proxy::RequestTarget target;
  if (http::ParseRequestHead(req, len, head.get(), &error) != http::ParseStatus::kComplete ||
      !http::DetermineRequestFraming(*head, &framing, &error) ||
      !proxy::SplitRequestTarget(head->target, &target)) {
    state.SkipWithError("parse failed");
    return;
  }
  config::LoadBalancerAttributes attributes;
  balancer::FastRng rng(1);
  proxy::ForwardContext ctx;
  ctx.attributes = &attributes;
  ctx.listener_port = "80";
  ctx.client_ip = *IpAddress::Parse("192.0.2.10");
  ctx.client_port = 54321;
  ctx.fallback_host = "shop.example.com";
  ctx.unix_seconds = 1700000000;
  ctx.rng = &rng;
  std::string out;
  out.reserve(4096);
  for (auto _ : state) {
    out.clear();
    int status = proxy::AppendUpstreamRequestHead(*head, target, framing, ctx, &out);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
  state.SetLabel(std::string(RequestName(static_cast<int>(state.range(0)))) + " -> " +
                 std::to_string(out.size()) + "B");
}
BENCHMARK(BM_AppendUpstreamRequestHead)->DenseRange(0, 2);

}  // namespace
}  // namespace sluice::bench
