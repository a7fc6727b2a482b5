// HTTP/1 request head parsing: Sluice's parser (src/http/h1_parser.h) against llhttp on the
// same bytes (docs/decisions/0001). Both produce the same information: method, target,
// version, and a view of every header name and value; "+framing" adds Sluice's body framing
// decision, which llhttp makes as part of its parse (Content-Length / Transfer-Encoding).
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>

#include "http/h1_framing.h"
#include "http/h1_parser.h"
#include "requests.h"

#ifdef SLUICE_BENCH_LLHTTP
extern "C" {
#include "llhttp.h"
}
#endif

namespace sluice::bench {
namespace {

void SetLabel(benchmark::State& state, std::string_view req) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * req.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel(std::string(RequestName(static_cast<int>(state.range(0)))) + " " +
                 std::to_string(req.size()) + "B");
}

void BM_Sluice_FindAndParseHead(benchmark::State& state) {
  const std::string req(RequestByIndex(static_cast<int>(state.range(0))));
  auto head = std::make_unique<http::RequestHead>();
  http::ParseError error;
  for (auto _ : state) {
    size_t scan = 0;
    size_t len = http::FindHeadEnd(req, &scan);
    auto status = http::ParseRequestHead(req, len, head.get(), &error);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(head->header_count);
    if (status != http::ParseStatus::kComplete) state.SkipWithError("parse failed");
  }
  SetLabel(state, req);
}
BENCHMARK(BM_Sluice_FindAndParseHead)->DenseRange(0, 2);

void BM_Sluice_FindAndParseHeadFraming(benchmark::State& state) {
  const std::string req(RequestByIndex(static_cast<int>(state.range(0))));
  auto head = std::make_unique<http::RequestHead>();
  http::ParseError error;
  http::Framing framing;
  for (auto _ : state) {
    size_t scan = 0;
    size_t len = http::FindHeadEnd(req, &scan);
    auto status = http::ParseRequestHead(req, len, head.get(), &error);
    bool ok = http::DetermineRequestFraming(*head, &framing, &error);
    benchmark::DoNotOptimize(framing);
    if (status != http::ParseStatus::kComplete || !ok) state.SkipWithError("parse failed");
  }
  SetLabel(state, req);
}
BENCHMARK(BM_Sluice_FindAndParseHeadFraming)->DenseRange(0, 2);

// The incremental case a proxy meets when a head arrives in two reads: the scan resumes.
void BM_Sluice_FindHeadEndSplit(benchmark::State& state) {
  const std::string req(RequestByIndex(static_cast<int>(state.range(0))));
  const std::string_view first(req.data(), req.size() / 2);
  for (auto _ : state) {
    size_t scan = 0;
    size_t a = http::FindHeadEnd(first, &scan);
    size_t b = http::FindHeadEnd(req, &scan);
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(b);
  }
  SetLabel(state, req);
}
BENCHMARK(BM_Sluice_FindHeadEndSplit)->DenseRange(0, 2);

#ifdef SLUICE_BENCH_LLHTTP
// Collects the same views Sluice's parser produces.
struct Span {
  const char* p;
  size_t n;
};
struct Collected {
  Span method{}, url{}, version{};
  Span names[256];
  Span values[256];
  size_t count = 0;
  int complete = 0;
};

int OnMethod(llhttp_t* p, const char* at, size_t n) {
  static_cast<Collected*>(p->data)->method = {at, n};
  return 0;
}
int OnUrl(llhttp_t* p, const char* at, size_t n) {
  static_cast<Collected*>(p->data)->url = {at, n};
  return 0;
}
int OnVersion(llhttp_t* p, const char* at, size_t n) {
  static_cast<Collected*>(p->data)->version = {at, n};
  return 0;
}
int OnHeaderField(llhttp_t* p, const char* at, size_t n) {
  auto* c = static_cast<Collected*>(p->data);
  if (c->count < 256) c->names[c->count] = {at, n};
  return 0;
}
int OnHeaderValue(llhttp_t* p, const char* at, size_t n) {
  auto* c = static_cast<Collected*>(p->data);
  if (c->count < 256) c->values[c->count++] = {at, n};
  return 0;
}
int OnMessageBegin(llhttp_t* p) {
  static_cast<Collected*>(p->data)->count = 0;
  return 0;
}
int OnHeadersComplete(llhttp_t* p) {
  static_cast<Collected*>(p->data)->complete++;
  return 0;
}

void BM_Llhttp_Parse(benchmark::State& state) {
  const std::string req(RequestByIndex(static_cast<int>(state.range(0))));
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_message_begin = OnMessageBegin;
  settings.on_method = OnMethod;
  settings.on_url = OnUrl;
  settings.on_version = OnVersion;
  settings.on_header_field = OnHeaderField;
  settings.on_header_value = OnHeaderValue;
  settings.on_headers_complete = OnHeadersComplete;
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, &settings);
  Collected collected;
  parser.data = &collected;
  for (auto _ : state) {
    // The same keep-alive parser takes request after request, as on a connection.
    llhttp_errno_t err = llhttp_execute(&parser, req.data(), req.size());
    benchmark::DoNotOptimize(collected.count);
    if (err != HPE_OK) state.SkipWithError(llhttp_errno_name(err));
  }
  if (collected.complete != static_cast<int>(state.iterations())) {
    state.SkipWithError("llhttp did not complete every head");
  }
  SetLabel(state, req);
}
BENCHMARK(BM_Llhttp_Parse)->DenseRange(0, 2);

// llhttp's best case: no callbacks at all (it still validates and frames).
void BM_Llhttp_ParseNoCallbacks(benchmark::State& state) {
  const std::string req(RequestByIndex(static_cast<int>(state.range(0))));
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, &settings);
  for (auto _ : state) {
    llhttp_errno_t err = llhttp_execute(&parser, req.data(), req.size());
    benchmark::DoNotOptimize(err);
    if (err != HPE_OK) state.SkipWithError(llhttp_errno_name(err));
  }
  SetLabel(state, req);
}
BENCHMARK(BM_Llhttp_ParseNoCallbacks)->DenseRange(0, 2);
#endif

}  // namespace
}  // namespace sluice::bench
