#include "routing/query.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace sluice::routing {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs Decode(std::string_view q) {
  std::string buf(DecodedQueryCapacity(q.size()), '\0');
  size_t n = DecodeQuery(q, buf.data(), buf.size());
  if (n == kQueryOverflow) return {{"<overflow>", ""}};
  Pairs out;
  DecodedPairs pairs(std::string_view(buf.data(), n));
  std::string_view k, v;
  while (pairs.Next(&k, &v)) out.emplace_back(std::string(k), std::string(v));
  return out;
}

TEST(QueryTest, SplitsPairsAtFirstEquals) {
  EXPECT_EQ(Decode("a=1&b=2"), (Pairs{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(Decode("a=b=c"), (Pairs{{"a", "b=c"}}));
  EXPECT_EQ(Decode("flag"), (Pairs{{"flag", ""}}));
  EXPECT_EQ(Decode("=v"), (Pairs{{"", "v"}}));
  EXPECT_EQ(Decode("a=&&b"), (Pairs{{"a", ""}, {"b", ""}}));
  EXPECT_EQ(Decode(""), Pairs{});
  EXPECT_EQ(Decode("&&&"), Pairs{});
}

TEST(QueryTest, PercentDecodesButKeepsPlus) {
  EXPECT_EQ(Decode("q=hello%20world"), (Pairs{{"q", "hello world"}}));
  EXPECT_EQ(Decode("%6Bey=%2a"), (Pairs{{"key", "*"}}));
  EXPECT_EQ(Decode("a%3Db=c%26d"), (Pairs{{"a=b", "c&d"}}));
  EXPECT_EQ(Decode("q=a+b"), (Pairs{{"q", "a+b"}}));
  EXPECT_EQ(Decode("q=100%&r=%g1"), (Pairs{{"q", "100%"}, {"r", "%g1"}}));
}

TEST(QueryTest, CapacityBoundHoldsForWorstCase) {
  std::string q;
  for (int i = 0; i < 8000; ++i) q += i ? "&a" : "a";
  Pairs p = Decode(q);
  ASSERT_EQ(p.size(), 8000u);
  EXPECT_EQ(p.back(), (std::pair<std::string, std::string>{"a", ""}));
}

TEST(QueryTest, OverflowWhenBufferTooSmall) {
  char buf[8];
  EXPECT_EQ(DecodeQuery("abc=defgh", buf, sizeof(buf)), kQueryOverflow);
  EXPECT_EQ(DecodeQuery("ab=cd", buf, sizeof(buf)), 8u);
  std::string huge(70000, 'a');
  std::string big(DecodedQueryCapacity(huge.size()), '\0');
  EXPECT_EQ(DecodeQuery(huge, big.data(), big.size()), kQueryOverflow);
}

}  // namespace
}  // namespace sluice::routing
