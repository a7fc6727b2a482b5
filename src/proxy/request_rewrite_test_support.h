// The fixture of the upstream request rewrite's tests: a request parsed and forwarded with a
// ForwardContext the test sets field by field, a scripted random generator and a fixed clock.
// Included by request_rewrite_test.cc and request_rewrite_tls_test.cc only.
#ifndef SLUICE_PROXY_REQUEST_REWRITE_TEST_SUPPORT_H_
#define SLUICE_PROXY_REQUEST_REWRITE_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/desync.h"
#include "proxy/request_rewrite.h"

namespace sluice::proxy::rewrite_test {

using config::XffProcessingMode;

// A scripted generator: returns the given values in turn.
class ScriptedRng : public balancer::Rng {
 public:
  explicit ScriptedRng(std::vector<uint64_t> values) : values_(std::move(values)) {}
  uint64_t Next() override {
    ++calls_;
    return values_[i_++ % values_.size()];
  }
  int calls() const { return calls_; }

 private:
  std::vector<uint64_t> values_;
  size_t i_ = 0;
  int calls_ = 0;
};

constexpr int64_t kNow = 0x63441c4a;  // 2022-10-10T13:21:14Z
constexpr char kFreshRoot[] = "Root=1-63441c4a-12456789abcdef0123456789";
constexpr char kSelf[] = "Self=1-63441c4a-12456789abcdef0123456789";
constexpr char kIncomingRoot[] = "Root=1-67891233-abcdef012345678912345678";
constexpr char kLbName[] = "my-lb-1234.us-east-1.elb.amazonaws.com";

// Lines of a head (without the request line and the final empty line).
inline std::vector<std::string> HeaderLines(const std::string& head) {
  std::vector<std::string> lines;
  size_t pos = head.find("\r\n");
  if (pos == std::string::npos) return lines;
  pos += 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos || end == pos) break;
    lines.push_back(head.substr(pos, end - pos));
    pos = end + 2;
  }
  return lines;
}

// Values of the header lines named exactly `name` in an upstream head.
inline std::vector<std::string> Values(const std::string& head, std::string_view name) {
  std::vector<std::string> out;
  std::string prefix = std::string(name) + ": ";
  for (const std::string& line : HeaderLines(head)) {
    if (line.compare(0, prefix.size(), prefix) == 0) out.push_back(line.substr(prefix.size()));
  }
  return out;
}

// True when every line of `head` ends with CRLF, holds no other CR or LF, and no line but the
// request line starts with whitespace (no obs-fold sent upstream).
inline ::testing::AssertionResult IsCleanHead(const std::string& head) {
  size_t pos = 0;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) return ::testing::AssertionFailure() << "unterminated line";
    std::string line = head.substr(pos, end - pos);
    if (line.find_first_of("\r\n") != std::string::npos) {
      return ::testing::AssertionFailure()
             << "CR or LF inside line " << testing::PrintToString(line) << " of "
             << testing::PrintToString(head);
    }
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      return ::testing::AssertionFailure() << "continuation line " << testing::PrintToString(line)
                                           << " in " << testing::PrintToString(head);
    }
    pos = end + 2;
  }
  return ::testing::AssertionSuccess();
}

class RewriteTest : public testing::Test {
 protected:
  struct Result {
    int status = -1;
    std::string out;
  };

  Result Forward(const std::string& request) {
    request_ = request;
    head_ = std::make_unique<http::RequestHead>();
    Result r;
    size_t scan = 0;
    size_t len = http::FindHeadEnd(request_, &scan);
    http::ParseError error;
    if (len == 0 || http::ParseRequestHead(request_, len, head_.get(), &error) !=
                        http::ParseStatus::kComplete) {
      ADD_FAILURE() << "request does not parse: " << error.reason;
      return r;
    }
    RequestTarget target;
    if (!SplitRequestTarget(head_->target, &target)) {
      ADD_FAILURE() << "bad target " << head_->target;
      return r;
    }
    http::Framing framing;
    if (!http::DetermineRequestFraming(*head_, &framing, &error)) {
      ADD_FAILURE() << "bad framing: " << error.reason;
      return r;
    }
    ForwardContext ctx;
    ctx.attributes = &attrs_;
    ctx.listener_port = listener_port_;
    ctx.listener_https = https_;
    // As DownstreamConnection::HandshakeDone: the TLS facts, then the mutual-TLS lines.
    tls_header_lines_.clear();
    if (!tls_version_.empty()) {
      ctx.tls_names = &tls_names_;
      AppendTlsFactLines(tls_names_, tls_version_, tls_cipher_, &tls_header_lines_);
    }
    tls_header_lines_ += mtls_headers_;
    ctx.tls_header_lines = tls_header_lines_;
    ctx.mtls_names = mtls_names_;
    ctx.client_ip = *IpAddress::Parse(client_ip_);
    ctx.client_port = client_port_;
    ctx.fallback_host = fallback_host_;
    if (fallback_ip_) ctx.fallback_ip = &*fallback_ip_;
    ctx.values_without_line_breaks = values_without_line_breaks_;
    if (classify_) {
      // As the proxy does: the flags follow from the request's own desync verdict.
      ApplyDesyncVerdict(http::Worse(head_->wire_verdict,
                                     http::ClassifyRequest(head_->method, head_->target,
                                                           head_->version, head_->header_span())),
                         &ctx);
    }
    ctx.unix_seconds = kNow;
    ctx.rng = &rng_;
    r.status = AppendUpstreamRequestHead(*head_, target, framing, ctx, &r.out);
    return r;
  }

  // Forwards and returns the values of one header in the upstream head.
  std::vector<std::string> ForwardedValues(const std::string& request, std::string_view name) {
    Result r = Forward(request);
    EXPECT_EQ(r.status, 0);
    return Values(r.out, name);
  }

  std::string HostSent(const std::string& request) {
    std::vector<std::string> v = ForwardedValues(request, "Host");
    EXPECT_EQ(v.size(), 1u) << testing::PrintToString(v);
    return v.empty() ? "" : v[0];
  }

  config::LoadBalancerAttributes attrs_;
  std::string tls_version_;
  std::string tls_cipher_;
  config::ListenerAttributes tls_names_;  // the header names used when tls_version_ is set
  const config::ListenerAttributes* mtls_names_ = nullptr;
  std::string mtls_headers_;
  std::string tls_header_lines_;
  std::string listener_port_ = "80";
  bool https_ = false;
  std::string client_ip_ = "203.0.113.7";
  std::string_view fallback_host_ = kLbName;
  std::optional<IpAddress> fallback_ip_;
  bool values_without_line_breaks_ = false;
  bool classify_ = false;  // set the verdict flags from ClassifyRequest, as the proxy does
  uint16_t client_port_ = 50000;
  ScriptedRng rng_{{0x12456789, 0xabcdef0123456789}};
  std::string request_;
  std::unique_ptr<http::RequestHead> head_;
};

}  // namespace sluice::proxy::rewrite_test

#endif  // SLUICE_PROXY_REQUEST_REWRITE_TEST_SUPPORT_H_
