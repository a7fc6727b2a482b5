// ApiServer::Answer: the HTTP side of the API over a real Service (no sockets).
#include "api/api_server.h"

#include <gtest/gtest.h>

#include "config/arn.h"
#include "config/loader.h"

namespace sluice::api {
namespace {

config::Config SmallConfig() {
  auto r = config::LoadConfigFromString(
      "TargetGroups: [{Name: a, Protocol: HTTP, Port: 80}]\n"
      "TrustStores: [{Name: ts, CaCertificatesBundleFile: /nonexistent/ca.pem}]\n",
      "t.yaml");
  return std::get<config::Config>(r);
}

class ApiServerTest : public ::testing::Test {
 protected:
  ApiServerTest()
      : service_(SmallConfig(), Hooks()),
        server_(
            &service_,
            [this](const HttpCall&) -> ApiResult<std::string> {
              if (!signed_) return SenderError("MissingAuthenticationToken", "Missing", 403);
              return std::string("AKIATEST");
            },
            [this](const std::string&, const QueryParams& p, const HttpCall&) -> ApiResult<bool> {
              if (deny_) return SenderError("AccessDenied", "no", 403);
              return true;
            },
            [this](const AuditRecord& r) { audit_.push_back(AuditJson(r)); }) {}

  static ServiceHooks Hooks() {
    ServiceHooks h;
    h.health = [] { return std::vector<health::TargetGroupHealth>{}; };
    h.apply = [](const config::Config&, const std::string&, const ChangeScope&) -> ApiResult<bool> {
      return true;
    };
    h.presign = [](std::string_view, std::string_view, std::string_view origin,
                   std::string_view path) { return std::string(origin) + std::string(path); };
    return h;
  }

  std::string Post(const std::string& body, const std::string& extra = "") {
    return server_.Answer("POST / HTTP/1.1\r\nHost: x\r\n" + extra +
                              "Content-Type: application/x-www-form-urlencoded\r\n"
                              "Content-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body,
                          "127.0.0.1");
  }

  Service service_;
  ApiServer server_;
  bool signed_ = true;
  bool deny_ = false;
  std::vector<std::string> audit_;
};

TEST_F(ApiServerTest, AnswersWithRequestIdAndXml) {
  std::string r = Post("Action=DescribeTargetGroups&Version=2015-12-01");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("x-amzn-RequestId: "), std::string::npos);
  EXPECT_NE(r.find("<TargetGroupName>a</TargetGroupName>"), std::string::npos);
  ASSERT_EQ(audit_.size(), 1u);
  EXPECT_NE(audit_[0].find("\"eventName\":\"DescribeTargetGroups\""), std::string::npos);
}

TEST_F(ApiServerTest, GetWithQueryString) {
  std::string r = server_.Answer(
      "GET /?Action=DescribeTargetGroups&Version=2015-12-01 HTTP/1.1\r\nHost: x\r\n\r\n", "::1");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
}

TEST_F(ApiServerTest, UnsignedAndDeniedCallsNeverReachTheService) {
  signed_ = false;
  std::string r = Post("Action=DeleteTargetGroup&Version=2015-12-01&TargetGroupArn=x");
  EXPECT_EQ(r.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("<Code>MissingAuthenticationToken</Code>"), std::string::npos);
  signed_ = true;
  deny_ = true;
  r = Post("Action=DescribeTargetGroups&Version=2015-12-01");
  EXPECT_NE(r.find("<Code>AccessDenied</Code>"), std::string::npos) << r;
  EXPECT_NE(audit_.back().find("\"errorCode\":\"AccessDenied\""), std::string::npos);
}

TEST_F(ApiServerTest, AmbiguousHeadsAndChunkedBodiesAreRefused) {
  std::string r = Post("Action=DescribeTargetGroups&Version=2015-12-01", "X-Odd : 1\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
  EXPECT_NE(r.find("a header name ends in whitespace"), std::string::npos);
  EXPECT_NE(r.find("<Code>MalformedQueryString</Code>"), std::string::npos);
  r = server_.Answer("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                     "127.0.0.1");
  EXPECT_EQ(r.rfind("HTTP/1.1 411", 0), 0u) << r;
  r = server_.Answer("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "127.0.0.1");
  EXPECT_EQ(r.rfind("HTTP/1.1 405", 0), 0u) << r;
}

TEST_F(ApiServerTest, AuditRedactsSecrets) {
  Post("Action=DescribeTargetGroups&Version=2015-12-01&ClientSecret=hunter2&Token=t0k");
  ASSERT_FALSE(audit_.empty());
  EXPECT_EQ(audit_.back().find("hunter2"), std::string::npos) << audit_.back();
  EXPECT_EQ(audit_.back().find("t0k"), std::string::npos);
  EXPECT_EQ(audit_.back().back(), '\n');
  EXPECT_EQ(audit_.back().find('\n'), audit_.back().size() - 1);
}

// The trust-store content path: a GET, authorized as the Action it names, answered by
// Service::Content; the Location that points to it names the Host the caller used.
TEST_F(ApiServerTest, TrustStoreContentIsItsOwnPath) {
  const std::string arn = config::TrustStoreArn(service_.CurrentConfig().account, "ts");
  std::string r = Post(
      "Action=GetTrustStoreCaCertificatesBundle&Version=2015-12-01"
      "&TrustStoreArn=" +
      arn);
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("<Location>http://x/trust-store-content?Action="
                   "GetTrustStoreCaCertificatesBundle&amp;TrustStoreArn=arn%3Aaws"),
            std::string::npos)
      << r;
  const std::string get =
      "GET /trust-store-content?Action=GetTrustStoreCaCertificatesBundle&Version=2015-12-01"
      "&TrustStoreArn=" +
      arn + " HTTP/1.1\r\nHost: x\r\n\r\n";
  r = server_.Answer(get, "127.0.0.1");  // the bundle's file is missing: a server fault
  EXPECT_EQ(r.rfind("HTTP/1.1 500", 0), 0u) << r;
  EXPECT_NE(r.find("bundle cannot be read: cannot open"), std::string::npos) << r;
  deny_ = true;
  r = server_.Answer(get, "127.0.0.1");
  EXPECT_NE(r.find("<Code>AccessDenied</Code>"), std::string::npos) << r;
  deny_ = false;
  signed_ = false;
  r = server_.Answer(get, "127.0.0.1");
  EXPECT_NE(r.find("<Code>MissingAuthenticationToken</Code>"), std::string::npos) << r;
  signed_ = true;
  r = server_.Answer("POST /trust-store-content HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                     "127.0.0.1");
  EXPECT_EQ(r.rfind("HTTP/1.1 405", 0), 0u) << r;
  // A Host that is not a plain host[:port] is not put into a URL.
  r = server_.Answer(
      "GET /?Action=GetTrustStoreCaCertificatesBundle&Version=2015-12-01&TrustStoreArn=" + arn +
          " HTTP/1.1\r\nHost: a\"b\r\n\r\n",
      "127.0.0.1");
  EXPECT_NE(r.find("<Location>http://127.0.0.1:0/trust-store-content?"), std::string::npos) << r;
  // As a URL parser sends it: the name in lowercase, no default port.
  r = server_.Answer(
      "GET /?Action=GetTrustStoreCaCertificatesBundle&Version=2015-12-01&TrustStoreArn=" + arn +
          " HTTP/1.1\r\nHost: API.Example:80\r\n\r\n",
      "127.0.0.1");
  EXPECT_NE(r.find("<Location>http://api.example/trust-store-content?"), std::string::npos) << r;
}

}  // namespace
}  // namespace sluice::api
