// A built-in HTTP/1.1 demo/echo target (like the `whoami` images), behind
// `sluice demo-target --listen 127.0.0.1:3001 --name auth-1`. Used by users to try the balancer
// and by integration tests as a controllable backend.
//
// Behaviour (one epoll loop, keep-alive, pipelining, Content-Length and chunked request bodies):
//   GET <health_path>        200 text/plain "ok\n"
//   anything else            200 text/plain echo: "target: <name>", "addr: <addr:port>",
//                            "client: <ip:port>", a blank line, the request line and header lines
//                            as received, then "body-bytes: N". Header X-Sluice-Target: <name>.
// Query parameters on any path: status=NNN (200..599), delay_ms=N, bytes=N (body of N 'x'
// characters, streamed), chunked=1 (chunked response), close=1 (Connection: close).
// Malformed requests get 400 and the connection is closed; request heads are capped at 64 KiB.
#pragma once

#include <atomic>
#include <string>

namespace sluice::app {

struct DemoTargetOptions {
  std::string listen_address = "127.0.0.1";  // numeric IPv4/IPv6 (brackets allowed) or host name
  int port = 0;                              // 0 = pick a free port (then print it)
  std::string name;                          // identifies this target in responses
  std::string health_path = "/health";
};

// Serves until SIGTERM/SIGINT (or, when stop != nullptr, until *stop becomes true; signal
// handlers are only installed when stop == nullptr). Prints one line
// "demo-target <name> listening on <addr>:<port>" to stdout (flushed) once listening.
// If bound_port != nullptr it receives the bound port once listening, or -1 if setup failed.
// Returns a process exit code (0 after a clean stop); errors (e.g. port in use) are printed to
// stderr with the address.
int RunDemoTarget(const DemoTargetOptions& options, const std::atomic<bool>* stop = nullptr,
                  std::atomic<int>* bound_port = nullptr);

}  // namespace sluice::app
