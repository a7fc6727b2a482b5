// Bulk-transfer client for the tcp-bulk-* workloads of bench/run.py.
//
// -c connections, each a thread of its own with a blocking socket, all started together
// (a barrier before the connects); each makes one transfer of -b bytes through ADDR:PORT to
// a bench/tools/bulk-server.c backend and ends (bench/tools/bulk-pattern.h has the protocol
// and the pattern; each connection has its own seed):
//
//   download (default)  sends "GET <bytes> <seed>", reads to the end of the stream in reads of
//                       BULK_CHUNK bytes, checks every block's word as it reads, and needs
//                       exactly <bytes> bytes before the end of the stream
//   upload (-U)         sends "PUT <bytes> <seed>" and the bytes, in writes of BULK_CHUNK
//                       bytes, and needs the backend's "OK <bytes>" (the backend checks them)
//
// A transfer ends as exactly one of: done (all bytes, right, in order), short (the stream
// ended early; in an upload: no answer, or the backend's "ERR short"), long (more bytes than
// asked for), corrupt (a wrong byte: the stream offset of the first is reported), a bad
// answer (an upload answered with anything else), a connect, read or write error, or a
// timeout (no byte either way for -T seconds, default 10). Every failure is one line on stderr
// with the connection, the seed and where it happened.
//
// Output: one line
//     WRKJSON {"requests": ..., "duration_us": ..., "bytes": ..., "errors_connect": ..., ...}
// with wrk-report.lua's error keys: requests = transfers done; duration_us = from the first
// connect to the end of the last transfer; bytes = the bytes moved and found right (a failed
// transfer's up to where it failed); errors_status = short + long + corrupt + bad answers;
// errors_read / errors_write / errors_timeout / errors_connect as named; plus connections,
// bytes_per_conn, upload (0 or 1), short, long, corrupt, bad_answer, transfer_us_min and
// transfer_us_max (each transfer's own time, connect to end, over every transfer) and
// first_error (text, or null). The exit status is 0 whenever it ran (failed transfers are in
// the report, as wrk's errors are), 2 for bad arguments, 1 when it could not run.
//
//   usage: bulk-load -a ADDR -p PORT -c CONNS -b BYTES [-U] [-T TIMEOUT_SECONDS]
//   build: cc -O2 -Wall -Wextra -o bulk-load bulk-load.c -lpthread
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bulk-pattern.h"

enum outcome { DONE, SHORT, LONG, CORRUPT, BAD_ANSWER, E_CONNECT, E_READ, E_WRITE, E_TIMEOUT };
static const char* const OUTCOME[] = {"done", "short", "long", "corrupt", "bad answer",
                                      "connect error", "read error", "write error", "timeout"};

struct transfer {
  pthread_t thread;
  int index;
  uint64_t seed;
  enum outcome outcome;
  uint64_t bytes;  // moved and right
  int64_t start_ns, end_ns;
  char detail[160];
};

