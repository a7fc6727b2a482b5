#include "store/state_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "store/document_codec.h"
#include "store/schema.h"
#include "store/store_test_support.h"

namespace sluice::store {
namespace {

using test_support::RawDb;
using test_support::ReadFile;
using test_support::TempDir;
using test_support::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class StateStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<StateStore> OpenStore() {
    auto store = StateStore::Open(db_path_, key_path_);
    EXPECT_TRUE(store.ok()) << store.error().message;
    return store.ok() ? std::move(store.value()) : nullptr;
  }
  StateStore::Document LoadOrDie(StateStore& store) {
    auto doc = store.Load();
    EXPECT_TRUE(doc.ok()) << doc.error().message;
    return doc.ok() ? doc.value() : StateStore::Document{};
  }

  TempDir dir_;
  std::string db_path_ = dir_.File("state.db");
  std::string key_path_ = dir_.File("master.key");
};

TEST_F(StateStoreTest, OpenCreatesTheSchemaInWalMode) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  RawDb raw(db_path_);
  EXPECT_EQ(raw.Query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
            "access_keys\ndocuments\nmeta\n");
  EXPECT_EQ(raw.Query("SELECT value FROM meta WHERE key = 'schema_version'"), "2\n");
  EXPECT_THAT(raw.Query("SELECT value FROM meta WHERE key = 'master_key_check'"),
              ::testing::MatchesRegex("[0-9a-f]{32}\n"));
  EXPECT_EQ(raw.Query("PRAGMA journal_mode"), "wal\n");
  auto doc = LoadOrDie(*store);
  EXPECT_EQ(doc.generation, 0);
  EXPECT_EQ(doc.yaml, "");
}

TEST_F(StateStoreTest, GenerationsIncreaseAndSurviveAReopen) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto g1 = store->Commit(0, "a: 1\n", "first");
    ASSERT_TRUE(g1.ok()) << g1.error().message;
    EXPECT_EQ(g1.value(), 1);
    auto g2 = store->Commit(1, "a: 2\n", "second");
    ASSERT_TRUE(g2.ok()) << g2.error().message;
    EXPECT_EQ(g2.value(), 2);
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto doc = LoadOrDie(*store);
  EXPECT_EQ(doc.generation, 2);
  EXPECT_EQ(doc.yaml, "a: 2\n");
  EXPECT_EQ(doc.reason, "second");
  EXPECT_THAT(doc.committed_at,
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"));
}

TEST_F(StateStoreTest, AStaleGenerationIsAConflictAndChangesNothing) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Commit(0, "a: 1\n", "first").ok());
  ASSERT_TRUE(store->Commit(1, "a: 2\n", "second").ok());
  for (int64_t stale : {0, 1, 3}) {
    auto conflict = store->Commit(stale, "a: lost\n", "stale");
    ASSERT_FALSE(conflict.ok()) << stale;
    EXPECT_THAT(conflict.error().message, HasSubstr("generation conflict"));
    EXPECT_EQ(conflict.error().source, ErrorSource::kConfig);
  }
  auto doc = LoadOrDie(*store);
  EXPECT_EQ(doc.generation, 2);
  EXPECT_EQ(doc.yaml, "a: 2\n");
  auto history = store->History(100);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history.value().size(), 2u);
  EXPECT_FALSE(store->Commit(-1, "x", "negative").ok());
}

TEST_F(StateStoreTest, EmptyViewsAreStoredAsEmptyStrings) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto g1 = store->Commit(0, std::string_view(), std::string_view());
  ASSERT_TRUE(g1.ok()) << g1.error().message;
  auto doc = LoadOrDie(*store);
  EXPECT_EQ(doc.generation, 1);
  EXPECT_EQ(doc.yaml, "");
  auto key = store->CreateAccessKey("alice", std::string_view());
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key.value().first.policy_json, "");
}

