// Desync classification (http::ClassifyRequest) of parsed heads: the per-request cost of
// ALB's desync mitigation on the common, compliant case and on a TE+CL conflict.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "http/desync.h"
#include "http/h1_parser.h"
#include "requests.h"

namespace sluice::bench {
namespace {

void Classify(benchmark::State& state, const std::string& req) {
  auto head = std::make_unique<http::RequestHead>();
  http::ParseError error;
  size_t scan = 0;
  size_t len = http::FindHeadEnd(req, &scan);
  if (http::ParseRequestHead(req, len, head.get(), &error) != http::ParseStatus::kComplete) {
    state.SkipWithError("parse failed");
    return;
  }
  http::DesyncVerdict verdict;
  for (auto _ : state) {
    verdict = http::ClassifyRequest(head->method, head->target, head->version, head->header_span());
    benchmark::DoNotOptimize(verdict);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel(http::ToString(verdict.tier));
}

void BM_ClassifyRequest(benchmark::State& state) {
  Classify(state, std::string(RequestByIndex(static_cast<int>(state.range(0)))));
}
BENCHMARK(BM_ClassifyRequest)->DenseRange(0, 2);

void BM_ClassifyRequest_TeAndCl(benchmark::State& state) {
  Classify(state,
           "POST /submit HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n"
           "Transfer-Encoding: chunked\r\n\r\n");
}
BENCHMARK(BM_ClassifyRequest_TeAndCl);

}  // namespace
}  // namespace sluice::bench
