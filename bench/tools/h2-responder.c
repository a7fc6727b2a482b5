// HTTP/2 backend for the HTTP/2-to-targets workloads of bench/run.py (h2h2-13b, grpc-13b):
// HTTP/2 in clear text by prior knowledge (h2c; no Upgrade, no TLS), with libnghttp2.
//
// Every request stream, on any path and with any method, gets once the request has ended
// (END_STREAM, after its DATA and any trailers):
//   - a plain request: `:status 200`, `content-type: text/plain`, `content-length: N` and N
//     bytes of "Hello, world!" filler, the stream ended with the last DATA frame;
//   - a gRPC request (its content-type starts with "application/grpc"): `:status 200`,
//     `content-type` = the request's, one gRPC message of N bytes (a 5-byte prefix: flag 0,
//     then the length as 4 bytes big-endian; then N bytes of filler) in DATA, then the
//     trailers `grpc-status: 0` and `grpc-message:` (empty) as a HEADERS frame ending the
//     stream.
// Request DATA is read and discarded; nghttp2 gives the flow-control credit back itself
// (automatic WINDOW_UPDATE, its default) once the bytes have been handed over. The server's
// SETTINGS: MAX_CONCURRENT_STREAMS (-m, default 128, like the proxies' own); the rest
// nghttp2's defaults.
//
// Threads: --threads N (default 1, as the other responders: the harness starts one process
// per backend address) event loops, each with its own level-triggered epoll set sharing the
// listening socket (EPOLLEXCLUSIVE: one thread is woken per new connection); a connection
// stays on the thread that accepted it. Per readable event: one read() of up to 64 KiB, fed
// to nghttp2, then everything nghttp2 has to send coalesced into one send(); what the socket
// does not take waits in the connection's buffer (EPOLLOUT), and nghttp2 is asked for more
// only once it is written. Every system call's result is checked: a failure on a connection
// closes that connection; a failure of the listener, epoll or a thread ends the process
// (exit status 1) with the reason on stderr.
//
//   usage: h2-responder PORT [ADDR] [BODY_BYTES] [--threads N] [-m MAX_STREAMS]
//          (ADDR default 127.0.0.1, BODY_BYTES default 13)
//   build: cc -O2 -o h2-responder h2-responder.c -lnghttp2 -lpthread
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#define READ_BUF 65536
#define OUT_HIGH 65536  // stop pulling frames from nghttp2 once this much waits to be sent
#define GRPC_PREFIX 5

static char* plain_body;  // BODY_BYTES of filler
static char* grpc_body;   // the gRPC message: prefix + BODY_BYTES of filler
static size_t body_len, grpc_len;
static char body_len_text[24];
static uint32_t max_streams = 128;
static int listen_fd;

struct conn {
  int fd;
  int ep;
  nghttp2_session* session;
  uint8_t* out;  // bytes nghttp2 produced that the socket has not taken yet
  size_t out_off, out_len, out_cap;
  int want_out;  // EPOLLOUT is in the interest set
};

struct stream {
  int grpc;       // the request's content-type starts with application/grpc
  int answered;   // the response has been submitted
  size_t sent;    // body bytes handed to nghttp2
  char ctype[128];  // the request's gRPC content-type, echoed back
  size_t ctype_len;
};

static void die(const char* what) {
  perror(what);
  exit(1);
}

// ---- nghttp2 callbacks ----------------------------------------------------------------------