// Two connections (as two processes would have): a stale writer gets a conflict; a writer
// waits for another's write lock, and gives up after the busy timeout with a retryable error.
TEST_F(StateStoreTest, TwoConnectionsShareTheDatabase) {
  auto a = OpenStore();
  auto b = OpenStore();
  ASSERT_TRUE(a != nullptr && b != nullptr);
  ASSERT_TRUE(a->Commit(0, "a", "r").ok());
  ASSERT_TRUE(b->Commit(1, "b", "r").ok());
  auto stale = a->Commit(1, "a again", "r");
  ASSERT_FALSE(stale.ok());
  EXPECT_THAT(stale.error().message, HasSubstr("generation conflict"));
  EXPECT_EQ(LoadOrDie(*a).yaml, "b");

  RawDb raw(db_path_);
  ASSERT_EQ(raw.Query("BEGIN IMMEDIATE"), "");
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(raw.Query("COMMIT"), "");
  });
  const auto start = std::chrono::steady_clock::now();
  auto waited = a->Commit(2, "after the wait", "r");
  release.join();
  EXPECT_TRUE(waited.ok()) << waited.error().message;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));

  ASSERT_EQ(raw.Query("BEGIN IMMEDIATE"), "");
  auto busy = a->Commit(3, "never", "r");
  EXPECT_EQ(raw.Query("ROLLBACK"), "");
  ASSERT_FALSE(busy.ok());
  EXPECT_TRUE(busy.error().retryable);
  EXPECT_THAT(busy.error().message, HasSubstr(db_path_));
  EXPECT_THAT(busy.error().message, HasSubstr("locked"));
  EXPECT_EQ(LoadOrDie(*b).generation, 3);
}

TEST_F(StateStoreTest, HistoryKeepsTheLast20NewestFirst) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  for (int64_t g = 0; g < 27; ++g) {
    ASSERT_TRUE(store->Commit(g, "g: " + std::to_string(g + 1) + "\n", "r").ok());
  }
  auto history = store->History(100);
  ASSERT_TRUE(history.ok()) << history.error().message;
  ASSERT_EQ(history.value().size(), 20u);
  EXPECT_EQ(history.value().front().generation, 27);
  EXPECT_EQ(history.value().back().generation, 8);
  EXPECT_EQ(history.value().back().yaml, "g: 8\n");
  RawDb raw(db_path_);
  EXPECT_EQ(raw.Query("SELECT count(*), min(generation) FROM documents"), "20|8\n");
  auto three = store->History(3);
  ASSERT_TRUE(three.ok());
  std::vector<int64_t> generations;
  for (const auto& d : three.value()) generations.push_back(d.generation);
  EXPECT_THAT(generations, ElementsAre(27, 26, 25));
  auto none = store->History(0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.value().empty());
}

TEST_F(StateStoreTest, TheFaultInjectorSeesEveryStepInOrder) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<std::string> steps;
  store->SetFaultInjectorForTest([&](std::string_view step) {
    steps.emplace_back(step);
    return true;
  });
  ASSERT_TRUE(store->Commit(0, "a: 1\n", "r").ok());
  EXPECT_THAT(steps, ElementsAre("begin", "check", "insert", "trim", "commit"));
}

// A commit that dies between any two of its statements leaves the previous document, in this
// connection, in a fresh one, and with the history untouched; the store stays usable.
TEST_F(StateStoreTest, ACommitAbortedBetweenStatementsRollsBack) {
  for (const char* fail_at : {"begin", "check", "insert", "trim"}) {
    SCOPED_TRACE(fail_at);
    TempDir dir;
    auto opened = StateStore::Open(dir.File("state.db"), dir.File("master.key"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    StateStore& store = *opened.value();
    for (int64_t g = 0; g < 20; ++g)
      ASSERT_TRUE(store.Commit(g, "v" + std::to_string(g + 1), "r").ok());
    store.SetFaultInjectorForTest([&](std::string_view step) { return step != fail_at; });
    auto aborted = store.Commit(20, "v21", "doomed");
    ASSERT_FALSE(aborted.ok());
    EXPECT_THAT(aborted.error().message, HasSubstr("fault injector"));
    auto doc = LoadOrDie(store);
    EXPECT_EQ(doc.generation, 20);
    EXPECT_EQ(doc.yaml, "v20");
    RawDb raw(dir.File("state.db"));
    EXPECT_EQ(raw.Query("SELECT count(*), min(generation), max(generation) FROM documents"),
              "20|1|20\n");
    store.SetFaultInjectorForTest(nullptr);
    auto retried = store.Commit(20, "v21", "retried");
    ASSERT_TRUE(retried.ok()) << retried.error().message;
    EXPECT_EQ(retried.value(), 21);
  }
}

TEST_F(StateStoreTest, AFaultAfterCommitKeepsTheNewDocument) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Commit(0, "old", "r").ok());
  store->SetFaultInjectorForTest([](std::string_view step) { return step != "commit"; });
  EXPECT_FALSE(store->Commit(1, "new", "r").ok());
  store.reset();
  store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto doc = LoadOrDie(*store);
  EXPECT_EQ(doc.generation, 2);
  EXPECT_EQ(doc.yaml, "new");
}

