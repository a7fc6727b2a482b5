// Closed-loop HTTPS load generator for the handshake workloads of bench/run.py: every request
// on a connection of its own, with a full or a resumed TLS handshake. wrk cannot measure
// resumed handshakes (it never offers a session), hence this tool.
//
// Each of the -c connection slots loops: non-blocking connect, TLS handshake (1.3 unless
// --tls12), "GET PATH HTTP/1.1" with Host and "Connection: close", the whole response read
// (Content-Length, or up to the server's close), status 200 checked, SSL_shutdown once (it
// sends close_notify and, above all, keeps the session resumable: OpenSSL marks the
// connection's session not resumable when SSL_free comes without it), close, and again at
// once. With --resume each slot offers the session of its own previous connection: the
// latest session OpenSSL handed to the new-session callback on that connection (for TLS 1.3
// the tickets arrive after the handshake, before the response, so the ticket of connection n
// is there when connection n + 1 starts). No certificate verification, SNI = the address (as
// wrk), no ALPN (as wrk).
//
// -t threads split the slots; each thread has its own epoll loop. Output: one line
//     WRKJSON {"requests": ..., "duration_us": ..., "bytes": ..., "errors_connect": ..., ...}
// with wrk-report.lua's keys (latency: connect start to last response byte, per request),
// plus errors_handshake (TLS handshake failures), handshakes (completed), resumed and full
// (SSL_session_reused or not) and offered (handshakes where a session was offered).
// Figures count what completed within -d seconds; connections still open then are dropped.
//
//   usage: tls-load -a ADDR -p PORT [-u PATH] [-H HOST] -c CONNS -d SECONDS [-t THREADS]
//                   [-T TIMEOUT_SECONDS] [--resume] [--tls12]
//   build: cc -O2 -o tls-load tls-load.c -lssl -lcrypto -lpthread
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

#include <openssl/err.h>
#include <openssl/ssl.h>

enum { S_IDLE, S_CONNECTING, S_HANDSHAKE, S_WRITE, S_READ, S_RETRY };

struct worker;

struct conn {
  struct worker* w;
  int fd;
  SSL* ssl;
  int state;
  int64_t started;      // connect() of the current request (ns)
  int64_t retry_at;     // S_RETRY: when to reconnect
  SSL_SESSION* session; // latest session of this slot (--resume)
  char head[8192];
  size_t head_len;
  int head_done;
  int status;
  int until_close;      // no Content-Length: the body ends with the connection
  int64_t body_left;
  uint64_t bytes;       // response bytes of the current request
  size_t written;
};

struct stats {
  uint64_t requests, bytes, errors_connect, errors_handshake, errors_read, errors_write,
      errors_status, errors_timeout, handshakes, resumed, full, offered;
  int64_t* lat;  // us
  size_t lat_n, lat_cap;
};

struct worker {
  pthread_t thread;
  int ep;
  struct conn* conns;
  int nconns;
  struct stats st;
};

static struct sockaddr_in g_addr;
static char g_request[1024];
static size_t g_request_len;
static char g_sni[256];
static SSL_CTX* g_ctx;
static int g_resume;
static int64_t g_start, g_deadline, g_timeout_ns;
static int g_ex_index;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// OpenSSL hands every new session here (TLS 1.3: one per ticket). The slot keeps the latest.
static int on_new_session(SSL* ssl, SSL_SESSION* sess) {
  struct conn* c = SSL_get_ex_data(ssl, g_ex_index);
  if (c == NULL || !SSL_SESSION_is_resumable(sess)) return 0;
  if (c->session != NULL) SSL_SESSION_free(c->session);
  c->session = sess;
  return 1;  // we keep the reference
}

static void start_conn(struct conn* c);

