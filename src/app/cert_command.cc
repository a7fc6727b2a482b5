#include "app/cert_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/clock.h"

namespace sluice::app {
namespace {

Error Failed(const std::string& what, const std::string& path) {
  return Error{ErrorSource::kConfig, what + " " + path + ": " + std::strerror(errno)};
}

Result<bool> WriteNewFile(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Failed("cannot create", path);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Error e = Failed("cannot write", path);
      ::close(fd);
      return e;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Failed("cannot write", path);
  return true;
}

Result<bool> MakeParentDirectory(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return true;
  std::string dir = path.substr(0, slash);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Failed("cannot create", dir);
  return true;
}

}  // namespace

Result<bool> WriteSelfSigned(const tls::SelfSignedRequest& request, const std::string& cert_path,
                             const std::string& key_path) {
  auto pems = tls::MakeSelfSigned(request, RealtimeMillis() / 1000);
  if (!pems.ok()) return pems.error();
  for (const std::string* path : {&cert_path, &key_path}) {
    if (auto made = MakeParentDirectory(*path); !made.ok()) return made.error();
  }
  if (auto key = WriteNewFile(key_path, pems.value().private_key, 0600); !key.ok()) {
    return key.error();
  }
  if (auto cert = WriteNewFile(cert_path, pems.value().certificate, 0644); !cert.ok()) {
    ::unlink(key_path.c_str());
    return cert.error();
  }
  return true;
}

}  // namespace sluice::app
