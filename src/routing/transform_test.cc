// Rule transforms: compiling, applying (captures, no match, first match only, invalid results),
// and how a rule table hands them out (reference §1.4).
#include "routing/transform.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "routing/rule_table.h"
#include "routing/test_util.h"

namespace sluice::routing {
namespace {

using testing::MakeListener;
using testing::MakeRule;
using testing::PathCond;
using testing::Request;

config::Transform HostRewrite(std::string regex, std::string replace) {
  config::Transform t;
  t.type = config::TransformType::kHostHeaderRewrite;
  t.rewrite = {std::move(regex), std::move(replace)};
  return t;
}

config::Transform UrlRewrite(std::string regex, std::string replace) {
  config::Transform t;
  t.type = config::TransformType::kUrlRewrite;
  t.rewrite = {std::move(regex), std::move(replace)};
  return t;
}

std::unique_ptr<const CompiledTransforms> Compile(std::vector<config::Transform> transforms) {
  auto c = CompiledTransforms::Compile(transforms);
  EXPECT_TRUE(c.ok()) << c.error().message;
  return c.ok() ? std::move(c.value()) : nullptr;
}

// Applies `transforms` and returns the result.
TransformResult Apply(const CompiledTransforms& transforms, std::string_view host,
                      std::string_view target) {
  TransformResult r;
  EXPECT_EQ(transforms.Apply(host, target, &r), r.status);
  return r;
}

TEST(TransformStatusTest, Names) {
  EXPECT_EQ(TransformStatusName(TransformStatus::kNone), "-");
  EXPECT_EQ(TransformStatusName(TransformStatus::kNoMatch), "no-match");
  EXPECT_EQ(TransformStatusName(TransformStatus::kSuccess), "success");
  EXPECT_EQ(TransformStatusName(TransformStatus::kFailed), "failed");
}

TEST(CompiledTransformsTest, NoTransformsCompileToNull) {
  auto c = CompiledTransforms::Compile({});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value(), nullptr);
}

TEST(CompiledTransformsTest, CompileErrors) {
  auto bad_regex = CompiledTransforms::Compile({UrlRewrite("(", "/")});
  ASSERT_FALSE(bad_regex.ok());
  EXPECT_EQ(bad_regex.error().source, ErrorSource::kConfig);
  EXPECT_EQ(bad_regex.error().message,
            "url-rewrite regex '(' is not valid RE2 syntax: missing ): (");
  auto bad_group = CompiledTransforms::Compile({HostRewrite("^(a)$", "$2")});
  ASSERT_FALSE(bad_group.ok());
  EXPECT_EQ(bad_group.error().message,
            "host-header-rewrite replacement '$2' refers to $2, which the regex does not capture");
  auto twice = CompiledTransforms::Compile({UrlRewrite("a", "/"), UrlRewrite("b", "/")});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().message, "more than one url-rewrite transform");
}

TEST(CompiledTransformsTest, UrlRewriteWithCapture) {
  auto t = Compile({UrlRewrite("^/img/(.*)$", "/static/$1")});
  ASSERT_NE(t, nullptr);
  EXPECT_FALSE(t->has_host_rewrite());
  EXPECT_TRUE(t->has_url_rewrite());
  TransformResult r = Apply(*t, "example.com", "/img/a/b.png");
  EXPECT_EQ(r.status, TransformStatus::kSuccess);
  EXPECT_EQ(r.transformed_uri, "/static/a/b.png");
  EXPECT_EQ(r.transformed_host, "");
  // The query is part of what the regex sees: here `.*` carries it along.
  r = Apply(*t, "example.com", "/img/x.png?size=2&v=1");
  EXPECT_EQ(r.transformed_uri, "/static/x.png?size=2&v=1");
}

TEST(CompiledTransformsTest, NoMatchLeavesTheRequestUnchanged) {
  auto t = Compile({UrlRewrite("^/img/(.*)$", "/static/$1"), HostRewrite("^www\\.(.+)$", "$1")});
  TransformResult r = Apply(*t, "api.example.com", "/css/x.css");
  EXPECT_EQ(r.status, TransformStatus::kNoMatch);
  EXPECT_EQ(r.transformed_uri, "");
  EXPECT_EQ(r.transformed_host, "");
}

