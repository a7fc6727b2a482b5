#include "store/document_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace sluice::store {
namespace {

using ::testing::HasSubstr;

std::string Targets(int n) {
  std::string yaml = "TargetGroups:\n  - Name: g\n    Targets:\n";
  for (int i = 0; i < n; ++i) {
    yaml += "      - {Id: \"10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) +
            "." + std::to_string(i % 256) + "\", Port: 8080}\n";
  }
  return yaml;
}

TEST(DocumentCodec, RoundTripsAndShrinksARepetitiveDocument) {
  for (const std::string& yaml : {std::string(), std::string("a: 1\n"), Targets(100000)}) {
    auto deflated = DeflateDocument(yaml);
    ASSERT_TRUE(deflated.ok()) << deflated.error().message;
    auto back = InflateDocument(deflated.value(), yaml.size());
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back.value(), yaml);
  }
  const std::string big = Targets(100000);
  auto deflated = DeflateDocument(big);
  ASSERT_TRUE(deflated.ok());
  EXPECT_LT(deflated.value().size() * 10, big.size());
}

TEST(DocumentCodec, DamageAndAWrongLengthAreErrors) {
  const std::string yaml = Targets(1000);
  auto deflated = DeflateDocument(yaml);
  ASSERT_TRUE(deflated.ok());
  std::string damaged = deflated.value();
  damaged[damaged.size() / 2] ^= 0x5a;
  auto a = InflateDocument(damaged, yaml.size());
  if (a.ok()) EXPECT_NE(a.value(), yaml);  // DEFLATE has no checksum; most damage is caught
  auto shorter = InflateDocument(deflated.value(), yaml.size() - 1);
  ASSERT_FALSE(shorter.ok());
  EXPECT_THAT(shorter.error().message, HasSubstr("does not inflate to its recorded"));
  auto longer = InflateDocument(deflated.value(), yaml.size() + 1);
  ASSERT_FALSE(longer.ok());
  auto truncated = InflateDocument(deflated.value().substr(0, 10), yaml.size());
  ASSERT_FALSE(truncated.ok());
  auto huge = InflateDocument(deflated.value(), kMaxDocumentBytes + 1);
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(huge.error().message, HasSubstr("damaged"));
}

}  // namespace
}  // namespace sluice::store
