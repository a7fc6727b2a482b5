// What the kernel counted on a TCP socket (TCP_INFO), for the network load balancer's
// packet metrics (reference §6.2 ProcessedPackets, PeakPacketsPerSecond). Any thread; one
// getsockopt per call.
#pragma once

#include <cstdint>

namespace sluice::net {

struct TcpSegments {
  uint64_t in = 0;   // segments received (tcpi_segs_in), pure ACKs and retransmissions included
  uint64_t out = 0;  // segments sent (tcpi_segs_out)
};

// The socket's segment counts so far; zeros when `fd` is not a TCP socket or the kernel
// does not report them (Linux < 4.2).
TcpSegments ReadTcpSegments(int fd);

}  // namespace sluice::net
