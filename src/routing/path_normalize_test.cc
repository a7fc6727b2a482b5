#include "routing/path_normalize.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::routing {
namespace {

std::string Norm(std::string_view in) {
  char buf[256];
  size_t n = NormalizePath(in, buf, sizeof(buf));
  if (n == kNormalizeOverflow) return "<overflow>";
  return std::string(buf, n);
}

TEST(PathNormalizeTest, PlainPathsUnchanged) {
  EXPECT_EQ(Norm("/"), "/");
  EXPECT_EQ(Norm("/img/a.png"), "/img/a.png");
  EXPECT_EQ(Norm("/a+b/c"), "/a+b/c");
  EXPECT_EQ(Norm("//a//b"), "//a//b");  // duplicate slashes are kept
  EXPECT_EQ(Norm("/a/"), "/a/");
  EXPECT_EQ(Norm("*"), "*");
}

TEST(PathNormalizeTest, EmptyBecomesRoot) { EXPECT_EQ(Norm(""), "/"); }

TEST(PathNormalizeTest, DecodesUnreservedOnly) {
  EXPECT_EQ(Norm("/%69mg/%7Euser"), "/img/~user");
  EXPECT_EQ(Norm("/%41%5a%30%2d%5F"), "/AZ0-_");
  EXPECT_EQ(Norm("/a%2fb"), "/a%2Fb");  // '/' stays encoded, hex upper-cased
  EXPECT_EQ(Norm("/a%20b"), "/a%20b");
  EXPECT_EQ(Norm("/a%3f"), "/a%3F");
  EXPECT_EQ(Norm("/100%"), "/100%");  // malformed escapes are kept
  EXPECT_EQ(Norm("/%zz%4"), "/%zz%4");
}

TEST(PathNormalizeTest, RemovesDotSegments) {
  EXPECT_EQ(Norm("/a/b/c/./../../g"), "/a/g");  // RFC 3986 §5.2.4 example
  EXPECT_EQ(Norm("mid/content=5/../6"), "mid/6");
  EXPECT_EQ(Norm("/a/./b"), "/a/b");
  EXPECT_EQ(Norm("/a/b/.."), "/a/");
  EXPECT_EQ(Norm("/a/b/."), "/a/b/");
  EXPECT_EQ(Norm("/../../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(Norm("/.."), "/");
  EXPECT_EQ(Norm("/."), "/");
  EXPECT_EQ(Norm(".."), "/");
  EXPECT_EQ(Norm("/a/..b/.c"), "/a/..b/.c");
  EXPECT_EQ(Norm("/a//../b"), "/a/b");
}

TEST(PathNormalizeTest, EncodedDotsAreDotSegments) {
  EXPECT_EQ(Norm("/img/%2e%2E/secret"), "/secret");
  EXPECT_EQ(Norm("/img/%2E/x"), "/img/x");
  EXPECT_EQ(Norm("/img/.%2e"), "/");
}

TEST(PathNormalizeTest, OverflowIsReported) {
  char buf[4];
  EXPECT_EQ(NormalizePath("/abcd", buf, sizeof(buf)), kNormalizeOverflow);
  EXPECT_EQ(NormalizePath("/a%2F", buf, sizeof(buf)), kNormalizeOverflow);
  EXPECT_EQ(NormalizePath("/%61%62%63", buf, sizeof(buf)), 4u);  // decodes to "/abc"
  EXPECT_EQ(std::string(buf, 4), "/abc");
}

}  // namespace
}  // namespace sluice::routing
