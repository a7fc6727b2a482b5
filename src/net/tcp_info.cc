// linux/tcp.h, not netinet/tcp.h: glibc's struct tcp_info stops before tcpi_segs_out.
#include "net/tcp_info.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace sluice::net {

TcpSegments ReadTcpSegments(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return {};
  // An older kernel fills a shorter struct: the fields it did not write stay 0.
  if (len < offsetof(tcp_info, tcpi_segs_in) + sizeof(info.tcpi_segs_in)) return {};
  return {info.tcpi_segs_in, info.tcpi_segs_out};
}

}  // namespace sluice::net
