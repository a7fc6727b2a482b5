#include "observe/access_log_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

namespace sluice::observe {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sluice-log-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, ec);
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

LogDestination Dest(const std::string& dir) {
  LogDestination d;
  d.directory = dir;
  d.prefix = "pre/fix";
  d.account = "123456789012";
  d.region = "eu-west-3";
  d.lb_name = "web";
  d.lb_id = "0123456789abcdef";
  d.node_ip = "10.0.0.5";
  return d;
}

std::vector<fs::path> LogFiles(const std::string& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().string().ends_with(".log.gz")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Gunzip(const fs::path& p) {
  gzFile f = gzopen(p.c_str(), "rb");
  std::string out;
  char buf[4096];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return out;
}

// 2026-12-04T10:02:30Z: the interval ends at 10:05.
constexpr int64_t kNow = 1796378550000;

TEST(AccessLogPath, NamedAsAlbNamesItsObjects) {
  LogDestination d = Dest("/logs");
  EXPECT_EQ(AccessLogPath(d, 1796378700000, 1796378701000, "abcd1234"),
            "/logs/pre/fix/AWSLogs/123456789012/elasticloadbalancing/eu-west-3/2026/12/04/"
            "123456789012_elasticloadbalancing_eu-west-3_app.web.0123456789abcdef_"
            "20261204T1005Z_10.0.0.5_abcd1234.log.gz");
  d.prefix.clear();
  EXPECT_EQ(AccessLogPath(d, 1796378700000, 1796378701000, "x").substr(0, 20),
            "/logs/AWSLogs/123456");
  // A network load balancer's (§5.1): "net." and no node address.
  d.network = true;
  EXPECT_EQ(AccessLogPath(d, 1796378700000, 1796378701000, "abcd1234"),
            "/logs/AWSLogs/123456789012/elasticloadbalancing/eu-west-3/2026/12/04/"
            "123456789012_elasticloadbalancing_eu-west-3_net.web.0123456789abcdef_"
            "20261204T1005Z_abcd1234.log.gz");
}

TEST(AccessLogWriter, WritesOneGzipFilePerIntervalOnlyWhenItEnds) {
  TempDir tmp;
  LogRing ring(1 << 16);
  AccessLogWriter w({&ring});
  w.SetDestinations({{7, Dest(tmp.path())}});
  ASSERT_TRUE(ring.Push(7, "line one\n"));
  ASSERT_TRUE(ring.Push(7, "line two\n"));
  w.RunOnce(kNow);
  EXPECT_TRUE(LogFiles(tmp.path()).empty());  // the interval is still running
  ASSERT_TRUE(ring.Push(7, "line three\n"));
  w.RunOnce(kNow + 149'000);  // 10:04:59
  EXPECT_TRUE(LogFiles(tmp.path()).empty());
  w.RunOnce(kNow + 150'000);  // 10:05:00: the interval ended
  std::vector<fs::path> files = LogFiles(tmp.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_NE(files[0].string().find("_20261204T1005Z_10.0.0.5_"), std::string::npos);
  EXPECT_EQ(Gunzip(files[0]), "line one\nline two\nline three\n");
  // Entries of the next interval go to the next file.
  ASSERT_TRUE(ring.Push(7, "later\n"));
  w.RunOnce(kNow + 200'000);
  w.Finish(kNow + 210'000);
  files = LogFiles(tmp.path());
  ASSERT_EQ(files.size(), 2u);
  AccessLogStats s = w.stats();
  EXPECT_EQ(s.written, 4u);
  EXPECT_EQ(s.files, 2u);
  EXPECT_EQ(s.errors, 0u);
}

TEST(AccessLogWriter, EntriesOfAnUnknownLogAreDroppedAndCounted) {
  TempDir tmp;
  LogRing ring(1 << 16);
  AccessLogWriter w({&ring});
  w.SetDestinations({{7, Dest(tmp.path())}});
  ring.Push(8, "nobody's\n");
  w.Finish(kNow);
  EXPECT_EQ(w.stats().dropped_error, 1u);
  EXPECT_TRUE(LogFiles(tmp.path()).empty());
}

TEST(AccessLogWriter, AFullRingDropsAndCountsWithoutBlocking) {
  LogRing ring(4096);
  std::string entry(1000, 'x');
  int pushed = 0;
  while (ring.Push(1, entry)) ++pushed;
  EXPECT_EQ(pushed, 4);  // 4 × (1000 + 12) fit in 4096
  EXPECT_EQ(ring.dropped(), 1u);
  std::string scratch;
  size_t drained =
      ring.Drain(&scratch, [](uint64_t, std::string_view e) { EXPECT_EQ(e.size(), 1000u); });
  EXPECT_EQ(drained, 4u);
  EXPECT_TRUE(ring.Push(1, entry));  // room again, across the wrap
  EXPECT_TRUE(ring.Push(1, entry));
  drained = ring.Drain(&scratch, [&](uint64_t, std::string_view e) { EXPECT_EQ(e, entry); });
  EXPECT_EQ(drained, 2u);
}

TEST(AccessLogWriter, AnUnwritableDirectoryDropsTheIntervalThenRecovers) {
  TempDir tmp;
  // A file where the directory should be: refused even to root.
  const std::string dir = tmp.path() + "/logs";
  std::ofstream(dir) << "not a directory";
  LogRing ring(1 << 16);
  AccessLogWriter w({&ring});
  w.SetDestinations({{7, Dest(dir)}});
  ring.Push(7, "lost 1\n");
  ring.Push(7, "lost 2\n");
  w.RunOnce(kNow);
  EXPECT_EQ(w.stats().dropped_error, 2u);
  EXPECT_EQ(w.stats().errors, 1u);
  // The operator fixes the directory; the next interval writes again.
  fs::remove(dir);
  fs::create_directories(dir);
  ring.Push(7, "kept\n");
  w.RunOnce(kNow + 150'000);
  w.Finish(kNow + 160'000);
  std::vector<fs::path> files = LogFiles(dir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(Gunzip(files[0]), "kept\n");
}

TEST(AccessLogWriter, ADestinationChangeCompletesTheOpenFile) {
  TempDir tmp;
  LogRing ring(1 << 16);
  AccessLogWriter w({&ring});
  w.SetDestinations({{7, Dest(tmp.path() + "/a")}});
  ring.Push(7, "to a\n");
  w.RunOnce(kNow);
  w.SetDestinations({{7, Dest(tmp.path() + "/b")}});
  ring.Push(7, "to b\n");
  w.RunOnce(kNow + 1000);
  ASSERT_EQ(LogFiles(tmp.path() + "/a").size(), 1u);
  EXPECT_EQ(Gunzip(LogFiles(tmp.path() + "/a")[0]), "to a\n");
  w.Finish(kNow + 2000);
  ASSERT_EQ(LogFiles(tmp.path() + "/b").size(), 1u);
  EXPECT_EQ(Gunzip(LogFiles(tmp.path() + "/b")[0]), "to b\n");
}

// Entries pushed before a reload turned the log off were dropped when the writer applied the
// change before draining them.
TEST(AccessLogWriter, TurningALogOffKeepsWhatWasPushedBefore) {
  TempDir tmp;
  LogRing ring(1 << 16);
  AccessLogWriter w({&ring});
  std::vector<std::string> completed;
  w.set_on_completed(
      [&](const LogDestination&, const std::string& path) { completed.push_back(path); });
  w.SetDestinations({{7, Dest(tmp.path())}, {9, Dest(tmp.path() + "/other")}});
  w.RunOnce(kNow);
  ring.Push(7, "before\n");
  ring.Push(9, "stays\n");
  w.SetDestinations({{9, Dest(tmp.path() + "/other")}});  // before the writer drained
  w.RunOnce(kNow + 100);
  std::vector<fs::path> files = LogFiles(tmp.path() + "/pre");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(Gunzip(files[0]), "before\n");
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_EQ(completed[0], files[0].string());
  ring.Push(7, "after\n");  // the log is gone now
  w.Finish(kNow + 1000);
  EXPECT_EQ(w.stats().dropped_error, 1u);
  EXPECT_EQ(w.stats().written, 2u);
  EXPECT_EQ(LogFiles(tmp.path() + "/pre").size(), 1u);
}

// Two reloads between two rounds of the writer: the log the first turned on and the second
// turned off still gets what was pushed in between.
TEST(AccessLogWriter, ALogOnAndOffBetweenTwoRoundsKeepsItsEntries) {
  TempDir tmp;
  LogRing ring(1 << 16);
  AccessLogWriter w({&ring});
  w.SetDestinations({{7, Dest(tmp.path())}});
  ring.Push(7, "brief\n");
  w.SetDestinations({});
  w.RunOnce(kNow);
  std::vector<fs::path> files = LogFiles(tmp.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(Gunzip(files[0]), "brief\n");
  // Turned off, then on again before the writer ran: the log simply stays.
  w.SetDestinations({{7, Dest(tmp.path())}});
  w.RunOnce(kNow + 100);
  w.SetDestinations({});
  w.SetDestinations({{7, Dest(tmp.path())}});
  ring.Push(7, "kept\n");
  w.RunOnce(kNow + 200);
  EXPECT_EQ(LogFiles(tmp.path()).size(), 1u);  // its file is still open
  w.Finish(kNow + 300);
  EXPECT_EQ(LogFiles(tmp.path()).size(), 2u);
  EXPECT_EQ(w.stats().dropped_error, 0u);
}

// gzip members in one file (RFC 1952 §2.2), counted with zlib's own reader.
size_t GzipMembers(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return 0;
  z.next_in = reinterpret_cast<Bytef*>(data.data());
  z.avail_in = static_cast<uInt>(data.size());
  size_t members = 0;
  char out[65536];
  while (z.avail_in > 0) {
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = sizeof(out);
    const int rc = inflate(&z, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      ++members;
      inflateReset(&z);
    } else if (rc != Z_OK) {
      break;
    }
  }
  inflateEnd(&z);
  return members;
}

// An interval's entries beyond one member's input (128 KiB) go out as several members; every
// reader that follows RFC 1952 (gzread here, gzip -d, Python's gzip) sees one stream.
TEST(AccessLogWriter, LargeIntervalIsSeveralMembersReadAsOne) {
  TempDir tmp;
  LogRing ring(1 << 16);
  AccessLogWriter w({&ring});
  w.SetDestinations({{7, Dest(tmp.path())}});
  std::string want;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 100; ++i) {
      std::string e = "http 2026-12-04T10:00:00.000000Z entry " + std::to_string(round * 100 + i) +
                      " " + std::string(150, 'x') + "\n";
      ASSERT_TRUE(ring.Push(7, e));
      want += e;
    }
    w.RunOnce(kNow);
  }
  w.Finish(kNow + 1000);
  std::vector<fs::path> files = LogFiles(tmp.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(Gunzip(files[0]), want);
  EXPECT_GE(GzipMembers(files[0]), 3u);  // ~390 KiB of entries
  EXPECT_LT(fs::file_size(files[0]), want.size() / 4);
  EXPECT_EQ(w.stats().written, 2000u);
}

// A file that fails at its end (here: its date directory cannot be made) loses every entry
// it held, those of members already written included: they are counted dropped, not
// written.
TEST(AccessLogWriter, AFileLostAtItsEndCountsAllItsEntriesDropped) {
  TempDir tmp;
  LogRing ring(1 << 16);
  AccessLogWriter w({&ring});
  w.SetDestinations({{7, Dest(tmp.path())}});
  for (int round = 0; round < 6; ++round) {  // ~170 KiB: one member written mid-interval
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(ring.Push(7, std::string(140, 'x') + "\n"));
    w.RunOnce(kNow);
  }
  EXPECT_EQ(w.stats().written, 1200u);
  // The prefix directory ("pre/fix") becomes a file: the completed file cannot move in.
  fs::create_directories(tmp.path() + "/pre");
  std::ofstream(tmp.path() + "/pre/fix") << "not a directory";
  w.Finish(kNow + 1000);
  AccessLogStats s = w.stats();
  EXPECT_EQ(s.written, 0u);
  EXPECT_EQ(s.dropped_error, 1200u);
  EXPECT_EQ(s.errors, 1u);
  EXPECT_TRUE(LogFiles(tmp.path()).empty());
}

TEST(AccessLogWriter, ThreadDrainsWhileAProducerPushes) {
  TempDir tmp;
  LogRing ring(1 << 14);
  AccessLogWriter w({&ring});
  w.SetDestinations({{7, Dest(tmp.path())}});
  w.Start(1);
  uint64_t pushed = 0;
  std::thread producer([&] {
    for (int i = 0; i < 20000; ++i) {
      if (ring.Push(7, "entry " + std::to_string(i) + "\n")) ++pushed;
    }
  });
  producer.join();
  w.Stop();
  AccessLogStats s = w.stats();
  EXPECT_EQ(s.written, pushed);
  EXPECT_EQ(s.written + s.dropped_full, 20000u);
  std::string all;
  for (const fs::path& p : LogFiles(tmp.path())) all += Gunzip(p);
  EXPECT_EQ(static_cast<uint64_t>(std::count(all.begin(), all.end(), '\n')), pushed);
}

}  // namespace
}  // namespace sluice::observe