static int on_begin_headers(nghttp2_session* s, const nghttp2_frame* f, void* user) {
  (void)user;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  struct stream* st = calloc(1, sizeof *st);
  if (!st) return NGHTTP2_ERR_CALLBACK_FAILURE;
  if (nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st) != 0) {
    free(st);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

static int on_header(nghttp2_session* s, const nghttp2_frame* f, const uint8_t* name,
                     size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                     void* user) {
  (void)flags;
  (void)user;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  static const char ct[] = "content-type", grpc[] = "application/grpc";
  if (namelen != sizeof ct - 1 || memcmp(name, ct, namelen) != 0) return 0;
  struct stream* st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
  if (!st) return 0;
  if (valuelen >= sizeof grpc - 1 && memcmp(value, grpc, sizeof grpc - 1) == 0 &&
      valuelen <= sizeof st->ctype) {
    st->grpc = 1;
    memcpy(st->ctype, value, valuelen);
    st->ctype_len = valuelen;
  }
  return 0;
}

static ssize_t read_body(nghttp2_session* s, int32_t id, uint8_t* buf, size_t length,
                         uint32_t* data_flags, nghttp2_data_source* src, void* user) {
  (void)src;
  (void)user;
  struct stream* st = nghttp2_session_get_stream_user_data(s, id);
  if (!st) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const char* body = st->grpc ? grpc_body : plain_body;
  size_t total = st->grpc ? grpc_len : body_len;
  size_t n = total - st->sent < length ? total - st->sent : length;
  memcpy(buf, body + st->sent, n);
  st->sent += n;
  if (st->sent == total) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (st->grpc) {
      // The stream ends with the trailers, not with this DATA frame.
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      static const nghttp2_nv trailers[] = {
          {(uint8_t*)"grpc-status", (uint8_t*)"0", 11, 1, NGHTTP2_NV_FLAG_NONE},
          {(uint8_t*)"grpc-message", (uint8_t*)"", 12, 0, NGHTTP2_NV_FLAG_NONE},
      };
      if (nghttp2_submit_trailer(s, id, trailers, 2) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
  }
  return (ssize_t)n;
}

static int answer(nghttp2_session* s, int32_t id, struct stream* st) {
  st->answered = 1;
  nghttp2_nv nva[3] = {
      {(uint8_t*)":status", (uint8_t*)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t*)"content-type", (uint8_t*)"text/plain", 12, 10, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t*)"content-length", (uint8_t*)body_len_text, 14, strlen(body_len_text),
       NGHTTP2_NV_FLAG_NONE},
  };
  size_t n = 3;
  if (st->grpc) {  // gRPC: the request's content-type, no content-length (trailers follow)
    nva[1].value = (uint8_t*)st->ctype;
    nva[1].valuelen = st->ctype_len;
    n = 2;
  }
  nghttp2_data_provider prd = {.source.ptr = NULL, .read_callback = read_body};
  int rv = nghttp2_submit_response(s, id, nva, n, &prd);
  if (rv != 0) {
    fprintf(stderr, "h2-responder: nghttp2_submit_response: %s\n", nghttp2_strerror(rv));
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

static int on_frame_recv(nghttp2_session* s, const nghttp2_frame* f, void* user) {
  (void)user;
  if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
      !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  struct stream* st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
  if (!st || st->answered) return 0;
  return answer(s, f->hd.stream_id, st);
}

static int on_stream_close(nghttp2_session* s, int32_t id, uint32_t error_code, void* user) {
  (void)error_code;
  (void)user;
  struct stream* st = nghttp2_session_get_stream_user_data(s, id);
  if (st) {
    // nghttp2 does not touch the stream's user data after this callback.
    free(st);
  }
  return 0;
}

static nghttp2_session_callbacks* callbacks;

// ---- connections ----------------------------------------------------------------------------

static void conn_close(struct conn* c) {
  if (epoll_ctl(c->ep, EPOLL_CTL_DEL, c->fd, NULL) != 0) perror("h2-responder: epoll_ctl DEL");
  if (close(c->fd) != 0) perror("h2-responder: close");
  nghttp2_session_del(c->session);
  free(c->out);
  free(c);
}

static int out_append(struct conn* c, const uint8_t* p, size_t n) {
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 16384;
    while (cap < c->out_len + n) cap *= 2;
    uint8_t* b = realloc(c->out, cap);
    if (!b) return -1;
    c->out = b;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
  return 0;
}

// Sends what is buffered, then what nghttp2 has to send, until nothing is left or the socket
// is full. Returns -1 on an error (close the connection), 0 when everything was sent, 1 when
// bytes wait for EPOLLOUT.
static int conn_flush(struct conn* c) {
  for (;;) {
    while (c->out_off < c->out_len) {
      ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
        return -1;
      }
      c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    while (c->out_len < OUT_HIGH) {
      const uint8_t* data;
      ssize_t n = nghttp2_session_mem_send(c->session, &data);
      if (n < 0) {
        fprintf(stderr, "h2-responder: nghttp2_session_mem_send: %s\n",
                nghttp2_strerror((int)n));
        return -1;
      }
      if (n == 0) break;
      if (out_append(c, data, (size_t)n) != 0) return -1;
    }
    if (c->out_len == 0) return 0;
  }
}

static int conn_interest(struct conn* c, int want_out) {
  if (want_out == c->want_out) return 0;
  struct epoll_event e = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(c->ep, EPOLL_CTL_MOD, c->fd, &e) != 0) {
    perror("h2-responder: epoll_ctl MOD");
    return -1;
  }
  c->want_out = want_out;
  return 0;
}

// One event on a connection; returns -1 when the connection is to be closed.
static int conn_event(struct conn* c, uint32_t events, uint8_t* buf) {
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    ssize_t r = read(c->fd, buf, READ_BUF);
    if (r < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
    } else if (r == 0) {
      return -1;  // the peer closed: nothing more can be answered
    } else {
      ssize_t used = nghttp2_session_mem_recv(c->session, buf, (size_t)r);
      if (used < 0) {
        if (used != NGHTTP2_ERR_BAD_CLIENT_MAGIC)
          fprintf(stderr, "h2-responder: nghttp2_session_mem_recv: %s\n",
                  nghttp2_strerror((int)used));
        // nghttp2 queued a GOAWAY for most errors: try to send it, then close.
        (void)conn_flush(c);
        return -1;
      }
    }
  }
  int f = conn_flush(c);
  if (f < 0) return -1;
  if (f == 0 && !nghttp2_session_want_read(c->session) &&
      !nghttp2_session_want_write(c->session))
    return -1;  // GOAWAY sent and every stream done
  return conn_interest(c, f == 1);
}

