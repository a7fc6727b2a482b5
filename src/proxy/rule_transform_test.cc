// The forward step of rule transforms: ApplyRuleTransforms on a split request target, then
// the upstream head AppendUpstreamRequestHead writes from it (request line and Host).
#include "proxy/rule_transform.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "balancer/picker.h"

namespace sluice::proxy {
namespace {

class FixedRng : public balancer::Rng {
 public:
  uint64_t Next() override { return 42; }
};

config::Transform MakeTransform(config::TransformType type, std::string regex,
                                std::string replace) {
  config::Transform t;
  t.type = type;
  t.rewrite = {std::move(regex), std::move(replace)};
  return t;
}

class RuleTransformTest : public testing::Test {
 protected:
  void Use(std::vector<config::Transform> transforms) {
    auto c = routing::CompiledTransforms::Compile(transforms);
    ASSERT_TRUE(c.ok()) << c.error().message;
    transforms_ = std::move(c.value());
  }

  // Routes `request` through the transforms and, when they succeed, writes the upstream head.
  // Returns the head's request line and Host value as "<request line>|<host>", or "500".
  std::string Forward(const std::string& request) {
    request_ = request;
    head_ = std::make_unique<http::RequestHead>();
    size_t scan = 0;
    const size_t len = http::FindHeadEnd(request_, &scan);
    http::ParseError error;
    if (len == 0 || http::ParseRequestHead(request_, len, head_.get(), &error) !=
                        http::ParseStatus::kComplete) {
      ADD_FAILURE() << "request does not parse";
      return "";
    }
    RequestTarget target;
    EXPECT_TRUE(SplitRequestTarget(head_->target, &target));
    std::string_view host = target.authority;
    for (const http::HeaderField& h : head_->header_span()) {
      if (host.empty() && http::EqualsIgnoreCase(h.name, "host")) host = h.value;
    }
    if (!ApplyRuleTransforms(transforms_.get(), host, &target, &result_)) return "500";
    http::Framing framing;
    EXPECT_TRUE(http::DetermineRequestFraming(*head_, &framing, &error));
    ForwardContext ctx;
    ctx.attributes = &attrs_;
    ctx.listener_port = listener_port_;
    ctx.client_ip = *IpAddress::Parse("192.0.2.1");
    ctx.fallback_host = "lb.example";
    ctx.transformed_host = result_.transformed_host;
    ctx.rng = &rng_;
    std::string out;
    EXPECT_EQ(AppendUpstreamRequestHead(*head_, target, framing, ctx, &out), 0);
    const std::string request_line = out.substr(0, out.find("\r\n"));
    std::vector<std::string> hosts;
    for (size_t pos = out.find("\r\nHost: "); pos != std::string::npos;
         pos = out.find("\r\nHost: ", pos + 1)) {
      const size_t start = pos + 8;
      hosts.push_back(out.substr(start, out.find("\r\n", start) - start));
    }
    EXPECT_EQ(hosts.size(), 1u) << out;
    return request_line + "|" + (hosts.empty() ? "" : hosts[0]);
  }

