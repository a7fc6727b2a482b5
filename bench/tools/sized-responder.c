// Benchmark backend for the larger-body workloads: ../shared/bench/responder.c with two changes
// that a 1 KiB / 64 KiB body needs, and nothing else:
//   - the body size is argv[3] (default 13, "Hello, world!"-style filler);
//   - a response that does not fit in the socket buffer is finished on EPOLLOUT instead of
//     being dropped, and a request head split across reads is counted once.
// Same design otherwise: one thread, level-triggered epoll, one read and one write per request.
//   usage: sized-responder PORT [ADDR] [BODY_BYTES]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 65536

struct conn {
  char* pend;        // unsent response bytes
  size_t off, len, cap;
  int crlf;          // progress through "\r\n\r\n" (0..3), carried across reads
};
static struct conn conns[MAXFD];
static char* resp;
static size_t resp_len;

static void append(struct conn* c, const char* p, size_t n) {
  if (c->len + n > c->cap) {
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < c->len + n) cap *= 2;
    c->pend = realloc(c->pend, cap);
    if (!c->pend) abort();
    c->cap = cap;
  }
  memcpy(c->pend + c->len, p, n);
  c->len += n;
}

static void drop(int ep, int fd) {
  struct conn* c = &conns[fd];
  free(c->pend);
  memset(c, 0, sizeof *c);
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0);
  close(fd);
}

// Writes what is pending; returns -1 on error, 0 when all sent, 1 when some remains.
static int flush(int fd, struct conn* c) {
  while (c->off < c->len) {
    ssize_t w = write(fd, c->pend + c->off, c->len - c->off);
    if (w < 0) return errno == EAGAIN ? 1 : -1;
    c->off += (size_t)w;
  }
  c->off = c->len = 0;
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PORT [ADDR] [BODY_BYTES]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  long body = argc > 3 ? atol(argv[3]) : 13;
  if (body < 0 || body > (64L << 20)) return 2;
  char head[160];
  int hl = snprintf(head, sizeof head,
                    "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nContent-Type: text/plain\r\n\r\n",
                    body);
  resp_len = (size_t)hl + (size_t)body;
  resp = malloc(resp_len);
  memcpy(resp, head, (size_t)hl);
  static const char filler[] = "Hello, world!";
  for (long i = 0; i < body; i++) resp[hl + i] = filler[i % 13];

  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, 4);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, argc > 2 ? argv[2] : "127.0.0.1", &a.sin_addr) != 1) return 2;
  if (bind(ls, (void*)&a, sizeof a) || listen(ls, 4096)) {
    perror("bind");
    return 1;
  }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  struct epoll_event evs[512];
  static char buf[65536];
  for (;;) {
    int n = epoll_wait(ep, evs, 512, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        for (;;) {
          int c = accept4(ls, 0, 0, SOCK_NONBLOCK);
          if (c < 0) break;
          if (c >= MAXFD) {
            close(c);
            continue;
          }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, 4);
          struct epoll_event e = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        }
        continue;
      }
      struct conn* c = &conns[fd];
      int was_pending = c->len > c->off;
      if (evs[i].events & EPOLLOUT) {
        int f = flush(fd, c);
        if (f < 0) {
          drop(ep, fd);
          continue;
        }
      }
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0) {
          if (r < 0 && errno == EAGAIN) continue;
          drop(ep, fd);
          continue;
        }
        int nreq = 0;
        static const char term[4] = {'\r', '\n', '\r', '\n'};
        for (ssize_t k = 0; k < r; k++) {
          if (buf[k] == term[c->crlf]) {
            if (++c->crlf == 4) {
              nreq++;
              c->crlf = 0;
            }
          } else {
            c->crlf = buf[k] == '\r' ? 1 : 0;
          }
        }
        if (nreq == 1 && c->len == c->off) {
          // The common case: one request, nothing queued. Write straight from the template.
          ssize_t w = write(fd, resp, resp_len);
          if (w < 0 && errno != EAGAIN) {
            drop(ep, fd);
            continue;
          }
          if (w < 0) w = 0;
          if ((size_t)w < resp_len) append(c, resp + w, resp_len - (size_t)w);
          nreq = 0;
        }
        for (int q = 0; q < nreq; q++) append(c, resp, resp_len);
        if (nreq && flush(fd, c) < 0) {
          drop(ep, fd);
          continue;
        }
      }
      int pending = c->len > c->off;
      if (pending != was_pending) {
        struct epoll_event e = {.events = EPOLLIN | (pending ? EPOLLOUT : 0), .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
      }
    }
  }
}
