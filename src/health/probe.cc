#include "health/probe.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "http/h1_parser.h"

namespace sluice::health {

bool IsLocalShortage(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
         err == EADDRNOTAVAIL || err == EAGAIN;
}

OpenedSocket OpenProbeSocket(const SocketAddress& to) {
  sockaddr_storage ss;
  socklen_t len = to.ToSockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    return {IsLocalShortage(err) ? OpenStatus::kLocalShortage : OpenStatus::kFailed, -1, err};
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 || errno == EINPROGRESS) {
    return {OpenStatus::kOpened, fd, 0};
  }
  int err = errno;
  CloseProbeSocket(fd);  // a failed close changes nothing here: the connect already failed
  return {IsLocalShortage(err) ? OpenStatus::kLocalShortage : OpenStatus::kFailed, -1, err};
}

int CloseProbeSocket(int fd) {
  // On Linux the descriptor is released even when close() reports an error; it must not be
  // closed again (it may already be reused), so the error is only reported.
  if (close(fd) == 0) return 0;
  return errno;
}

int ParseStatusCode(std::string_view line) {
  int minor = 0;
  std::string_view reason;
  const char* why = nullptr;
  return http::ParseStatusLine(line, &minor, &reason, &why);
}

void ProbeIo::Reset(bool tcp, std::string_view request) {
  tcp_ = tcp;
  connected_ = false;
  request_.assign(request);
  sent_ = 0;
  received_ = 0;
  line_ended_ = false;
  line_length_ = 0;
}

std::optional<int> ProbeIo::Progress(net::Transport& stream, uint32_t events) {
  if (!connected_) {
    if (stream.ConnectError() != 0) return -1;
    if (!(events & EPOLLOUT)) return std::nullopt;
    connected_ = true;
    if (tcp_) {
      // A TCP check's only bytes: PROXY v2's LOCAL header when the group sends PROXY headers
      // (best effort; the connect alone decides).
      if (!request_.empty()) (void)stream.Write(request_.data(), request_.size());
      return kConnectedStatus;
    }
  }
  if (std::optional<int> failed = Send(stream)) return failed;
  if (sent_ < request_.size()) return std::nullopt;
  return Receive(stream, events);
}

std::optional<int> ProbeIo::Send(net::Transport& stream) {
  while (sent_ < request_.size()) {
    net::IoResult r = stream.Write(request_.data() + sent_, request_.size() - sent_);
    if (r.status() == net::IoStatus::kInterrupted) continue;
    if (r.status() == net::IoStatus::kWouldBlock) return std::nullopt;
    if (!r.ok()) return -1;  // reset, broken pipe...
    sent_ += r.bytes();
  }
  return std::nullopt;
}

std::optional<int> ProbeIo::Receive(net::Transport& stream, uint32_t events) {
  char buf[4096];
  bool over = false;  // EOF or an error: judge what arrived
  while (!line_ended_) {
    net::IoResult r = stream.Read(buf, sizeof(buf));
    if (r.status() == net::IoStatus::kInterrupted) continue;
    if (r.status() == net::IoStatus::kWouldBlock) break;
    if (!r.ok()) {
      over = true;
      break;
    }
    size_t got = r.bytes();
    if (received_ < sizeof(line_)) {
      size_t take = std::min(got, sizeof(line_) - received_);
      std::memcpy(line_ + received_, buf, take);
    }
    if (const void* lf = std::memchr(buf, '\n', got)) {
      line_ended_ = true;
      line_length_ = received_ + static_cast<size_t>(static_cast<const char*>(lf) - buf);
    }
    received_ += got;
    if (!line_ended_ && received_ > kMaxStatusLine) return -1;
  }
  if (!line_ended_) {
    if (over || (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return -1;
    return std::nullopt;
  }
  if (line_length_ > kMaxStatusLine) return -1;
  // The first 13 bytes say all ParseStatusCode needs ("HTTP/1.1 200" and the byte after);
  // the CR of a CRLF is not part of the line.
  size_t length = line_length_;
  if (length > 0 && length <= sizeof(line_) && line_[length - 1] == '\r') --length;
  return ParseStatusCode(std::string_view(line_, std::min(length, sizeof(line_))));
}

}  // namespace sluice::health
