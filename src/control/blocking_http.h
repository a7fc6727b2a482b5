// The pieces of a blocking HTTP/1.1 client for the control plane's own requests (alarm
// webhooks, log uploads): connect with a bound, over TLS for https (the server's chain
// verified against the system's CA store — SSL_CERT_FILE / SSL_CERT_DIR point OpenSSL
// elsewhere — and its name or IP address checked, SNI sent for a name), send a head and a
// body (from memory or a file), read the status line. One request per connection
// (`Connection: close`).
//
// Contract: control-plane threads only (these calls block); every call is bounded by its
// timeout or deadline, name resolution included (ResolveWithin). No exceptions; errors come
// back as text naming the step and errno.
#pragma once

#include <netdb.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::control {

// The Host header's value for host:port ("[::1]:9000" for an IPv6 address).
std::string HostHeader(const std::string& host, int port);

// Milliseconds of the steady clock.
int64_t SteadyMs();

// getaddrinfo(3) for a stream socket (`hints` filled so), the seam tests replace.
using Resolver = std::function<int(const std::string& host, const std::string& service,
                                   const addrinfo& hints, addrinfo** found)>;
inline int SystemResolver(const std::string& host, const std::string& service,
                          const addrinfo& hints, addrinfo** found) {
  return getaddrinfo(host.c_str(), service.c_str(), &hints, found);
}

// host:service's addresses (free them with freeaddrinfo), or null with *error when the name
// does not resolve or no answer came within `timeout_ms`. glibc's resolver has no deadline of
// its own (resolv.conf's timeout x attempts x servers), so it runs on a thread of its own; a
// late answer is freed by that thread. Without a thread to be had, it resolves in the caller.
addrinfo* ResolveWithin(const std::string& host, const std::string& service, int timeout_ms,
                        std::string* error, const Resolver& resolver = SystemResolver);

// A connected blocking socket whose sends and receives time out after `timeout_ms` (which
// bounds the name resolution and the connect too, per address), or -1 with *error.
int ConnectBlocking(const std::string& host, int port, int timeout_ms, std::string* error);

bool SendAll(int fd, std::string_view data, std::string* error);

// One connection to an http:// or https:// server. Sends and receives time out after the
// `timeout_ms` it was opened with.
class BlockingConnection {
 public:
  // Connects to host:port (and with `tls`, completes a verified handshake), or null with
  // *error naming the step: "connect to h:p: ...", "TLS handshake with h: certificate verify
  // failed (...)".
  static std::unique_ptr<BlockingConnection> Open(const std::string& host, int port, bool tls,
                                                  int timeout_ms, std::string* error);
  ~BlockingConnection();
  BlockingConnection(const BlockingConnection&) = delete;
  BlockingConnection& operator=(const BlockingConnection&) = delete;

  bool Send(std::string_view data, std::string* error);
  // `size` bytes of the open file from its start: sendfile(2) in the clear, read and
  // encrypted in 64 KiB pieces over TLS.
  bool SendFile(int file_fd, uint64_t size, std::string* error);
  // The status code of the response ("HTTP/1.1 204 ..."), or 0 with *error; gives up at
  // `deadline_ms` (steady clock) however slowly the bytes come. When `body_start` is given
  // and the status is not 2xx, the response's first bytes after the status line (up to
  // 2 KiB, or what arrives before the server closes or the deadline) go there.
  int ReadStatus(int64_t deadline_ms, std::string* error, std::string* body_start = nullptr);
  // Waits until bytes arrive (or `deadline_ms`) and appends what one receive gives, at most
  // `limit` bytes: > 0 bytes read, 0 at the end of the stream, < 0 with *error (the deadline
  // passed, a receive error). The caller decides from the bytes when a response is complete.
  long ReadAvailable(int64_t deadline_ms, size_t limit, std::string* out, std::string* error);

 private:
  BlockingConnection(int fd, SSL_CTX* ctx, SSL* ssl) : fd_(fd), ctx_(ctx), ssl_(ssl) {}
  // recv(2) or SSL_read: > 0 bytes, 0 at the end, < 0 on an error (with *error).
  long Receive(char* buf, size_t len, std::string* error);
  bool ReadSome(int64_t deadline_ms, size_t limit, char stop_at, std::string* out,
                std::string* error);

  int fd_;
  SSL_CTX* ctx_;  // null in the clear
  SSL* ssl_;      // null in the clear
};

}  // namespace sluice::control