// Drops the connection without a shutdown (after an error or a timeout) and, after `delay_ns`,
// starts the slot's next one.
static void drop(struct conn* c, int64_t delay_ns) {
  if (c->ssl != NULL) {
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
  if (c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
  }
  if (delay_ns > 0) {
    c->state = S_RETRY;
    c->retry_at = now_ns() + delay_ns;
  } else {
    start_conn(c);
  }
}

static void finish(struct conn* c) {
  struct stats* st = &c->w->st;
  int64_t t = now_ns();
  if (t <= g_deadline) {
    st->requests++;
    st->bytes += c->bytes;
    if (c->status != 200) st->errors_status++;
    if (st->lat_n == st->lat_cap) {
      st->lat_cap = st->lat_cap ? st->lat_cap * 2 : 65536;
      st->lat = realloc(st->lat, st->lat_cap * sizeof *st->lat);
      if (st->lat == NULL) abort();
    }
    st->lat[st->lat_n++] = (t - c->started) / 1000;
  }
  SSL_shutdown(c->ssl);  // once: close_notify, and the session stays resumable
  SSL_free(c->ssl);
  c->ssl = NULL;
  close(c->fd);
  c->fd = -1;
  start_conn(c);
}

static void start_conn(struct conn* c) {
  struct stats* st = &c->w->st;
  c->state = S_CONNECTING;
  c->head_len = 0;
  c->head_done = 0;
  c->status = 0;
  c->until_close = 0;
  c->body_left = 0;
  c->bytes = 0;
  c->written = 0;
  c->started = now_ns();
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    st->errors_connect++;
    drop(c, 10000000);
    return;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->ssl = SSL_new(g_ctx);
  if (c->ssl == NULL) abort();
  SSL_set_ex_data(c->ssl, g_ex_index, c);
  SSL_set_fd(c->ssl, c->fd);
  SSL_set_connect_state(c->ssl);
  if (g_sni[0]) SSL_set_tlsext_host_name(c->ssl, g_sni);
  if (g_resume && c->session != NULL) {
    SSL_set_session(c->ssl, c->session);
    if (c->started <= g_deadline) st->offered++;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, .data.ptr = c};
  if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
    st->errors_connect++;
    drop(c, 10000000);
    return;
  }
  int r = connect(c->fd, (struct sockaddr*)&g_addr, sizeof g_addr);
  if (r != 0 && errno != EINPROGRESS) {
    st->errors_connect++;
    drop(c, 10000000);
  }
}

// Parses the response head once complete; returns 0 when more is needed, -1 when malformed.
static int parse_head(struct conn* c) {
  char* end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
  if (end == NULL) return c->head_len == sizeof c->head ? -1 : 0;
  size_t head = (size_t)(end - c->head) + 4;
  if (c->head_len < 12 || memcmp(c->head, "HTTP/1.", 7) != 0) return -1;
  c->status = atoi(c->head + 9);
  c->until_close = 1;
  for (char* p = memchr(c->head, '\n', head); p != NULL && p + 1 < c->head + head;
       p = memchr(p + 1, '\n', (size_t)(c->head + head - p - 1))) {
    char* line = p + 1;
    if (strncasecmp(line, "content-length:", 15) == 0) {
      c->body_left = strtoll(line + 15, NULL, 10);
      c->until_close = 0;
    }
  }
  c->head_done = 1;
  // Bytes past the head are body.
  c->body_left -= (int64_t)(c->head_len - head);
  return 1;
}

// Drives the connection until it would block.
static void step(struct conn* c) {
  struct stats* st = &c->w->st;
  for (;;) {
    switch (c->state) {
      case S_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          st->errors_connect++;
          drop(c, 10000000);
          return;
        }
        c->state = S_HANDSHAKE;
        break;
      }
      case S_HANDSHAKE: {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r == 1) {
          if (c->started <= g_deadline) {
            st->handshakes++;
            if (SSL_session_reused(c->ssl)) st->resumed++;
            else st->full++;
          }
          c->state = S_WRITE;
          break;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        st->errors_handshake++;
        drop(c, 10000000);
        return;
      }
      case S_WRITE: {
        ERR_clear_error();
        int r = SSL_write(c->ssl, g_request, (int)g_request_len);
        if (r > 0) {
          c->state = S_READ;
          break;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        st->errors_write++;
        drop(c, 0);
        return;
      }
      case S_READ: {
        char buf[16384];
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, sizeof buf);
        if (r > 0) {
          c->bytes += (uint64_t)r;
          if (!c->head_done) {
            size_t n = (size_t)r;
            size_t room = sizeof c->head - c->head_len;
            // A head longer than 8 KiB is malformed for this purpose.
            memcpy(c->head + c->head_len, buf, n < room ? n : room);
            c->head_len += n < room ? n : room;
            int p = parse_head(c);
            if (p < 0) {
              st->errors_read++;
              drop(c, 0);
              return;
            }
            if (p == 0) break;
            if (n > room) c->body_left -= (int64_t)(n - room);
          } else {
            c->body_left -= r;
          }
          if (c->head_done && !c->until_close && c->body_left == 0) {
            finish(c);
            return;
          }
          if (c->head_done && !c->until_close && c->body_left < 0) {  // past Content-Length
            st->errors_read++;
            drop(c, 0);
            return;
          }
          break;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        // The server closed: a complete response only if it had no length.
        if ((e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL) && c->head_done &&
            c->until_close) {
          if (e == SSL_ERROR_ZERO_RETURN) {
            finish(c);
          } else {
            // EOF without close_notify: count it, but keep the slot's session usable.
            SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
            finish(c);
          }
          return;
        }
        st->errors_read++;
        drop(c, 0);
        return;
      }
      default:
        return;
    }
  }
}