static struct sockaddr_in g_addr;
static uint64_t g_bytes;
static int g_upload;
static double g_timeout_s = 10.0;
static pthread_barrier_t g_barrier;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// A failed system call's outcome: a timeout (SO_RCVTIMEO / SO_SNDTIMEO) or `other`.
static enum outcome failed(struct transfer* t, enum outcome other, const char* what) {
  int e = errno;
  t->outcome = (e == EAGAIN || e == EWOULDBLOCK) ? E_TIMEOUT : other;
  snprintf(t->detail, sizeof t->detail, "%s after %" PRIu64 " bytes: %s", what, t->bytes,
           t->outcome == E_TIMEOUT ? "no byte within the timeout" : strerror(e));
  return t->outcome;
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

static void download(struct transfer* t, int fd, unsigned char* buf) {
  for (;;) {
    ssize_t r = recv(fd, buf, BULK_CHUNK, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      failed(t, E_READ, "read");
      return;
    }
    if (r == 0) break;
    size_t n = (size_t)r, want = n;
    if (t->bytes + n > g_bytes) want = (size_t)(g_bytes - t->bytes);
    uint64_t bad = bulk_check(buf, want, t->seed, t->bytes);
    if (bad != BULK_OK) {
      t->outcome = CORRUPT;
      snprintf(t->detail, sizeof t->detail, "wrong byte at offset %" PRIu64 " (0x%02x, not "
               "0x%02x)", bad, buf[bad - t->bytes], bulk_byte(t->seed, bad));
      t->bytes = bad;
      return;
    }
    t->bytes += want;
    if (want < n) {
      t->outcome = LONG;
      snprintf(t->detail, sizeof t->detail, "bytes past the %" PRIu64 " asked for", g_bytes);
      return;
    }
  }
  if (t->bytes < g_bytes) {
    t->outcome = SHORT;
    snprintf(t->detail, sizeof t->detail, "end of stream after %" PRIu64 " of %" PRIu64
             " bytes", t->bytes, g_bytes);
    return;
  }
  t->outcome = DONE;
}

static void upload(struct transfer* t, int fd, unsigned char* buf) {
  uint64_t off = 0;
  int filled = 0;
  while (off < g_bytes) {
    size_t len = g_bytes - off < BULK_CHUNK ? (size_t)(g_bytes - off) : BULK_CHUNK;
    bulk_fill(buf, len, t->seed, off, filled);
    filled = 1;
    if (send_all(fd, buf, len) < 0) {
      t->bytes = off;  // sent, not known to be right
      failed(t, E_WRITE, "write");
      return;
    }
    off += len;
  }
  char answer[128];
  size_t got = 0;
  while (got < sizeof answer - 1 && !memchr(answer, '\n', got)) {
    ssize_t r = recv(fd, answer + got, sizeof answer - 1 - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      failed(t, E_READ, "reading the answer");
      return;
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  answer[got] = 0;
  char* nl = strchr(answer, '\n');
  if (nl) *nl = 0;
  uint64_t n = 0;
  if (got == 0) {
    t->outcome = SHORT;
    snprintf(t->detail, sizeof t->detail, "no answer after sending %" PRIu64 " bytes", off);
  } else if (sscanf(answer, "OK %" SCNu64, &n) == 1 && n == g_bytes && nl) {
    t->outcome = DONE;
    t->bytes = g_bytes;
  } else {
    t->outcome = strncmp(answer, "ERR short", 9) == 0     ? SHORT
                 : strncmp(answer, "ERR corrupt", 11) == 0 ? CORRUPT
                 : strncmp(answer, "ERR long", 8) == 0     ? LONG
                                                           : BAD_ANSWER;
    // Only the answer's letters, digits and spaces: the detail goes into the JSON line.
    for (char* c = answer; *c; c++)
      if (!((*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
            *c == ' '))
        *c = '?';
    snprintf(t->detail, sizeof t->detail, "the backend answered '%.100s'", answer);
  }
}

static void* run(void* arg) {
  struct transfer* t = arg;
  unsigned char* buf = malloc(BULK_CHUNK);
  pthread_barrier_wait(&g_barrier);
  t->start_ns = now_ns();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (!buf || fd < 0) {
    failed(t, E_CONNECT, "socket");
  } else {
    struct timeval tv = {.tv_sec = (time_t)g_timeout_s,
                         .tv_usec = (suseconds_t)((g_timeout_s - (time_t)g_timeout_s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char line[80];
    int n = snprintf(line, sizeof line, "%s %" PRIu64 " %016" PRIx64 "\n",
                     g_upload ? "PUT" : "GET", g_bytes, t->seed);
    if (connect(fd, (struct sockaddr*)&g_addr, sizeof g_addr) < 0) {
      failed(t, E_CONNECT, "connect");
    } else if (send_all(fd, line, (size_t)n) < 0) {
      failed(t, E_WRITE, "sending the request");
    } else if (g_upload) {
      upload(t, fd, buf);
    } else {
      download(t, fd, buf);
    }
  }
  if (fd >= 0) close(fd);
  free(buf);
  t->end_ns = now_ns();
  return NULL;
}

static void usage(const char* argv0) {
  fprintf(stderr, "usage: %s -a ADDR -p PORT -c CONNS -b BYTES [-U] [-T TIMEOUT_SECONDS]\n",
          argv0);
  exit(2);
}

int main(int argc, char** argv) {
  const char* addr = NULL;
  int port = 0, conns = 0, opt;
  char* end;
  while ((opt = getopt(argc, argv, "a:p:c:b:UT:")) != -1) {
    switch (opt) {
      case 'a': addr = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'c': conns = atoi(optarg); break;
      case 'b':
        errno = 0;
        g_bytes = strtoull(optarg, &end, 10);
        if (errno || *end || optarg[0] == '-') usage(argv[0]);
        break;
      case 'U': g_upload = 1; break;
      case 'T': g_timeout_s = atof(optarg); break;
      default: usage(argv[0]);
    }
  }
  g_addr.sin_family = AF_INET;
  g_addr.sin_port = htons(port);
  if (!addr || port <= 0 || port > 65535 || inet_pton(AF_INET, addr, &g_addr.sin_addr) != 1 ||
      conns < 1 || conns > 1024 || g_bytes < 1 || !(g_timeout_s > 0) || optind != argc)
    usage(argv[0]);
  signal(SIGPIPE, SIG_IGN);

  struct transfer* ts = calloc((size_t)conns, sizeof *ts);
  if (!ts || pthread_barrier_init(&g_barrier, NULL, (unsigned)conns) != 0) {
    perror("bulk-load");
    return 1;
  }
  uint64_t nonce = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
  for (int i = 0; i < conns; i++) {
    ts[i].index = i;
    ts[i].seed = splitmix64(nonce + (uint64_t)i);
    if (pthread_create(&ts[i].thread, NULL, run, &ts[i]) != 0) {
      perror("bulk-load: pthread_create");
      return 1;
    }
  }
  uint64_t count[E_TIMEOUT + 1] = {0}, bytes = 0;
  int64_t first = INT64_MAX, last = 0, tmin = INT64_MAX, tmax = 0;
  const struct transfer* failure = NULL;
  for (int i = 0; i < conns; i++) {
    pthread_join(ts[i].thread, NULL);
    const struct transfer* t = &ts[i];
    count[t->outcome]++;
    bytes += t->bytes;
    int64_t took = t->end_ns - t->start_ns;
    if (t->start_ns < first) first = t->start_ns;
    if (t->end_ns > last) last = t->end_ns;
    if (took < tmin) tmin = took;
    if (took > tmax) tmax = took;
    if (t->outcome != DONE) {
      fprintf(stderr, "bulk-load: connection %d (seed %016" PRIx64 ", %s %" PRIu64
              " bytes): %s: %s\n", t->index, t->seed, g_upload ? "upload" : "download",
              g_bytes, OUTCOME[t->outcome], t->detail);
      if (!failure) failure = t;
    }
  }
  char first_error[256] = "null";
  if (failure)
    snprintf(first_error, sizeof first_error, "\"connection %d: %s: %s\"", failure->index,
             OUTCOME[failure->outcome], failure->detail);
  printf("WRKJSON {\"requests\": %" PRIu64 ", \"duration_us\": %" PRId64 ", \"bytes\": %" PRIu64
         ", \"errors_connect\": %" PRIu64 ", \"errors_read\": %" PRIu64 ", \"errors_write\": %"
         PRIu64 ", \"errors_status\": %" PRIu64 ", \"errors_timeout\": %" PRIu64
         ", \"connections\": %d, \"bytes_per_conn\": %" PRIu64 ", \"upload\": %d, \"short\": %"
         PRIu64 ", \"long\": %" PRIu64 ", \"corrupt\": %" PRIu64 ", \"bad_answer\": %" PRIu64
         ", \"transfer_us_min\": %" PRId64 ", \"transfer_us_max\": %" PRId64
         ", \"first_error\": %s}\n",
         count[DONE], (last - first) / 1000, bytes, count[E_CONNECT], count[E_READ],
         count[E_WRITE], count[SHORT] + count[LONG] + count[CORRUPT] + count[BAD_ANSWER],
         count[E_TIMEOUT], conns, g_bytes, g_upload, count[SHORT], count[LONG], count[CORRUPT],
         count[BAD_ANSWER], tmin / 1000, tmax / 1000, first_error);
  return 0;
}
