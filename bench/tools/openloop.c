// Open-loop HTTP/1.1 load generator with a fixed send schedule (the wrk2 idea, no
// coordinated omission): request k of connection c is *intended* at
//     t0 + (c + k * conns) / rate
// and its latency is measured from that intended time, not from when it was actually sent. A
// connection still busy with an earlier request delays the next send, and that wait is part of
// the next request's latency, exactly as a real client's queueing would be.
//
// One thread, epoll, non-blocking sockets, no pipelining (one request in flight per
// connection). Prints one JSON object on stdout. Errors: connect/read/write failures, responses
// that are not 2xx, responses that do not arrive within the timeout, requests of the measured
// window still unfinished after the drain period.
//
//   usage: openloop -a ADDR -p PORT [-u PATH] [-H HOST] -r RATE -c CONNS -d SECONDS
//                   [-w WARMUP_SECONDS] [-t TIMEOUT_SECONDS] [-k]   (-k: Connection: close)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { S_CONNECTING, S_IDLE, S_HEAD, S_BODY };

struct conn {
  int fd;
  int state;
  int64_t next_intended;  // intended send time of the next request (ns)
  int64_t cur_intended;   // intended send time of the request in flight
  int64_t sent_at;        // actual send time of the request in flight
  char head[8192];
  size_t head_len;
  uint64_t body_left;
  int close_after;        // response said Connection: close (or we asked for it)
  int status;
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct sockaddr_in target;
static int ep;
static char request[1024];
static size_t request_len;
static int close_mode;

// statistics
static int64_t* lat;  // ns, measured window only
static size_t lat_n, lat_cap;
static uint64_t errors_connect, errors_read, errors_write, errors_status, errors_timeout,
    errors_unfinished, reconnects, late_sends, sent_total, bytes_total;
static int64_t window_start, window_end;

static int cmp64(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return x < y ? -1 : x > y;
}

static int open_conn(struct conn* c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int r = connect(c->fd, (struct sockaddr*)&target, sizeof target);
  if (r < 0 && errno != EINPROGRESS) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  c->state = S_CONNECTING;
  c->sent_at = now_ns();
  c->head_len = 0;
  struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
  return 0;
}

static void close_conn(struct conn* c) {
  if (c->fd >= 0) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, 0);
    close(c->fd);
  }
  c->fd = -1;
}

