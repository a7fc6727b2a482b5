// WebSocket echo backend for the ws-echo-* workloads of bench/run.py (RFC 6455).
//
// Single thread, epoll, non-blocking. Every connection: reads a request head (up to the blank
// line), answers "101 Switching Protocols" with Sec-WebSocket-Accept computed from the
// request's Sec-WebSocket-Key (SHA-1 of key + the RFC's GUID, base64), then echoes every frame:
// the client's frame header and masking key are parsed, the payload unmasked and sent back in
// an unmasked frame with the same opcode and FIN bit (a server's frames are never masked).
// Ping is answered with pong, close with close (then the connection is closed). A request
// head without a Sec-WebSocket-Key gets 400 and a close; a frame without the mask bit (a
// client must mask) closes the connection. Nothing is checked about the path or Host.
//
// A frame is echoed once it is whole in the input buffer (which grows up to 16 MiB + 14);
// output that the socket does not take at once waits in an output buffer, and reading stops
// until it is written (back-pressure, so memory stays bounded).
//
//   usage: ws-echo PORT [ADDR]       (ADDR default 127.0.0.1)
//   build: cc -O2 -o ws-echo ws-echo.c -lcrypto
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#define MAX_FRAME (16u << 20)
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct conn {
  int fd;
  int upgraded;
  int closing;  // close once the output is written
  unsigned char* in;
  size_t in_len, in_cap;
  unsigned char* out;
  size_t out_len, out_off, out_cap;
  int want_out;  // EPOLLOUT registered
};

static int ep;

static int grow(unsigned char** p, size_t* cap, size_t need) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 16384;
  while (c < need) c *= 2;
  unsigned char* n = realloc(*p, c);
  if (!n) return -1;
  *p = n;
  *cap = c;
  return 0;
}

static int out_append(struct conn* c, const void* data, size_t n) {
  if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
  if (grow(&c->out, &c->out_cap, c->out_len + n)) return -1;
  memcpy(c->out + c->out_len, data, n);
  c->out_len += n;
  return 0;
}

static void conn_close(struct conn* c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->in);
  free(c->out);
  free(c);
}

// Sec-WebSocket-Accept for `key` (base64 of SHA-1(key + GUID)) into out (29 bytes + NUL).
static void accept_value(const char* key, size_t key_len, char out[64]) {
  char buf[256];
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (key_len > 128) key_len = 128;
  memcpy(buf, key, key_len);
  memcpy(buf + key_len, WS_GUID, sizeof WS_GUID - 1);
  EVP_Digest(buf, key_len + sizeof WS_GUID - 1, md, &md_len, EVP_sha1(), NULL);
  EVP_EncodeBlock((unsigned char*)out, md, (int)md_len);
}

// The value of header `name` in the head [p, end), trimmed; NULL when absent.
static const char* header(const char* p, const char* end, const char* name, size_t* len) {
  size_t nl = strlen(name);
  while (p < end) {
    const char* eol = memmem(p, end - p, "\r\n", 2);
    if (!eol) eol = end;
    if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char* v = p + nl + 1;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      const char* e = eol;
      while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
      *len = e - v;
      return v;
    }
    p = eol + 2;
  }
  return NULL;
}

// Handles the request head; returns bytes consumed, 0 when incomplete, -1 to close.
static long handshake(struct conn* c) {
  unsigned char* end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
  if (!end) return c->in_len > 65536 ? -1 : 0;
  size_t head_len = end - c->in + 4;
  size_t key_len = 0;
  const char* key = header((char*)c->in, (char*)end + 2, "Sec-WebSocket-Key", &key_len);
  if (!key || key_len == 0) {
    static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                              "Connection: close\r\n\r\n";
    out_append(c, bad, sizeof bad - 1);
    c->closing = 1;
    return head_len;
  }
  char acc[64];
  accept_value(key, key_len, acc);
  char resp[256];
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
  if (out_append(c, resp, n)) return -1;
  c->upgraded = 1;
  return head_len;
}

