// FileWatch: a change is reported once, after it has settled for a poll; a missing file and
// a file replaced by rename are changes.
#include "app/file_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace sluice::app {
namespace {

void Write(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

TEST(FileWatchTest, ReportsASettledChangeOnce) {
  const std::string dir = ::testing::TempDir();
  const std::string base = dir + "sluice-fw-" + std::to_string(getpid());
  const std::string crt = base + ".crt", key = base + ".key";
  Write(crt, "one");
  Write(key, "one");
  FileWatch watch;
  watch.Watch({crt, key});
  EXPECT_FALSE(watch.PollSettled());
  Write(crt, "two, longer");  // the certificate first...
  EXPECT_FALSE(watch.PollSettled()) << "changed at this poll: not settled yet";
  Write(key, "two, longer");  // ...then its key, before the next poll
  EXPECT_FALSE(watch.PollSettled());
  EXPECT_TRUE(watch.PollSettled()) << "unchanged for a poll: report";
  EXPECT_FALSE(watch.PollSettled()) << "reported once";
  // Replaced by rename (a new inode), as deploy tools do.
  Write(crt + ".new", "three");
  ASSERT_EQ(std::rename((crt + ".new").c_str(), crt.c_str()), 0);
  EXPECT_FALSE(watch.PollSettled());
  EXPECT_TRUE(watch.PollSettled());
  // Removed: a change too (the reload then reports the missing file).
  ASSERT_EQ(unlink(key.c_str()), 0);
  EXPECT_FALSE(watch.PollSettled());
  EXPECT_TRUE(watch.PollSettled());
  unlink(crt.c_str());
}

TEST(FileWatchTest, WatchedFilesOfAConfig) {
  config::Config cfg;
  cfg.certificates.push_back({"c", "/a.crt", "/a.key"});
  config::TrustStoreDefinition t;
  t.ca_bundle_file = "/ca.pem";
  t.revocation_files = {"/crl.pem"};
  cfg.trust_stores.push_back(t);
  config::TargetGroup g;
  g.attributes.tls_verify_ca_file = "/targets-ca.pem";
  cfg.target_groups.push_back(g);
  cfg.target_groups.push_back(config::TargetGroup{});
  EXPECT_EQ(WatchedFiles(cfg), (std::vector<std::string>{"/a.crt", "/a.key", "/ca.pem", "/crl.pem",
                                                         "/targets-ca.pem"}));
}

}  // namespace
}  // namespace sluice::app
