// Closed-loop WebSocket echo load generator for the ws-echo-* workloads of bench/run.py.
//
// Each of the -c connections: non-blocking connect, an HTTP/1.1 upgrade request
//     GET PATH HTTP/1.1, Host, Upgrade: websocket, Connection: Upgrade,
//     Sec-WebSocket-Key (16 random bytes, base64), Sec-WebSocket-Version: 13
// then the response head: its status line must be 101 (else errors_status) and its
// Sec-WebSocket-Accept the key's (SHA-1 + base64, RFC 6455 4.2.2; else errors_handshake).
// Then, until -d seconds have passed, it sends binary frames (FIN, opcode 2) of -s payload
// bytes, masked as a client's frames must be (RFC 6455 5.3), with the 7-bit, 16-bit (126) or
// 64-bit (127) length the size needs, and reads the echoes: unmasked frames (a masked one is
// errors_frame), opcode binary, the same length and the same payload bytes (checked). -P
// messages are outstanding per connection (default 1): a new one is sent as each echo
// arrives. The frame is built once per connection with a random masking key of that
// connection (the proxies and the echo server cannot tell; it saves the client masking every
// message).
//
// A connection that fails (connect, read, write, a closed connection, a bad frame, no echo
// within -T seconds) is counted in its errors_* key, closed, and opened again 10 ms later.
// -t threads split the connections, each with its own epoll loop.
//
// Output: one line
//     WRKJSON {"requests": ..., "duration_us": ..., "bytes": ..., "errors_connect": ..., ...}
// with wrk-report.lua's keys (requests = messages echoed; bytes = frame bytes received after
// the handshakes; latency = from a message's queueing to its echo's last byte), plus
// errors_handshake and errors_frame, messages, message_bytes, depth, connections, upgrades
// (101s received), payload_bytes_sent / payload_bytes_received (payload of frames wholly
// written / of frames received, echoes in flight at the end included) and wire_bytes_sent /
// wire_bytes_received (frame headers and masks included; the handshakes are not).
//
//   usage: ws-load -a ADDR -p PORT [-u PATH] [-H HOST] -c CONNS -d SECONDS -s BYTES
//                  [-P DEPTH] [-t THREADS] [-T TIMEOUT_SECONDS]
//   build: cc -O2 -o ws-load ws-load.c -lcrypto -lpthread
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum { S_IDLE, S_CONNECTING, S_UPGRADE_WRITE, S_UPGRADE_READ, S_OPEN, S_RETRY };

struct worker;

struct conn {
  struct worker* w;
  int fd;
  int state;
  int want_out;
  int64_t retry_at;
  int64_t started;  // start_conn
  char request[1024];
  size_t request_len, written;
  char accept[64];  // the Sec-WebSocket-Accept expected
  char head[8192];
  size_t head_len;
  unsigned char* frame;  // header + mask + masked payload, built per connection
  size_t frame_len;
  int to_send;       // frames queued (the first possibly partly written)
  size_t send_off;   // bytes of the current frame written
  int64_t* sent_at;  // ring of the outstanding messages' queueing times (ns)
  int ring_head, ring_n;
  // The echo being read.
  unsigned char rh[14];
  size_t rh_have, rh_need;
  uint64_t payload_left, payload_off;
};

struct stats {
  uint64_t messages, bytes, errors_connect, errors_read, errors_write, errors_status,
      errors_timeout, errors_handshake, errors_frame, upgrades, payload_sent, payload_received,
      wire_sent;
  int64_t* lat;  // us
  size_t lat_n, lat_cap;
};

struct worker {
  pthread_t thread;
  int ep;
  struct conn* conns;
  int nconns;
  struct stats st;
  int64_t end_ns;
};

static struct sockaddr_in g_addr;
static const char* g_path = "/";
static char g_host[300];
static int64_t g_start_ns, g_deadline_ns, g_timeout_ns;
static size_t g_size = 1024;
static int g_depth = 1;
static unsigned char* g_payload;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

