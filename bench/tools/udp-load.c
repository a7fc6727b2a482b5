// Closed-loop UDP request/response load generator for the udp-echo-* workloads of
// bench/run.py.
//
// -c flows, each a UDP socket of its own connected to ADDR:PORT (so each has its own source
// port: one flow, one 5-tuple, as a proxy sees it), split over -t threads with an epoll loop
// each. Every flow has exactly one datagram of -s bytes outstanding: it sends one, waits for
// the echo, and sends the next as soon as the echo is back. A datagram carries its flow's id
// and a sequence number in its first 16 bytes, then filler; an echo must be the outstanding
// datagram, byte for byte. Nothing is resent: a datagram without its echo within -T seconds
// (default 0.2) counts as lost and the flow sends the next one. An echo of an earlier
// datagram of the flow (one already counted lost) is "late" and ignored; any other datagram
// (wrong length, flow or bytes) is errors_status and ignored. An ICMP port unreachable
// (ECONNREFUSED on the connected socket) ends the outstanding datagram as errors_refused and
// the flow sends again 10 ms later. Each datagram sent thus ends as exactly one of: echoed,
// lost, refused, or still in flight when the run ends.
//
// Output: one line
//     WRKJSON {"requests": ..., "duration_us": ..., "bytes": ..., "errors_connect": ..., ...}
// with wrk-report.lua's keys: requests = datagrams echoed (request/reply pairs) within -d,
// bytes = their echoes' bytes, errors_timeout = datagrams lost (no echo within -T),
// errors_connect = flows whose socket could not be made, errors_read / errors_write = other
// recv / send failures, errors_status = datagrams received that are no flow's (wrong length
// or bytes), latency = send to echo, in whole microseconds, of the echoed datagrams; plus
// errors_refused, flows, datagram_bytes, datagrams_sent, datagrams_received (every datagram
// read, late and bad ones included), lost (= errors_timeout), late and in_flight (sent, not
// yet echoed nor lost when the run ended).
//
//   usage: udp-load -a ADDR -p PORT -c FLOWS -d SECONDS -s BYTES [-t THREADS]
//                   [-T TIMEOUT_SECONDS]
//   build: cc -O2 -Wall -Wextra -o udp-load udp-load.c -lpthread
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEADER 16          // flow id (8 bytes) and sequence number (8 bytes)
#define MAX_DATAGRAM 65507  // the largest UDP payload over IPv4
#define RETRY_NS 10000000   // after ECONNREFUSED
#define SCAN_NS 5000000     // how often timeouts and pending sends are looked at

struct flow {
  int fd;
  uint64_t id;
  uint64_t seq;     // of the datagram outstanding (or last sent)
  int outstanding;  // a datagram is in flight
  int64_t sent_at;
  int64_t retry_at;  // no datagram in flight: send at this time (0: never, the flow is dead)
};

struct stats {
  uint64_t requests, bytes, sent, received, lost, late, refused, bad, errors_connect,
      errors_read, errors_write, in_flight;
  uint64_t* hist;  // latency histogram, 1 us buckets, the last one "timeout or more"
  double lat_sum;
};

struct worker {
  pthread_t thread;
  int index;
  int nflows;
  struct flow* flows;
  struct stats st;
  int64_t end_ns;
};

static struct sockaddr_in g_addr;
static size_t g_size = 64;
static int64_t g_start_ns, g_deadline_ns, g_timeout_ns;
static size_t g_buckets;
static unsigned char* g_filler;  // the bytes after the header, the same in every datagram

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void put64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t get64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

// Sends the flow's next datagram; on EAGAIN (a full send buffer) it is tried again at the
// next scan.
static void send_next(struct flow* f, struct stats* s, unsigned char* buf, int64_t t) {
  f->seq++;
  put64(buf, f->id);
  put64(buf + 8, f->seq);
  memcpy(buf + HEADER, g_filler, g_size - HEADER);
  ssize_t w = send(f->fd, buf, g_size, 0);
  if (w < 0) {
    f->seq--;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENOBUFS) {
      f->retry_at = t;
      return;
    }
    // ECONNREFUSED: the pending ICMP error of an earlier datagram, already accounted for
    // (refused or lost); this one was not sent: try again later.
    if (errno != ECONNREFUSED) s->errors_write++;
    f->retry_at = t + RETRY_NS;
    return;
  }
  s->sent++;
  f->outstanding = 1;
  f->sent_at = t;
  f->retry_at = 0;
}

