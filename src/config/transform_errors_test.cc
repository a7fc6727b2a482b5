// Rule transforms in the config file: what loads, and the error messages (reference §1.4).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "config/loader.h"
#include "config/rewrite_template.h"
#include "config/test_util.h"

namespace sluice::config {
namespace {

using ::testing::ElementsAre;
using testing::Errors;
using ::testing::IsEmpty;
using testing::MustLoad;
using testing::WithRules;

std::string R(int n) { return "LoadBalancers[0].Listeners[0].Rules[" + std::to_string(n) + "]"; }
std::string T(int n) { return R(0) + ".Transforms[" + std::to_string(n) + "]"; }

std::string E(int line, int column, const std::string& field, const std::string& message) {
  return "t.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": " + field + ": " +
         message;
}

// A rule (line 9) whose transform list is open: items appended start on line 13, "- " at
// column 15.
std::string WithTransforms(std::string_view transforms) {
  return WithRules(R"(
          - Priority: 1
            Conditions: [{Field: path-pattern, Values: ["/*"]}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
            Transforms:
)") + testing::Yaml(transforms);
}

TEST(TransformConfigTest, BothTypesLoad) {
  Config c = MustLoad(WithTransforms(R"Y(
              - Type: url-rewrite
                UrlRewriteConfig:
                  Rewrites: [{Regex: "^/img/(.*)$", Replace: "/static/$1"}]
              - Type: host-header-rewrite
                HostHeaderRewriteConfig:
                  Rewrites: [{Regex: "^www\\.(.+)$", Replace: "$1"}]
)Y"));
  ASSERT_EQ(c.load_balancers.size(), 1u);
  const Rule& rule = c.load_balancers[0].listeners[0].rules[0];
  ASSERT_EQ(rule.transforms.size(), 2u);
  EXPECT_EQ(rule.transforms[0].type, TransformType::kUrlRewrite);
  EXPECT_EQ(rule.transforms[0].rewrite.regex, "^/img/(.*)$");
  EXPECT_EQ(rule.transforms[0].rewrite.replace, "/static/$1");
  EXPECT_EQ(rule.transforms[0].location.line, 13);
  EXPECT_EQ(rule.transforms[1].type, TransformType::kHostHeaderRewrite);
  EXPECT_EQ(rule.transforms[1].rewrite.regex, "^www\\.(.+)$");
  EXPECT_EQ(rule.transforms[1].rewrite.replace, "$1");
}

TEST(TransformConfigTest, NoTransformsAndAnEmptyListAndAnEmptyReplaceLoad) {
  Config c = MustLoad(WithRules(R"(
          - Priority: 1
            Conditions: [{Field: path-pattern, Values: ["/a"]}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
          - Priority: 2
            Conditions: [{Field: path-pattern, Values: ["/b"]}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
            Transforms: []
          - Priority: 3
            Conditions: [{Field: path-pattern, Values: ["/c"]}]
            Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
            Transforms:
              - {Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "^/api", Replace: ""}]}}
)"));
  ASSERT_EQ(c.load_balancers.size(), 1u);
  const auto& rules = c.load_balancers[0].listeners[0].rules;
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_THAT(rules[0].transforms, IsEmpty());
  EXPECT_THAT(rules[1].transforms, IsEmpty());
  ASSERT_EQ(rules[2].transforms.size(), 1u);
  EXPECT_EQ(rules[2].transforms[0].rewrite.replace, "");
}

TEST(TransformConfigTest, TypeAndConfigBlocks) {
  EXPECT_THAT(
      Errors(WithTransforms(R"(
              - Type: path-rewrite
                UrlRewriteConfig: {Rewrites: [{Regex: "a", Replace: "/b"}]}
              - Type: url-rewrite
                HostHeaderRewriteConfig: {Rewrites: [{Regex: "a", Replace: "b"}]}
              - UrlRewriteConfig: {Rewrites: [{Regex: "a", Replace: "/b"}]}
)")),
      ElementsAre(
          E(13, 23, T(0) + ".Type",
            "transform type 'path-rewrite' is invalid; allowed: host-header-rewrite, "
            "url-rewrite"),
          E(15, 17, T(1) + ".UrlRewriteConfig", "missing required field 'UrlRewriteConfig'"),
          E(16, 42, T(1) + ".HostHeaderRewriteConfig",
            "HostHeaderRewriteConfig does not belong to a url-rewrite transform; use "
            "UrlRewriteConfig"),
          E(17, 17, T(2) + ".Type", "missing required field 'Type'")));
}

TEST(TransformConfigTest, AtMostOneOfEachType) {
  EXPECT_THAT(Errors(WithTransforms(R"(
              - {Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "a", Replace: "/b"}]}}
              - {Type: host-header-rewrite, HostHeaderRewriteConfig: {Rewrites: [{Regex: "a", Replace: "b"}]}}
              - {Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "c", Replace: "/d"}]}}
)")),
              ElementsAre(E(15, 17, T(2) + ".Type",
                            "a rule can have only one url-rewrite transform (first at line 13)")));
}

