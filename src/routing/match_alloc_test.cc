// Match() must not allocate. This file replaces the global operator new for the routing_test
// binary with a counting version (plain malloc underneath).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "routing/redirect.h"
#include "routing/rule_table.h"
#include "routing/test_util.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

namespace {
void* CountedAlloc(size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return std::malloc(n == 0 ? 1 : n);
}
void* CountedAllocOrThrow(size_t n) {
  void* p = CountedAlloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

// Every non-aligned form is replaced so that allocation and release stay paired (the sanitizers
// check that).
void* operator new(size_t n) { return CountedAllocOrThrow(n); }
void* operator new[](size_t n) { return CountedAllocOrThrow(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return CountedAlloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return CountedAlloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace sluice::routing {
namespace {

using testing::HeaderCond;
using testing::HostCond;
using testing::MakeListener;
using testing::MakeRule;
using testing::MethodCond;
using testing::PathCond;
using testing::QueryCond;
using testing::Request;
using testing::SourceIpCond;

TEST(MatchAllocationTest, CounterSeesAllocations) {
  g_allocations = 0;
  g_counting = true;
  static std::string* volatile sink = nullptr;
  sink = new std::string(100, 'x');
  g_counting = false;
  delete sink;
  EXPECT_GE(g_allocations.load(), 2);  // the string object and its buffer
}

TEST(MatchAllocationTest, MatchDoesNotAllocateAfterWarmUp) {
  std::vector<config::Rule> rules = {
      MakeRule(1, {HostCond({"a.example.com"}), PathCond({"/api/*"})}),
      MakeRule(2, {HostCond({"*.example.com"}, {"^w+\\."})}),
      MakeRule(3, {PathCond({"*.php"}, {"^/cgi/"})}),
      MakeRule(4, {HeaderCond("User-Agent", {"*bot*"}, {"crawler"})}),
      MakeRule(5, {QueryCond({{"q", "a\\*"}, {std::nullopt, "x?z"}})}),
      MakeRule(6, {SourceIpCond({"10.0.0.0/8", "2001:db8::/32"}), MethodCond({"PUT"})}),
  };
  auto compiled = RuleTable::Compile(MakeListener(rules));
  ASSERT_TRUE(compiled.ok());
  const RuleTable& table = *compiled.value();

  std::vector<Request> requests(6);
  requests[0].host = "a.example.com:8080";
  requests[0].path = "/x/../api/%76";
  requests[1].host = "www.example.com";
  requests[2].path = "/cgi/run.pl";
  requests[3].headers = {{"Accept", "*/*"}, {"user-agent", "SomeCrawler/1"}};
  requests[4].query = "a=1&q=A%2A&b=xyz";
  requests[5].method = "PUT";
  requests[5].source_ip = "2001:db8::5";
  const int expected[] = {1, 2, 3, 4, 5, 6};

  std::vector<std::vector<http::HeaderField>> storage(requests.size());
  std::vector<RequestFacts> facts;
  for (size_t i = 0; i < requests.size(); ++i) facts.push_back(requests[i].Facts(&storage[i]));

  MatchScratch scratch;
  for (int warm = 0; warm < 3; ++warm) {
    for (const RequestFacts& f : facts) table.Match(f, scratch);
  }
  g_allocations = 0;
  g_counting = true;
  int got[6] = {};
  for (int round = 0; round < 100; ++round) {
    for (size_t i = 0; i < facts.size(); ++i) got[i] = table.Match(facts[i], scratch).priority;
  }
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(got[i], expected[i]) << "request " << i;
}

TEST(MatchAllocationTest, RedirectReusesCapacity) {
  config::RedirectConfig cfg;
  cfg.protocol = "HTTPS";
  std::string out;
  out.reserve(1024);
  RedirectInputs in{"http", "example.com", "80", "/a/b", "x=1"};
  g_allocations = 0;
  g_counting = true;
  bool ok = BuildRedirectLocation(cfg, in, &out);
  g_counting = false;
  EXPECT_TRUE(ok);
  EXPECT_EQ(out, "https://example.com:80/a/b?x=1");
  EXPECT_EQ(g_allocations.load(), 0);
}

}  // namespace
}  // namespace sluice::routing