// Frame header for a client frame of `len` payload bytes (FIN, binary, mask bit): 2, 4 or 10
// bytes (the 7-bit, 16-bit and 64-bit length forms), without the masking key.
size_t ws_frame_header(unsigned char* h, uint64_t len) {
  h[0] = 0x82;
  if (len < 126) {
    h[1] = 0x80 | len;
    return 2;
  }
  if (len < 65536) {
    h[1] = 0x80 | 126;
    h[2] = len >> 8;
    h[3] = len & 0xff;
    return 4;
  }
  h[1] = 0x80 | 127;
  for (int i = 0; i < 8; i++) h[2 + i] = (len >> (56 - 8 * i)) & 0xff;
  return 10;
}

static void accept_for(const char* key, char out[64]) {
  char buf[128];
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  int n = snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
  EVP_Digest(buf, n, md, &md_len, EVP_sha1(), NULL);
  EVP_EncodeBlock((unsigned char*)out, md, (int)md_len);
}

static void lat_add(struct stats* s, int64_t us) {
  if (s->lat_n == s->lat_cap) {
    s->lat_cap = s->lat_cap ? s->lat_cap * 2 : 65536;
    s->lat = realloc(s->lat, s->lat_cap * sizeof *s->lat);
  }
  s->lat[s->lat_n++] = us;
}

static void set_out(struct conn* c, int want) {
  if (c->want_out == want) return;
  struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = want;
}

static void drop(struct conn* c, uint64_t* counter) {
  if (counter) (*counter)++;
  if (c->fd >= 0) {
    epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  c->fd = -1;
  c->state = S_RETRY;
  c->retry_at = now_ns() + 10000000;
}

static void start_conn(struct conn* c) {
  c->started = now_ns();
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) {
    drop(c, &c->w->st.errors_connect);
    return;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  unsigned char raw[16];
  char key[32];
  RAND_bytes(raw, sizeof raw);
  EVP_EncodeBlock((unsigned char*)key, raw, sizeof raw);
  accept_for(key, c->accept);
  c->request_len = snprintf(c->request, sizeof c->request,
                            "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                            "Sec-WebSocket-Version: 13\r\n\r\n", g_path, g_host, key);
  c->written = c->head_len = 0;
  c->to_send = 0;
  c->send_off = 0;
  c->ring_head = c->ring_n = 0;
  c->rh_have = 0;
  c->rh_need = 2;
  c->payload_left = c->payload_off = 0;
  // A new masking key for the connection: re-mask the frame.
  unsigned char mask[4];
  RAND_bytes(mask, 4);
  size_t hl = ws_frame_header(c->frame, g_size);
  memcpy(c->frame + hl, mask, 4);
  for (size_t i = 0; i < g_size; i++) c->frame[hl + 4 + i] = g_payload[i] ^ mask[i & 3];
  c->frame_len = hl + 4 + g_size;
  c->want_out = 1;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(c->w->ep, EPOLL_CTL_ADD, c->fd, &ev);
  int r = connect(c->fd, (void*)&g_addr, sizeof g_addr);
  if (r < 0 && errno != EINPROGRESS) {
    drop(c, &c->w->st.errors_connect);
    return;
  }
  c->state = S_CONNECTING;
}

static void queue_message(struct conn* c) {
  c->sent_at[(c->ring_head + c->ring_n) % g_depth] = now_ns();
  c->ring_n++;
  c->to_send++;
}

// Writes the upgrade request or queued frames; -1 when the connection was dropped.
static int do_write(struct conn* c) {
  struct stats* s = &c->w->st;
  if (c->state == S_UPGRADE_WRITE) {
    while (c->written < c->request_len) {
      ssize_t w = send(c->fd, c->request + c->written, c->request_len - c->written,
                       MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) return 0;
        drop(c, &s->errors_write);
        return -1;
      }
      c->written += w;
    }
    c->state = S_UPGRADE_READ;
    set_out(c, 0);
    return 0;
  }
  if (c->state != S_OPEN) return 0;
  while (c->to_send > 0) {
    ssize_t w = send(c->fd, c->frame + c->send_off, c->frame_len - c->send_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        set_out(c, 1);
        return 0;
      }
      drop(c, &s->errors_write);
      return -1;
    }
    c->send_off += w;
    s->wire_sent += w;
    if (c->send_off == c->frame_len) {
      c->send_off = 0;
      c->to_send--;
      s->payload_sent += g_size;
    }
  }
  set_out(c, 0);
  return 0;
}

