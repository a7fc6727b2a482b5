// Real process death: a child process commits and is SIGKILLed; the parent reopens the
// database and checks that it holds exactly a committed document, whole.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <random>
#include <thread>

#include "store/state_store.h"
#include "store/store_test_support.h"

namespace sluice::store {
namespace {

using test_support::RawDb;
using test_support::TempDir;

// The document of generation n: its number, then padding of a size and letter that depend on
// n, so that a document torn or mixed with another generation's cannot pass for it.
std::string Yaml(int64_t n) {
  const size_t padding = 512 + static_cast<size_t>(n * 7919 % 60000);
  return "generation: " + std::to_string(n) + "\npadding: \"" +
         std::string(padding, static_cast<char>('a' + n % 26)) + "\"\n";
}

// Forks a child that opens the store, runs `body` (which never returns) and reports on
// `ready` once it has committed something.
pid_t Spawn(const std::string& db, const std::string& key, int ready_fd,
            void (*body)(StateStore&, int ready_fd)) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  auto store = StateStore::Open(db, key);
  if (!store.ok()) _exit(2);
  body(*store.value(), ready_fd);
  _exit(3);
}

void CommitForever(StateStore& store, int ready_fd) {
  auto doc = store.Load();
  if (!doc.ok()) _exit(4);
  int64_t generation = doc.value().generation;
  for (bool told = false;; told = true) {
    auto next = store.Commit(generation, Yaml(generation + 1), "crash test");
    if (!next.ok()) _exit(5);
    generation = next.value();
    if (!told && write(ready_fd, "x", 1) != 1) _exit(6);
  }
}

void KillAndReap(pid_t pid) {
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child ended on its own: status " << status;
}

void WaitUntilReady(int fd) {
  char c = 0;
  ASSERT_EQ(read(fd, &c, 1), 1) << "the child failed before committing";
}

// Reopens the database and checks it: integrity, the document of its generation, and every
// version in the history whole. Returns the generation.
int64_t CheckDatabase(const std::string& db, const std::string& key) {
  {
    RawDb raw(db);
    EXPECT_EQ(raw.Query("PRAGMA integrity_check"), "ok\n");
  }
  auto store = StateStore::Open(db, key);
  EXPECT_TRUE(store.ok()) << store.error().message;
  if (!store.ok()) return -1;
  auto doc = store.value()->Load();
  EXPECT_TRUE(doc.ok()) << doc.error().message;
  if (!doc.ok()) return -1;
  EXPECT_EQ(doc.value().yaml, Yaml(doc.value().generation));
  auto history = store.value()->History(StateStore::kHistoryVersions);
  EXPECT_TRUE(history.ok());
  if (!history.ok()) return -1;
  int64_t expected = doc.value().generation;
  for (const auto& d : history.value()) {
    EXPECT_EQ(d.generation, expected--);
    EXPECT_EQ(d.yaml, Yaml(d.generation)) << "generation " << d.generation;
  }
  return doc.value().generation;
}

TEST(CrashTest, KillNineDuringABurstOfCommitsLeavesTheLastCommittedDocument) {
  TempDir dir;
  const std::string db = dir.File("state.db");
  const std::string key = dir.File("master.key");
  std::random_device seed_source;
  const unsigned seed = seed_source();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> delay_us(0, 30000);
  int64_t previous = 0;
  for (int iteration = 0; iteration < 8; ++iteration) {
    SCOPED_TRACE("iteration " + std::to_string(iteration));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = Spawn(db, key, fds[1], CommitForever);
    ASSERT_GE(pid, 0);
    close(fds[1]);
    WaitUntilReady(fds[0]);
    close(fds[0]);
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(random)));
    KillAndReap(pid);
    const int64_t generation = CheckDatabase(db, key);
    EXPECT_GT(generation, previous) << "a committed generation was lost";
    previous = generation;
  }
}

// A document much larger than SQLite's page cache spills into the WAL before COMMIT; the
// child is killed while its transaction is open, after the insert and the trim.
void CommitAHugeDocumentAndHang(StateStore& store, int ready_fd) {
  store.SetFaultInjectorForTest([ready_fd](std::string_view step) {
    if (step == "trim") {
      if (write(ready_fd, "x", 1) != 1) _exit(6);
      for (;;) pause();
    }
    return true;
  });
  auto doc = store.Load();
  if (!doc.ok()) _exit(4);
  const int64_t generation = doc.value().generation;
  // Stored deflated: letters from a xorshift generator stay ~12 MiB of 16.
  std::string huge(16 << 20, 'h');
  uint32_t x = 2463534242u;
  for (char& c : huge) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>('0' + (x & 63));
  }
  (void)store.Commit(generation, huge, "never committed");
  _exit(5);
}

TEST(CrashTest, KillNineInsideAnOpenTransactionLeavesThePreviousDocument) {
  TempDir dir;
  const std::string db = dir.File("state.db");
  const std::string key = dir.File("master.key");
  {
    auto store = StateStore::Open(db, key);
    ASSERT_TRUE(store.ok()) << store.error().message;
    for (int64_t g = 0; g < 25; ++g) ASSERT_TRUE(store.value()->Commit(g, Yaml(g + 1), "r").ok());
  }
  // The last connection to close checkpoints and removes the WAL file.
  std::error_code ec;
  const auto wal_before =
      std::filesystem::exists(db + "-wal", ec) ? std::filesystem::file_size(db + "-wal", ec) : 0;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = Spawn(db, key, fds[1], CommitAHugeDocumentAndHang);
  ASSERT_GE(pid, 0);
  close(fds[1]);
  WaitUntilReady(fds[0]);
  close(fds[0]);
  // The uncommitted document did reach the WAL file: recovery has something to ignore.
  EXPECT_GT(std::filesystem::file_size(db + "-wal", ec), wal_before + (8 << 20));
  KillAndReap(pid);
  EXPECT_EQ(CheckDatabase(db, key), 25);
  RawDb raw(db);
  EXPECT_EQ(raw.Query("SELECT count(*), min(generation) FROM documents"), "20|6\n");
}

}  // namespace
}  // namespace sluice::store