static void* run_worker(void* arg) {
  struct worker* w = arg;
  w->ep = epoll_create1(EPOLL_CLOEXEC);
  if (w->ep < 0) {
    perror("epoll_create1");
    exit(2);
  }
  for (int i = 0; i < w->nconns; i++) {
    w->conns[i].w = w;
    w->conns[i].fd = -1;
    start_conn(&w->conns[i]);
  }
  struct epoll_event evs[256];
  int64_t next_scan = now_ns() + 10000000;
  for (;;) {
    int64_t t = now_ns();
    if (t >= g_deadline) break;
    int64_t wait_ms = (g_deadline - t) / 1000000;
    if (wait_ms > 10) wait_ms = 10;
    int n = epoll_wait(w->ep, evs, 256, (int)wait_ms);
    for (int i = 0; i < n; i++) step(evs[i].data.ptr);
    t = now_ns();
    if (t >= next_scan) {
      next_scan = t + 10000000;
      for (int i = 0; i < w->nconns; i++) {
        struct conn* c = &w->conns[i];
        if (c->state == S_RETRY) {
          if (t >= c->retry_at) start_conn(c);
        } else if (t - c->started > g_timeout_ns) {
          w->st.errors_timeout++;
          drop(c, 0);
        }
      }
    }
  }
  return NULL;
}

static int cmp64(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return (x > y) - (x < y);
}

static int64_t percentile(const int64_t* v, size_t n, double p) {
  if (n == 0) return 0;
  size_t i = (size_t)(p / 100.0 * (double)n);
  if (i >= n) i = n - 1;
  return v[i];
}

static void usage(void) {
  fprintf(stderr,
          "usage: tls-load -a ADDR -p PORT [-u PATH] [-H HOST] -c CONNS -d SECONDS "
          "[-t THREADS] [-T TIMEOUT_SECONDS] [--resume] [--tls12]\n");
  exit(2);
}

