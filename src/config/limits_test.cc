// Hostile input: what the loader echoes back is bounded and escaped, loading is bounded in
// memory, and only regular files are read.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "config/loader.h"
#include "config/test_util.h"

namespace sluice::config {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using testing::Errors;
using ::testing::HasSubstr;
using ::testing::Not;

// Target list items after this start on line 6.
constexpr char kTargetsPrefix[] =
    "TargetGroups:\n  - Name: tg\n    Protocol: HTTP\n    Port: 80\n    Targets:\n";

size_t TotalBytes(const std::vector<std::string>& errors) {
  size_t n = 0;
  for (const std::string& e : errors) n += e.size() + 1;
  return n;
}

TEST(LimitsTest, LongValueIsCutToAPrefixAndItsLength) {
  const std::string id(100000, 'a');
  EXPECT_THAT(
      Errors(kTargetsPrefix + ("      - Id: " + id + "\n")),
      ElementsAre("t.yaml:6:13: TargetGroups[0].Targets[0].Id: target Id '" + std::string(64, 'a') +
                  "\xE2\x80\xA6' (100000 bytes) is not an IP address (TargetType ip)"));
}

TEST(LimitsTest, NonPrintableCharactersInValuesAreEscaped) {
  // SOH, ESC and RIGHT-TO-LEFT OVERRIDE, written as YAML escapes.
  std::vector<std::string> errors =
      Errors(std::string(kTargetsPrefix) + "      - Id: \"exe.\\x01\\e[2J\\u202Egpj.exe\"\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("target Id 'exe.\\x01\\x1b[2J\\u202egpj.exe' is not"));
  EXPECT_EQ(errors[0].find('\x01'), std::string::npos);
  EXPECT_EQ(errors[0].find('\x1b'), std::string::npos);
  EXPECT_EQ(errors[0].find("\xE2\x80\xAE"), std::string::npos);
}

TEST(LimitsTest, InvalidUtf8InKeysAndValuesIsEscaped) {
  std::vector<std::string> errors = Errors(
      "Admin: {Address: a\xFF\xFE"
      "b, P\xFF\xFEort: 1}\n");
  EXPECT_THAT(errors, ElementsAre(HasSubstr("admin address 'a\\xff\\xfeb' is not an IP address"),
                                  AllOf(HasSubstr("Admin.P\\xff\\xfeort: unknown field "
                                                  "'P\\xff\\xfeort'"))));
}

TEST(LimitsTest, NulInAStringIsAnError) {
  // C APIs behind the model (inet_pton, file names) would silently stop at the NUL.
  EXPECT_THAT(Errors("Admin: {Address: \"127.0.0.1\\0junk\", Port: 9901}\n"),
              ElementsAre("t.yaml:1:18: Admin.Address: value '127.0.0.1\\x00junk' contains a "
                          "NUL character"));
}

TEST(LimitsTest, LongKeysAreCutInFieldPathsAndMessages) {
  const std::string key(1 << 20, 'k');
  std::vector<std::string> errors = Errors("Admin:\n  ? " + key + "\n  : 1\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0],
              HasSubstr("Admin." + std::string(64, 'k') + "\xE2\x80\xA6: unknown field '" +
                        std::string(64, 'k') + "\xE2\x80\xA6' (1048576 bytes)"));
  EXPECT_LT(errors[0].size(), 1024u);
}

// One 1 MiB value, referenced by 199 aliases in places where it is invalid: every reference
// is an error that quotes it, and (before the value budget) every reference was copied.
std::string AliasBomb(size_t value_bytes, int aliases) {
  std::string yaml = "a: &x " + std::string(value_bytes, 'a') + "\nTargetGroups:\n";
  for (int i = 0; i < aliases; ++i) yaml += "  - {Name: *x, Protocol: HTTP, Port: 80}\n";
  return yaml;
}

TEST(LimitsTest, AliasedLongValueGivesBoundedOutput) {
  std::vector<std::string> errors = Errors(AliasBomb(1 << 20, 199));
  ASSERT_FALSE(errors.empty());
  EXPECT_LE(errors.size(), kMaxReportedErrors + 1);
  EXPECT_LT(TotalBytes(errors), 64u * 1024);
  EXPECT_EQ(errors[0],
            "t.yaml: document is too large after expanding aliases (its values add up to more "
            "than 32 MiB)");
  EXPECT_THAT(errors, Each(Not(HasSubstr(std::string(65, 'a')))));
}

TEST(LimitsTest, ManyAliasesOfASmallValueAreAllReported) {
  // Under the value budget: every reference is reported, capped at kMaxReportedErrors.
  std::vector<std::string> errors = Errors(AliasBomb(1000, 100));
  ASSERT_EQ(errors.size(), kMaxReportedErrors + 1);
  EXPECT_THAT(errors[0], HasSubstr("unknown field 'a'"));
  EXPECT_THAT(errors[1], HasSubstr("TargetGroups[0].Name: name '" + std::string(64, 'a') +
                                   "\xE2\x80\xA6' (1000 bytes) is invalid"));
  // 1 unknown field + 100 invalid names + 99 duplicate names.
  EXPECT_EQ(errors.back(), "t.yaml: and 150 more error(s)");
}

TEST(LimitsTest, NodeCountIsCappedBeforeBuildingTheDocument) {
  std::string yaml = "TargetGroups: [";
  for (int i = 0; i < 600001; ++i) yaml += "1,";
  yaml += "1]\n";
  EXPECT_THAT(Errors(yaml),
              ElementsAre(HasSubstr("the document has more than 600000 YAML nodes (values, lists "
                                    "and mappings); this is the limit")));
}

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "sluice-config-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)std::system(cmd.c_str());
  }
  // The single error of loading `path`, as a string.
  static std::string OnlyError(const std::string& path) {
    LoadResult result = LoadConfigFromFile(path);
    const auto* errors = std::get_if<ConfigErrors>(&result);
    if (errors == nullptr || errors->size() != 1) return "<not one error>";
    return (*errors)[0].ToString();
  }
  std::string dir_;
};

