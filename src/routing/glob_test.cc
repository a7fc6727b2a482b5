#include "routing/glob.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::routing {
namespace {

bool Cs(std::string_view pattern, std::string_view text) {
  return Glob::Compile(pattern, GlobCase::kSensitive, GlobEscapes::kNone).Match(text);
}
bool Ci(std::string_view pattern, std::string_view text) {
  return Glob::Compile(pattern, GlobCase::kInsensitive, GlobEscapes::kNone).Match(text);
}
bool Esc(std::string_view pattern, std::string_view text) {
  return Glob::Compile(pattern, GlobCase::kInsensitive, GlobEscapes::kBackslash).Match(text);
}

TEST(GlobTest, LiteralIsWholeStringAndCaseSensitive) {
  EXPECT_TRUE(Cs("/img", "/img"));
  EXPECT_FALSE(Cs("/img", "/img/"));
  EXPECT_FALSE(Cs("/img", "/im"));
  EXPECT_FALSE(Cs("/img", "/IMG"));
  EXPECT_FALSE(Cs("/img", "x/img"));
  EXPECT_TRUE(Cs("", ""));
  EXPECT_FALSE(Cs("", "a"));
}

TEST(GlobTest, StarMatchesAnyRunIncludingEmpty) {
  EXPECT_TRUE(Cs("/img/*", "/img/"));
  EXPECT_TRUE(Cs("/img/*", "/img/a/b.png"));
  EXPECT_FALSE(Cs("/img/*", "/img"));
  EXPECT_TRUE(Cs("*", ""));
  EXPECT_TRUE(Cs("*", "anything"));
  EXPECT_TRUE(Cs("**", "x"));
  EXPECT_TRUE(Cs("*.png", "/a/b.png"));
  EXPECT_FALSE(Cs("*.png", "/a/b.png.gz"));
  EXPECT_TRUE(Cs("/a*b*c", "/abc"));
  EXPECT_TRUE(Cs("/a*b*c", "/a-b-b-c-c"));
  EXPECT_FALSE(Cs("/a*b*c", "/a-c-b"));
  EXPECT_TRUE(Cs("*ab*ab*", "xabyab"));
  EXPECT_FALSE(Cs("*ab*ab*", "xaby"));
  // Head and tail must not overlap.
  EXPECT_FALSE(Cs("ab*ba", "aba"));
  EXPECT_TRUE(Cs("ab*ba", "abba"));
}

TEST(GlobTest, QuestionMarkMatchesExactlyOne) {
  EXPECT_TRUE(Cs("/file?.txt", "/file1.txt"));
  EXPECT_FALSE(Cs("/file?.txt", "/file.txt"));
  EXPECT_FALSE(Cs("/file?.txt", "/file12.txt"));
  EXPECT_TRUE(Cs("*?", "a"));
  EXPECT_FALSE(Cs("*?", ""));
  EXPECT_TRUE(Cs("*a?c*", "zzabcab"));
  EXPECT_TRUE(Cs("???", "a/b"));
}

TEST(GlobTest, CaseInsensitiveFoldsAsciiOnly) {
  EXPECT_TRUE(Ci("*.Example.COM", "WWW.example.com"));
  EXPECT_TRUE(Ci("*MOBILE*", "Mozilla (iPhone; Mobile)"));
  EXPECT_FALSE(Ci("\xc3\xa9", "\xc3\x89"));  // é vs É: no Unicode folding
}

TEST(GlobTest, SubdomainWildcardNeedsTheDot) {
  EXPECT_FALSE(Ci("*.example.com", "example.com"));
  EXPECT_TRUE(Ci("*.example.com", ".example.com"));
  EXPECT_TRUE(Ci("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(Ci("*.example.com", "aexample.com"));
  EXPECT_FALSE(Ci("*.example.com", "a.example.com.evil.net"));
}

TEST(GlobTest, BackslashEscapesOnlyWhenEnabled) {
  EXPECT_TRUE(Esc("\\*", "*"));
  EXPECT_FALSE(Esc("\\*", "x"));
  EXPECT_FALSE(Esc("\\*", ""));
  EXPECT_TRUE(Esc("a\\?b", "a?b"));
  EXPECT_FALSE(Esc("a\\?b", "axb"));
  EXPECT_TRUE(Esc("a\\\\b", "a\\b"));
  EXPECT_TRUE(Esc("a\\b", "a\\b"));  // other escapes stay literal backslashes
  EXPECT_TRUE(Esc("a\\", "a\\"));    // trailing backslash is literal
  EXPECT_TRUE(Esc("\\**", "*tail"));
  EXPECT_FALSE(Esc("\\**", "tail"));
  // Without escapes a backslash is literal and '*' is live.
  EXPECT_TRUE(Ci("\\*", "\\anything"));
  EXPECT_FALSE(Ci("\\*", "*"));
}

TEST(GlobTest, LiteralPrefixAndIsLiteral) {
  Glob g = Glob::Compile("/Api/v?/*", GlobCase::kInsensitive, GlobEscapes::kNone);
  EXPECT_EQ(g.literal_prefix(), "/api/v");
  EXPECT_EQ(g.literal_suffix(), "");
  EXPECT_EQ(Glob::Compile("/a/?x/b", GlobCase::kSensitive, GlobEscapes::kNone).literal_suffix(),
            "x/b");
  EXPECT_EQ(
      Glob::Compile("*.Example.com", GlobCase::kInsensitive, GlobEscapes::kNone).literal_suffix(),
      ".example.com");
  EXPECT_EQ(Glob::Compile("a*", GlobCase::kSensitive, GlobEscapes::kNone).literal_suffix(), "");
  EXPECT_FALSE(g.is_literal());
  Glob lit = Glob::Compile("WWW.Example.com", GlobCase::kInsensitive, GlobEscapes::kNone);
  EXPECT_TRUE(lit.is_literal());
  EXPECT_EQ(lit.literal_prefix(), "www.example.com");
  EXPECT_EQ(lit.literal_suffix(), "www.example.com");
  Glob esc = Glob::Compile("a\\*b", GlobCase::kSensitive, GlobEscapes::kBackslash);
  EXPECT_TRUE(esc.is_literal());
  EXPECT_EQ(esc.literal_prefix(), "a*b");
}

TEST(GlobTest, LongInputIsLinearInPractice) {
  std::string text(16 * 1024, 'a');
  EXPECT_FALSE(Cs("*aaaaaaaab*", text));
  text.back() = 'b';
  EXPECT_TRUE(Cs("*aaaaaaaab", text));
  EXPECT_TRUE(Cs("*a?a*b", text));
}

}  // namespace
}  // namespace sluice::routing
