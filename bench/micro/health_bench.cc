// The health checker's own memory per target (issue 9 goal: at most 1 KiB): heap bytes in use
// (mallinfo2) and RSS, before and after it takes N targets in groups of 1,000. The targets'
// TargetStats are made first, outside the measurement: they belong to the snapshot. Checks go
// to 127.A.B.C:9 (refused) every 300 s, so few are in flight while measuring.
//
//   build/bench/sluice_micro_bench --benchmark_filter=HealthChecker
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "health/checker.h"

namespace sluice::bench {
namespace {

double RssBytes() {
  long pages_total = 0;
  long pages_resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  int got = std::fscanf(f, "%ld %ld", &pages_total, &pages_resident);
  std::fclose(f);
  return got == 2 ? static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE))
                  : 0;
}

health::MonitoredSet Targets(const std::vector<std::shared_ptr<balancer::TargetStats>>& stats) {
  health::MonitoredSet set;
  for (size_t i = 0; i < stats.size(); ++i) {
    if (i % 1000 == 0) {
      health::MonitoredGroup g;
      g.name = "g" + std::to_string(i / 1000);
      g.check.interval_seconds = 300;
      g.check.path = "/health";
      set.groups.push_back(std::move(g));
    }
    std::string ip = "127." + std::to_string(10 + i / 62500) + "." +
                     std::to_string((i / 250) % 250) + "." + std::to_string(1 + i % 250);
    health::MonitoredTarget t;
    t.group = set.groups.size() - 1;
    t.id = ip;
    t.address = *SocketAddress::Parse(ip, 9);
    t.check_port = 9;
    t.stats = stats[i];
    set.targets.push_back(std::move(t));
  }
  return set;
}

void BM_HealthCheckerMemoryPerTarget(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    std::vector<std::shared_ptr<balancer::TargetStats>> stats;
    for (size_t i = 0; i < n; ++i) stats.push_back(std::make_shared<balancer::TargetStats>());
    health::HealthChecker checker;
    checker.Start();
    size_t heap_before = mallinfo2().uordblks;
    double rss_before = RssBytes();
    if (!checker.WaitForUpdate(checker.Update(Targets(stats)), 60'000)) {
      state.SkipWithError("the checker did not take the targets");
      break;
    }
    double heap = static_cast<double>(mallinfo2().uordblks) - static_cast<double>(heap_before);
    double rss = RssBytes() - rss_before;
    state.counters["heap_B_per_target"] = heap / static_cast<double>(n);
    state.counters["rss_B_per_target"] = rss / static_cast<double>(n);
    checker.Stop();
  }
}
BENCHMARK(BM_HealthCheckerMemoryPerTarget)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice::bench
