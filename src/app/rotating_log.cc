#include "app/rotating_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace sluice::app {

Result<std::unique_ptr<RotatingLog>> RotatingLog::Open(std::string path, uint64_t max_bytes,
                                                       int keep) {
  std::unique_ptr<RotatingLog> log(
      new RotatingLog(std::move(path), max_bytes, keep < 1 ? 1 : keep));
  std::lock_guard<std::mutex> lock(log->mu_);
  if (std::string problem = log->OpenLocked(); !problem.empty()) {
    return Error{ErrorSource::kConfig, problem};
  }
  return log;
}

RotatingLog::~RotatingLog() {
  if (file_ != nullptr) std::fclose(file_);
}

std::string RotatingLog::OpenLocked() {
  if (file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
  const int fd = open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0) {
    const std::string problem = path_ + ": " + std::strerror(errno);
    if (fd >= 0) close(fd);
    return problem;
  }
  file_ = fdopen(fd, "a");
  if (file_ == nullptr) {
    close(fd);
    return path_ + ": " + std::strerror(errno);
  }
  size_ = static_cast<uint64_t>(st.st_size);
  return "";
}

std::string RotatingLog::RotateLocked() {
  // Oldest first: .keep-1 -> .keep, ..., .1 -> .2, then the file -> .1.
  for (int i = keep_ - 1; i >= 1; --i) {
    const std::string from = path_ + "." + std::to_string(i);
    const std::string to = path_ + "." + std::to_string(i + 1);
    if (rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      return "cannot rotate " + from + ": " + std::strerror(errno);
    }
  }
  const std::string first = path_ + ".1";
  if (rename(path_.c_str(), first.c_str()) != 0) {
    return "cannot rotate " + path_ + ": " + std::strerror(errno);
  }
  return OpenLocked();
}

std::string RotatingLog::Append(std::string_view line) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string problem;
  if (size_ > 0 && size_ + line.size() > max_bytes_) {
    std::string failed = RotateLocked();
    if (!failed.empty() && !rotate_failing_) problem = failed;
    rotate_failing_ = !failed.empty();
    if (file_ == nullptr) OpenLocked();  // the rename worked but the new file did not open
  }
  if (file_ == nullptr) {
    if (std::string reopened = OpenLocked(); !reopened.empty()) return reopened;
  }
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
    return path_ + ": " + std::strerror(errno);
  }
  size_ += line.size();
  return problem;
}

std::string RotatingLog::Reopen() {
  std::lock_guard<std::mutex> lock(mu_);
  return OpenLocked();
}

}  // namespace sluice::app