static void set_events(struct conn* c, uint32_t ev) {
  struct epoll_event e = {.events = ev, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static int in_window(int64_t t) { return t >= window_start && t < window_end; }

// The request in flight failed: count it (warm-up included), drop the connection; the main
// loop reconnects. The request's schedule slot is consumed.
static void fail_request(struct conn* c, uint64_t* counter, int64_t stride) {
  (*counter)++;
  close_conn(c);
  reconnects++;
  c->next_intended += stride;
}

static void send_request(struct conn* c, int64_t now, int64_t stride) {
  c->cur_intended = c->next_intended;
  c->sent_at = now;
  if (now - c->cur_intended > 1000000 && in_window(c->cur_intended)) late_sends++;
  ssize_t w = write(c->fd, request, request_len);
  sent_total++;
  if (w != (ssize_t)request_len) {  // a small request always fits an empty socket buffer
    fail_request(c, &errors_write, stride);
    return;
  }
  c->state = S_HEAD;
  c->head_len = 0;
  set_events(c, EPOLLIN);
}

static void complete(struct conn* c, int64_t now, int64_t stride) {
  if (in_window(c->cur_intended)) {
    if (c->status < 200 || c->status > 299) {
      errors_status++;
    } else {
      if (lat_n == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 65536;
        lat = realloc(lat, lat_cap * sizeof *lat);
        if (!lat) abort();
      }
      lat[lat_n++] = now - c->cur_intended;
    }
  }
  c->next_intended += stride;
  if (c->close_after || close_mode) {
    close_conn(c);  // the main loop opens the next connection when the next request is due
    if (!close_mode) reconnects++;
    return;
  }
  c->state = S_IDLE;
}

// Parses a complete response head in c->head[0..head_end). Returns 0 or -1.
static int parse_head(struct conn* c, size_t head_end) {
  c->head[head_end - 1] = 0;  // the final '\n' (we only scan the head)
  if (head_end < 12 || strncmp(c->head, "HTTP/1.", 7) != 0) return -1;
  c->status = atoi(c->head + 9);
  c->close_after = close_mode;
  c->body_left = 0;
  int have_length = 0;
  char* line = strstr(c->head, "\r\n");
  while (line && line[2] && line[2] != '\r') {
    char* p = line + 2;
    if (strncasecmp(p, "content-length:", 15) == 0) {
      c->body_left = strtoull(p + 15, 0, 10);
      have_length = 1;
    } else if (strncasecmp(p, "connection:", 11) == 0) {
      char* v = p + 11;
      while (*v == ' ') v++;
      if (strncasecmp(v, "close", 5) == 0) c->close_after = 1;
    } else if (strncasecmp(p, "transfer-encoding:", 18) == 0) {
      return -1;  // our backends never chunk; a proxy that does is reported as an error
    }
    line = strstr(p, "\r\n");
  }
  if (!have_length && c->status != 204 && c->status != 304) return -1;
  return 0;
}

static void on_readable(struct conn* c, int64_t now, int64_t stride) {
  static char scratch[65536];
  for (;;) {
    if (c->state == S_HEAD) {
      ssize_t r = read(c->fd, c->head + c->head_len, sizeof c->head - 1 - c->head_len);
      if (r < 0 && errno == EAGAIN) return;
      if (r <= 0) {
        fail_request(c, &errors_read, stride);
        return;
      }
      bytes_total += (uint64_t)r;
      size_t old = c->head_len;
      c->head_len += (size_t)r;
      size_t from = old > 3 ? old - 3 : 0;
      char* end = memmem(c->head + from, c->head_len - from, "\r\n\r\n", 4);
      if (!end) {
        if (c->head_len >= sizeof c->head - 1) fail_request(c, &errors_read, stride);
        continue;
      }
      size_t head_end = (size_t)(end - c->head) + 4;
      size_t extra = c->head_len - head_end;
      if (parse_head(c, head_end) < 0) {
        fail_request(c, &errors_read, stride);
        return;
      }
      if (extra > c->body_left) {  // bytes beyond the response: we never pipeline
        fail_request(c, &errors_read, stride);
        return;
      }
      c->body_left -= extra;
      c->state = S_BODY;
    } else if (c->state == S_BODY) {
      if (c->body_left > 0) {
        size_t want = c->body_left < sizeof scratch ? c->body_left : sizeof scratch;
        ssize_t r = read(c->fd, scratch, want);
        if (r < 0 && errno == EAGAIN) return;
        if (r <= 0) {
          fail_request(c, &errors_read, stride);
          return;
        }
        bytes_total += (uint64_t)r;
        c->body_left -= (uint64_t)r;
        continue;
      }
    } else {
      // Idle keep-alive connection became readable: EOF (server closed it) or junk.
      ssize_t r = read(c->fd, scratch, sizeof scratch);
      if (r < 0 && errno == EAGAIN) return;
      close_conn(c);
      reconnects++;
      if (r > 0) errors_read++;
      return;
    }
    if (c->state == S_BODY && c->body_left == 0) {
      complete(c, now, stride);
      return;
    }
  }
}

static void usage(const char* p) {
  fprintf(stderr,
          "usage: %s -a ADDR -p PORT [-u PATH] [-H HOST] -r RATE -c CONNS -d SECONDS "
          "[-w WARMUP] [-t TIMEOUT] [-k]\n",
          p);
  exit(2);
}

int main(int argc, char** argv) {
  const char* addr = "127.0.0.1";
  const char* path = "/";
  const char* host = 0;
  int port = 0, conns_n = 16;
  double rate = 0, duration = 0, warmup = 0, timeout = 2;
  int opt;
  while ((opt = getopt(argc, argv, "a:p:u:H:r:c:d:w:t:k")) != -1) {
    switch (opt) {
      case 'a': addr = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'u': path = optarg; break;
      case 'H': host = optarg; break;
      case 'r': rate = atof(optarg); break;
      case 'c': conns_n = atoi(optarg); break;
      case 'd': duration = atof(optarg); break;
      case 'w': warmup = atof(optarg); break;
      case 't': timeout = atof(optarg); break;
      case 'k': close_mode = 1; break;
      default: usage(argv[0]);
    }
  }
  if (!port || rate <= 0 || duration <= 0 || conns_n < 1 || conns_n > 4096) usage(argv[0]);
  target.sin_family = AF_INET;
  target.sin_port = htons(port);
  if (inet_pton(AF_INET, addr, &target.sin_addr) != 1) usage(argv[0]);
  char hostbuf[128];
  if (!host) {
    snprintf(hostbuf, sizeof hostbuf, "%s:%d", addr, port);
    host = hostbuf;
  }
  request_len = (size_t)snprintf(
      request, sizeof request,
      "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sluice-openloop\r\nAccept: */*\r\n%s\r\n", path,
      host, close_mode ? "Connection: close\r\n" : "");

  ep = epoll_create1(0);
  struct conn* conns = calloc((size_t)conns_n, sizeof *conns);
  for (int i = 0; i < conns_n; i++) {
    conns[i].fd = -1;
    if (open_conn(&conns[i]) < 0) {
      fprintf(stderr, "connect: %s\n", strerror(errno));
      return 1;
    }
  }
  // Wait (at most 2 s) for the first connections before the schedule starts.
  struct epoll_event evs[512];
  int64_t setup_deadline = now_ns() + 2000000000LL;
  for (int connected = 0; connected < conns_n && now_ns() < setup_deadline;) {
    int n = epoll_wait(ep, evs, 512, 50);
    for (int i = 0; i < n; i++) {
      struct conn* c = evs[i].data.ptr;
      if (c->state != S_CONNECTING) continue;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) {
        fprintf(stderr, "connect: %s\n", strerror(err));
        return 1;
      }
      c->state = S_IDLE;
      set_events(c, EPOLLIN);
      connected++;
    }
  }

  const int64_t stride = (int64_t)((double)conns_n * 1e9 / rate);  // per-connection period
  const int64_t t0 = now_ns() + 5000000;
  window_start = t0 + (int64_t)(warmup * 1e9);
  window_end = window_start + (int64_t)(duration * 1e9);
  const int64_t timeout_ns = (int64_t)(timeout * 1e9);
  for (int i = 0; i < conns_n; i++) conns[i].next_intended = t0 + (int64_t)((double)i * 1e9 / rate);

  int64_t drain_deadline = window_end + timeout_ns + 500000000LL;
  for (;;) {
    int64_t now = now_ns();
    // Send what is due; find the next due time.
    int64_t next = INT64_MAX;
    int busy = 0;
    for (int i = 0; i < conns_n; i++) {
      struct conn* c = &conns[i];
      if (c->fd < 0) {
        if (c->next_intended >= window_end) continue;
        // New connection per request: connect when the request is due, so that the
        // handshake is part of its latency. Keep-alive: reconnect at once after a failure.
        if (close_mode && c->next_intended > now) {
          if (c->next_intended < next) next = c->next_intended;
          continue;
        }
        if (open_conn(c) < 0) {
          errors_connect++;
          c->next_intended += stride;
        } else {
          busy++;
        }
        continue;
      }
      if (c->state == S_CONNECTING) {
        busy++;
        if (now - c->sent_at > timeout_ns) fail_request(c, &errors_connect, stride);
        continue;
      }
      if (c->state == S_HEAD || c->state == S_BODY) {
        busy++;
        if (now - c->sent_at > timeout_ns) fail_request(c, &errors_timeout, stride);
        continue;
      }
      if (c->next_intended >= window_end) continue;
      if (c->next_intended <= now) {
        send_request(c, now, stride);
        busy++;
      } else if (c->next_intended < next) {
        next = c->next_intended;
      }
    }
    if (next == INT64_MAX && busy == 0) break;  // schedule finished, nothing in flight
    if (now > drain_deadline) break;
    int64_t wait = next == INT64_MAX ? 10000000 : next - now;
    if (wait > 10000000) wait = 10000000;  // wake up at least every 10 ms for timeouts
    if (wait < 0) wait = 0;
    struct timespec ts = {wait / 1000000000LL, wait % 1000000000LL};
    int n = epoll_pwait2(ep, evs, 512, &ts, 0);
    if (n < 0 && errno != EINTR) {
      perror("epoll_pwait2");
      return 1;
    }
    now = now_ns();
    for (int i = 0; i < n; i++) {
      struct conn* c = evs[i].data.ptr;
      if (c->fd < 0) continue;
      if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          fail_request(c, &errors_connect, stride);
          continue;
        }
        c->state = S_IDLE;
        set_events(c, EPOLLIN);
        if (c->next_intended <= now && c->next_intended < window_end) send_request(c, now, stride);
        continue;
      }
      on_readable(c, now, stride);
      if (c->fd >= 0 && c->state == S_IDLE && c->next_intended <= now &&
          c->next_intended < window_end)
        send_request(c, now, stride);
    }
  }
  for (int i = 0; i < conns_n; i++) {
    struct conn* c = &conns[i];
    if (c->fd >= 0 && (c->state == S_HEAD || c->state == S_BODY) && in_window(c->cur_intended))
      errors_unfinished++;
  }
  qsort(lat, lat_n, sizeof *lat, cmp64);