TEST(TransformConfigTest, ExactlyOneRewrite) {
  EXPECT_THAT(
      Errors(WithTransforms(R"(
              - {Type: url-rewrite, UrlRewriteConfig: {Rewrites: []}}
              - Type: host-header-rewrite
                HostHeaderRewriteConfig:
                  Rewrites:
                    - {Regex: "a", Replace: "b"}
                    - {Regex: "c", Replace: "d"}
)")),
      ElementsAre(E(13, 66, T(0) + ".UrlRewriteConfig.Rewrites",
                    "a url-rewrite transform needs exactly one rewrite (Regex and Replace); "
                    "found 0"),
                  E(17, 21, T(1) + ".HostHeaderRewriteConfig.Rewrites",
                    "a host-header-rewrite transform needs exactly one rewrite (Regex and "
                    "Replace); found 2")));
}

TEST(TransformConfigTest, RegexAndReplaceAreRequired) {
  EXPECT_THAT(
      Errors(WithTransforms(R"(
              - {Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "a"}]}}
              - {Type: host-header-rewrite, HostHeaderRewriteConfig: {Rewrites: [{Replace: "b"}]}}
              - {Type: host-header-rewrite, HostHeaderRewriteConfig: {}}
)")),
      ElementsAre(E(13, 67, T(0) + ".UrlRewriteConfig.Rewrites[0].Replace",
                    "missing required field 'Replace'"),
                  E(14, 82, T(1) + ".HostHeaderRewriteConfig.Rewrites[0].Regex",
                    "missing required field 'Regex'"),
                  E(15, 17, T(2) + ".Type",
                    "a rule can have only one host-header-rewrite transform (first at line 14)"),
                  E(15, 70, T(2) + ".HostHeaderRewriteConfig.Rewrites",
                    "missing required field 'Rewrites'")));
}

TEST(TransformConfigTest, RegexMustCompile) {
  const std::string rw = T(0) + ".UrlRewriteConfig.Rewrites[0]";
  EXPECT_THAT(Errors(WithTransforms(R"Y(
              - Type: url-rewrite
                UrlRewriteConfig:
                  Rewrites: [{Regex: "^/(?=admin)(.*)", Replace: "/$1"}]
)Y")),
              ElementsAre(E(15, 38, rw + ".Regex",
                            "regex '^/(?=admin)(.*)' does not compile: invalid perl operator: (?= "
                            "(lookaround and backreferences are not supported)")));
  EXPECT_THAT(Errors(WithTransforms(R"(
              - {Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "", Replace: "/"}]}}
)")),
              ElementsAre(E(13, 75, rw + ".Regex", "regex must not be empty")));
}

TEST(TransformConfigTest, LengthLimits) {
  std::string yaml = WithTransforms(R"(
              - Type: url-rewrite
                UrlRewriteConfig:
                  Rewrites: [{Regex: REGEX, Replace: REPLACE}]
)");
  yaml.replace(yaml.find("REGEX"), 5, std::string(1025, 'a'));
  yaml.replace(yaml.find("REPLACE"), 7, "/" + std::string(1024, 'b'));
  const std::string rw = T(0) + ".UrlRewriteConfig.Rewrites[0]";
  EXPECT_THAT(
      Errors(yaml),
      ElementsAre(
          E(15, 38, rw + ".Regex", "regex is 1025 characters long; the limit is 1024"),
          E(15, 1074, rw + ".Replace", "replacement is 1025 characters long; the limit is 1024")));
}

