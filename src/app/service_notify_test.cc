// ServiceNotify: what systemd would read from $NOTIFY_SOCKET (a unix datagram socket), and
// nothing at all when NOTIFY_SOCKET is unset.
#include "app/service_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace sluice::app {
namespace {

// A datagram socket standing in for systemd's notification socket; NOTIFY_SOCKET names it
// while the object lives.
class NotifySocket {
 public:
  NotifySocket() {
    path_ = ::testing::TempDir() + "sluice-notify-" + std::to_string(getpid()) + ".sock";
    unlink(path_.c_str());
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof(addr.sun_path)) {
      ADD_FAILURE() << "socket path too long: " << path_;
      return;
    }
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ADD_FAILURE() << "bind " << path_ << ": " << std::strerror(errno);
    }
    setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~NotifySocket() {
    unsetenv("NOTIFY_SOCKET");
    close(fd_);
    unlink(path_.c_str());
  }
  // The next datagram, or "" after 2 s.
  std::string Receive() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1) return "";
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  bool Empty() {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, 0) == 0;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(ServiceNotifyTest, ReadySendsReadyAndStatus) {
  NotifySocket systemd;
  EXPECT_GT(NotifyReady("ready: 2 workers, config lb.yaml"), 0);
  EXPECT_EQ(systemd.Receive(), "READY=1\nSTATUS=ready: 2 workers, config lb.yaml");
}

TEST(ServiceNotifyTest, StatusStaysOneLine) {
  NotifySocket systemd;
  EXPECT_GT(NotifyReady("two\nlines"), 0);
  EXPECT_EQ(systemd.Receive(), "READY=1\nSTATUS=two lines");
}

TEST(ServiceNotifyTest, ReloadingCarriesTheMonotonicClock) {
  NotifySocket systemd;
  timespec before{};
  clock_gettime(CLOCK_MONOTONIC, &before);
  EXPECT_GT(NotifyReloading(), 0);
  const std::string got = systemd.Receive();
  const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
  ASSERT_EQ(got.rfind(prefix, 0), 0u) << got;
  const unsigned long long usec = std::stoull(got.substr(prefix.size()));
  EXPECT_GE(usec, static_cast<unsigned long long>(before.tv_sec) * 1000000ull);
}

TEST(ServiceNotifyTest, Stopping) {
  NotifySocket systemd;
  EXPECT_GT(NotifyStopping(), 0);
  EXPECT_EQ(systemd.Receive(), "STOPPING=1");
}

TEST(ServiceNotifyTest, NoSocketIsANoOp) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(NotifyReady("ready"), 0);
  EXPECT_EQ(NotifyReloading(), 0);
  EXPECT_EQ(NotifyStopping(), 0);
}

TEST(ServiceNotifyTest, AMissingSocketIsAnErrorNotACrash) {
  NotifySocket systemd;
  setenv("NOTIFY_SOCKET", "/nonexistent/sluice-notify.sock", 1);
  EXPECT_LT(NotifyReady("ready"), 0);
  EXPECT_TRUE(systemd.Empty());
}

}  // namespace
}  // namespace sluice::app