int main(int argc, char** argv) {
  const char* addr = NULL;
  const char* path = "/";
  const char* host = NULL;
  int port = 0, conns = 0, threads = 1, tls12 = 0;
  double seconds = 0, timeout = 2;
  static const struct option longopts[] = {{"resume", no_argument, NULL, 'R'},
                                           {"tls12", no_argument, NULL, '2'},
                                           {"timeout", required_argument, NULL, 'T'},
                                           {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "a:p:u:H:c:d:t:T:", longopts, NULL)) != -1) {
    switch (opt) {
      case 'a': addr = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'u': path = optarg; break;
      case 'H': host = optarg; break;
      case 'c': conns = atoi(optarg); break;
      case 'd': seconds = atof(optarg); break;
      case 't': threads = atoi(optarg); break;
      case 'T': timeout = atof(optarg); break;
      case 'R': g_resume = 1; break;
      case '2': tls12 = 1; break;
      default: usage();
    }
  }
  if (addr == NULL || port <= 0 || port > 65535 || conns <= 0 || seconds <= 0 || threads <= 0 ||
      timeout <= 0 || optind != argc)
    usage();
  if (threads > conns) threads = conns;
  memset(&g_addr, 0, sizeof g_addr);
  g_addr.sin_family = AF_INET;
  g_addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, addr, &g_addr.sin_addr) != 1) {
    fprintf(stderr, "bad address %s\n", addr);
    return 2;
  }
  char hostbuf[300];
  if (host == NULL) {
    snprintf(hostbuf, sizeof hostbuf, "%s:%d", addr, port);
    host = hostbuf;
  }
  snprintf(g_sni, sizeof g_sni, "%s", addr);
  int len = snprintf(g_request, sizeof g_request,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
  if (len <= 0 || (size_t)len >= sizeof g_request) {
    fprintf(stderr, "request too long\n");
    return 2;
  }
  g_request_len = (size_t)len;
  signal(SIGPIPE, SIG_IGN);

  g_ctx = SSL_CTX_new(TLS_client_method());
  if (g_ctx == NULL) {
    ERR_print_errors_fp(stderr);
    return 2;
  }
  SSL_CTX_set_verify(g_ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_min_proto_version(g_ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(g_ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  g_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  if (g_resume) {
    // No internal store: each slot keeps its own latest session (on_new_session).
    SSL_CTX_set_session_cache_mode(g_ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(g_ctx, on_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(g_ctx, SSL_SESS_CACHE_OFF);
  }

  struct worker* ws = calloc((size_t)threads, sizeof *ws);
  struct conn* all = calloc((size_t)conns, sizeof *all);
  if (ws == NULL || all == NULL) abort();
  g_timeout_ns = (int64_t)(timeout * 1e9);
  g_start = now_ns();
  g_deadline = g_start + (int64_t)(seconds * 1e9);
  int off = 0;
  for (int i = 0; i < threads; i++) {
    ws[i].conns = all + off;
    ws[i].nconns = conns / threads + (i < conns % threads);
    off += ws[i].nconns;
    if (pthread_create(&ws[i].thread, NULL, run_worker, &ws[i]) != 0) {
      perror("pthread_create");
      return 2;
    }
  }
  struct stats tot = {0};
  for (int i = 0; i < threads; i++) {
    pthread_join(ws[i].thread, NULL);
    struct stats* s = &ws[i].st;
    tot.requests += s->requests;
    tot.bytes += s->bytes;
    tot.errors_connect += s->errors_connect;
    tot.errors_handshake += s->errors_handshake;
    tot.errors_read += s->errors_read;
    tot.errors_write += s->errors_write;
    tot.errors_status += s->errors_status;
    tot.errors_timeout += s->errors_timeout;
    tot.handshakes += s->handshakes;
    tot.resumed += s->resumed;
    tot.full += s->full;
    tot.offered += s->offered;
    if (s->lat_n) {
      tot.lat = realloc(tot.lat, (tot.lat_n + s->lat_n) * sizeof *tot.lat);
      if (tot.lat == NULL) abort();
      memcpy(tot.lat + tot.lat_n, s->lat, s->lat_n * sizeof *s->lat);
      tot.lat_n += s->lat_n;
    }
  }
  int64_t duration_us = (now_ns() - g_start) / 1000;
  double mean = 0;
  if (tot.lat_n) {
    qsort(tot.lat, tot.lat_n, sizeof *tot.lat, cmp64);
    double sum = 0;
    for (size_t i = 0; i < tot.lat_n; i++) sum += (double)tot.lat[i];
    mean = sum / (double)tot.lat_n;
  }
  printf("WRKJSON {\"requests\": %llu, \"duration_us\": %lld, \"bytes\": %llu, "
         "\"errors_connect\": %llu, \"errors_handshake\": %llu, \"errors_read\": %llu, "
         "\"errors_write\": %llu, \"errors_status\": %llu, \"errors_timeout\": %llu, "
         "\"lat_mean_us\": %.1f, \"lat_p50_us\": %lld, \"lat_p99_us\": %lld, "
         "\"lat_p999_us\": %lld, \"lat_max_us\": %lld, \"handshakes\": %llu, "
         "\"resumed\": %llu, \"full\": %llu, \"offered\": %llu, \"tls\": \"%s\"}\n",
         (unsigned long long)tot.requests, (long long)duration_us,
         (unsigned long long)tot.bytes, (unsigned long long)tot.errors_connect,
         (unsigned long long)tot.errors_handshake, (unsigned long long)tot.errors_read,
         (unsigned long long)tot.errors_write, (unsigned long long)tot.errors_status,
         (unsigned long long)tot.errors_timeout, mean,
         (long long)percentile(tot.lat, tot.lat_n, 50), (long long)percentile(tot.lat, tot.lat_n, 99),
         (long long)percentile(tot.lat, tot.lat_n, 99.9),
         (long long)(tot.lat_n ? tot.lat[tot.lat_n - 1] : 0), (unsigned long long)tot.handshakes,
         (unsigned long long)tot.resumed, (unsigned long long)tot.full,
         (unsigned long long)tot.offered, tls12 ? "1.2" : "1.3");
  fflush(stdout);
  return 0;
}