TEST(CompiledTransformsTest, QueryRewrite) {
  auto t = Compile({UrlRewrite("^/dp/([A-Za-z0-9]+)/?$", "/product.php?id=$1")});
  EXPECT_EQ(Apply(*t, "h", "/dp/B09G3HRMW").transformed_uri, "/product.php?id=B09G3HRMW");
  EXPECT_EQ(Apply(*t, "h", "/dp/B09G3HRMW/").transformed_uri, "/product.php?id=B09G3HRMW");
  EXPECT_EQ(Apply(*t, "h", "/dp/B09G3HRMW?x=1").status, TransformStatus::kNoMatch);
  auto q = Compile({UrlRewrite("([?&])lang=en(&|$)", "$1locale=en_US$2")});
  EXPECT_EQ(Apply(*q, "h", "/p?lang=en&x=1").transformed_uri, "/p?locale=en_US&x=1");
  EXPECT_EQ(Apply(*q, "h", "/p?x=1&lang=en").transformed_uri, "/p?x=1&locale=en_US");
  // "${1}" is not a reference: a '$' before '{' is literal (only "$N" is).
  auto braces = Compile({UrlRewrite("([?&])lang=en", "${1}")});
  EXPECT_EQ(Apply(*braces, "h", "/p?lang=en").transformed_uri, "/p${1}");
}

TEST(CompiledTransformsTest, OnlyTheFirstMatchIsReplaced) {
  auto t = Compile({UrlRewrite("v1", "v2")});
  TransformResult r = Apply(*t, "h", "/v1/items/v1");
  EXPECT_EQ(r.transformed_uri, "/v2/items/v1");
}

TEST(CompiledTransformsTest, ReplacementSyntax) {
  auto t = Compile({UrlRewrite("^/(a)(b)?/(c)", "/$3$2$1/$0/$$1/$x/\\1/")});
  // Group 2 did not take part: it is empty.
  EXPECT_EQ(Apply(*t, "h", "/a/c/rest").transformed_uri, "/ca//a/c/$1/$x/\\1//rest");
  EXPECT_EQ(Apply(*t, "h", "/ab/c").transformed_uri, "/cba//ab/c/$1/$x/\\1/");
  // An empty replacement removes the match.
  auto strip = Compile({UrlRewrite("^/api", "")});
  EXPECT_EQ(Apply(*strip, "h", "/api/v1/x").transformed_uri, "/v1/x");
}

TEST(CompiledTransformsTest, HostRewrite) {
  auto t = Compile({HostRewrite("^mywebsite-(.+)\\.com$", "internal.dev.$1.myweb.com")});
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->has_host_rewrite());
  EXPECT_FALSE(t->has_url_rewrite());
  TransformResult r = Apply(*t, "mywebsite-example.com", "/project-a");
  EXPECT_EQ(r.status, TransformStatus::kSuccess);
  EXPECT_EQ(r.transformed_host, "internal.dev.example.myweb.com");
  EXPECT_EQ(r.transformed_uri, "");
  // Host regexes ignore case, as host-header regex conditions do; the capture keeps the case.
  r = Apply(*t, "MyWebsite-Shop.COM", "/");
  EXPECT_EQ(r.transformed_host, "internal.dev.Shop.myweb.com");
  // No host: nothing to rewrite.
  EXPECT_EQ(Apply(*t, "", "/").status, TransformStatus::kNoMatch);
}

TEST(CompiledTransformsTest, BothTypesTogether) {
  auto t = Compile({HostRewrite("^www\\.", ""), UrlRewrite("^/old/", "/new/")});
  TransformResult r = Apply(*t, "www.example.com", "/old/page?q=1");
  EXPECT_EQ(r.status, TransformStatus::kSuccess);
  EXPECT_EQ(r.transformed_host, "example.com");
  EXPECT_EQ(r.transformed_uri, "/new/page?q=1");
  // One matching is enough for success; the other stays unchanged.
  r = Apply(*t, "example.com", "/old/page");
  EXPECT_EQ(r.status, TransformStatus::kSuccess);
  EXPECT_EQ(r.transformed_host, "");
  EXPECT_EQ(r.transformed_uri, "/new/page");
}

