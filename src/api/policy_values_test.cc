#include "api/policy_values.h"

#include <gtest/gtest.h>

#include <optional>

namespace sluice::api::policy_detail {
namespace {

constexpr int64_t kNow = 1767268800;  // 2026-01-01T12:00:00Z

TEST(PolicyValues, Glob) {
  struct Case {
    const char* pattern;
    const char* text;
    bool ignore_case;
    bool want;
  };
  const Case cases[] = {
      {"*", "", false, true},
      {"", "", false, true},
      {"", "a", false, false},
      {"a*c", "abbbc", false, true},
      {"a*c", "abbbd", false, false},
      {"a?c", "abc", false, true},
      {"a?c", "ac", false, false},
      {"arn:*:targetgroup/*", "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1", false,
       true},
      {"*/blue-*/*", "arn:aws:x:targetgroup/blue-web/1", false, true},
      {"*b*b*b", "abababab", false, true},
      {"*b*b*b", "aaaaaaab", false, false},
      {"ABC", "abc", false, false},
      {"ABC", "abc", true, true},
      {"a*", "*", false, false},
      {"**?", "x", false, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Glob(c.pattern, c.text, c.ignore_case), c.want) << c.pattern << " ~ " << c.text;
  }
}

TEST(PolicyValues, ParseTime) {
  struct Case {
    const char* text;
    std::optional<double> want;
  };
  const Case cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"2026-01-01T00:00:00Z", 1767225600},
      {"2026-01-01", 1767225600},
      {"2026-01-01T12:00Z", 1767268800},
      {"2026-01-01T14:00:00+02:00", 1767268800},
      {"2026-01-01T10:30:00-0130", 1767268800},
      {"2026-01-01T12:00:00.5Z", 1767268800.5},
      {"2024-02-29T00:00:00Z", 1709164800},
      {"2000-03-01T00:00:00Z", 951868800},
      {"1900-03-01T00:00:00Z", -2203891200},
      {"1767225600", 1767225600},
      {"2023-02-29", std::nullopt},
      {"1900-02-29", std::nullopt},
      {"2026-13-01", std::nullopt},
      {"2026-01-01T12:60:00Z", std::nullopt},
      {"2026-01-01T12:00:00", 1767268800},
      {"2026-01-01 12:00:00Z", std::nullopt},
      {"2026-01-01T12:00:00ZZ", std::nullopt},
      {"2026-01-01T12:00:00.Z", std::nullopt},
      {"2026-1-1", std::nullopt},
      {"1234567890123", std::nullopt},
      {"", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ParseTime(c.text), c.want) << c.text;
  EXPECT_EQ(FormatTime(kNow), "2026-01-01T12:00:00Z");
  EXPECT_EQ(ParseTime(FormatTime(951868799)), 951868799);
}

TEST(PolicyValues, Blocks) {
  auto contains = [](const char* block, const char* ip) {
    auto b = ParseBlock(block);
    auto a = ParseAddress(ip);
    return b && a && b->Contains(*a);
  };
  EXPECT_TRUE(contains("203.0.113.5", "203.0.113.5"));
  EXPECT_FALSE(contains("203.0.113.5", "203.0.113.4"));
  EXPECT_TRUE(contains("2001:db8::1", "2001:db8::1"));
  EXPECT_FALSE(contains("2001:db8::1", "2001:db8::2"));
  EXPECT_TRUE(contains("10.0.0.0/8", "::ffff:10.9.8.7"));
  EXPECT_FALSE(contains("10.0.0.0/8", "::a09:807"));  // IPv4-compatible is not IPv4-mapped
  EXPECT_TRUE(contains("::/0", "::1"));
  EXPECT_FALSE(contains("::/0", "10.0.0.1"));
  EXPECT_FALSE(ParseBlock("10.0.0.0/"));
  EXPECT_FALSE(ParseBlock("fe80::1%eth0"));
}

}  // namespace
}  // namespace sluice::api::policy_detail
