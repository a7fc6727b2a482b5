// Open-loop HTTP/1.1 load generator with a fixed send schedule (the wrk2 idea, no
// coordinated omission): request k of connection c is *intended* at
//     t0 + (c + k * conns) / rate
// and its latency is measured from that intended time, not from when it was actually sent. A
// connection still busy with an earlier request delays the next send, and that wait is part of
// the next request's latency, exactly as a real client's queueing would be.
//
// One thread, epoll, non-blocking sockets, no pipelining (one request in flight per
// connection). Prints one JSON object per target on stdout. Errors: connect/read/write
// failures, responses that are not 2xx, responses that do not arrive within the timeout,
// requests of the measured window still unfinished after the drain period.
//
// Several targets (-p repeated; each takes the -a given before it) are measured interleaved:
// time is cut into slices of -s milliseconds, owned by the targets in turn, and each target
// gets only the requests intended inside its own slices, at the full rate. A noisy moment of
// the machine (a descheduled vCPU, a neighbour's burst) then lands on every target alike
// instead of on whichever one happened to be measured then. -d is each target's measured
// time, so the run lasts (WARMUP + SECONDS) x targets. A request intended in its target's
// slice but still queued when the slice ends is sent late and counts, as always.
//
//   usage: openloop -a ADDR -p PORT [-a ADDR -p PORT ...] [-s SLICE_MS] [-u PATH] [-H HOST]
//                   -r RATE -c CONNS -d SECONDS [-w WARMUP_SECONDS] [-t TIMEOUT_SECONDS] [-k]
//          (-k: Connection: close; -H applies to every target, default ADDR:PORT of each)
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

struct target;