TEST(CompiledTransformsTest, InvalidUrlResultFails) {
  // No leading slash.
  auto t = Compile({UrlRewrite("^/img/(.*)$", "$1")});
  TransformResult r = Apply(*t, "h", "/img/a.png");
  EXPECT_EQ(r.status, TransformStatus::kFailed);
  EXPECT_EQ(r.transformed_uri, "a.png");  // kept for the log
  // A capture cannot bring in what the target must not hold; a space from a request that
  // carried one (monitor mode) fails the transform rather than being forwarded.
  auto s = Compile({UrlRewrite("^/a(.*)$", "/b$1")});
  EXPECT_EQ(Apply(*s, "h", "/a x").status, TransformStatus::kFailed);
  EXPECT_EQ(Apply(*s, "h", "/a\x01").status, TransformStatus::kFailed);
  EXPECT_EQ(Apply(*s, "h", "/ax").status, TransformStatus::kSuccess);
  // Removing the whole target leaves nothing.
  auto e = Compile({UrlRewrite("^.*$", "")});
  EXPECT_EQ(Apply(*e, "h", "/x").status, TransformStatus::kFailed);
}

TEST(CompiledTransformsTest, InvalidHostResultFails) {
  auto t = Compile({HostRewrite("^(.*)$", "$1:8080")});
  EXPECT_EQ(Apply(*t, "a.example", "/").status, TransformStatus::kFailed);  // a port
  auto e = Compile({HostRewrite("^.*$", "")});
  EXPECT_EQ(Apply(*e, "a.example", "/").status, TransformStatus::kFailed);  // empty
  auto ok = Compile({HostRewrite("^.*$", "[2001:db8::1]")});
  EXPECT_EQ(Apply(*ok, "a.example", "/").transformed_host, "[2001:db8::1]");
  // One failing transform fails the request, whatever the other did.
  auto both = Compile({HostRewrite("^a", ""), UrlRewrite("^/", "/v2/")});
  TransformResult r = Apply(*both, "a", "/x");
  EXPECT_EQ(r.status, TransformStatus::kFailed);
  EXPECT_EQ(r.transformed_uri, "/v2/x");
}

TEST(CompiledTransformsTest, TooLongResultFailsWithoutBuildingIt) {
  // Ten copies of a 2000-byte capture would be 20 KB, beyond the 16 KiB request line.
  auto t = Compile({UrlRewrite("^/(.*)$", "/$1$1$1$1$1$1$1$1$1$1")});
  const std::string long_path = "/" + std::string(2000, 'a');
  TransformResult r = Apply(*t, "h", long_path);
  EXPECT_EQ(r.status, TransformStatus::kFailed);
  EXPECT_EQ(r.transformed_uri, "");
  EXPECT_EQ(r.transformed_uri.capacity() < 1000, true);
  EXPECT_EQ(Apply(*t, "h", "/" + std::string(1000, 'a')).status, TransformStatus::kSuccess);
  auto h = Compile({HostRewrite("^(.*)$", "$1$1")});
  EXPECT_EQ(Apply(*h, std::string(127, 'a'), "/").status, TransformStatus::kSuccess);
  EXPECT_EQ(Apply(*h, std::string(128, 'a'), "/").status, TransformStatus::kFailed);
}

TEST(CompiledTransformsTest, AsteriskFormIsNotRewritten) {
  auto t = Compile({UrlRewrite("^(.*)$", "/x$1")});
  EXPECT_EQ(Apply(*t, "h", "*").status, TransformStatus::kNoMatch);
}

TEST(CompiledTransformsTest, ResultIsOverwrittenAndReusable) {
  auto t = Compile({UrlRewrite("^/a", "/b")});
  TransformResult r;
  r.transformed_host = "stale";
  t->Apply("h", "/a", &r);
  EXPECT_EQ(r.transformed_host, "");
  EXPECT_EQ(r.transformed_uri, "/b");
  t->Apply("h", "/c", &r);
  EXPECT_EQ(r.status, TransformStatus::kNoMatch);
  EXPECT_EQ(r.transformed_uri, "");
  r.Release();
  EXPECT_EQ(r.status, TransformStatus::kNone);
}

