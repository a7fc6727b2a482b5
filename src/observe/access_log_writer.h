// Writes the access-log entries that workers push into their rings to gzip files, one per
// load balancer per 5-minute interval, named and laid out as ALB's S3 objects (reference
// §5.1) under a local directory:
//   <dir>[/<prefix>]/AWSLogs/<account>/elasticloadbalancing/<region>/<yyyy>/<mm>/<dd>/
//     <account>_elasticloadbalancing_<region>_app.<name>.<id>_<end>_<node-ip>_<random>.log.gz
// A file is written under <dir>/.sluice-partial/ while its interval runs and renamed into
// place when the interval ends (or the writer stops), so readers only ever see whole files.
// Each file is a series of gzip members of ~128 KiB of entries each (RFC 1952 §2.2: gzip,
// zcat, Python, Java and Athena read them as one stream).
// Errors (unwritable directory, full disk) never reach the workers: the interval's entries
// are dropped and counted, one line goes to stderr per interval, and the next interval tries
// again.
// Thread: its own thread (Start/Stop), or RunOnce from one thread in tests; SetDestinations
// and stats from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "observe/log_ring.h"

struct libdeflate_compressor;

namespace sluice::observe {

// Where one load balancer's access logs go.
struct LogDestination {
  std::string directory;  // absolute or relative to the working directory
  std::string prefix;     // "" or "a/b" (no leading or trailing '/')
  std::string account;
  std::string region;
  std::string lb_name;
  std::string lb_id;
  std::string node_ip;      // the address that names the "node" in file names
  std::string file_prefix;  // "" (access logs), "conn_log_" (connection logs)
  bool network = false;     // a network load balancer's: "_net.<name>..." and no node address
  std::string bucket;       // "" or the S3 bucket completed files are uploaded to
  bool operator==(const LogDestination&) const = default;
};

inline constexpr int64_t kLogIntervalMs = 5 * 60 * 1000;

// "<directory>[/<prefix>]/AWSLogs": where every file of `d` lies (in date directories).
std::string AccessLogRoot(const LogDestination& d);
// The start every file name of `d` shares: "[<file_prefix>]<account>_elasticloadbalancing_
// <region>_app.<name>.<id>_" ("_net." for a network load balancer).
std::string AccessLogFileNameStart(const LogDestination& d);

// ".../AWSLogs/..." path of the file for the interval ending at `end_unix_ms`, delivered at
// `delivered_unix_ms` (the date directories), with `random` as its last part.
std::string AccessLogPath(const LogDestination& d, int64_t end_unix_ms, int64_t delivered_unix_ms,
                          std::string_view random);

struct AccessLogStats {
  uint64_t written = 0;        // entries written to files
  uint64_t dropped_full = 0;   // entries a worker could not push (ring full)
  uint64_t dropped_error = 0;  // entries lost to a file error or a destination gone
  uint64_t files = 0;          // files completed
  uint64_t errors = 0;         // file errors
};

class AccessLogWriter {
 public:
  // The rings of the workers (owned by the caller, outliving the writer).
  explicit AccessLogWriter(std::vector<LogRing*> rings);
  ~AccessLogWriter();
  AccessLogWriter(const AccessLogWriter&) = delete;
  AccessLogWriter& operator=(const AccessLogWriter&) = delete;

  // The logs by stream key (what workers push with); a key no longer present has its file
  // completed once the next drain has written what was pushed before, and entries arriving
  // for it after that are dropped.
  void SetDestinations(std::map<uint64_t, LogDestination> destinations);

  // Drains every ring, writes, and completes the files whose interval ended by now.
  void RunOnce(int64_t now_unix_ms);
  // Completes every open file (as at the end of its interval) after a last drain.
  void Finish(int64_t now_unix_ms);

  // A thread calling RunOnce every `period_ms` with the real-time clock; Stop drains,
  // finishes and joins.
  void Start(int period_ms = 100);
  void Stop();

  AccessLogStats stats() const;

  // Called on the writer's thread after each file is complete and in place, with its
  // destination and path (<directory>/<key>). Set before Start.
  using CompletedFn = std::function<void(const LogDestination&, const std::string& path)>;
  void set_on_completed(CompletedFn fn) { on_completed_ = std::move(fn); }

 private:
  struct OpenFile;
  void Write(uint64_t key, std::string_view entry, int64_t now_unix_ms);
  OpenFile* FileFor(uint64_t key, int64_t now_unix_ms);
  // Compresses the entries the file holds as one gzip member and writes it.
  void WriteMember(OpenFile& f);
  void Complete(uint64_t key, OpenFile& f, int64_t now_unix_ms);
  void Fail(OpenFile& f, const std::string& what, int err);
  // Removes a failed file; its entries move from written to dropped.
  void Discard(OpenFile& f);
  void ApplyDestinations(int64_t now_unix_ms);
  void RetireGone(int64_t now_unix_ms);

  std::vector<LogRing*> rings_;
  std::mutex mu_;  // guards pending_, pending_gone_ and has_pending_ (control ↔ writer)
  std::map<uint64_t, LogDestination> pending_;
  std::map<uint64_t, LogDestination> pending_gone_;  // set, then removed before applied
  bool has_pending_ = false;
  std::map<uint64_t, LogDestination> destinations_;  // writer's own copy
  std::vector<uint64_t> retiring_;  // removed by the last SetDestinations; gone after a drain
  std::map<uint64_t, std::unique_ptr<OpenFile>> files_;
  std::string scratch_;
  libdeflate_compressor* compressor_ = nullptr;  // null: allocation failed (files fail)
  std::vector<char> compressed_;                 // one member's output
  uint64_t random_state_;
  CompletedFn on_completed_;

  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> dropped_error_{0};
  std::atomic<uint64_t> files_done_{0};
  std::atomic<uint64_t> errors_{0};

  std::thread thread_;
  std::mutex thread_mu_;
  std::condition_variable wake_;
  bool stop_ = false;
};

}  // namespace sluice::observe
