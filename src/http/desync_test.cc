// Tests for the desync classifier: the full aws/http-desync-guardian YAML suite (every case's
// tier and reason) plus hand-written cases for the subtle rules.
#include "http/desync.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace sluice::http {
namespace {

using namespace std::string_view_literals;

// ---------------------------------------------------------------------------------------------
// The YAML suite (format: /work/shared/data/desync-guardian/README.md).

constexpr char kDataDir[] = SLUICE_SHARED_DIR "/data/desync-guardian";
constexpr int kExpectedCases = 159;

struct YamlCase {
  std::string file;
  std::string name;
  std::string method;
  std::string uri;
  std::string version;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string expected_tier;
  std::string expected_reason;
};

std::string Scalar(const YAML::Node& node) {
  return node && !node.IsNull() ? node.as<std::string>() : std::string();
}

// Loads every *.yaml file of the data directory, in file-name order. Double-quoted YAML
// escapes ("\x01", "\x00") are decoded by yaml-cpp; code points above 0x7f come out as UTF-8.
std::vector<YamlCase> LoadCases(int* file_count) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(kDataDir)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  *file_count = static_cast<int>(files.size());

  std::vector<YamlCase> cases;
  for (const auto& path : files) {
    const YAML::Node root = YAML::LoadFile(path.string());
    for (const YAML::Node& node : root) {
      YamlCase c;
      c.file = path.filename().string();
      c.name = Scalar(node["name"]);
      c.method = Scalar(node["method"]);
      c.uri = Scalar(node["uri"]);
      c.version = Scalar(node["version"]);
      const YAML::Node headers = node["headers"];
      if (headers && headers.IsSequence()) {
        for (const YAML::Node& h : headers) {
          c.headers.emplace_back(Scalar(h["name"]), Scalar(h["value"]));
        }
      }
      c.expected_tier = Scalar(node["expected"]["tier"]);
      c.expected_reason = Scalar(node["expected"]["reason"]);
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

DesyncVerdict Classify(const YamlCase& c) {
  std::vector<HeaderField> fields;
  for (const auto& [name, value] : c.headers) fields.push_back({name, value});
  return ClassifyRequest(c.method, c.uri, c.version, fields);
}

TEST(DesyncYamlSuiteTest, EveryCaseHasExpectedTierAndReason) {
  int file_count = 0;
  const std::vector<YamlCase> cases = LoadCases(&file_count);
  EXPECT_EQ(file_count, 10) << "in " << kDataDir;
  ASSERT_EQ(static_cast<int>(cases.size()), kExpectedCases) << "in " << kDataDir;

  std::map<std::string, int> expected_tiers;
  int passed = 0;
  for (const YamlCase& c : cases) {
    ++expected_tiers[c.expected_tier];
    const DesyncVerdict v = Classify(c);
    if (c.expected_tier == ToString(v.tier) && c.expected_reason == ToString(v.reason)) {
      ++passed;
    } else {
      ADD_FAILURE() << c.file << ": \"" << c.name << "\": expected " << c.expected_tier << "/"
                    << c.expected_reason << ", got " << ToString(v.tier) << "/"
                    << ToString(v.reason);
    }
  }
  // The suite's own tally, so a mis-read file cannot go unnoticed.
  EXPECT_EQ(expected_tiers["Compliant"], 28);
  EXPECT_EQ(expected_tiers["Acceptable"], 15);
  EXPECT_EQ(expected_tiers["Ambiguous"], 58);
  EXPECT_EQ(expected_tiers["Severe"], 58);
  std::printf("desync-guardian suite: %d/%d cases pass\n", passed, static_cast<int>(cases.size()));
}

// ---------------------------------------------------------------------------------------------
// Hand-written cases.

DesyncVerdict Post(std::initializer_list<HeaderField> headers) {
  return ClassifyRequest("POST", "/", "HTTP/1.1", {headers.begin(), headers.size()});
}

DesyncVerdict Get(std::initializer_list<HeaderField> headers) {
  return ClassifyRequest("GET", "/", "HTTP/1.1", {headers.begin(), headers.size()});
}

void ExpectVerdict(DesyncVerdict v, DesyncTier tier, DesyncReason reason) {
  EXPECT_EQ(ToString(v.tier), std::string(ToString(tier)));
  EXPECT_EQ(ToString(v.reason), std::string(ToString(reason)));
}

TEST(DesyncTest, ToStringUsesEnumNames) {
  EXPECT_STREQ(ToString(DesyncTier::kAmbiguous), "Ambiguous");
  EXPECT_STREQ(ToString(DesyncReason::kSuspiciousHeader), "SuspiciousHeader");
  EXPECT_STREQ(ToString(DesyncReason::kUndefinedTransferEncodingSemantics),
               "UndefinedTransferEncodingSemantics");
  EXPECT_STREQ(ToString(DesyncReason::kMissingHeaderColon), "MissingHeaderColon");
}

TEST(DesyncTest, ExactFramingHeadersInAnyCaseAreCompliant) {
  ExpectVerdict(Post({{"TRANSFER-ENCODING", "Chunked"}}), DesyncTier::kCompliant,
                DesyncReason::kCompliant);
  ExpectVerdict(Post({{"content-length", "42"}}), DesyncTier::kCompliant, DesyncReason::kCompliant);
}

TEST(DesyncTest, NamesThatNormaliseToTransferEncodingAreSuspicious) {
  for (std::string_view name :
       {"Transfer_Encoding"sv, "Transfer-Encoding "sv, "Transfer-Encoding\t"sv,
        " Transfer-Encoding"sv, "\x01Transfer-Encoding"sv, "Transfer---Encoding"sv,
        "Transfer- Encoding"sv, "Transfer-Encod\xc4\xb1ng"sv /* dotless i */,
        "Tran\xc5\xbf"
        "fer-Encoding"sv /* long s */,
        "\xc2\xa0Transfer-Encoding"sv, "Transfer-Encoding\x88"sv}) {
    SCOPED_TRACE(std::string(name));
    ExpectVerdict(Post({{name, "chunked"}}), DesyncTier::kAmbiguous,
                  DesyncReason::kSuspiciousHeader);
  }
  ExpectVerdict(Post({{"Content_Length", "5"}}), DesyncTier::kAmbiguous,
                DesyncReason::kSuspiciousHeader);
}

TEST(DesyncTest, OtherNamesAreNotSuspicious) {
  for (std::string_view name : {"X-Transfer-Encoding"sv, "Transfer-Encoding-X"sv,
                                "TransferEncoding"sv, "Transfer-Encodin"sv, "Content-Type"sv}) {
    SCOPED_TRACE(std::string(name));
    ExpectVerdict(Post({{name, "chunked"}}), DesyncTier::kCompliant, DesyncReason::kCompliant);
  }
}

TEST(DesyncTest, SuspiciousHeaderStillCountsForFraming) {
  // "Content-Length " is treated as a Content-Length: two different values are Severe.
  ExpectVerdict(Post({{"Content-Length ", "100"}, {"Content-Length", "1000"}}), DesyncTier::kSevere,
                DesyncReason::kMultipleContentLength);
}

TEST(DesyncTest, CrLfOrNulAnywhereInAHeaderIsBad) {
  ExpectVerdict(Post({{"\rTransfer-Encoding", "chunked"}}), DesyncTier::kSevere,
                DesyncReason::kBadHeader);
  ExpectVerdict(Post({{"X-A", "a\0b"sv}}), DesyncTier::kSevere, DesyncReason::kBadHeader);
  ExpectVerdict(Post({{"X-A", "a\n b"}}), DesyncTier::kSevere, DesyncReason::kBadHeader);
}

TEST(DesyncTest, FirstFindingAtTheHighestTierWins) {
  // NonCompliantHeader (Acceptable) first, then BadTransferEncoding (Severe) replaces it; the
  // later BadContentLength (also Severe) does not.
  ExpectVerdict(Post({{"X-A", "\x11"}, {"Transfer-Encoding", "xchunked"}, {"Content-Length", "x"}}),
                DesyncTier::kSevere, DesyncReason::kBadTransferEncoding);
}

TEST(DesyncTest, ContentLengthParsing) {
  ExpectVerdict(Post({{"Content-Length", "18446744073709551615"}}), DesyncTier::kCompliant,
                DesyncReason::kCompliant);
  ExpectVerdict(Post({{"Content-Length", "18446744073709551616"}}), DesyncTier::kSevere,
                DesyncReason::kBadContentLength);
  ExpectVerdict(Post({{"Content-Length", "+5"}}), DesyncTier::kSevere,
                DesyncReason::kBadContentLength);
  // Deviation from the reference, which reads an empty value as 0.
  ExpectVerdict(Post({{"Content-Length", ""}}), DesyncTier::kSevere,
                DesyncReason::kBadContentLength);
  ExpectVerdict(Post({{"Content-Length", "7"}, {"Content-Length", "7"}}), DesyncTier::kAmbiguous,
                DesyncReason::kDuplicateContentLength);
}

TEST(DesyncTest, TransferCodings) {
  ExpectVerdict(Post({{"Transfer-Encoding", "gzip ; q=1, chunked"}}), DesyncTier::kCompliant,
                DesyncReason::kCompliant);
  ExpectVerdict(Post({{"Transfer-Encoding", "chunked,"}}), DesyncTier::kSevere,
                DesyncReason::kBadTransferEncoding);
  // Deviation: the reference only notices chunked twice in a row.
  ExpectVerdict(Post({{"Transfer-Encoding", "chunked, gzip"}, {"Transfer-Encoding", "chunked"}}),
                DesyncTier::kSevere, DesyncReason::kMultipleTransferEncodingChunked);
}

TEST(DesyncTest, GetAndHeadBodies) {
  ExpectVerdict(Get({{"Content-Length", "0"}}), DesyncTier::kAcceptable,
                DesyncReason::kGetHeadZeroContentLength);
  ExpectVerdict(Get({{"Content-Length", "1"}}), DesyncTier::kAmbiguous,
                DesyncReason::kUndefinedContentLengthSemantics);
  ExpectVerdict(Get({{"Transfer-Encoding", "chunked"}}), DesyncTier::kAmbiguous,
                DesyncReason::kUndefinedTransferEncodingSemantics);
}

TEST(DesyncTest, Versions) {
  const HeaderField te[] = {{"Transfer-Encoding", "chunked"}};
  ExpectVerdict(ClassifyRequest("POST", "/", "HTTP/1.0", te), DesyncTier::kAmbiguous,
                DesyncReason::kUndefinedTransferEncodingSemantics);
  ExpectVerdict(ClassifyRequest("GET", "/", "", {}), DesyncTier::kAcceptable,
                DesyncReason::kNonCompliantVersion);
  ExpectVerdict(ClassifyRequest("GET", "/", "HTTP/1.9", {}), DesyncTier::kAcceptable,
                DesyncReason::kNonCompliantVersion);
  ExpectVerdict(ClassifyRequest("GET", "/", "HTTP/1.x", {}), DesyncTier::kSevere,
                DesyncReason::kBadVersion);
  // HTTP/2+ is not analysed; anything else that merely sorts after "HTTP/2" is.
  const HeaderField bad[] = {{"Transfer-Encoding ", "chunked"}};
  ExpectVerdict(ClassifyRequest("POST", "/", "HTTP/2", bad), DesyncTier::kCompliant,
                DesyncReason::kCompliant);
  ExpectVerdict(ClassifyRequest("POST", "/", "http/1.1", bad), DesyncTier::kSevere,
                DesyncReason::kBadVersion);
}

TEST(DesyncTest, MethodAndUri) {
  ExpectVerdict(ClassifyRequest("GE T", "/", "HTTP/1.1", {}), DesyncTier::kSevere,
                DesyncReason::kBadMethod);
  ExpectVerdict(ClassifyRequest("GET", "/a b", "HTTP/1.1", {}), DesyncTier::kAcceptable,
                DesyncReason::kSpaceInUri);
  ExpectVerdict(ClassifyRequest("GET", "/a\x7f", "HTTP/1.1", {}), DesyncTier::kAmbiguous,
                DesyncReason::kAmbiguousUri);
  ExpectVerdict(ClassifyRequest("GET", "/a\0"sv, "HTTP/1.1", {}), DesyncTier::kSevere,
                DesyncReason::kBadUri);
}

}  // namespace
}  // namespace sluice::http
