// Notices when the files a config reads besides itself change on disk (a certificate or key
// rotated in place, a CA bundle or CRL replaced), so that new handshakes use them without a
// SIGHUP. Polled by the control thread once a second: a file's identity (device, inode),
// size and modification time are compared; nothing is read.
#pragma once

#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

#include "config/model.h"

namespace sluice::app {

// Certificate and key files, trust-store bundles and CRLs, target-group CA files of `config`.
std::vector<std::string> WatchedFiles(const config::Config& config);

class FileWatch {
 public:
  // Replaces the watched set with `paths`, as they are now.
  void Watch(std::vector<std::string> paths);
  // True once some file changed and then stayed unchanged for a whole poll, so that a
  // certificate and its key written one after the other are read together. Each change is
  // reported once.
  bool PollSettled();

 private:
  struct State {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    timespec mtime{};
    bool operator==(const State& o) const {
      return exists == o.exists && dev == o.dev && ino == o.ino && size == o.size &&
             mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec;
    }
  };
  static State Look(const std::string& path);
  std::vector<std::pair<std::string, State>> files_;
  bool pending_ = false;  // changed at the last poll; reported when this poll sees no change
};

}  // namespace sluice::app