TEST(TransformConfigTest, ReplaceRefersOnlyToCapturedGroups) {
  const std::string rw = T(0) + ".UrlRewriteConfig.Rewrites[0]";
  const std::string hw = T(1) + ".HostHeaderRewriteConfig.Rewrites[0]";
  EXPECT_THAT(
      Errors(WithTransforms(R"Y(
              - {Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "^/(a)/(b)", Replace: "/$3"}]}}
              - {Type: host-header-rewrite, HostHeaderRewriteConfig: {Rewrites: [{Regex: "x", Replace: "$1.example"}]}}
)Y")),
      ElementsAre(E(13, 97, rw + ".Replace",
                    "replacement '/$3' refers to $3 but the regex has 2 capture groups (write $$ "
                    "for a literal '$')"),
                  E(14, 104, hw + ".Replace",
                    "replacement '$1.example' refers to $1 but the regex has no capture groups "
                    "(write $$ for a literal '$')")));
  // "$$", "$x" and "$0" need no group.
  EXPECT_THAT(Errors(WithTransforms(R"(
              - {Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "^/a", Replace: "/$$/$x/$0$"}]}}
)")),
              IsEmpty());
}

TEST(TransformConfigTest, ReplaceCharacters) {
  const std::string rw = T(0) + ".UrlRewriteConfig.Rewrites[0]";
  const std::string hw = T(1) + ".HostHeaderRewriteConfig.Rewrites[0]";
  EXPECT_THAT(
      Errors(WithTransforms(R"(
              - {Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "a", Replace: "/a b#c"}]}}
              - {Type: host-header-rewrite, HostHeaderRewriteConfig: {Rewrites: [{Regex: "a", Replace: "a/b"}]}}
)")),
      ElementsAre(E(13, 89, rw + ".Replace",
                    "replacement '/a b#c' contains a space; a url-rewrite replacement may contain "
                    "visible ASCII characters except '#'"),
                  E(14, 104, hw + ".Replace",
                    "replacement 'a/b' contains '/'; a host-header-rewrite replacement may "
                    "contain A-Z a-z 0-9 - . _ ~ ! $ & ' ( ) * + , ; = % [ ] :")));
}

TEST(TransformConfigTest, NotOnTheDefaultRule) {
  EXPECT_THAT(Errors(R"(LoadBalancers:
  - Name: lb
    Listeners:
      - Port: 80
        DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "404"}}]
        Transforms:
          - {Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "a", Replace: "/b"}]}}
)"),
              ElementsAre(E(7, 11, "LoadBalancers[0].Listeners[0].Transforms",
                            "transforms are not allowed on the default rule (DefaultActions); "
                            "put them on a rule in Rules")));
}

TEST(TransformConfigTest, LoadsTheShippedExample) {
  const std::string path = std::string(SLUICE_SOURCE_DIR) + "/examples/transforms.yaml";
  LoadResult r = LoadConfigFromFile(path);
  std::vector<std::string> errors;
  if (auto* e = std::get_if<ConfigErrors>(&r)) {
    for (const ConfigError& x : *e) errors.push_back(x.ToString());
  }
  ASSERT_THAT(errors, IsEmpty());
  const auto& rules = std::get<Config>(r).load_balancers[0].listeners[0].rules;
  ASSERT_EQ(rules.size(), 3u);
  for (const Rule& rule : rules) EXPECT_EQ(rule.transforms.size(), 1u);
}

// ---- ParseReplaceTemplate ----------------------------------------------------------------------

// The template rendered back: literals as they are, groups as "{N}".
std::string Render(std::string_view replace) {
  ReplaceTemplate t = ParseReplaceTemplate(replace);
  std::string out;
  for (const ReplacePiece& p : t.pieces) {
    out +=
        p.group < 0 ? t.literals.substr(p.offset, p.length) : "{" + std::to_string(p.group) + "}";
  }
  return out;
}

TEST(ReplaceTemplateTest, Syntax) {
  EXPECT_EQ(Render(""), "");
  EXPECT_EQ(Render("/static/$1"), "/static/{1}");
  EXPECT_EQ(Render("$0$9"), "{0}{9}");
  EXPECT_EQ(Render("$12"), "{1}2");
  EXPECT_EQ(Render("a$$1"), "a$1");
  EXPECT_EQ(Render("$x$"), "$x$");
  EXPECT_EQ(Render("\\1"), "\\1");
  EXPECT_EQ(ParseReplaceTemplate("/a").max_group, -1);
  EXPECT_EQ(ParseReplaceTemplate("$2$1").max_group, 2);
  EXPECT_EQ(ParseReplaceTemplate("$$3").max_group, -1);
  // Adjacent literal text is one piece.
  EXPECT_EQ(ParseReplaceTemplate("ab$$c").pieces.size(), 1u);
  EXPECT_EQ(ParseReplaceTemplate("a$1b").pieces.size(), 3u);
}

}  // namespace
}  // namespace sluice::config