static void on_readable(struct flow* f, struct stats* s, unsigned char* in, unsigned char* out,
                        int64_t t) {
  ssize_t r = recv(f->fd, in, MAX_DATAGRAM + 1, MSG_DONTWAIT);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    if (errno == ECONNREFUSED) {
      if (f->outstanding) {
        s->refused++;
        f->outstanding = 0;
        f->retry_at = t + RETRY_NS;
      }
      return;
    }
    s->errors_read++;
    return;
  }
  s->received++;
  if ((size_t)r != g_size || get64(in) != f->id ||
      memcmp(in + HEADER, g_filler, g_size - HEADER) != 0) {
    s->bad++;
    return;
  }
  uint64_t seq = get64(in + 8);
  if (!f->outstanding || seq != f->seq) {
    if (seq < f->seq || (!f->outstanding && seq == f->seq))
      s->late++;  // an echo of a datagram already counted lost
    else
      s->bad++;  // a datagram never sent
    return;
  }
  f->outstanding = 0;
  if (t >= g_deadline_ns) return;
  int64_t us = (t - f->sent_at) / 1000;
  s->requests++;
  s->bytes += (uint64_t)r;
  s->lat_sum += (double)us;
  s->hist[(size_t)us < g_buckets ? (size_t)us : g_buckets - 1]++;
  send_next(f, s, out, t);
}

static void* run(void* arg) {
  struct worker* w = arg;
  struct stats* s = &w->st;
  unsigned char* in = malloc(MAX_DATAGRAM + 1);
  unsigned char* out = malloc(g_size);
  s->hist = calloc(g_buckets, sizeof *s->hist);
  int ep = epoll_create1(0);
  int64_t t = now_ns();
  for (int i = 0; i < w->nflows; i++) {
    struct flow* f = &w->flows[i];
    f->id = ((uint64_t)(w->index + 1) << 32) | (uint64_t)i;
    f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (f->fd < 0 || connect(f->fd, (struct sockaddr*)&g_addr, sizeof g_addr) < 0) {
      s->errors_connect++;
      if (f->fd >= 0) close(f->fd);
      f->fd = -1;
      continue;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = f};
    epoll_ctl(ep, EPOLL_CTL_ADD, f->fd, &ev);
    send_next(f, s, out, t);
  }
  struct epoll_event evs[256];
  int64_t next_scan = t + SCAN_NS;
  for (;;) {
    t = now_ns();
    if (t >= g_deadline_ns) break;
    int64_t wait_ns = next_scan - t;
    if (wait_ns > g_deadline_ns - t) wait_ns = g_deadline_ns - t;
    int timeout_ms = wait_ns > 0 ? (int)((wait_ns + 999999) / 1000000) : 0;
    int n = epoll_wait(ep, evs, 256, timeout_ms);
    t = now_ns();
    for (int i = 0; i < n; i++) on_readable(evs[i].data.ptr, s, in, out, t);
    if (t >= next_scan) {
      next_scan = t + SCAN_NS;
      for (int i = 0; i < w->nflows; i++) {
        struct flow* f = &w->flows[i];
        if (f->fd < 0 || t >= g_deadline_ns) continue;
        if (f->outstanding && t - f->sent_at > g_timeout_ns) {
          s->lost++;
          f->outstanding = 0;
          send_next(f, s, out, t);
        } else if (!f->outstanding && f->retry_at && t >= f->retry_at) {
          send_next(f, s, out, t);
        }
      }
    }
  }
  w->end_ns = now_ns();
  for (int i = 0; i < w->nflows; i++) {
    struct flow* f = &w->flows[i];
    if (f->outstanding) s->in_flight++;
    if (f->fd >= 0) close(f->fd);
  }
  close(ep);
  free(in);
  free(out);
  return NULL;
}

static int64_t pctl(const uint64_t* hist, uint64_t n, double q) {
  if (n == 0) return 0;
  uint64_t rank = (uint64_t)(q * (double)(n - 1) + 0.5), seen = 0;
  for (size_t i = 0; i < g_buckets; i++) {
    seen += hist[i];
    if (seen > rank) return (int64_t)i;
  }
  return (int64_t)g_buckets - 1;
}

static void usage(const char* me) {
  fprintf(stderr,
          "usage: %s -a ADDR -p PORT -c FLOWS -d SECONDS -s BYTES [-t THREADS] "
          "[-T TIMEOUT_SECONDS]\n", me);
  exit(2);
}

