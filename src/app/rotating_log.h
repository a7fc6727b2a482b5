// An append-only log file that rotates by size: when a line would take the file past
// `max_bytes`, the file becomes <path>.1 (and .1 becomes .2, ... up to .<keep>; the oldest is
// dropped) and a new file is started. Reopen() starts a new file at the same path, for an
// external rotator (logrotate's `create` mode, then SIGHUP). Lines are never split across
// files and never lost to a rotation: if renaming fails, the line goes to the current file
// and the failure is reported once until a rotation works again.
//
// Thread: any; one mutex serialises Append, Reopen and the rotation.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sluice::app {

class RotatingLog {
 public:
  static constexpr uint64_t kDefaultMaxBytes = uint64_t{100} << 20;
  static constexpr int kDefaultKeep = 5;

  // Opens `path` for appending (created 0640 when absent). keep >= 1.
  static Result<std::unique_ptr<RotatingLog>> Open(std::string path,
                                                   uint64_t max_bytes = kDefaultMaxBytes,
                                                   int keep = kDefaultKeep);
  ~RotatingLog();
  RotatingLog(const RotatingLog&) = delete;
  RotatingLog& operator=(const RotatingLog&) = delete;

  // Appends `line` (ending in '\n') and flushes. Returns "" or the problem (a failed write, a
  // failed rotation the first time it happens), for the caller's log.
  std::string Append(std::string_view line);
  // Closes and opens the path again (after an external rotation); "" or the problem.
  std::string Reopen();

 private:
  RotatingLog(std::string path, uint64_t max_bytes, int keep)
      : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep) {}
  std::string OpenLocked();
  std::string RotateLocked();

  const std::string path_;
  const uint64_t max_bytes_;
  const int keep_;
  std::mutex mu_;
  std::FILE* file_ = nullptr;
  uint64_t size_ = 0;
  bool rotate_failing_ = false;
};

}  // namespace sluice::app