struct conn {
  struct target* t;
  int fd;
  int state;
  int64_t next_intended;  // intended send time of the next request (ns)
  int64_t cur_intended;   // intended send time of the request in flight
  int64_t sent_at;        // actual send time of the request in flight
  char head[8192];
  size_t head_len;
  uint64_t body_left;
  int close_after;  // response said Connection: close (or we asked for it)
  int status;
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int ep;
static int close_mode;

// One measured endpoint: its address, request, connections and statistics.
struct target {
  struct sockaddr_in addr;
  char label[64];  // ADDR:PORT
  char request[1024];
  size_t request_len;
  struct conn* conns;
  int64_t* lat;  // ns, measured window only
  size_t lat_n, lat_cap;
  uint64_t errors_connect, errors_read, errors_write, errors_status, errors_timeout,
      errors_unfinished, reconnects, late_sends, sent_total, bytes_total;
};

enum { kMaxTargets = 16 };
static struct target targets[kMaxTargets];
static int targets_n;
static int64_t window_start, window_end;  // of the whole run (every target's slices)
static int64_t t0, slice_ns;              // slice k covers [t0 + k*slice_ns, ...)

// The target whose slice contains time x (x >= t0).
static int owner_of(int64_t x) {
  if (targets_n == 1) return 0;
  return (int)(((x - t0) / slice_ns) % targets_n);
}

static int cmp64(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return x < y ? -1 : x > y;
}

static int open_conn(struct conn* c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int r = connect(c->fd, (struct sockaddr*)&c->t->addr, sizeof c->t->addr);
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

// A connecting socket became ready: returns its connect error, or 0 after making the
// connection idle (waiting for readability only).
static int finish_connect(struct conn* c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) return err;
  c->state = S_IDLE;
  set_events(c, EPOLLIN);
  return 0;
}

static int in_window(int64_t t) { return t >= window_start && t < window_end; }

// Skips the schedule slots of c that fall in other targets' slices: they belong to nobody.
static void skip_foreign_slots(struct conn* c, int64_t stride) {
  int self = (int)(c->t - targets);
  while (c->next_intended < window_end && owner_of(c->next_intended) != self) {
    c->next_intended += stride;
  }
}

// The request in flight failed: count it (warm-up included), drop the connection; the main
// loop reconnects. The request's schedule slot is consumed.
static void fail_request(struct conn* c, uint64_t* counter, int64_t stride) {
  (*counter)++;
  close_conn(c);
  c->t->reconnects++;
  c->next_intended += stride;
  skip_foreign_slots(c, stride);
}

static void send_request(struct conn* c, int64_t now, int64_t stride) {
  struct target* t = c->t;
  c->cur_intended = c->next_intended;
  c->sent_at = now;
  if (now - c->cur_intended > 1000000 && in_window(c->cur_intended)) t->late_sends++;
  ssize_t w = write(c->fd, t->request, t->request_len);
  t->sent_total++;
  if (w != (ssize_t)t->request_len) {  // a small request always fits an empty socket buffer
    fail_request(c, &t->errors_write, stride);
    return;
  }
  c->state = S_HEAD;
  c->head_len = 0;
  set_events(c, EPOLLIN);
}

static void complete(struct conn* c, int64_t now, int64_t stride) {
  struct target* t = c->t;
  if (in_window(c->cur_intended)) {
    if (c->status < 200 || c->status > 299) {
      t->errors_status++;
    } else {
      if (t->lat_n == t->lat_cap) {
        t->lat_cap = t->lat_cap ? t->lat_cap * 2 : 65536;
        t->lat = realloc(t->lat, t->lat_cap * sizeof *t->lat);
        if (!t->lat) abort();
      }
      t->lat[t->lat_n++] = now - c->cur_intended;
    }
  }
  c->next_intended += stride;
  skip_foreign_slots(c, stride);
  if (c->close_after || close_mode) {
    close_conn(c);  // the main loop opens the next connection when the next request is due
    if (!close_mode) t->reconnects++;
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
  struct target* t = c->t;
  for (;;) {
    if (c->state == S_HEAD) {
      ssize_t r = read(c->fd, c->head + c->head_len, sizeof c->head - 1 - c->head_len);
      if (r < 0 && errno == EAGAIN) return;
      if (r <= 0) {
        fail_request(c, &t->errors_read, stride);
        return;
      }
      t->bytes_total += (uint64_t)r;
      size_t old = c->head_len;
      c->head_len += (size_t)r;
      size_t from = old > 3 ? old - 3 : 0;
      char* end = memmem(c->head + from, c->head_len - from, "\r\n\r\n", 4);
      if (!end) {
        if (c->head_len >= sizeof c->head - 1) fail_request(c, &t->errors_read, stride);
        continue;
      }
      size_t head_end = (size_t)(end - c->head) + 4;
      size_t extra = c->head_len - head_end;
      if (parse_head(c, head_end) < 0) {
        fail_request(c, &t->errors_read, stride);
        return;
      }
      if (extra > c->body_left) {  // bytes beyond the response: we never pipeline
        fail_request(c, &t->errors_read, stride);
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
          fail_request(c, &t->errors_read, stride);
          return;
        }
        t->bytes_total += (uint64_t)r;
        c->body_left -= (uint64_t)r;
        continue;
      }
    } else {
      // Idle keep-alive connection became readable: EOF (server closed it) or junk.
      ssize_t r = read(c->fd, scratch, sizeof scratch);
      if (r < 0 && errno == EAGAIN) return;
      close_conn(c);
      t->reconnects++;
      if (r > 0) t->errors_read++;
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
          "usage: %s -a ADDR -p PORT [-a ADDR -p PORT ...] [-s SLICE_MS] [-u PATH] [-H HOST] "
          "-r RATE -c CONNS -d SECONDS [-w WARMUP] [-t TIMEOUT] [-k]\n",
          p);
  exit(2);
}

static void print_target(const struct target* t, double rate, int conns_n, double duration) {
  int64_t* lat = t->lat;
  size_t lat_n = t->lat_n;
  qsort(lat, lat_n, sizeof *lat, cmp64);
#define PCT(p) (lat_n ? (double)lat[(size_t)((double)(lat_n - 1) * (p))] / 1000.0 : 0.0)
  uint64_t errors = t->errors_connect + t->errors_read + t->errors_write + t->errors_status +
                    t->errors_timeout + t->errors_unfinished;
  double mean = 0;
  for (size_t i = 0; i < lat_n; i++) mean += (double)lat[i];
  mean = lat_n ? mean / (double)lat_n / 1000.0 : 0;
  printf(
      "{\"target\": \"%s\", \"targets\": %d, \"slice_ms\": %.1f, "
      "\"rate_target\": %.1f, \"conns\": %d, \"duration_s\": %.3f, \"completed\": %zu, "
      "\"achieved_rps\": %.1f, \"errors\": %llu, \"errors_connect\": %llu, \"errors_read\": %llu, "
      "\"errors_write\": %llu, \"errors_status\": %llu, \"errors_timeout\": %llu, "
      "\"errors_unfinished\": %llu, \"reconnects\": %llu, \"late_sends_over_1ms\": %llu, "
      "\"sent_total\": %llu, \"lat_mean_us\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, "
      "\"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f}\n",
      t->label, targets_n, (double)slice_ns / 1e6, rate, conns_n, duration, lat_n,
      (double)lat_n / duration, (unsigned long long)errors, (unsigned long long)t->errors_connect,
      (unsigned long long)t->errors_read, (unsigned long long)t->errors_write,
      (unsigned long long)t->errors_status, (unsigned long long)t->errors_timeout,
      (unsigned long long)t->errors_unfinished, (unsigned long long)t->reconnects,
      (unsigned long long)t->late_sends, (unsigned long long)t->sent_total, mean, PCT(0.50),
      PCT(0.90), PCT(0.99), PCT(0.999), lat_n ? (double)lat[lat_n - 1] / 1000.0 : 0.0);
#undef PCT
}

int main(int argc, char** argv) {
  const char* addr = "127.0.0.1";
  const char* path = "/";
  const char* host = 0;
  int conns_n = 16;
  double rate = 0, duration = 0, warmup = 0, timeout = 2, slice_ms = 100;
  int opt;
  while ((opt = getopt(argc, argv, "a:p:s:u:H:r:c:d:w:t:k")) != -1) {
    switch (opt) {
      case 'a':
        addr = optarg;
        break;
      case 'p': {
        if (targets_n == kMaxTargets) usage(argv[0]);
        struct target* t = &targets[targets_n++];
        int port = atoi(optarg);
        if (port <= 0 || port > 65535) usage(argv[0]);
        t->addr.sin_family = AF_INET;
        t->addr.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, addr, &t->addr.sin_addr) != 1) usage(argv[0]);
        snprintf(t->label, sizeof t->label, "%s:%d", addr, port);
        break;
      }
      case 's':
        slice_ms = atof(optarg);
        break;
      case 'u':
        path = optarg;
        break;
      case 'H':
        host = optarg;
        break;
      case 'r':
        rate = atof(optarg);
        break;
      case 'c':
        conns_n = atoi(optarg);
        break;
      case 'd':
        duration = atof(optarg);
        break;
      case 'w':
        warmup = atof(optarg);
        break;
      case 't':
        timeout = atof(optarg);
        break;
      case 'k':
        close_mode = 1;
        break;
      default:
        usage(argv[0]);
    }
  }
  if (targets_n == 0 || rate <= 0 || duration <= 0 || conns_n < 1 || conns_n > 4096 || slice_ms < 1)
    usage(argv[0]);
  slice_ns = (int64_t)(slice_ms * 1e6);

