#include "config/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace sluice::config {
namespace {

std::string FileKind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string LimitText(size_t max_bytes) { return std::to_string(max_bytes >> 20) + " MiB"; }

// Why a file with this status cannot be read as one, or "".
std::string CheckFileStatus(const struct stat& st, size_t max_bytes) {
  if (!S_ISREG(st.st_mode)) return "cannot read: it is " + FileKind(st.st_mode) + ", not a file";
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return "file is " + std::to_string(st.st_size) + " bytes; the limit is " + LimitText(max_bytes);
  }
  return "";
}

std::string ErrnoMessage(const char* what, int error) {
  return std::string(what) + ": " + std::strerror(error);
}

// Reads the rest of fd into *text; returns "" or why not.
std::string ReadAll(int fd, size_t max_bytes, std::string* text) {
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoMessage("cannot read", errno);
    if (n == 0) return "";
    text->append(buf, static_cast<size_t>(n));
    if (text->size() > max_bytes) {  // it grew after fstat
      return "file is larger than " + LimitText(max_bytes);
    }
  }
}

}  // namespace

std::string ReadBoundedFile(const std::string& path, size_t max_bytes, std::string* text) {
  // stat first, so that a FIFO or device is never opened (opening can block or have effects);
  // then open without blocking and check again on the descriptor, in case the path changed.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoMessage("cannot open", errno);
  std::string problem = CheckFileStatus(st, max_bytes);
  if (!problem.empty()) return problem;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return ErrnoMessage("cannot open", errno);
  if (::fstat(fd, &st) != 0) {
    problem = ErrnoMessage("cannot read", errno);
  } else {
    problem = CheckFileStatus(st, max_bytes);
  }
  if (problem.empty()) {
    text->reserve(static_cast<size_t>(st.st_size));
    problem = ReadAll(fd, max_bytes, text);
  }
  ::close(fd);
  return problem;
}

}  // namespace sluice::config