// Echoes the whole frames in the input; returns bytes consumed or -1 to close.
static long echo_frames(struct conn* c) {
  size_t off = 0;
  while (!c->closing) {
    unsigned char* p = c->in + off;
    size_t have = c->in_len - off;
    if (have < 2) break;
    int fin_op = p[0];
    int masked = p[1] & 0x80;
    uint64_t len = p[1] & 0x7f;
    size_t hl = 2;
    if (!masked) return -1;  // a client's frames are masked (RFC 6455 5.1)
    if (len == 126) {
      if (have < 4) break;
      len = ((uint64_t)p[2] << 8) | p[3];
      hl = 4;
    } else if (len == 127) {
      if (have < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
      hl = 10;
    }
    if (len > MAX_FRAME) return -1;
    if (have < hl + 4 + len) {
      if (grow(&c->in, &c->in_cap, off + hl + 4 + len)) return -1;
      break;
    }
    unsigned char mask[4];
    memcpy(mask, p + hl, 4);
    unsigned char* payload = p + hl + 4;
    for (uint64_t i = 0; i < len; i++) payload[i] ^= mask[i & 3];
    int op = fin_op & 0x0f;
    if (op == 0x9) fin_op = (fin_op & 0xf0) | 0xA;  // ping -> pong
    unsigned char h[10];
    size_t n;
    h[0] = fin_op;
    if (len < 126) {
      h[1] = len;
      n = 2;
    } else if (len < 65536) {
      h[1] = 126;
      h[2] = len >> 8;
      h[3] = len;
      n = 4;
    } else {
      h[1] = 127;
      for (int i = 0; i < 8; i++) h[2 + i] = len >> (56 - 8 * i);
      n = 10;
    }
    if (op != 0xA) {  // an unsolicited pong needs no answer
      if (out_append(c, h, n) || out_append(c, payload, len)) return -1;
    }
    if (op == 0x8) c->closing = 1;
    off += hl + 4 + len;
  }
  return off;
}

// Writes what is pending: 0 done, 1 some left, -1 error.
static int flush_out(struct conn* c) {
  while (c->out_off < c->out_len) {
    ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 1;
      return -1;
    }
    c->out_off += w;
  }
  c->out_off = c->out_len = 0;
  return 0;
}

static void set_events(struct conn* c, int want_out) {
  if (want_out == c->want_out) return;
  struct epoll_event ev = {.events = want_out ? EPOLLOUT : EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = want_out;
}

static void on_event(struct conn* c) {
  for (;;) {
    int f = flush_out(c);
    if (f < 0) return conn_close(c);
    if (f > 0) return set_events(c, 1);
    if (c->closing) return conn_close(c);
    set_events(c, 0);
    if (grow(&c->in, &c->in_cap, c->in_len + 65536)) return conn_close(c);
    ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (r == 0) return conn_close(c);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      return conn_close(c);
    }
    c->in_len += r;
    for (;;) {
      long used = c->upgraded ? echo_frames(c) : handshake(c);
      if (used < 0) return conn_close(c);
      if (used == 0) break;
      memmove(c->in, c->in + used, c->in_len - used);
      c->in_len -= used;
      if (c->closing) break;
    }
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PORT [ADDR]\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int port = atoi(argv[1]);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, argc > 2 ? argv[2] : "127.0.0.1", &a.sin_addr) != 1) return 2;
  if (bind(ls, (void*)&a, sizeof a) || listen(ls, 4096)) {
    perror("bind");
    return 1;
  }
  ep = epoll_create1(0);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      struct conn* c = evs[i].data.ptr;
      if (c) {
        on_event(c);
        continue;
      }
      for (;;) {
        int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) break;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn* nc = calloc(1, sizeof *nc);
        nc->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      }
    }
  }
}
