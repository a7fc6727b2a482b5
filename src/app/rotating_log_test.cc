#include "app/rotating_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sluice::app {
namespace {

class RotatingLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rotlogXXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }
  std::string dir_;
};

TEST_F(RotatingLogTest, RotatesBeforeALineWouldPassTheLimitAndKeepsK) {
  const std::string path = dir_ + "/audit.jsonl";
  auto log = RotatingLog::Open(path, /*max_bytes=*/20, /*keep=*/2);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(log.value()->Append("line-" + std::to_string(i) + "-abc\n"), "");  // 11 bytes
  }
  // One line per file (two would be 22 > 20): 4 in the current file, 3 in .1, 2 in .2; 0 and
  // 1 went with the oldest file.
  EXPECT_EQ(Read(path), "line-4-abc\n");
  EXPECT_EQ(Read(path + ".1"), "line-3-abc\n");
  EXPECT_EQ(Read(path + ".2"), "line-2-abc\n");
  EXPECT_FALSE(Exists(path + ".3"));
}

TEST_F(RotatingLogTest, ALineLongerThanTheLimitStillGoesInWhole) {
  const std::string path = dir_ + "/a.log";
  auto log = RotatingLog::Open(path, 8, 1);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log.value()->Append("a very long line\n"), "");
  EXPECT_EQ(log.value()->Append("b\n"), "");
  EXPECT_EQ(Read(path + ".1"), "a very long line\n");
  EXPECT_EQ(Read(path), "b\n");
}

TEST_F(RotatingLogTest, AppendsToAnExistingFileCountingItsSize) {
  const std::string path = dir_ + "/a.log";
  std::ofstream(path) << "0123456789\n";
  auto log = RotatingLog::Open(path, 16, 3);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log.value()->Append("next-line\n"), "");  // 11 + 10 > 16: rotates first
  EXPECT_EQ(Read(path + ".1"), "0123456789\n");
  EXPECT_EQ(Read(path), "next-line\n");
}

TEST_F(RotatingLogTest, ReopenFollowsAnExternalRotation) {
  const std::string path = dir_ + "/a.log";
  auto log = RotatingLog::Open(path, RotatingLog::kDefaultMaxBytes, 5);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log.value()->Append("before\n"), "");
  ASSERT_EQ(rename(path.c_str(), (path + ".old").c_str()), 0);  // logrotate's move
  EXPECT_EQ(log.value()->Append("still old\n"), "");
  EXPECT_EQ(log.value()->Reopen(), "");
  EXPECT_EQ(log.value()->Append("after\n"), "");
  EXPECT_EQ(Read(path + ".old"), "before\nstill old\n");
  EXPECT_EQ(Read(path), "after\n");
}

TEST_F(RotatingLogTest, AFailedRotationLosesNoLineAndIsReportedOnce) {
  const std::string path = dir_ + "/a.log";
  // <path>.1 is a directory with something in it: renaming the file onto it fails (as root
  // too), as a full or read-only file system would.
  ASSERT_EQ(mkdir((path + ".1").c_str(), 0755), 0);
  std::ofstream(path + ".1/x") << "x";
  auto log = RotatingLog::Open(path, 4, 1);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log.value()->Append("one\n"), "");
  EXPECT_NE(log.value()->Append("two\n").find("cannot rotate"), std::string::npos);
  EXPECT_EQ(log.value()->Append("three\n"), "");  // reported once
  EXPECT_EQ(Read(path), "one\ntwo\nthree\n");
  std::system(("rm -rf " + path + ".1").c_str());
  EXPECT_EQ(log.value()->Append("four\n"), "");  // works again
  EXPECT_EQ(Read(path + ".1"), "one\ntwo\nthree\n");
  EXPECT_EQ(Read(path), "four\n");
}

TEST_F(RotatingLogTest, ConcurrentAppendsKeepEveryLineWhole) {
  const std::string path = dir_ + "/a.log";
  auto log = RotatingLog::Open(path, 4096, 50);
  ASSERT_TRUE(log.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) log.value()->Append("t" + std::to_string(t) + "-line\n");
    });
  }
  for (auto& th : threads) th.join();
  int lines = 0;
  for (int i = 0; i <= 50; ++i) {
    const std::string p = i == 0 ? path : path + "." + std::to_string(i);
    std::istringstream in(Read(p));
    for (std::string l; std::getline(in, l);) {
      EXPECT_TRUE(l.size() == 7 && l[0] == 't' && l.ends_with("-line")) << l;
      ++lines;
    }
  }
  EXPECT_EQ(lines, 2000);
}

}  // namespace
}  // namespace sluice::app
