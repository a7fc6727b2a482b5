#include "routing/redirect.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::routing {
namespace {

std::string Build(const config::RedirectConfig& cfg, const RedirectInputs& in) {
  std::string out = "garbage";
  if (!BuildRedirectLocation(cfg, in, &out)) return "<too long>";
  return out;
}

const RedirectInputs kHttp{"http", "example.com", "80", "/orig/path", "a=1&b=2"};
const RedirectInputs kHttps{"https", "example.com", "443", "/orig/path", ""};

TEST(RedirectTest, DefaultsKeepEverythingAndWriteThePort) {
  config::RedirectConfig cfg;
  EXPECT_EQ(Build(cfg, kHttp), "http://example.com:80/orig/path?a=1&b=2");
  EXPECT_EQ(Build(cfg, kHttps), "https://example.com:443/orig/path");
}

TEST(RedirectTest, HttpToHttps) {
  config::RedirectConfig cfg;
  cfg.protocol = "HTTPS";
  cfg.port = "443";
  EXPECT_EQ(Build(cfg, kHttp), "https://example.com:443/orig/path?a=1&b=2");
  // Keeping #{port} on a scheme change keeps the listener's port.
  cfg.port = "#{port}";
  EXPECT_EQ(Build(cfg, kHttp), "https://example.com:80/orig/path?a=1&b=2");
}

TEST(RedirectTest, NonDefaultPortsAreWritten) {
  config::RedirectConfig cfg;
  RedirectInputs in = kHttp;
  in.port = "8080";
  EXPECT_EQ(Build(cfg, in), "http://example.com:8080/orig/path?a=1&b=2");
  cfg.port = "443";  // 443 is only the default for https
  EXPECT_EQ(Build(cfg, kHttp), "http://example.com:443/orig/path?a=1&b=2");
  cfg.protocol = "HTTP";
  cfg.port = "80";
  EXPECT_EQ(Build(cfg, kHttps), "http://example.com:80/orig/path");
}

TEST(RedirectTest, PathKeywordHasNoLeadingSlash) {
  config::RedirectConfig cfg;
  cfg.path = "/new/#{path}";
  EXPECT_EQ(Build(cfg, kHttp), "http://example.com:80/new/orig/path?a=1&b=2");
  cfg.path = "/static";
  EXPECT_EQ(Build(cfg, kHttp), "http://example.com:80/static?a=1&b=2");
  RedirectInputs root = kHttp;
  root.path = "/";
  cfg.path = "/#{path}";
  EXPECT_EQ(Build(cfg, root), "http://example.com:80/?a=1&b=2");
}

TEST(RedirectTest, HostAndPortKeywordsInPath) {
  config::RedirectConfig cfg;
  cfg.host = "www.#{host}";
  cfg.path = "/#{host}/#{port}/#{path}";
  EXPECT_EQ(Build(cfg, kHttp), "http://www.example.com:80/example.com/80/orig/path?a=1&b=2");
}

TEST(RedirectTest, QueryCanUseEveryKeyword) {
  config::RedirectConfig cfg;
  cfg.query = "p=#{protocol}&h=#{host}&o=#{port}&u=#{path}&q=#{query}";
  EXPECT_EQ(Build(cfg, kHttp),
            "http://example.com:80/orig/path?p=http&h=example.com&o=80&u=orig/path&q=a=1&b=2");
}

TEST(RedirectTest, EmptyQueryDropsQuestionMark) {
  config::RedirectConfig cfg;
  EXPECT_EQ(Build(cfg, kHttps), "https://example.com:443/orig/path");
  cfg.query = "";
  EXPECT_EQ(Build(cfg, kHttp), "http://example.com:80/orig/path");
  cfg.query = "x=#{query}";
  EXPECT_EQ(Build(cfg, kHttps), "https://example.com:443/orig/path?x=");
}

TEST(RedirectTest, UnknownKeywordsAreLiteral) {
  config::RedirectConfig cfg;
  cfg.path = "/#{nope}/#{path";
  EXPECT_EQ(Build(cfg, kHttps), "https://example.com:443/#{nope}/#{path");
}

TEST(RedirectTest, NoPercentEncodingIsApplied) {
  config::RedirectConfig cfg;
  RedirectInputs in = kHttp;
  in.path = "/a%20b/c d";
  in.query = "q=%2F";
  EXPECT_EQ(Build(cfg, in), "http://example.com:80/a%20b/c d?q=%2F");
}

TEST(RedirectTest, EightKibLimit) {
  config::RedirectConfig cfg;
  RedirectInputs in = kHttps;  // "https://example.com:443" is 23 bytes
  std::string path = "/" + std::string(kMaxRedirectLocation - 24, 'p');
  in.path = path;
  std::string out;
  ASSERT_TRUE(BuildRedirectLocation(cfg, in, &out));
  EXPECT_EQ(out.size(), kMaxRedirectLocation);
  path += "p";
  in.path = path;
  EXPECT_FALSE(BuildRedirectLocation(cfg, in, &out));
  EXPECT_LE(out.size(), kMaxRedirectLocation + 8);
  // At the limit with an empty query the temporary '?' must not count.
  in.path = std::string_view(path).substr(0, path.size() - 1);
  in.query = "";
  EXPECT_TRUE(BuildRedirectLocation(cfg, in, &out));
  in.query = "x";
  EXPECT_FALSE(BuildRedirectLocation(cfg, in, &out));
  // Huge inputs stop early.
  std::string huge(1 << 20, 'q');
  in.query = huge;
  EXPECT_FALSE(BuildRedirectLocation(cfg, in, &out));
  EXPECT_LT(out.capacity(), 2 * kMaxRedirectLocation + 64);
}

}  // namespace
}  // namespace sluice::routing
