// Where one elbv2 API mutation's time goes, in process: the steps of the server's `apply`
// (src/app/server.cc) and of the handlers (src/api/ops_write.cc), timed one by one on a
// given document, with the allocator warm (as in the long-running server):
//
//   copy       config::Config next = c.config (every mutating handler copies the model)
//   freeze     api::FreezeIds(&next)
//   export     config::ExportYaml(next)
//   load       config::LoadConfigFromString(yaml) (YAML parse + every check of the loader)
//   compile    SnapshotCompiler::Build(config) (no listening sockets: they are kept open
//              from one snapshot to the next in the server)
//   commit     StateStore::Commit (one transaction, synchronous=FULL, prunes to 20 versions)
//   free       destroying the previous snapshot and models
//
//   api_mutation_split DOC.yaml SCRATCH.db REPS
//
// Prints one JSON object: the median milliseconds of each step over REPS rounds (the first
// round is dropped as warm-up when REPS > 1), wall time ("load_ms") and this process's CPU
// time ("load_cpu_ms"; the harness is single-threaded, and CPU time does not grow when other
// work competes for the CPUs, wall time does). Built by bench/tools/api_scale.py against the
// static libraries of build/ (not part of the CMake build).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "api/service.h"
#include "config/export.h"
#include "config/loader.h"
#include "snapshot/snapshot.h"
#include "store/state_store.h"

using namespace sluice;
using Clock = std::chrono::steady_clock;

namespace {

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// This process's CPU time, in ms.
double CpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DOC.yaml SCRATCH.db REPS\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const int reps = std::max(1, std::atoi(argv[3]));

  auto first = config::LoadConfigFromString(doc, argv[1]);
  if (auto* errors = std::get_if<config::ConfigErrors>(&first)) {
    for (const auto& e : *errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    return 1;
  }
  const config::Config model = std::get<config::Config>(first);

  auto opened = store::StateStore::Open(argv[2], std::string(argv[2]) + ".key");
  if (!opened.ok()) {
    std::fprintf(stderr, "store: %s\n", opened.error().message.c_str());
    return 1;
  }
  auto db = std::move(opened.value());
  int64_t generation = db->Load().value().generation;

  snapshot::SnapshotCompiler compiler;
  compiler.set_worker_count(1);
  std::shared_ptr<const snapshot::Snapshot> current;
  {
    auto built = compiler.Build(model);
    if (!built.ok()) {
      std::fprintf(stderr, "compile: %s\n", built.error().message.c_str());
      return 1;
    }
    current = built.value();
  }

  std::map<std::string, std::vector<double>> times;
  size_t yaml_bytes = 0;
  for (int i = 0; i < reps + (reps > 1 ? 1 : 0); ++i) {
    bool keep = reps == 1 || i > 0;
    double c[8];
    Clock::time_point t[8];
    auto mark = [&](int k) {
      t[k] = Clock::now();
      c[k] = CpuMs();
    };
    mark(0);
    config::Config next = model;
    mark(1);
    api::FreezeIds(&next);
    mark(2);
    std::string yaml = config::ExportYaml(next);
    mark(3);
    config::LoadResult checked = config::LoadConfigFromString(yaml, "api change");
    mark(4);
    if (auto* errors = std::get_if<config::ConfigErrors>(&checked)) {
      std::fprintf(stderr, "load: %s\n", errors->front().ToString().c_str());
      return 1;
    }
    auto built = compiler.Build(std::move(std::get<config::Config>(checked)));
    mark(5);
    if (!built.ok()) {
      std::fprintf(stderr, "compile: %s\n", built.error().message.c_str());
      return 1;
    }
    auto committed = db->Commit(generation, yaml, "api_mutation_split");
    mark(6);
    if (!committed.ok()) {
      std::fprintf(stderr, "commit: %s\n", committed.error().message.c_str());
      return 1;
    }
    generation = committed.value();
    current = built.value();  // drops the previous snapshot
    next = config::Config{};
    mark(7);
    yaml_bytes = yaml.size();
    if (!keep) continue;
    static const char* kSteps[] = {"copy", "freeze", "export", "load", "compile", "commit", "free"};
    for (int k = 0; k < 7; ++k) {
      times[std::string(kSteps[k]) + "_ms"].push_back(Ms(t[k], t[k + 1]));
      times[std::string(kSteps[k]) + "_cpu_ms"].push_back(c[k + 1] - c[k]);
    }
    times["total_ms"].push_back(Ms(t[0], t[7]));
    times["total_cpu_ms"].push_back(c[7] - c[0]);
  }
  std::printf("{\"yaml_bytes\": %zu, \"reps\": %zu", yaml_bytes, times["total_ms"].size());
  for (const auto& [k, v] : times) std::printf(", \"%s\": %.1f", k.c_str(), Median(v));
  std::printf("}\n");
  return 0;
}