int main(int argc, char** argv) {
  const char* addr = "127.0.0.1";
  int port = 0, nflows = 64, nthreads = 1;
  double seconds = 1, timeout = 0.2;
  int opt;
  while ((opt = getopt(argc, argv, "a:p:c:d:s:t:T:")) != -1) {
    switch (opt) {
      case 'a': addr = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'c': nflows = atoi(optarg); break;
      case 'd': seconds = atof(optarg); break;
      case 's': g_size = strtoull(optarg, NULL, 10); break;
      case 't': nthreads = atoi(optarg); break;
      case 'T': timeout = atof(optarg); break;
      default: usage(argv[0]);
    }
  }
  if (port <= 0 || port > 65535 || nflows < 1 || nthreads < 1 || seconds <= 0 ||
      timeout <= 0 || timeout > 60 || g_size < HEADER || g_size > MAX_DATAGRAM)
    usage(argv[0]);
  if (nthreads > nflows) nthreads = nflows;
  g_addr.sin_family = AF_INET;
  g_addr.sin_port = htons(port);
  if (inet_pton(AF_INET, addr, &g_addr.sin_addr) != 1) usage(argv[0]);
  g_filler = malloc(g_size);
  for (size_t i = 0; i < g_size - HEADER; i++)
    g_filler[i] = (unsigned char)(i * 131 + (i >> 8) + 7);
  g_timeout_ns = (int64_t)(timeout * 1e9);
  g_buckets = (size_t)(g_timeout_ns / 1000) + 2;
  struct worker* ws = calloc(nthreads, sizeof *ws);
  for (int t = 0; t < nthreads; t++) {
    struct worker* w = &ws[t];
    w->index = t;
    w->nflows = nflows / nthreads + (t < nflows % nthreads);
    w->flows = calloc(w->nflows, sizeof *w->flows);
  }
  g_start_ns = now_ns();
  g_deadline_ns = g_start_ns + (int64_t)(seconds * 1e9);
  for (int t = 0; t < nthreads; t++) pthread_create(&ws[t].thread, NULL, run, &ws[t]);
  struct stats s = {0};
  s.hist = calloc(g_buckets, sizeof *s.hist);
  int64_t end = g_deadline_ns;
  uint64_t lat_max = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(ws[t].thread, NULL);
    struct stats* x = &ws[t].st;
    if (ws[t].end_ns > end) end = ws[t].end_ns;
    s.requests += x->requests;
    s.bytes += x->bytes;
    s.sent += x->sent;
    s.received += x->received;
    s.lost += x->lost;
    s.late += x->late;
    s.refused += x->refused;
    s.bad += x->bad;
    s.errors_connect += x->errors_connect;
    s.errors_read += x->errors_read;
    s.errors_write += x->errors_write;
    s.in_flight += x->in_flight;
    s.lat_sum += x->lat_sum;
    for (size_t i = 0; i < g_buckets; i++) {
      s.hist[i] += x->hist[i];
      if (x->hist[i] && i > lat_max) lat_max = i;
    }
  }
  double mean = s.requests ? s.lat_sum / (double)s.requests : 0;
  printf("WRKJSON {\"requests\": %llu, \"duration_us\": %lld, \"bytes\": %llu, "
         "\"errors_connect\": %llu, \"errors_read\": %llu, \"errors_write\": %llu, "
         "\"errors_status\": %llu, \"errors_timeout\": %llu, \"errors_refused\": %llu, "
         "\"lat_mean_us\": %.1f, \"lat_p50_us\": %lld, \"lat_p99_us\": %lld, "
         "\"lat_p999_us\": %lld, \"lat_max_us\": %llu, \"flows\": %d, \"datagram_bytes\": %zu, "
         "\"datagrams_sent\": %llu, \"datagrams_received\": %llu, \"lost\": %llu, "
         "\"late\": %llu, \"in_flight\": %llu}\n",
         (unsigned long long)s.requests, (long long)((end - g_start_ns) / 1000),
         (unsigned long long)s.bytes, (unsigned long long)s.errors_connect,
         (unsigned long long)s.errors_read, (unsigned long long)s.errors_write,
         (unsigned long long)s.bad, (unsigned long long)s.lost,
         (unsigned long long)s.refused, mean, (long long)pctl(s.hist, s.requests, 0.5),
         (long long)pctl(s.hist, s.requests, 0.99), (long long)pctl(s.hist, s.requests, 0.999),
         (unsigned long long)lat_max, nflows, g_size, (unsigned long long)s.sent,
         (unsigned long long)s.received, (unsigned long long)s.lost,
         (unsigned long long)s.late, (unsigned long long)s.in_flight);
  return 0;
}
