#include "control/blocking_http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "tls/openssl_error.h"

namespace sluice::control {
namespace {

// Waits for `fd` to be readable until `deadline_ms`: 1 readable, 0 timed out, -1 error.
int WaitReadable(int fd, int64_t deadline_ms) {
  while (true) {
    const int64_t left = deadline_ms - SteadyMs();
    if (left <= 0) return 0;
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    return ready < 0 ? -1 : (ready == 0 ? 0 : 1);
  }
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// A client context verifying against the default CA store, TLS 1.2 at least.
SSL_CTX* NewClientContext(std::string* error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_default_verify_paths(ctx) != 1) {
    *error = "TLS: " + tls::TakeOpenSslError("cannot create a client context");
    SSL_CTX_free(ctx);
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return ctx;
}

}  // namespace

std::string HostHeader(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

addrinfo* ResolveWithin(const std::string& host, const std::string& service, int timeout_ms,
                        std::string* error, const Resolver& resolver) {
  // What the resolving thread and the waiter share; the last of the two to let go frees it.
  struct Lookup {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    bool abandoned = false;  // the waiter gave up: the thread frees the answer
    int rc = 0;
    addrinfo* found = nullptr;
  };
  auto lookup = std::make_shared<Lookup>();
  auto resolve = [lookup, host, service, resolver] {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const int rc = resolver(host, service, hints, &found);
    std::lock_guard<std::mutex> lock(lookup->mu);
    if (lookup->abandoned) {
      if (rc == 0 && found != nullptr) freeaddrinfo(found);
      return;
    }
    lookup->rc = rc;
    lookup->found = rc == 0 ? found : nullptr;
    lookup->done = true;
    lookup->cv.notify_all();
  };
  if (IsIpAddress(host)) {
    resolve();  // an address is only parsed: no thread needed
  } else {
    try {
      std::thread(resolve).detach();
    } catch (const std::system_error&) {
      resolve();  // no thread to be had: resolve here, unbounded as getaddrinfo is
    }
  }
  std::unique_lock<std::mutex> lock(lookup->mu);
  if (!lookup->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return lookup->done; })) {
    lookup->abandoned = true;
    *error = "cannot resolve " + host + ": no answer within " + std::to_string(timeout_ms) + " ms";
    return nullptr;
  }
  if (lookup->rc != 0) {
    *error = "cannot resolve " + host + ": " + gai_strerror(lookup->rc);
    return nullptr;
  }
  return lookup->found;
}

int ConnectBlocking(const std::string& host, int port, int timeout_ms, std::string* error) {
  const std::string service = std::to_string(port);
  addrinfo* found = ResolveWithin(host, service, timeout_ms, error);
  if (found == nullptr) return -1;
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      *error = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    // SO_SNDTIMEO also bounds connect() on Linux.
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      *error = "connect to " + host + ":" + service + ": " + std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

bool SendAll(int fd, std::string_view data, std::string* error) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = std::string("send: ") + (n < 0 ? std::strerror(errno) : "closed");
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::unique_ptr<BlockingConnection> BlockingConnection::Open(const std::string& host, int port,
                                                             bool tls, int timeout_ms,
                                                             std::string* error) {
  const int fd = ConnectBlocking(host, port, timeout_ms, error);
  if (fd < 0) return nullptr;
  if (!tls)
    return std::unique_ptr<BlockingConnection>(new BlockingConnection(fd, nullptr, nullptr));
  SSL_CTX* ctx = NewClientContext(error);
  SSL* ssl = ctx == nullptr ? nullptr : SSL_new(ctx);
  // The connection owns fd, ctx and ssl from here: its destructor frees what is set.
  std::unique_ptr<BlockingConnection> c(new BlockingConnection(fd, ctx, ssl));
  if (ctx == nullptr) return nullptr;
  const bool ip = IsIpAddress(host);
  X509_VERIFY_PARAM* param = ssl == nullptr ? nullptr : SSL_get0_param(ssl);
  const bool set_up = ssl != nullptr && SSL_set_fd(ssl, fd) == 1 &&
                      (ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1
                          : SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 &&
                                SSL_set1_host(ssl, host.c_str()) == 1);
  if (!set_up) {
    *error = "TLS: " + tls::TakeOpenSslError("cannot set up a session");
    return nullptr;
  }
  if (SSL_connect(ssl) != 1) {
    const long verify = SSL_get_verify_result(ssl);
    *error = "TLS handshake with " + host + ": " + tls::TakeOpenSslError("failed");
    if (verify != X509_V_OK) {
      *error += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    }
    return nullptr;
  }
  return c;
}

BlockingConnection::~BlockingConnection() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // no close_notify: Connection: close ends it
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
}

bool BlockingConnection::Send(std::string_view data, std::string* error) {
  if (ssl_ == nullptr) return SendAll(fd_, data, error);
  size_t sent = 0;
  while (sent < data.size()) {
    size_t n = 0;
    errno = 0;
    if (SSL_write_ex(ssl_, data.data() + sent, data.size() - sent, &n) != 1) {
      *error = "TLS send: " + tls::TakeOpenSslError(errno != 0 ? std::strerror(errno) : "failed");
      return false;
    }
    sent += n;
  }
  return true;
}

bool BlockingConnection::SendFile(int file_fd, uint64_t size, std::string* error) {
  if (ssl_ == nullptr) {
    off_t offset = 0;
    while (static_cast<uint64_t>(offset) < size) {
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(size - offset, 1 << 20));
      ssize_t n = sendfile(fd_, file_fd, &offset, chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        *error = std::string("send: ") + std::strerror(errno);
        return false;
      }
      if (n == 0) {
        *error = "the file is shorter than announced";
        return false;
      }
    }
    return true;
  }
  auto buf = std::make_unique<char[]>(64 * 1024);
  uint64_t done = 0;
  while (done < size) {
    ssize_t n =
        pread(file_fd, buf.get(), static_cast<size_t>(std::min<uint64_t>(64 * 1024, size - done)),
              static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = n < 0 ? std::string("read: ") + std::strerror(errno)
                     : "the file is shorter than announced";
      return false;
    }
    if (!Send(std::string_view(buf.get(), static_cast<size_t>(n)), error)) return false;
    done += static_cast<uint64_t>(n);
  }
  return true;
}