  ep = epoll_create1(0);
  for (int k = 0; k < targets_n; k++) {
    struct target* t = &targets[k];
    t->request_len = (size_t)snprintf(
        t->request, sizeof t->request,
        "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sluice-openloop\r\nAccept: */*\r\n%s\r\n", path,
        host ? host : t->label, close_mode ? "Connection: close\r\n" : "");
    t->conns = calloc((size_t)conns_n, sizeof *t->conns);
    for (int i = 0; i < conns_n; i++) {
      t->conns[i].t = t;
      t->conns[i].fd = -1;
      if (open_conn(&t->conns[i]) < 0) {
        fprintf(stderr, "connect %s: %s\n", t->label, strerror(errno));
        return 1;
      }
    }
  }
  // Wait (at most 2 s) for the first connections before the schedule starts.
  const int total = conns_n * targets_n;
  struct epoll_event evs[512];
  int64_t setup_deadline = now_ns() + 2000000000LL;
  for (int connected = 0; connected < total && now_ns() < setup_deadline;) {
    int n = epoll_wait(ep, evs, 512, 50);
    for (int i = 0; i < n; i++) {
      struct conn* c = evs[i].data.ptr;
      if (c->state != S_CONNECTING) continue;
      int err = finish_connect(c);
      if (err) {
        fprintf(stderr, "connect %s: %s\n", c->t->label, strerror(err));
        return 1;
      }
      connected++;
    }
  }

