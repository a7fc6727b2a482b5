#include "control/blocking_http.h"

#include <netdb.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace sluice::control {
namespace {

// Waits for `fd` to be readable until `deadline_ms`: 1 readable, 0 timed out, -1 error.
int WaitReadable(int fd, int64_t deadline_ms) {
  while (true) {
    const int64_t left = deadline_ms - SteadyMs();
    if (left <= 0) return 0;
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    return ready < 0 ? -1 : (ready == 0 ? 0 : 1);
  }
}

// Appends what arrives to *out until it holds `limit` bytes, the peer closes, `stop_at`
// appears (when not '\0') or the deadline passes; false with *error on a failure.
bool ReadSome(int fd, int64_t deadline_ms, size_t limit, char stop_at, std::string* out,
              std::string* error) {
  char buf[512];
  while (out->size() < limit) {
    const int ready = WaitReadable(fd, deadline_ms);
    if (ready <= 0) {
      *error = ready == 0 ? "no response in time" : std::string("poll: ") + std::strerror(errno);
      return false;
    }
    ssize_t n = recv(fd, buf, std::min(sizeof(buf), limit - out->size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = std::string("no response: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
    if (stop_at != '\0' && out->find(stop_at) != std::string::npos) return true;
  }
  return true;
}

}  // namespace

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int ConnectBlocking(const std::string& host, int port, int timeout_ms, std::string* error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    *error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      *error = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    // SO_SNDTIMEO also bounds connect() on Linux.
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      *error = "connect to " + host + ":" + service + ": " + std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

bool SendAll(int fd, std::string_view data, std::string* error) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = std::string("send: ") + (n < 0 ? std::strerror(errno) : "closed");
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool SendFileAll(int fd, int file_fd, uint64_t size, std::string* error) {
  off_t offset = 0;
  while (static_cast<uint64_t>(offset) < size) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(size - offset, 1 << 20));
    ssize_t n = sendfile(fd, file_fd, &offset, chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) {
      *error = "the file is shorter than announced";
      return false;
    }
  }
  return true;
}

int ReadStatus(int fd, int64_t deadline_ms, std::string* error, std::string* body_start) {
  std::string got;
  if (!ReadSome(fd, deadline_ms, 512, '\n', &got, error)) return 0;
  const std::string_view line(got);
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ') {
    *error = "not an HTTP response";
    return 0;
  }
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') {
      *error = "bad status line";
      return 0;
    }
    status = status * 10 + (line[i] - '0');
  }
  if (body_start != nullptr && (status < 200 || status > 299)) {
    std::string ignored;
    ReadSome(fd, deadline_ms, 2048, '\0', &got, &ignored);
    const size_t nl = got.find('\n');
    *body_start = got.substr(nl + 1);
  }
  return status;
}

}  // namespace sluice::control