#define PCT(p) (lat_n ? (double)lat[(size_t)((double)(lat_n - 1) * (p))] / 1000.0 : 0.0)
  uint64_t errors = errors_connect + errors_read + errors_write + errors_status + errors_timeout +
                    errors_unfinished;
  double mean = 0;
  for (size_t i = 0; i < lat_n; i++) mean += (double)lat[i];
  mean = lat_n ? mean / (double)lat_n / 1000.0 : 0;
  printf(
      "{\"rate_target\": %.1f, \"conns\": %d, \"duration_s\": %.3f, \"completed\": %zu, "
      "\"achieved_rps\": %.1f, \"errors\": %llu, \"errors_connect\": %llu, \"errors_read\": %llu, "
      "\"errors_write\": %llu, \"errors_status\": %llu, \"errors_timeout\": %llu, "
      "\"errors_unfinished\": %llu, \"reconnects\": %llu, \"late_sends_over_1ms\": %llu, "
      "\"sent_total\": %llu, \"lat_mean_us\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, "
      "\"p999_us\": %.1f, \"max_us\": %.1f}\n",
      rate, conns_n, duration, lat_n, (double)lat_n / duration, (unsigned long long)errors,
      (unsigned long long)errors_connect, (unsigned long long)errors_read,
      (unsigned long long)errors_write, (unsigned long long)errors_status,
      (unsigned long long)errors_timeout, (unsigned long long)errors_unfinished,
      (unsigned long long)reconnects, (unsigned long long)late_sends,
      (unsigned long long)sent_total, mean, PCT(0.50), PCT(0.90),
      PCT(0.99), PCT(0.999), lat_n ? (double)lat[lat_n - 1] / 1000.0 : 0.0);
  return 0;
}