// Consumes echoed frame bytes; -1 when the connection was dropped.
static int frames_in(struct conn* c, const unsigned char* p, size_t n, int64_t t) {
  struct stats* s = &c->w->st;
  s->bytes += n;
  while (n > 0) {
    if (c->payload_left == 0 && c->rh_have < c->rh_need) {
      size_t k = c->rh_need - c->rh_have;
      if (k > n) k = n;
      memcpy(c->rh + c->rh_have, p, k);
      c->rh_have += k;
      p += k;
      n -= k;
      if (c->rh_have < c->rh_need) return 0;
      if (c->rh_need == 2) {
        if (c->rh[1] & 0x80 || (c->rh[0] & 0x8f) != 0x82) {  // masked, not FIN, not binary
          drop(c, &s->errors_frame);
          return -1;
        }
        int l7 = c->rh[1] & 0x7f;
        if (l7 == 126 || l7 == 127) {
          c->rh_need = l7 == 126 ? 4 : 10;
          continue;
        }
      }
      uint64_t len = c->rh[1] & 0x7f;
      if (c->rh_need == 4) len = ((uint64_t)c->rh[2] << 8) | c->rh[3];
      if (c->rh_need == 10) {
        len = 0;
        for (int i = 0; i < 8; i++) len = (len << 8) | c->rh[2 + i];
      }
      if (len != g_size || c->ring_n == 0) {
        drop(c, &s->errors_frame);
        return -1;
      }
      c->payload_left = len;
      c->payload_off = 0;
      if (len > 0) continue;
    }
    if (c->payload_left > 0) {
      size_t k = c->payload_left < n ? c->payload_left : n;
      if (memcmp(p, g_payload + c->payload_off, k) != 0) {
        drop(c, &s->errors_frame);
        return -1;
      }
      c->payload_off += k;
      c->payload_left -= k;
      s->payload_received += k;
      p += k;
      n -= k;
      if (c->payload_left > 0) return 0;
    }
    // A whole echo.
    if (t < g_deadline_ns) {
      s->messages++;
      lat_add(s, (t - c->sent_at[c->ring_head]) / 1000);
    }
    c->ring_head = (c->ring_head + 1) % g_depth;
    c->ring_n--;
    c->rh_have = 0;
    c->rh_need = 2;
    if (t < g_deadline_ns) queue_message(c);
  }
  return 0;
}

static char* find_header(char* head, const char* name) {
  size_t nl = strlen(name);
  for (char* p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
    if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
      char* v = p + 3 + nl;
      while (*v == ' ' || *v == '\t') v++;
      return v;
    }
  }
  return NULL;
}

// Reads the 101 and what follows it; -1 when the connection was dropped.
static int upgrade_in(struct conn* c, const unsigned char* p, size_t n, int64_t t) {
  struct stats* s = &c->w->st;
  size_t room = sizeof c->head - 1 - c->head_len;
  size_t k = n < room ? n : room;
  memcpy(c->head + c->head_len, p, k);
  c->head_len += k;
  c->head[c->head_len] = 0;
  char* end = strstr(c->head, "\r\n\r\n");
  if (!end) {
    if (c->head_len >= sizeof c->head - 1) {
      drop(c, &s->errors_status);
      return -1;
    }
    return 0;
  }
  size_t used = (end + 4 - c->head) - (c->head_len - k);  // bytes of p in the head
  *end = 0;
  if (strncmp(c->head, "HTTP/1.1 101", 12) != 0) {
    drop(c, &s->errors_status);
    return -1;
  }
  char* acc = find_header(c->head, "Sec-WebSocket-Accept");
  if (!acc || strncmp(acc, c->accept, strlen(c->accept)) != 0) {
    drop(c, &s->errors_handshake);
    return -1;
  }
  s->upgrades++;
  c->state = S_OPEN;
  for (int i = 0; i < g_depth && t < g_deadline_ns; i++) queue_message(c);
  if (n > used && frames_in(c, p + used, n - used, t) < 0) return -1;
  return do_write(c);
}

