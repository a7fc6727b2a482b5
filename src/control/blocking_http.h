// The pieces of a blocking HTTP/1.1 client for the control plane's own requests (alarm
// webhooks, log uploads): connect with a bound, send a head and a body (from memory or a
// file), read the status line. One request per connection (`Connection: close`).
//
// Contract: control-plane threads only (these calls block); every call is bounded by its
// timeout or deadline except name resolution (use an IP address where that matters). No
// exceptions; errors come back as text naming the step and errno.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::control {

// Milliseconds of the steady clock.
int64_t SteadyMs();

// A connected blocking socket whose sends and receives time out after `timeout_ms` (which
// bounds the connect too, per address), or -1 with *error.
int ConnectBlocking(const std::string& host, int port, int timeout_ms, std::string* error);

bool SendAll(int fd, std::string_view data, std::string* error);

// Sends `size` bytes of the open file `file_fd` from its start (sendfile(2)); false with
// *error when the file is shorter than `size` or a send fails.
bool SendFileAll(int fd, int file_fd, uint64_t size, std::string* error);

// The status code of the response ("HTTP/1.1 204 ..."), or 0 with *error; gives up at
// `deadline_ms` (steady clock) however slowly the bytes come. When `body_start` is given and
// the status is not 2xx, the response's first bytes after the status line (up to 2 KiB, or
// what arrives before the server closes or the deadline) go there, for the error message.
int ReadStatus(int fd, int64_t deadline_ms, std::string* error, std::string* body_start = nullptr);

}  // namespace sluice::control
