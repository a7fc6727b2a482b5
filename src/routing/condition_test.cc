// Each condition type through RuleTable: one rule (priority 1) over the default (0).
#include "routing/condition.h"

#include <gtest/gtest.h>

#include <string>

#include "routing/rule_table.h"
#include "routing/test_util.h"

namespace sluice::routing {
namespace {

using testing::HeaderCond;
using testing::HostCond;
using testing::MakeListener;
using testing::MakeRule;
using testing::MethodCond;
using testing::PathCond;
using testing::QueryCond;
using testing::Request;
using testing::SourceIpCond;

class ConditionTest : public ::testing::Test {
 protected:
  void Use(config::Condition c) {
    auto t = RuleTable::Compile(MakeListener({MakeRule(1, {std::move(c)})}));
    ASSERT_TRUE(t.ok()) << t.error().message;
    table_ = std::move(t.value());
  }
  bool Matches(const Request& r) { return testing::MatchPriority(*table_, r) == 1; }
  bool Host(std::string h) {
    Request r;
    r.host = std::move(h);
    return Matches(r);
  }
  bool Path(std::string p) {
    Request r;
    r.path = std::move(p);
    return Matches(r);
  }
  bool Query(std::string q) {
    Request r;
    r.query = std::move(q);
    return Matches(r);
  }
  bool Ip(std::string ip) {
    Request r;
    r.source_ip = std::move(ip);
    return Matches(r);
  }
  std::unique_ptr<RuleTable> table_;
};

// ---- host-header ----

TEST(HostWithoutPortTest, StripsPortKeepsBrackets) {
  EXPECT_EQ(HostWithoutPort("example.com"), "example.com");
  EXPECT_EQ(HostWithoutPort("example.com:8080"), "example.com");
  EXPECT_EQ(HostWithoutPort("example.com:"), "example.com");
  EXPECT_EQ(HostWithoutPort("[::1]:8080"), "[::1]");
  EXPECT_EQ(HostWithoutPort("[2001:db8::1]"), "[2001:db8::1]");
  EXPECT_EQ(HostWithoutPort("[::1"), "[::1");
  EXPECT_EQ(HostWithoutPort(""), "");
}

TEST_F(ConditionTest, HostIsCaseInsensitiveAndAnchored) {
  Use(HostCond({"Example.COM"}));
  EXPECT_TRUE(Host("example.com"));
  EXPECT_TRUE(Host("EXAMPLE.com"));
  EXPECT_FALSE(Host("www.example.com"));
  EXPECT_FALSE(Host("example.com.evil.net"));
  EXPECT_FALSE(Host("example.co"));
  EXPECT_FALSE(Host(""));
}

TEST_F(ConditionTest, HostPortIsIgnored) {
  Use(HostCond({"example.com"}));
  EXPECT_TRUE(Host("example.com:8080"));
  EXPECT_TRUE(Host("Example.Com:443"));
  EXPECT_FALSE(Host("example.com8080"));
}

TEST_F(ConditionTest, HostWildcards) {
  Use(HostCond({"*.example.com"}));
  EXPECT_TRUE(Host("a.example.com"));
  EXPECT_TRUE(Host("A.B.Example.com:81"));
  EXPECT_FALSE(Host("example.com"));
  EXPECT_FALSE(Host("badexample.com"));
  Use(HostCond({"api-?.example.com"}));
  EXPECT_TRUE(Host("api-1.example.com"));
  EXPECT_FALSE(Host("api-12.example.com"));
  EXPECT_FALSE(Host("api-.example.com"));
}

TEST_F(ConditionTest, HostValuesAreOred) {
  Use(HostCond({"example.com", "*.example.com"}));
  EXPECT_TRUE(Host("example.com"));
  EXPECT_TRUE(Host("w.example.com"));
  EXPECT_FALSE(Host("example.org"));
}

TEST_F(ConditionTest, HostRegexIsCaseInsensitiveSearch) {
  Use(HostCond({}, {"^api[0-9]+\\.example\\.com$"}));
  EXPECT_TRUE(Host("API7.example.com:8443"));
  EXPECT_FALSE(Host("api.example.com"));
  EXPECT_FALSE(Host("xapi7.example.com"));
  Use(HostCond({}, {"example"}));  // unanchored
  EXPECT_TRUE(Host("www.EXAMPLE.org"));
  EXPECT_FALSE(Host("www.other.org"));
  Use(HostCond({}, {"^\\[::1\\]$"}));
  EXPECT_TRUE(Host("[::1]:8080"));
}

// ---- path-pattern ----

TEST_F(ConditionTest, PathIsCaseSensitiveAndAnchored) {
  Use(PathCond({"/img/*"}));
  EXPECT_TRUE(Path("/img/a/b.png"));
  EXPECT_TRUE(Path("/img/"));
  EXPECT_FALSE(Path("/img"));
  EXPECT_FALSE(Path("/IMG/a.png"));
  EXPECT_FALSE(Path("/static/img/a.png"));
  Use(PathCond({"/img"}));
  EXPECT_TRUE(Path("/img"));
  EXPECT_FALSE(Path("/img/"));
  EXPECT_FALSE(Path("/img2"));
}

TEST_F(ConditionTest, PathQuestionMarkAndSuffix) {
  Use(PathCond({"/file?.txt", "*.php"}));
  EXPECT_TRUE(Path("/file1.txt"));
  EXPECT_FALSE(Path("/file10.txt"));
  EXPECT_TRUE(Path("/a/b/index.php"));
  EXPECT_FALSE(Path("/index.php5"));
}

TEST_F(ConditionTest, PathIsNormalisedFirst) {
  Use(PathCond({"/img/*"}));
  EXPECT_TRUE(Path("/a/../img/x.png"));
  EXPECT_TRUE(Path("/%69mg/x.png"));
  EXPECT_TRUE(Path("/img/./x"));
  EXPECT_FALSE(Path("/img/../secret"));
  EXPECT_FALSE(Path("/img/%2E%2E/secret"));
  EXPECT_FALSE(Path("/img%2Fx"));
  Use(PathCond({"/"}));
  EXPECT_TRUE(Path(""));
  EXPECT_TRUE(Path("/.."));
}

TEST_F(ConditionTest, PathNeverSeesTheQuery) {
  Use(PathCond({"/search"}));
  Request r;
  r.path = "/search";
  r.query = "q=1";
  EXPECT_TRUE(Matches(r));
}

TEST_F(ConditionTest, OverlongPathFailsPathConditionsOnly) {
  std::string long_path = "/img/" + std::string(20000, 'a');
  Use(PathCond({"/img/*"}));
  EXPECT_FALSE(Path(long_path));
  EXPECT_TRUE(Path("/img/" + std::string(16000, 'a')));
  Use(HostCond({"example.com"}));
  EXPECT_TRUE(Path(long_path));
}

TEST_F(ConditionTest, PathRegex) {
  Use(PathCond({}, {"^/api/v[0-9]+/"}));
  EXPECT_TRUE(Path("/api/v2/users"));
  EXPECT_FALSE(Path("/API/v2/users"));  // case-sensitive
  EXPECT_FALSE(Path("/x/api/v2/"));
  Use(PathCond({}, {"\\.php$"}));
  EXPECT_TRUE(Path("/a/b.php"));
  EXPECT_FALSE(Path("/a/b.php/c"));
}

// ---- http-header ----

TEST_F(ConditionTest, HeaderNameAndValueCaseInsensitive) {
  Use(HeaderCond("User-Agent", {"*mobile*"}));
  Request r;
  r.headers = {{"user-agent", "Mozilla/5.0 (iPhone) MOBILE Safari"}};
  EXPECT_TRUE(Matches(r));
  r.headers = {{"USER-AGENT", "curl/8"}};
  EXPECT_FALSE(Matches(r));
  r.headers = {};
  EXPECT_FALSE(Matches(r));
  r.headers = {{"User-Agent-X", "mobile"}};
  EXPECT_FALSE(Matches(r));
}

TEST_F(ConditionTest, HeaderOccurrencesTestedInOrder) {
  Use(HeaderCond("X-Env", {"prod"}));
  Request r;
  r.headers = {{"X-Env", "dev"}, {"Other", "prod"}, {"x-env", "PROD"}};
  EXPECT_TRUE(Matches(r));
  r.headers = {{"X-Env", "dev"}, {"X-Env", "test"}};
  EXPECT_FALSE(Matches(r));
}

TEST_F(ConditionTest, HeaderCommaJoinedValueIsOneString) {
  Use(HeaderCond("X-Forwarded-For", {"10.0.0.1"}));
  Request r;
  r.headers = {{"X-Forwarded-For", "10.0.0.1, 10.0.0.2"}};
  EXPECT_FALSE(Matches(r));
  Use(HeaderCond("X-Forwarded-For", {"10.0.0.1,*"}));
  EXPECT_TRUE(Matches(r));
}

TEST_F(ConditionTest, HeaderRegex) {
  Use(HeaderCond("Accept", {}, {"^application/(json|xml)"}));
  Request r;
  r.headers = {{"Accept", "text/html"}, {"Accept", "Application/JSON; q=1"}};
  EXPECT_TRUE(Matches(r));
  r.headers = {{"Accept", "text/html, application/json"}};
  EXPECT_FALSE(Matches(r));
}

// ---- http-request-method ----

TEST_F(ConditionTest, MethodIsExactAndCaseSensitive) {
  Use(MethodCond({"GET", "PURGE"}));
  Request r;
  for (const char* m : {"GET", "PURGE"}) {
    r.method = m;
    EXPECT_TRUE(Matches(r)) << m;
  }
  for (const char* m : {"get", "Get", "GETX", "GE", "POST", ""}) {
    r.method = m;
    EXPECT_FALSE(Matches(r)) << m;
  }
}

// ---- query-string ----

TEST_F(ConditionTest, QueryKeyValueCaseInsensitive) {
  Use(QueryCond({{"version", "v1"}}));
  EXPECT_TRUE(Query("version=v1"));
  EXPECT_TRUE(Query("a=b&Version=V1&c"));
  EXPECT_FALSE(Query("version=v2"));
  EXPECT_FALSE(Query("versions=v1"));
  EXPECT_FALSE(Query("v1=version"));
  EXPECT_FALSE(Query(""));
}

TEST_F(ConditionTest, QueryIsPercentDecodedPlusIsLiteral) {
  Use(QueryCond({{"q", "hello world"}}));
  EXPECT_TRUE(Query("q=hello%20world"));
  EXPECT_TRUE(Query("%71=hello%20World"));
  EXPECT_FALSE(Query("q=hello+world"));
  Use(QueryCond({{"q", "a+b"}}));
  EXPECT_TRUE(Query("q=a+b"));
  EXPECT_TRUE(Query("q=a%2Bb"));
}

TEST_F(ConditionTest, QueryWildcardsAndEscapes) {
  Use(QueryCond({{"lang", "en-*"}}));
  EXPECT_TRUE(Query("lang=EN-us"));
  EXPECT_FALSE(Query("lang=fr-fr"));
  Use(QueryCond({{"code", "a?c"}}));
  EXPECT_TRUE(Query("code=abc"));
  EXPECT_FALSE(Query("code=ac"));
  Use(QueryCond({{"q", "\\*"}}));
  EXPECT_TRUE(Query("q=*"));
  EXPECT_TRUE(Query("q=%2A"));
  EXPECT_FALSE(Query("q=x"));
  EXPECT_FALSE(Query("q="));
  Use(QueryCond({{"q", "why\\?"}}));
  EXPECT_TRUE(Query("q=why%3F"));
  EXPECT_FALSE(Query("q=whyx"));
  Use(QueryCond({{"*", "1"}}));
  EXPECT_TRUE(Query("anything=1"));
  EXPECT_FALSE(Query("anything=2"));
}

TEST_F(ConditionTest, QueryPairWithoutKeyMatchesAnyKey) {
  Use(QueryCond({{std::nullopt, "blue"}}));
  EXPECT_TRUE(Query("color=blue"));
  EXPECT_TRUE(Query("x=1&shade=BLUE"));
  EXPECT_FALSE(Query("blue=red"));
  EXPECT_FALSE(Query("blue"));  // a key alone has an empty value
}

TEST_F(ConditionTest, QueryPairsAreOredAndKeyAloneHasEmptyValue) {
  Use(QueryCond({{"a", "1"}, {"debug", "*"}}));
  EXPECT_TRUE(Query("a=1"));
  EXPECT_TRUE(Query("debug"));
  EXPECT_TRUE(Query("x=2&debug=true"));
  EXPECT_FALSE(Query("a=2&b=1"));
}

// ---- source-ip ----

TEST_F(ConditionTest, SourceIpV4) {
  Use(SourceIpCond({"10.0.0.0/8", "192.0.2.7/32"}));
  EXPECT_TRUE(Ip("10.255.1.2"));
  EXPECT_TRUE(Ip("192.0.2.7"));
  EXPECT_FALSE(Ip("192.0.2.8"));
  EXPECT_FALSE(Ip("11.0.0.1"));
  EXPECT_FALSE(Ip("2001:db8::1"));
  EXPECT_TRUE(Ip("::ffff:10.1.2.3"));  // IPv4-mapped peer from a dual-stack socket
}

TEST_F(ConditionTest, SourceIpV6) {
  Use(SourceIpCond({"2001:db8::/32"}));
  EXPECT_TRUE(Ip("2001:db8::1"));
  EXPECT_TRUE(Ip("2001:db8:ffff::1"));
  EXPECT_FALSE(Ip("2001:db9::1"));
  EXPECT_FALSE(Ip("10.0.0.1"));
  Use(SourceIpCond({"::/0"}));
  EXPECT_TRUE(Ip("::1"));
  EXPECT_FALSE(Ip("127.0.0.1"));
}

TEST_F(ConditionTest, SourceIpIgnoresForwardedFor) {
  Use(SourceIpCond({"203.0.113.0/24"}));
  Request r;
  r.headers = {{"X-Forwarded-For", "203.0.113.9"}};
  EXPECT_FALSE(Matches(r));
}

}  // namespace
}  // namespace sluice::routing