static void on_event(struct conn* c, uint32_t events, unsigned char* buf, size_t cap) {
  struct stats* s = &c->w->st;
  if (c->state == S_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      drop(c, &s->errors_connect);
      return;
    }
    if (!(events & EPOLLOUT)) return;
    c->state = S_UPGRADE_WRITE;
  }
  if (events & EPOLLOUT && do_write(c) < 0) return;
  if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
  for (int rounds = 0; rounds < 4; rounds++) {
    ssize_t r = recv(c->fd, buf, cap, 0);
    if (r == 0) {
      drop(c, &s->errors_read);
      return;
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      drop(c, &s->errors_read);
      return;
    }
    int64_t t = now_ns();
    int rc = c->state == S_UPGRADE_READ ? upgrade_in(c, buf, r, t)
             : c->state == S_OPEN       ? frames_in(c, buf, r, t)
                                        : 0;
    if (rc < 0) return;
    if (c->state == S_OPEN && c->to_send > 0 && do_write(c) < 0) return;
    if ((size_t)r < cap) return;
  }
}

static void* run(void* arg) {
  struct worker* w = arg;
  size_t cap = 1 << 18;
  unsigned char* buf = malloc(cap);
  struct epoll_event evs[256];
  w->ep = epoll_create1(0);
  for (int i = 0; i < w->nconns; i++) start_conn(&w->conns[i]);
  int64_t next_check = now_ns() + 100000000;
  for (;;) {
    int64_t t = now_ns();
    if (t >= g_deadline_ns) break;
    int64_t wait_ns = g_deadline_ns - t;
    if (wait_ns > 10000000) wait_ns = 10000000;
    int n = epoll_wait(w->ep, evs, 256, (int)(wait_ns / 1000000) + 1);
    for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events, buf, cap);
    t = now_ns();
    for (int i = 0; i < w->nconns; i++) {
      struct conn* c = &w->conns[i];
      if (c->state == S_RETRY && t >= c->retry_at && t < g_deadline_ns) start_conn(c);
    }
    if (t >= next_check) {
      next_check = t + 100000000;
      for (int i = 0; i < w->nconns; i++) {
        struct conn* c = &w->conns[i];
        int stuck = 0;
        if (c->state == S_OPEN)
          stuck = c->ring_n > 0 && t - c->sent_at[c->ring_head] > g_timeout_ns;
        else if (c->state != S_RETRY && c->state != S_IDLE)
          stuck = t - c->started > g_timeout_ns;  // connect and upgrade
        if (stuck) drop(c, &w->st.errors_timeout);
      }
    }
  }
  w->end_ns = now_ns();
  for (int i = 0; i < w->nconns; i++)
    if (w->conns[i].fd >= 0) close(w->conns[i].fd);
  free(buf);
  return NULL;
}

static int cmp64(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return x < y ? -1 : x > y;
}

static int64_t pctl(const int64_t* v, size_t n, double q) {
  if (n == 0) return 0;
  size_t i = (size_t)(q * (n - 1) + 0.5);
  return v[i];
}

static void usage(const char* me) {
  fprintf(stderr,
          "usage: %s -a ADDR -p PORT [-u PATH] [-H HOST] -c CONNS -d SECONDS -s BYTES "
          "[-P DEPTH] [-t THREADS] [-T TIMEOUT_SECONDS]\n", me);
  exit(2);
}

