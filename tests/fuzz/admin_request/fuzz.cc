// libFuzzer target for the admin endpoint's request handling (control/admin_server.h): the
// input is what a client sent, answered by AdminServer::Answer with a token configured (so
// the Authorization, Cookie and ?token= readers and the redirect builder all see it).
// Traps (abort) when an invariant fails:
//  * every answer is one HTTP/1.1 response with a status line, Content-Length equal to its
//    body's size, and Connection: close;
//  * an answer other than 401 (and 400/405/431/414/501/505 from the parser and method
//    checks) only comes when the input holds the token;
//  * a 303's Location keeps no token= parameter.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "control/admin_server.h"

namespace {

constexpr std::string_view kToken = "fuzz-token-0123456789";

sluice::control::AdminServer* Server() {
  static sluice::control::AdminServer* s = [] {
    auto* server = new sluice::control::AdminServer(
        [] { return std::vector<sluice::health::TargetGroupHealth>{}; });
    server->set_token(std::string(kToken));
    server->set_model("{}\n");
    return server;
  }();
  return s;
}

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string out = Server()->Answer(in);
  Check(out.starts_with("HTTP/1.1 ") && out.size() >= 12);
  size_t head_end = out.find("\r\n\r\n");
  Check(head_end != std::string::npos);
  std::string_view head(out.data(), head_end + 2);
  std::string_view body(out.data() + head_end + 4, out.size() - head_end - 4);
  Check(head.find("\r\nConnection: close\r\n") != std::string_view::npos);
  size_t cl = head.find("\r\nContent-Length: ");
  Check(cl != std::string_view::npos);
  Check(std::strtoull(head.data() + cl + 18, nullptr, 10) == body.size());
  const int status = std::atoi(out.c_str() + 9);
  const bool has_token = in.find(kToken) != std::string_view::npos;
  if (status == 200 || status == 302 || status == 303 || status == 404) Check(has_token);
  if (status == 303) {
    size_t loc = head.find("\r\nLocation: ");
    Check(loc != std::string_view::npos);
    std::string_view location = head.substr(loc + 12);
    location = location.substr(0, location.find("\r\n"));
    size_t q = location.find('?');
    std::string_view query = q == std::string_view::npos ? "" : location.substr(q + 1);
    while (!query.empty()) {
      std::string_view pair = query.substr(0, query.find('&'));
      Check(!pair.starts_with("token="));
      query.remove_prefix(std::min(query.size(), pair.size() + 1));
    }
  }
  return 0;
}
