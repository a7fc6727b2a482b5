#include "observe/access_log_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>

#include "observe/access_log_format.h"

namespace sluice::observe {

namespace {

// A file is a series of gzip members (RFC 1952 §2.2), each compressing this much of its
// entries (a little more: the last entry is never split). libdeflate compresses a buffer in
// one call; with zlib's stream this writer spent ~2.3 times the instructions (decision 0027).
constexpr size_t kMemberInput = 128 * 1024;
// Level 1: the writer shares the cores with the workers.
constexpr int kCompressionLevel = 1;

int64_t RealTimeMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Creates every missing directory of `path`; false with errno set when one cannot be made.
bool MakeDirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string part = path.substr(0, i);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

std::string AccessLogRoot(const LogDestination& d) {
  return d.directory + (d.prefix.empty() ? "" : "/" + d.prefix) + "/AWSLogs";
}

std::string AccessLogFileNameStart(const LogDestination& d) {
  return d.file_prefix + d.account + "_elasticloadbalancing_" + d.region +
         (d.network ? "_net." : "_app.") + d.lb_name + "." + d.lb_id + "_";
}

std::string AccessLogPath(const LogDestination& d, int64_t end_unix_ms, int64_t delivered_unix_ms,
                          std::string_view random) {
  std::string path = AccessLogRoot(d);
  path += "/" + d.account + "/elasticloadbalancing/" + d.region + "/";
  const CivilDate day = CivilFromDays(delivered_unix_ms / 86400000);
  path += std::to_string(day.year) + "/";
  AppendPadded(day.month, 2, &path);
  path += "/";
  AppendPadded(day.day, 2, &path);
  path += "/" + AccessLogFileNameStart(d);
  // End time like 20140215T2340Z.
  const int64_t end_s = end_unix_ms / 1000;
  const CivilDate end = CivilFromDays(end_s / 86400);
  path += std::to_string(end.year);
  AppendPadded(end.month, 2, &path);
  AppendPadded(end.day, 2, &path);
  path += "T";
  AppendPadded(end_s % 86400 / 3600, 2, &path);
  AppendPadded(end_s % 3600 / 60, 2, &path);
  path += d.network ? "Z_" : "Z_" + d.node_ip + "_";
  path.append(random);
  path += ".log.gz";
  return path;
}

struct AccessLogWriter::OpenFile {
  LogDestination destination;
  int64_t interval_end_ms = 0;
  std::string partial_path;
  int fd = -1;
  bool failed = false;
  std::string member;           // entries not yet compressed (< kMemberInput + one entry)
  uint64_t member_entries = 0;  // how many (counted written; dropped if the member fails)
  uint64_t file_entries = 0;    // counted written in this file (dropped if it is removed)
};

AccessLogWriter::AccessLogWriter(std::vector<LogRing*> rings) : rings_(std::move(rings)) {
  if (getrandom(&random_state_, sizeof(random_state_), 0) != sizeof(random_state_)) {
    random_state_ = static_cast<uint64_t>(RealTimeMs()) ^ static_cast<uint64_t>(getpid());
  }
  random_state_ |= 1;
  compressor_ = libdeflate_alloc_compressor(kCompressionLevel);
}

AccessLogWriter::~AccessLogWriter() {
  Stop();
  for (auto& [key, f] : files_) {  // not finished (RunOnce without Finish): abandon
    if (f->fd >= 0) close(f->fd);
  }
  if (compressor_ != nullptr) libdeflate_free_compressor(compressor_);
}

void AccessLogWriter::SetDestinations(std::map<uint64_t, LogDestination> destinations) {
  std::lock_guard<std::mutex> lock(mu_);
  // A log that this call removes before the writer applied it may already have entries in
  // the rings: it is retired like any other removed log, not forgotten.
  if (has_pending_) {
    for (auto& [key, d] : pending_) {
      if (destinations.find(key) == destinations.end()) pending_gone_[key] = std::move(d);
    }
  }
  for (const auto& [key, d] : destinations) pending_gone_.erase(key);
  pending_ = std::move(destinations);
  has_pending_ = true;
}

void AccessLogWriter::ApplyDestinations(int64_t now_unix_ms) {
  std::map<uint64_t, LogDestination> next;
  std::map<uint64_t, LogDestination> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!has_pending_) return;
    next = std::move(pending_);
    gone = std::move(pending_gone_);
    pending_.clear();
    pending_gone_.clear();
    has_pending_ = false;
  }
  for (auto& [key, d] : gone) {
    if (next.emplace(key, std::move(d)).second) retiring_.push_back(key);
  }
  // A log that went away keeps its destination until this round's drain has written what
  // the workers pushed before the change (RetireGone), so a reload that turns a log off
  // loses none of its entries.
  for (auto& [key, d] : destinations_) {
    if (next.emplace(key, std::move(d)).second) retiring_.push_back(key);
  }
  destinations_ = std::move(next);
  // A log whose destination changed ends its file now.
  for (auto it = files_.begin(); it != files_.end();) {
    auto d = destinations_.find(it->first);
    if (d == destinations_.end() || !(d->second == it->second->destination)) {
      Complete(it->first, *it->second, now_unix_ms);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
}

void AccessLogWriter::RetireGone(int64_t now_unix_ms) {
  for (uint64_t key : retiring_) {
    if (auto f = files_.find(key); f != files_.end()) {
      Complete(key, *f->second, now_unix_ms);
      files_.erase(f);
    }
    destinations_.erase(key);
  }
  retiring_.clear();
}

void AccessLogWriter::RunOnce(int64_t now_unix_ms) {
  ApplyDestinations(now_unix_ms);
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->second->interval_end_ms <= now_unix_ms) {
      Complete(it->first, *it->second, now_unix_ms);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  for (LogRing* ring : rings_) {
    ring->Drain(&scratch_,
                [&](uint64_t key, std::string_view entry) { Write(key, entry, now_unix_ms); });
  }
  RetireGone(now_unix_ms);
}

void AccessLogWriter::Finish(int64_t now_unix_ms) {
  RunOnce(now_unix_ms);
  for (auto& [key, file] : files_) Complete(key, *file, now_unix_ms);
  files_.clear();
}

AccessLogWriter::OpenFile* AccessLogWriter::FileFor(uint64_t key, int64_t now_unix_ms) {
  auto it = files_.find(key);
  if (it != files_.end()) return it->second.get();
  auto d = destinations_.find(key);
  if (d == destinations_.end()) return nullptr;
  auto f = std::make_unique<OpenFile>();
  f->destination = d->second;
  f->interval_end_ms = (now_unix_ms / kLogIntervalMs + 1) * kLogIntervalMs;
  const std::string partial_dir = f->destination.directory + "/.sluice-partial";
  f->partial_path = partial_dir + "/" + f->destination.file_prefix + f->destination.lb_name + "." +
                    std::to_string(f->interval_end_ms) + ".log.gz.part";
  OpenFile* raw = f.get();
  files_.emplace(key, std::move(f));
  if (!MakeDirs(partial_dir)) {
    Fail(*raw, "cannot create " + partial_dir, errno);
    return raw;
  }
  raw->fd = open(raw->partial_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (raw->fd < 0) {
    Fail(*raw, "cannot open " + raw->partial_path, errno);
    return raw;
  }
  raw->member.reserve(kMemberInput);
  return raw;
}

void AccessLogWriter::Write(uint64_t key, std::string_view entry, int64_t now_unix_ms) {
  OpenFile* f = FileFor(key, now_unix_ms);
  if (f == nullptr || f->failed) {
    dropped_error_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  f->member.append(entry);
  ++f->member_entries;
  ++f->file_entries;
  written_.fetch_add(1, std::memory_order_relaxed);
  if (f->member.size() >= kMemberInput) WriteMember(*f);
}

void AccessLogWriter::WriteMember(OpenFile& f) {
  if (f.member.empty()) return;
  const uint64_t entries = std::exchange(f.member_entries, 0);
  bool ok = !f.failed;
  if (ok && compressor_ == nullptr) {
    Fail(f, "libdeflate cannot allocate a compressor for " + f.partial_path, ENOMEM);
    ok = false;
  }
  if (ok) {
    const size_t bound = libdeflate_gzip_compress_bound(compressor_, f.member.size());
    if (compressed_.size() < bound) compressed_.resize(bound);
    const size_t n = libdeflate_gzip_compress(compressor_, f.member.data(), f.member.size(),
                                              compressed_.data(), compressed_.size());
    if (n == 0) {  // cannot happen with the bound's room; not written rather than cut
      Fail(f, "libdeflate could not compress into " + f.partial_path, EIO);
      ok = false;
    } else if (!WriteAll(f.fd, compressed_.data(), n)) {
      Fail(f, "cannot write " + f.partial_path, errno);
      ok = false;
    }
  }
  f.member.clear();
  if (!ok) {  // counted written when taken in; lost with their member after all
    written_.fetch_sub(entries, std::memory_order_relaxed);
    dropped_error_.fetch_add(entries, std::memory_order_relaxed);
    f.file_entries -= entries;
  }
  // A large last entry does not pin its buffer for the writer's life.
  if (compressed_.size() > 2 * kMemberInput) std::vector<char>().swap(compressed_);
}

void AccessLogWriter::Complete(uint64_t key, OpenFile& f, int64_t now_unix_ms) {
  WriteMember(f);
  if (f.fd >= 0 && close(f.fd) != 0 && !f.failed) Fail(f, "cannot close " + f.partial_path, errno);
  f.fd = -1;
  if (f.failed) {
    Discard(f);
    return;
  }
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string random;
  for (int i = 0; i < 8; ++i) {
    random_state_ ^= random_state_ << 13;
    random_state_ ^= random_state_ >> 7;
    random_state_ ^= random_state_ << 17;
    random.push_back(kAlphabet[random_state_ % 36]);
  }
  const std::string final_path =
      AccessLogPath(f.destination, f.interval_end_ms, now_unix_ms, random);
  const std::string dir = final_path.substr(0, final_path.rfind('/'));
  if (!MakeDirs(dir) || rename(f.partial_path.c_str(), final_path.c_str()) != 0) {
    Fail(f, "cannot move the log into " + dir, errno);
    Discard(f);
    return;
  }
  files_done_.fetch_add(1, std::memory_order_relaxed);
  if (on_completed_) on_completed_(f.destination, final_path);
}

void AccessLogWriter::Discard(OpenFile& f) {
  unlink(f.partial_path.c_str());
  // Its entries were counted written as they went in; none of them reaches a reader.
  const uint64_t entries = std::exchange(f.file_entries, 0);
  written_.fetch_sub(entries, std::memory_order_relaxed);
  dropped_error_.fetch_add(entries, std::memory_order_relaxed);
}

void AccessLogWriter::Fail(OpenFile& f, const std::string& what, int err) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  if (!f.failed) {
    // Once per file, that is at most once per interval and load balancer.
    std::fprintf(stderr,
                 "sluice: access log of %s: %s: %s; entries dropped until the next interval\n",
                 f.destination.lb_name.c_str(), what.c_str(), std::strerror(err));
  }
  f.failed = true;
  if (f.fd >= 0) close(f.fd);
  f.fd = -1;
}

void AccessLogWriter::Start(int period_ms) {
  thread_ = std::thread([this, period_ms] {
    std::unique_lock<std::mutex> lock(thread_mu_);
    while (!stop_) {
      lock.unlock();
      RunOnce(RealTimeMs());
      lock.lock();
      wake_.wait_for(lock, std::chrono::milliseconds(period_ms), [this] { return stop_; });
    }
  });
}

void AccessLogWriter::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(thread_mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  Finish(RealTimeMs());
}

AccessLogStats AccessLogWriter::stats() const {
  AccessLogStats s;
  s.written = written_.load(std::memory_order_relaxed);
  s.dropped_error = dropped_error_.load(std::memory_order_relaxed);
  s.files = files_done_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  for (const LogRing* ring : rings_) s.dropped_full += ring->dropped();
  return s;
}

}  // namespace sluice::observe