int main(int argc, char** argv) {
  const char* addr = "127.0.0.1";
  const char* host = NULL;
  int port = 0, nconns = 1, nthreads = 1;
  double seconds = 1, timeout = 2;
  int opt;
  while ((opt = getopt(argc, argv, "a:p:u:H:c:d:s:P:t:T:")) != -1) {
    switch (opt) {
      case 'a': addr = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'u': g_path = optarg; break;
      case 'H': host = optarg; break;
      case 'c': nconns = atoi(optarg); break;
      case 'd': seconds = atof(optarg); break;
      case 's': g_size = strtoull(optarg, NULL, 10); break;
      case 'P': g_depth = atoi(optarg); break;
      case 't': nthreads = atoi(optarg); break;
      case 'T': timeout = atof(optarg); break;
      default: usage(argv[0]);
    }
  }
  if (!port || nconns < 1 || nthreads < 1 || g_depth < 1 || seconds <= 0 ||
      g_size > (64u << 20))
    usage(argv[0]);
  if (nthreads > nconns) nthreads = nconns;
  signal(SIGPIPE, SIG_IGN);
  g_addr.sin_family = AF_INET;
  g_addr.sin_port = htons(port);
  if (inet_pton(AF_INET, addr, &g_addr.sin_addr) != 1) usage(argv[0]);
  if (host)
    snprintf(g_host, sizeof g_host, "%s", host);
  else
    snprintf(g_host, sizeof g_host, "%s:%d", addr, port);
  g_payload = malloc(g_size + 1);
  for (size_t i = 0; i < g_size; i++) g_payload[i] = (unsigned char)(i * 131 + (i >> 8) + 7);
  g_timeout_ns = (int64_t)(timeout * 1e9);
  struct worker* ws = calloc(nthreads, sizeof *ws);
  for (int t = 0; t < nthreads; t++) {
    struct worker* w = &ws[t];
    w->nconns = nconns / nthreads + (t < nconns % nthreads);
    w->conns = calloc(w->nconns, sizeof *w->conns);
    for (int i = 0; i < w->nconns; i++) {
      struct conn* c = &w->conns[i];
      c->w = w;
      c->fd = -1;
      c->frame = malloc(g_size + 14);
      c->sent_at = calloc(g_depth, sizeof *c->sent_at);
    }
  }
  g_start_ns = now_ns();
  g_deadline_ns = g_start_ns + (int64_t)(seconds * 1e9);
  for (int t = 0; t < nthreads; t++) pthread_create(&ws[t].thread, NULL, run, &ws[t]);
  struct stats s = {0};
  int64_t end = g_deadline_ns;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(ws[t].thread, NULL);
    struct stats* x = &ws[t].st;
    if (ws[t].end_ns > end) end = ws[t].end_ns;
    s.messages += x->messages;
    s.bytes += x->bytes;
    s.errors_connect += x->errors_connect;
    s.errors_read += x->errors_read;
    s.errors_write += x->errors_write;
    s.errors_status += x->errors_status;
    s.errors_timeout += x->errors_timeout;
    s.errors_handshake += x->errors_handshake;
    s.errors_frame += x->errors_frame;
    s.upgrades += x->upgrades;
    s.payload_sent += x->payload_sent;
    s.payload_received += x->payload_received;
    s.wire_sent += x->wire_sent;
    for (size_t i = 0; i < x->lat_n; i++) lat_add(&s, x->lat[i]);
  }
  qsort(s.lat, s.lat_n, sizeof *s.lat, cmp64);
  double mean = 0;
  for (size_t i = 0; i < s.lat_n; i++) mean += s.lat[i];
  if (s.lat_n) mean /= s.lat_n;
  printf("WRKJSON {\"requests\": %llu, \"duration_us\": %lld, \"bytes\": %llu, "
         "\"errors_connect\": %llu, \"errors_read\": %llu, \"errors_write\": %llu, "
         "\"errors_status\": %llu, \"errors_timeout\": %llu, \"errors_handshake\": %llu, "
         "\"errors_frame\": %llu, \"lat_mean_us\": %.1f, \"lat_p50_us\": %lld, "
         "\"lat_p99_us\": %lld, \"lat_p999_us\": %lld, \"lat_max_us\": %lld, "
         "\"messages\": %llu, \"message_bytes\": %zu, \"depth\": %d, \"connections\": %d, "
         "\"upgrades\": %llu, \"payload_bytes_sent\": %llu, \"payload_bytes_received\": %llu, "
         "\"wire_bytes_sent\": %llu, \"wire_bytes_received\": %llu}\n",
         (unsigned long long)s.messages, (long long)((end - g_start_ns) / 1000),
         (unsigned long long)s.bytes, (unsigned long long)s.errors_connect,
         (unsigned long long)s.errors_read, (unsigned long long)s.errors_write,
         (unsigned long long)s.errors_status, (unsigned long long)s.errors_timeout,
         (unsigned long long)s.errors_handshake, (unsigned long long)s.errors_frame, mean,
         (long long)pctl(s.lat, s.lat_n, 0.5), (long long)pctl(s.lat, s.lat_n, 0.99),
         (long long)pctl(s.lat, s.lat_n, 0.999), (long long)(s.lat_n ? s.lat[s.lat_n - 1] : 0),
         (unsigned long long)s.messages, g_size, g_depth, nconns,
         (unsigned long long)s.upgrades, (unsigned long long)s.payload_sent,
         (unsigned long long)s.payload_received, (unsigned long long)s.wire_sent,
         (unsigned long long)s.bytes);
  return 0;
}