// Schema version 2 stores the YAML deflated; Load gives the text back.
TEST_F(StateStoreTest, DocumentsAreStoredDeflated) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::string yaml;
  for (int i = 0; i < 2000; ++i) yaml += "      - {Id: 10.0.0." + std::to_string(i % 250) + "}\n";
  ASSERT_TRUE(store->Commit(0, yaml, "r").ok());
  RawDb raw(db_path_);
  EXPECT_EQ(raw.Query("SELECT yaml, yaml_bytes, length(deflated) < yaml_bytes / 10 FROM documents"),
            "|" + std::to_string(yaml.size()) + "|1\n");
  EXPECT_EQ(LoadOrDie(*store).yaml, yaml);
}

// Deflated on another thread ahead of the commit: the same row, and the same conflict check.
TEST_F(StateStoreTest, ADocumentDeflatedAheadCommitsTheSameWay) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const std::string yaml = "TargetGroups:\n  - Name: a\n    Targets: [{Id: 10.0.0.1}]\n";
  auto deflated = DeflateDocument(yaml);
  ASSERT_TRUE(deflated.ok());
  auto stale = store->CommitDeflated(1, deflated.value(), yaml.size(), "r");
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.error().message.find("generation conflict"), std::string::npos);
  auto committed = store->CommitDeflated(0, deflated.value(), yaml.size(), "r");
  ASSERT_TRUE(committed.ok()) << committed.error().message;
  EXPECT_EQ(committed.value(), 1);
  EXPECT_EQ(LoadOrDie(*store).yaml, yaml);
}

// A database written by version 1 keeps its text rows readable after the migration, beside
// the deflated rows written after it.
TEST_F(StateStoreTest, Version1TextRowsStayReadable) {
  {
    auto db = Database::Open(db_path_);
    ASSERT_TRUE(db.ok()) << db.error().message;
    auto tx = Transaction::Begin(*db.value());
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(Migrate(*db.value(), Migrations().subspan(0, 1)).ok());
    ASSERT_TRUE(db.value()
                    ->Exec("INSERT INTO documents (generation, yaml, reason, committed_at) "
                           "VALUES (1, 'old: text', 'r', '2026-01-01T00:00:00Z')",
                           "insert")
                    .ok());
    ASSERT_TRUE(tx.value()->Commit().ok());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(LoadOrDie(*store).yaml, "old: text");
  ASSERT_TRUE(store->Commit(1, "new: deflated", "r").ok());
  auto history = store->History(5);
  ASSERT_TRUE(history.ok()) << history.error().message;
  ASSERT_EQ(history.value().size(), 2u);
  EXPECT_EQ(history.value()[0].yaml, "new: deflated");
  EXPECT_EQ(history.value()[1].yaml, "old: text");
}

TEST_F(StateStoreTest, ADamagedDocumentIsAnErrorNamingItsGeneration) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Commit(0, "a: 1\n", "r").ok());
  {
    RawDb raw(db_path_);
    EXPECT_EQ(raw.Query("UPDATE documents SET yaml_bytes = 99"), "");
  }
  auto doc = store->Load();
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(doc.error().message, HasSubstr("generation 1"));
  EXPECT_THAT(doc.error().message, HasSubstr("damaged"));
}