TEST_F(FileTest, FifoIsRefusedWithoutBlocking) {
  const std::string path = dir_ + "/fifo.yaml";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  // Opening a FIFO for reading blocks until a writer comes; the loader must not open it.
  EXPECT_EQ(OnlyError(path), path + ": cannot read: it is a FIFO, not a file");
}

TEST_F(FileTest, DirectoryAndDeviceAreRefused) {
  EXPECT_EQ(OnlyError(dir_), dir_ + ": cannot read: it is a directory, not a file");
  EXPECT_EQ(OnlyError("/dev/zero"), "/dev/zero: cannot read: it is a character device, not a file");
}

TEST_F(FileTest, LargeFileIsRefusedWithItsSize) {
  const std::string path = dir_ + "/big.yaml";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 17 * 1024 * 1024), 0);  // sparse: costs no disk
  close(fd);
  EXPECT_EQ(OnlyError(path), path + ": file is 17825792 bytes; the limit is 16 MiB");
}

TEST_F(FileTest, MissingFileAndFileNameWithControlCharacters) {
  EXPECT_EQ(OnlyError(dir_ + "/none.yaml"),
            dir_ + "/none.yaml: cannot open: No such file or directory");
  const std::string odd = dir_ + "/a\x1b[2Jb\n.yaml";
  EXPECT_EQ(OnlyError(odd), dir_ + "/a\\x1b[2Jb\\n.yaml: cannot open: No such file or directory");
}

TEST_F(FileTest, RegularFileLoads) {
  const std::string path = dir_ + "/ok.yaml";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("Admin: {Port: 9901}\n", f);
  std::fclose(f);
  LoadResult result = LoadConfigFromFile(path);
  ASSERT_TRUE(std::holds_alternative<Config>(result));
  EXPECT_EQ(std::get<Config>(result).admin.port, 9901);
}

}  // namespace
}  // namespace sluice::config
