// Bulk-transfer backend for the tcp-bulk-* workloads of bench/run.py.
//
// One process per backend address; every accepted connection gets a thread of its own with
// blocking sockets (a round has a few long transfers, so a thread each is the simplest loop
// that keeps every transfer moving; a health check's connect-and-close costs a thread that
// ends at once). The connection's first line says what to do (bench/tools/bulk-pattern.h):
//
//   GET <bytes> <seed>   sends <bytes> bytes of the pattern of <seed> in writes of
//                        BULK_CHUNK bytes, then half-closes (FIN after the last byte) and
//                        waits for the other side to close, so that the close is never a
//                        reset, whatever the proxy does with half-closes
//   PUT <bytes> <seed>   reads <bytes> bytes after the line, checks every block's word of the
//                        pattern, and answers "OK <bytes>\n", or "ERR corrupt at <offset>\n" /
//                        "ERR short <n> of <bytes>\n" / "ERR long" (bytes past <bytes>), then
//                        closes the same way
//
// Anything else is answered "ERR bad request\n"; a connection closed before its line (a TCP
// health check, the harness's wait for the port) is closed quietly. Each failed transfer
// (write or read error, short, corrupt) is one line on stderr. The socket buffers are the
// kernel's, autotuned (no SO_SNDBUF/SO_RCVBUF: setting them turns autotuning off). It runs
// until it is killed (SIGTERM).
//
//   usage: bulk-server PORT [ADDR]       (ADDR default 127.0.0.1)
//   build: cc -O2 -Wall -Wextra -o bulk-server bulk-server.c -lpthread
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bulk-pattern.h"

#define LINE_MAX_BYTES 64
// A transfer that stalls this long (no byte either way) is given up.
#define IDLE_TIMEOUT_S 60

static void say(const char* what, uint64_t bytes, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(const char* what, uint64_t bytes, const char* fmt, ...) {
  char text[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  fprintf(stderr, "bulk-server: %s %" PRIu64 ": %s\n", what, bytes, text);
}

static int send_all(int fd, const void* p, size_t n) {
  const char* c = p;
  while (n > 0) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

// Half-close, then read until the other side closes (or IDLE_TIMEOUT_S), then close.
static void finish(int fd) {
  char sink[4096];
  shutdown(fd, SHUT_WR);
  while (recv(fd, sink, sizeof sink, 0) > 0) {
  }
  close(fd);
}

static void serve_get(int fd, uint64_t n, uint64_t seed, unsigned char* buf) {
  uint64_t off = 0;
  int filled = 0;
  while (off < n) {
    size_t len = n - off < BULK_CHUNK ? (size_t)(n - off) : BULK_CHUNK;
    bulk_fill(buf, len, seed, off, filled);
    filled = 1;
    if (send_all(fd, buf, len) < 0) {
      say("GET", n, "write failed after %" PRIu64 " bytes: %s", off, strerror(errno));
      close(fd);
      return;
    }
    off += len;
  }
  finish(fd);
}

// `have` bytes of the upload already read with the line, at buf.
static void serve_put(int fd, uint64_t n, uint64_t seed, unsigned char* buf, size_t have) {
  uint64_t off = 0, bad = BULK_OK;
  char reply[96];
  for (;;) {
    if (have > 0) {
      size_t take = n - off < have ? (size_t)(n - off) : have;
      if (bad == BULK_OK) bad = bulk_check(buf, take, seed, off);
      off += take;
      if (take < have) {
        snprintf(reply, sizeof reply, "ERR long\n");
        say("PUT", n, "more bytes than announced");
        break;
      }
    }
    if (off == n) {
      if (bad != BULK_OK) {
        snprintf(reply, sizeof reply, "ERR corrupt at %" PRIu64 "\n", bad);
        say("PUT", n, "corrupt at offset %" PRIu64, bad);
      } else {
        snprintf(reply, sizeof reply, "OK %" PRIu64 "\n", n);
      }
      break;
    }
    ssize_t r = recv(fd, buf, BULK_CHUNK, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      snprintf(reply, sizeof reply, "ERR short %" PRIu64 " of %" PRIu64 "\n", off, n);
      say("PUT", n, "%s after %" PRIu64 " bytes", r == 0 ? "end of stream" : strerror(errno),
          off);
      break;
    }
    have = (size_t)r;
  }
  // The reply goes out even when the upload ran long (the extra bytes stay unread: the close
  // may then be a reset, which the client counts as a failure anyway).
  send_all(fd, reply, strlen(reply));
  finish(fd);
}

static void* serve(void* arg) {
  int fd = (int)(intptr_t)arg;
  struct timeval tv = {.tv_sec = IDLE_TIMEOUT_S};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  unsigned char* buf = malloc(BULK_CHUNK);
  if (!buf) {
    close(fd);
    return NULL;
  }
  // The line, and whatever of an upload came with it.
  size_t got = 0;
  char* nl = NULL;
  while (!nl && got < LINE_MAX_BYTES) {
    ssize_t r = recv(fd, buf + got, BULK_CHUNK - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {  // closed before a request: a health check
      close(fd);
      free(buf);
      return NULL;
    }
    got += (size_t)r;
    nl = memchr(buf, '\n', got < LINE_MAX_BYTES ? got : LINE_MAX_BYTES);
  }
  char method[8];
  uint64_t n, seed;
  if (!nl || (*nl = 0, sscanf((char*)buf, "%7s %" SCNu64 " %" SCNx64, method, &n, &seed) != 3)) {
    send_all(fd, "ERR bad request\n", 16);
    finish(fd);
  } else if (strcmp(method, "GET") == 0) {
    if ((size_t)(nl + 1 - (char*)buf) != got) {  // bytes after a GET's line
      send_all(fd, "ERR bad request\n", 16);
      finish(fd);
    } else {
      serve_get(fd, n, seed, buf);
    }
  } else if (strcmp(method, "PUT") == 0) {
    size_t line = (size_t)(nl + 1 - (char*)buf);
    memmove(buf, buf + line, got - line);
    serve_put(fd, n, seed, buf, got - line);
  } else {
    send_all(fd, "ERR bad request\n", 16);
    finish(fd);
  }
  free(buf);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s PORT [ADDR]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  const char* addr = argc > 2 ? argv[2] : "127.0.0.1";
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
    fprintf(stderr, "bulk-server: bad address %s:%s\n", addr, argv[1]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (ls < 0) {
    perror("bulk-server: socket");
    return 1;
  }
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr*)&sa, sizeof sa) < 0 || listen(ls, 1024) < 0) {
    fprintf(stderr, "bulk-server: bind %s:%d: %s\n", addr, port, strerror(errno));
    return 1;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (;;) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      perror("bulk-server: accept");
      return 1;
    }
    pthread_t t;
    if (pthread_create(&t, &attr, serve, (void*)(intptr_t)fd) != 0) {
      perror("bulk-server: pthread_create");
      close(fd);
    }
  }
}