  std::unique_ptr<const routing::CompiledTransforms> transforms_;
  routing::TransformResult result_;
  config::LoadBalancerAttributes attrs_;
  std::string listener_port_ = "80";
  FixedRng rng_;
  std::string request_;
  std::unique_ptr<http::RequestHead> head_;
};

using config::TransformType;

TEST_F(RuleTransformTest, NoTransformsChangeNothing) {
  EXPECT_EQ(Forward("GET /img/a?x=1 HTTP/1.1\r\nHost: a.example\r\n\r\n"),
            "GET /img/a?x=1 HTTP/1.1|a.example");
  EXPECT_EQ(result_.status, routing::TransformStatus::kNone);
}

TEST_F(RuleTransformTest, UrlRewriteChangesTheRequestLine) {
  Use({MakeTransform(TransformType::kUrlRewrite, "^/img/(.*)$", "/static/$1")});
  EXPECT_EQ(Forward("GET /img/a.png?x=1 HTTP/1.1\r\nHost: a.example\r\n\r\n"),
            "GET /static/a.png?x=1 HTTP/1.1|a.example");
  EXPECT_EQ(result_.status, routing::TransformStatus::kSuccess);
  EXPECT_EQ(result_.transformed_uri, "/static/a.png?x=1");
  EXPECT_EQ(Forward("GET /css/a.css HTTP/1.1\r\nHost: a.example\r\n\r\n"),
            "GET /css/a.css HTTP/1.1|a.example");
  EXPECT_EQ(result_.status, routing::TransformStatus::kNoMatch);
}

TEST_F(RuleTransformTest, UrlRewriteOfAnAbsoluteFormTarget) {
  Use({MakeTransform(TransformType::kUrlRewrite, "^/(.*)$", "/v2/$1")});
  // The regex sees the origin form that is sent ("/?q" for "http://host?q").
  EXPECT_EQ(Forward("GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\n\r\n"),
            "GET /v2/x?y HTTP/1.1|a.example");
  EXPECT_EQ(Forward("GET http://a.example?q=1 HTTP/1.1\r\nHost: a.example\r\n\r\n"),
            "GET /v2/?q=1 HTTP/1.1|a.example");
}

TEST_F(RuleTransformTest, InvalidRewriteIsAFailure) {
  Use({MakeTransform(TransformType::kUrlRewrite, "^/img/", "img/")});
  EXPECT_EQ(Forward("GET /img/a HTTP/1.1\r\nHost: a.example\r\n\r\n"), "500");
  EXPECT_EQ(result_.status, routing::TransformStatus::kFailed);
}

TEST_F(RuleTransformTest, HostRewriteKeepsThePortRules) {
  Use({MakeTransform(TransformType::kHostHeaderRewrite, "^www\\.(.+)$", "internal.$1")});
  EXPECT_EQ(Forward("GET / HTTP/1.1\r\nHost: www.a.example\r\n\r\n"),
            "GET / HTTP/1.1|internal.a.example");
  EXPECT_EQ(result_.transformed_host, "internal.a.example");
  // The regex sees the host without its port; the port part follows the usual table.
  EXPECT_EQ(Forward("GET / HTTP/1.1\r\nHost: www.a.example:80\r\n\r\n"),
            "GET / HTTP/1.1|internal.a.example");
  EXPECT_EQ(Forward("GET / HTTP/1.1\r\nHost: www.a.example:9090\r\n\r\n"),
            "GET / HTTP/1.1|internal.a.example:9090");
  listener_port_ = "8080";
  EXPECT_EQ(Forward("GET / HTTP/1.1\r\nHost: www.a.example\r\n\r\n"),
            "GET / HTTP/1.1|internal.a.example:8080");
  // Absolute form: the authority is the host.
  EXPECT_EQ(Forward("GET http://www.b.example/p HTTP/1.1\r\nHost: x.example\r\n\r\n"),
            "GET /p HTTP/1.1|internal.b.example:8080");
  // No match: the Host is what it would have been.
  EXPECT_EQ(Forward("GET / HTTP/1.1\r\nHost: api.a.example:9090\r\n\r\n"),
            "GET / HTTP/1.1|api.a.example:9090");
  EXPECT_EQ(result_.transformed_host, "");
}

TEST_F(RuleTransformTest, HostRewriteWithPreservedHost) {
  attrs_.preserve_host_header = true;
  Use({MakeTransform(TransformType::kHostHeaderRewrite, "^www\\.(.+)$", "$1")});
  EXPECT_EQ(Forward("GET / HTTP/1.1\r\nHost: www.a.example:80\r\n\r\n"),
            "GET / HTTP/1.1|a.example:80");
  // Several Host fields become one.
  EXPECT_EQ(Forward("GET / HTTP/1.1\r\nHost: www.a.example\r\nHost: www.b.example\r\n\r\n"),
            "GET / HTTP/1.1|a.example");
}

TEST_F(RuleTransformTest, HostlessHttp10IsNotRewritten) {
  Use({MakeTransform(TransformType::kHostHeaderRewrite, "^(.*)$", "x.example")});
  EXPECT_EQ(Forward("GET / HTTP/1.0\r\n\r\n"), "GET / HTTP/1.1|lb.example");
  EXPECT_EQ(result_.status, routing::TransformStatus::kNoMatch);
}

TEST_F(RuleTransformTest, BothRewrites) {
  Use({MakeTransform(TransformType::kHostHeaderRewrite, "^(.+)\\.old\\.example$", "$1.new.example"),
       MakeTransform(TransformType::kUrlRewrite, "^/v1/", "/v2/")});
  EXPECT_EQ(Forward("POST /v1/items?id=3 HTTP/1.1\r\nHost: api.old.example\r\n"
                    "Content-Length: 0\r\n\r\n"),
            "POST /v2/items?id=3 HTTP/1.1|api.new.example");
  EXPECT_EQ(result_.status, routing::TransformStatus::kSuccess);
}

}  // namespace
}  // namespace sluice::proxy