long BlockingConnection::Receive(char* buf, size_t len, std::string* error) {
  while (true) {
    if (ssl_ == nullptr) {
      ssize_t n = recv(fd_, buf, len, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) *error = std::string("no response: ") + std::strerror(errno);
      return n;
    }
    size_t n = 0;
    errno = 0;
    if (SSL_read_ex(ssl_, buf, len, &n) == 1) return static_cast<long>(n);
    const int why = SSL_get_error(ssl_, 0);
    if (why == SSL_ERROR_ZERO_RETURN) return 0;
    *error =
        "no response: " + tls::TakeOpenSslError(errno != 0 ? std::strerror(errno) : "TLS error");
    return -1;
  }
}

bool BlockingConnection::ReadSome(int64_t deadline_ms, size_t limit, char stop_at, std::string* out,
                                  std::string* error) {
  char buf[512];
  while (out->size() < limit) {
    // Bytes OpenSSL already decrypted are not visible to poll(2).
    if (ssl_ == nullptr || SSL_pending(ssl_) == 0) {
      const int ready = WaitReadable(fd_, deadline_ms);
      if (ready <= 0) {
        *error = ready == 0 ? "no response in time" : std::string("poll: ") + std::strerror(errno);
        return false;
      }
    }
    const long n = Receive(buf, std::min(sizeof(buf), limit - out->size()), error);
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
    if (stop_at != '\0' && out->find(stop_at) != std::string::npos) return true;
  }
  return true;
}

int BlockingConnection::ReadStatus(int64_t deadline_ms, std::string* error,
                                   std::string* body_start) {
  std::string got;
  if (!ReadSome(deadline_ms, 512, '\n', &got, error)) return 0;
  const std::string_view line(got);
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ') {
    *error = "not an HTTP response";
    return 0;
  }
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') {
      *error = "bad status line";
      return 0;
    }
    status = status * 10 + (line[i] - '0');
  }
  if (body_start != nullptr && (status < 200 || status > 299)) {
    std::string ignored;
    ReadSome(deadline_ms, 2048, '\0', &got, &ignored);
    const size_t nl = got.find('\n');
    *body_start = got.substr(nl + 1);
  }
  return status;
}

long BlockingConnection::ReadAvailable(int64_t deadline_ms, size_t limit, std::string* out,
                                       std::string* error) {
  // Bytes OpenSSL already decrypted are not visible to poll(2).
  if (ssl_ == nullptr || SSL_pending(ssl_) == 0) {
    const int ready = WaitReadable(fd_, deadline_ms);
    if (ready <= 0) {
      *error = ready == 0 ? "no response in time" : std::string("poll: ") + std::strerror(errno);
      return -1;
    }
  }
  char buf[16 * 1024];
  const long n = Receive(buf, std::min(sizeof(buf), limit), error);
  if (n > 0) out->append(buf, static_cast<size_t>(n));
  return n;
}

}  // namespace sluice::control
