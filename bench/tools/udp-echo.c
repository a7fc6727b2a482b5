// UDP echo backend for the udp-echo-* workloads of bench/run.py.
//
// One process per backend address, single thread: one UDP socket bound to ADDR:PORT answers
// every datagram with the same bytes, to the address and port it came from. Datagrams are
// read in batches with recvmmsg (blocking for the first, then whatever else is queued:
// MSG_WAITFORONE) and the answers written in one sendmmsg per batch, so a batch of up to
// BATCH datagrams costs two system calls: the backends share a core with the load generator
// in layout A and must not be what limits the proxy. Nothing is parsed or checked; a
// datagram of any size up to 64 KiB is echoed whole (a longer one is truncated by the
// kernel: MSG_TRUNC, echoed as read). It runs until it is killed (SIGTERM).
//
//   usage: udp-echo PORT [ADDR]       (ADDR default 127.0.0.1)
//   build: cc -O2 -Wall -Wextra -o udp-echo udp-echo.c
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define MAX_DATAGRAM 65536

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s PORT [ADDR]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  const char* addr = argc > 2 ? argv[2] : "127.0.0.1";
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
    fprintf(stderr, "udp-echo: bad address %s:%s\n", addr, argv[1]);
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("udp-echo: socket");
    return 1;
  }
  // No SO_REUSEADDR / SO_REUSEPORT: a second process on the same address and port (a stale
  // backend) must fail to bind rather than take part of the datagrams.
  int buf = 4 << 20;
  // As large as net.core.rmem_max / wmem_max allow (the kernel caps them silently).
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  if (bind(fd, (struct sockaddr*)&sa, sizeof sa) < 0) {
    fprintf(stderr, "udp-echo: bind %s:%d: %s\n", addr, port, strerror(errno));
    return 1;
  }

  static char data[BATCH][MAX_DATAGRAM];
  static struct sockaddr_storage peers[BATCH];
  static struct iovec iov[BATCH];
  static struct mmsghdr msgs[BATCH];
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      iov[i].iov_base = data[i];
      iov[i].iov_len = MAX_DATAGRAM;
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_name = &peers[i];
      msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("udp-echo: recvmmsg");
      return 1;
    }
    // The answers: the same buffers, each as long as what was read, to where it came from.
    for (int i = 0; i < n; i++) iov[i].iov_len = msgs[i].msg_len;
    int done = 0;
    while (done < n) {
      int k = sendmmsg(fd, msgs + done, n - done, 0);
      if (k < 0) {
        if (errno == EINTR) continue;
        // A datagram the kernel refuses (e.g. to a vanished peer's port): skip it.
        done++;
        continue;
      }
      done += k;
    }
  }
}