TEST(TransformValidityTest, Host) {
  EXPECT_TRUE(IsValidTransformedHost("example.com"));
  EXPECT_TRUE(IsValidTransformedHost("10.0.0.1"));
  EXPECT_TRUE(IsValidTransformedHost("[::1]"));
  EXPECT_FALSE(IsValidTransformedHost(""));
  EXPECT_FALSE(IsValidTransformedHost("a:80"));
  EXPECT_FALSE(IsValidTransformedHost("a:"));
  EXPECT_FALSE(IsValidTransformedHost("a b"));
  EXPECT_FALSE(IsValidTransformedHost("a/b"));
  EXPECT_FALSE(IsValidTransformedHost("u@a"));
  EXPECT_TRUE(IsValidTransformedHost(std::string(255, 'a')));
  EXPECT_FALSE(IsValidTransformedHost(std::string(256, 'a')));
}

TEST(TransformValidityTest, Uri) {
  EXPECT_TRUE(IsValidTransformedUri("/"));
  EXPECT_TRUE(IsValidTransformedUri("/a?b=c&d"));
  EXPECT_FALSE(IsValidTransformedUri(""));
  EXPECT_FALSE(IsValidTransformedUri("a"));
  EXPECT_FALSE(IsValidTransformedUri("?a"));
  EXPECT_FALSE(IsValidTransformedUri("/a b"));
  EXPECT_FALSE(IsValidTransformedUri("/a\tb"));
  EXPECT_FALSE(IsValidTransformedUri("/a\x7f"));
  EXPECT_FALSE(IsValidTransformedUri("/a#b"));
  EXPECT_TRUE(IsValidTransformedUri("/" + std::string(kMaxTransformedUri - 1, 'a')));
  EXPECT_FALSE(IsValidTransformedUri("/" + std::string(kMaxTransformedUri, 'a')));
}

// ---- RuleTable ---------------------------------------------------------------------------------

TEST(RuleTableTransformsTest, MatchCarriesTheRulesTransformsAndTheyDoNotAffectMatching) {
  config::Rule img = MakeRule(10, {PathCond({"/img/*"})});
  img.transforms.push_back(UrlRewrite("^/img/(.*)$", "/static/$1"));
  // A later rule matching the rewritten path: routing uses the original request, so it never
  // sees /static/... from rule 10.
  config::Rule stat = MakeRule(20, {PathCond({"/static/*"})});
  auto compiled = RuleTable::Compile(MakeListener({img, stat}));
  ASSERT_TRUE(compiled.ok()) << compiled.error().message;
  const RuleTable& table = *compiled.value();

  MatchScratch scratch;
  std::vector<http::HeaderField> storage;
  Request req;
  req.path = "/img/a.png";
  MatchResult m = table.Match(req.Facts(&storage), scratch);
  EXPECT_EQ(m.priority, 10);
  ASSERT_NE(m.transforms, nullptr);
  TransformResult r;
  EXPECT_EQ(m.transforms->Apply("example.com", req.path, &r), TransformStatus::kSuccess);
  EXPECT_EQ(r.transformed_uri, "/static/a.png");

  req.path = "/static/a.png";
  m = table.Match(req.Facts(&storage), scratch);
  EXPECT_EQ(m.priority, 20);
  EXPECT_EQ(m.transforms, nullptr);

  req.path = "/other";
  m = table.Match(req.Facts(&storage), scratch);
  EXPECT_EQ(m.priority, 0);  // the default rule never has transforms
  EXPECT_EQ(m.transforms, nullptr);
}

TEST(RuleTableTransformsTest, CompileErrorNamesTheRule) {
  config::Rule r = MakeRule(7, {PathCond({"/a"})});
  r.transforms.push_back(HostRewrite("x", "$1"));
  auto compiled = RuleTable::Compile(MakeListener({r}));
  ASSERT_FALSE(compiled.ok());
  EXPECT_EQ(compiled.error().message,
            "rule priority 7: host-header-rewrite replacement '$1' refers to $1, which the regex "
            "does not capture");
}

}  // namespace
}  // namespace sluice::routing