  // Every target gets `warmup` and `duration` seconds of its own slices.
  const int64_t stride = (int64_t)((double)conns_n * 1e9 / rate);  // per-connection period
  t0 = now_ns() + 5000000;
  window_start = t0 + (int64_t)(warmup * targets_n * 1e9);
  window_end = window_start + (int64_t)(duration * targets_n * 1e9);
  const int64_t timeout_ns = (int64_t)(timeout * 1e9);
  for (int k = 0; k < targets_n; k++) {
    for (int i = 0; i < conns_n; i++) {
      struct conn* c = &targets[k].conns[i];
      c->next_intended = t0 + (int64_t)((double)i * 1e9 / rate);
      skip_foreign_slots(c, stride);
    }
  }

  int64_t drain_deadline = window_end + timeout_ns + 500000000LL;
  for (;;) {
    int64_t now = now_ns();
    // Send what is due; find the next due time.
    int64_t next = INT64_MAX;
    int busy = 0;
    for (int j = 0; j < total; j++) {
      struct conn* c = &targets[j / conns_n].conns[j % conns_n];
      struct target* t = c->t;
      if (c->fd < 0) {
        if (c->next_intended >= window_end) continue;
        // New connection per request: connect when the request is due, so that the
        // handshake is part of its latency. Keep-alive: reconnect at once after a failure.
        if (close_mode && c->next_intended > now) {
          if (c->next_intended < next) next = c->next_intended;
          continue;
        }
        if (open_conn(c) < 0) {
          t->errors_connect++;
          c->next_intended += stride;
          skip_foreign_slots(c, stride);
        } else {
          busy++;
        }
        continue;
      }
      if (c->state == S_CONNECTING) {
        busy++;
        if (now - c->sent_at > timeout_ns) fail_request(c, &t->errors_connect, stride);
        continue;
      }
      if (c->state == S_HEAD || c->state == S_BODY) {
        busy++;
        if (now - c->sent_at > timeout_ns) fail_request(c, &t->errors_timeout, stride);
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
        if (finish_connect(c)) {
          fail_request(c, &c->t->errors_connect, stride);
          continue;
        }
        if (c->next_intended <= now && c->next_intended < window_end) send_request(c, now, stride);
        continue;
      }
      on_readable(c, now, stride);
      if (c->fd >= 0 && c->state == S_IDLE && c->next_intended <= now &&
          c->next_intended < window_end)
        send_request(c, now, stride);
    }
  }
  for (int j = 0; j < total; j++) {
    struct conn* c = &targets[j / conns_n].conns[j % conns_n];
    if (c->fd >= 0 && (c->state == S_HEAD || c->state == S_BODY) && in_window(c->cur_intended))
      c->t->errors_unfinished++;
  }
  for (int k = 0; k < targets_n; k++) print_target(&targets[k], rate, conns_n, duration);
  return 0;
}