static int conn_open(int ep, int fd) {
  static const int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    perror("h2-responder: setsockopt TCP_NODELAY");
    return -1;
  }
  struct conn* c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->fd = fd;
  c->ep = ep;
  int rv = nghttp2_session_server_new(&c->session, callbacks, c);
  if (rv != 0) {
    fprintf(stderr, "h2-responder: nghttp2_session_server_new: %s\n", nghttp2_strerror(rv));
    free(c);
    return -1;
  }
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams}};
  rv = nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 1);
  if (rv != 0) {
    fprintf(stderr, "h2-responder: nghttp2_submit_settings: %s\n", nghttp2_strerror(rv));
    nghttp2_session_del(c->session);
    free(c);
    return -1;
  }
  struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) {
    perror("h2-responder: epoll_ctl ADD");
    nghttp2_session_del(c->session);
    free(c);
    return -1;
  }
  // The server's SETTINGS go out at once (the client's preface may be in flight).
  if (conn_event(c, 0, NULL) != 0) {
    conn_close(c);
    return 0;
  }
  return 0;
}

static void accept_all(int ep) {
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // EMFILE, ENFILE, ENOBUFS, ENOMEM: leave the connection queued; it is retried on the
      // next event (level-triggered), and the cause is on stderr.
      perror("h2-responder: accept4");
      return;
    }
    if (conn_open(ep, fd) != 0 && close(fd) != 0) perror("h2-responder: close");
  }
}

static void* loop(void* arg) {
  (void)arg;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("h2-responder: epoll_create1");
  // EPOLLEXCLUSIVE: one of the threads waiting is woken per new connection.
  struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &e) != 0) die("h2-responder: epoll_ctl listener");
  uint8_t* buf = malloc(READ_BUF);
  if (!buf) die("h2-responder: malloc");
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("h2-responder: epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn* c = evs[i].data.ptr;
      if (c == NULL) {
        accept_all(ep);
        continue;
      }
      if (conn_event(c, evs[i].events, buf) != 0) conn_close(c);
    }
  }
  return NULL;
}

static void usage(const char* argv0) {
  fprintf(stderr, "usage: %s PORT [ADDR] [BODY_BYTES] [--threads N] [-m MAX_STREAMS]\n",
          argv0);
  exit(2);
}

static long number(const char* s, long lo, long hi, const char* argv0) {
  char* end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) usage(argv0);
  return v;
}

int main(int argc, char** argv) {
  const char* pos[3] = {NULL, "127.0.0.1", "13"};
  int npos = 0;
  long threads = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = number(argv[++i], 1, 256, argv[0]);
    } else if (!strcmp(argv[i], "-m") && i + 1 < argc) {
      max_streams = (uint32_t)number(argv[++i], 1, 1L << 20, argv[0]);
    } else if (argv[i][0] == '-' || npos == 3) {
      usage(argv[0]);
    } else {
      pos[npos++] = argv[i];
    }
  }
  if (npos < 1) usage(argv[0]);
  int port = (int)number(pos[0], 1, 65535, argv[0]);
  body_len = (size_t)number(pos[2], 0, 16L << 20, argv[0]);
  snprintf(body_len_text, sizeof body_len_text, "%zu", body_len);
  grpc_len = GRPC_PREFIX + body_len;
  plain_body = malloc(body_len + 1);
  grpc_body = malloc(grpc_len);
  if (!plain_body || !grpc_body) die("h2-responder: malloc");
  static const char filler[] = "Hello, world!";
  for (size_t i = 0; i < body_len; i++) plain_body[i] = filler[i % 13];
  grpc_body[0] = 0;  // not compressed
  grpc_body[1] = (char)(body_len >> 24);
  grpc_body[2] = (char)(body_len >> 16);
  grpc_body[3] = (char)(body_len >> 8);
  grpc_body[4] = (char)body_len;
  memcpy(grpc_body + GRPC_PREFIX, plain_body, body_len);

  if (nghttp2_session_callbacks_new(&callbacks) != 0) {
    fprintf(stderr, "h2-responder: nghttp2_session_callbacks_new failed\n");
    return 1;
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
  // No on_data_chunk_recv callback: request DATA is dropped as it arrives, and nghttp2
  // returns its flow-control credit (automatic WINDOW_UPDATE).

  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, pos[1], &a.sin_addr) != 1) usage(argv[0]);
  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) die("h2-responder: socket");
  int one = 1;
  if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    die("h2-responder: setsockopt SO_REUSEADDR");
  if (bind(listen_fd, (struct sockaddr*)&a, sizeof a) != 0) die("h2-responder: bind");
  if (listen(listen_fd, 4096) != 0) die("h2-responder: listen");
  // Writes use MSG_NOSIGNAL; ignoring SIGPIPE too costs nothing.
  if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) die("h2-responder: signal");

  for (long t = 1; t < threads; t++) {
    pthread_t th;
    int rv = pthread_create(&th, NULL, loop, NULL);
    if (rv != 0) {
      errno = rv;
      die("h2-responder: pthread_create");
    }
    rv = pthread_detach(th);
    if (rv != 0) {
      errno = rv;
      die("h2-responder: pthread_detach");
    }
  }
  loop(NULL);
  return 0;
}