TEST_F(StateStoreTest, ASchemaNewerThanThisBinaryIsRefused) {
  ASSERT_NE(OpenStore(), nullptr);
  {
    RawDb raw(db_path_);
    EXPECT_EQ(raw.Query("UPDATE meta SET value = '7' WHERE key = 'schema_version'"), "");
  }
  auto store = StateStore::Open(db_path_, key_path_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.error().message,
              HasSubstr("schema version 7 is newer than this Sluice supports (2)"));
  EXPECT_THAT(store.error().message, HasSubstr(db_path_));
  RawDb raw(db_path_);
  EXPECT_EQ(raw.Query("SELECT value FROM meta WHERE key = 'schema_version'"), "7\n");
}

TEST_F(StateStoreTest, AFileThatIsNotADatabaseIsRefusedAndLeftAlone) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "listeners: this is a YAML file, not a database\n";
  WriteFile(db_path_, text, 0600);
  auto store = StateStore::Open(db_path_, key_path_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.error().message, HasSubstr("'" + db_path_ + "'"));
  EXPECT_THAT(store.error().message, HasSubstr("not a database"));
  EXPECT_EQ(ReadFile(db_path_), text);
}

TEST_F(StateStoreTest, AnotherSqliteDatabaseIsRefused) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE users (name TEXT)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = StateStore::Open(db_path_, key_path_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.error().message, HasSubstr("not a Sluice state database"));
}

TEST_F(StateStoreTest, AMissingDirectoryNamesThePath) {
  const std::string path = dir_.File("no/such/dir/state.db");
  auto store = StateStore::Open(path, key_path_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.error().message, HasSubstr(path));
  EXPECT_THAT(store.error().message, HasSubstr("unable to open"));
}

// The next version is one more entry in the list.
TEST_F(StateStoreTest, AddingASchemaVersionIsOneMoreEntry) {
  ASSERT_NE(OpenStore(), nullptr);
  std::vector<Migration> next(Migrations().begin(), Migrations().end());
  next.push_back({3, "CREATE TABLE extra (x INTEGER);"});
  auto db = Database::Open(db_path_);
  ASSERT_TRUE(db.ok()) << db.error().message;
  auto tx = Transaction::Begin(*db.value());
  ASSERT_TRUE(tx.ok()) << tx.error().message;
  auto version = Migrate(*db.value(), next);
  ASSERT_TRUE(version.ok()) << version.error().message;
  EXPECT_EQ(version.value(), 3);
  ASSERT_TRUE(tx.value()->Commit().ok());
  RawDb raw(db_path_);
  EXPECT_EQ(raw.Query("SELECT value FROM meta WHERE key = 'schema_version'"), "3\n");
  EXPECT_EQ(raw.Query("SELECT count(*) FROM sqlite_master WHERE name = 'extra'"), "1\n");
  // And this binary, which knows version 2, now refuses the database.
  EXPECT_FALSE(StateStore::Open(db_path_, key_path_).ok());
}

TEST_F(StateStoreTest, AFailedMigrationLeavesTheOldVersion) {
  ASSERT_NE(OpenStore(), nullptr);
  auto db = Database::Open(db_path_);
  ASSERT_TRUE(db.ok());
  {
    auto tx = Transaction::Begin(*db.value());
    ASSERT_TRUE(tx.ok());
    std::vector<Migration> broken(Migrations().begin(), Migrations().end());
    broken.push_back({3, "CREATE TABLE extra (x); BOGUS;"});
    auto version = Migrate(*db.value(), broken);
    ASSERT_FALSE(version.ok());
    EXPECT_THAT(version.error().message, HasSubstr("cannot migrate the schema to version 3"));
  }
  RawDb raw(db_path_);
  EXPECT_EQ(raw.Query("SELECT value FROM meta WHERE key = 'schema_version'"), "2\n");
  EXPECT_EQ(raw.Query("SELECT count(*) FROM sqlite_master WHERE name = 'extra'"), "0\n");
}

}  // namespace
}  // namespace sluice::store
