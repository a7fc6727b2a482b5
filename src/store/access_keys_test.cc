#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "store/state_store.h"
#include "store/store_test_support.h"

namespace sluice::store {
namespace {

using test_support::ModeOf;
using test_support::RawDb;
using test_support::ReadFile;
using test_support::TempDir;
using test_support::WriteFile;
using ::testing::HasSubstr;

constexpr char kPolicy[] = R"({"Version":"2012-10-17","Statement":[]})";

class AccessKeysTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = Reopen(); }
  std::unique_ptr<StateStore> Reopen() {
    store_.reset();
    auto store = StateStore::Open(db_path_, key_path_);
    EXPECT_TRUE(store.ok()) << store.error().message;
    return store.ok() ? std::move(store.value()) : nullptr;
  }
  std::pair<StateStore::AccessKey, std::string> Create(std::string_view user) {
    auto created = store_->CreateAccessKey(user, kPolicy);
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? created.value() : std::pair<StateStore::AccessKey, std::string>{};
  }
  std::optional<std::string> Secret(std::string_view id) {
    auto secret = store_->SecretFor(id);
    EXPECT_TRUE(secret.ok()) << secret.error().message;
    return secret.ok() ? secret.value() : std::nullopt;
  }

  TempDir dir_;
  std::string db_path_ = dir_.File("state.db");
  std::string key_path_ = dir_.File("master.key");
  std::unique_ptr<StateStore> store_;
};

TEST_F(AccessKeysTest, CreateListRevokeAndSecretForRoundTrip) {
  ASSERT_NE(store_, nullptr);
  auto [alice, alice_secret] = Create("alice");
  auto [bob, bob_secret] = Create("bob");
  EXPECT_TRUE(std::regex_match(alice.access_key_id, std::regex("^AKIA[A-Z2-7]{16}$")));
  EXPECT_TRUE(std::regex_match(alice_secret, std::regex("^[A-Za-z0-9+/]{40}$")));
  EXPECT_NE(alice.access_key_id, bob.access_key_id);
  EXPECT_NE(alice_secret, bob_secret);
  EXPECT_EQ(Secret(alice.access_key_id), alice_secret);
  EXPECT_EQ(Secret(bob.access_key_id), bob_secret);

  auto revoked = store_->RevokeAccessKey(alice.access_key_id);
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(revoked.value());
  EXPECT_EQ(Secret(alice.access_key_id), std::nullopt);
  EXPECT_EQ(Secret(bob.access_key_id), bob_secret);
  EXPECT_EQ(Secret("AKIAUNKNOWNUNKNOWN22"), std::nullopt);
  auto unknown = store_->RevokeAccessKey("AKIAUNKNOWNUNKNOWN22");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown.value());

  store_ = Reopen();  // everything is durable
  ASSERT_NE(store_, nullptr);
  auto list = store_->ListAccessKeys();
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list.value().size(), 2u);
  EXPECT_EQ(list.value()[0].access_key_id, alice.access_key_id);
  EXPECT_EQ(list.value()[0].user_name, "alice");
  EXPECT_EQ(list.value()[0].policy_json, kPolicy);
  EXPECT_EQ(list.value()[0].created_at, alice.created_at);
  EXPECT_FALSE(list.value()[0].active);
  EXPECT_EQ(list.value()[1].user_name, "bob");
  EXPECT_TRUE(list.value()[1].active);
  EXPECT_EQ(Secret(alice.access_key_id), std::nullopt);
  EXPECT_EQ(Secret(bob.access_key_id), bob_secret);
  // Revoking erases the sealed secret.
  RawDb raw(db_path_);
  EXPECT_EQ(raw.Query("SELECT sealed_secret IS NULL FROM access_keys WHERE access_key_id = '" +
                      alice.access_key_id + "'"),
            "1\n");
}

TEST_F(AccessKeysTest, SetPolicyReplacesThePolicyOfAKnownKey) {
  ASSERT_NE(store_, nullptr);
  auto [key, secret] = Create("alice");
  auto set = store_->SetPolicy(key.access_key_id, R"({"new":true})");
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set.value());
  auto unknown = store_->SetPolicy("AKIAUNKNOWNUNKNOWN22", "{}");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown.value());
  auto list = store_->ListAccessKeys();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list.value().size(), 1u);
  EXPECT_EQ(list.value()[0].policy_json, R"({"new":true})");
  EXPECT_FALSE(store_->CreateAccessKey("", "{}").ok());
}

// "A copy of the database alone is not enough to sign as a user."
TEST_F(AccessKeysTest, TheDatabaseFilesDoNotContainTheSecret) {
  ASSERT_NE(store_, nullptr);
  auto [key, secret] = Create("user-name-to-find-in-the-files");
  const std::string master = ReadFile(key_path_);
  ASSERT_EQ(master.size(), 32u);
  store_.reset();  // and once more after a checkpoint into the main file
  for (int round = 0; round < 2; ++round) {
    std::string all;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      if (e.path() != key_path_) all += ReadFile(e.path());
    }
    // The search works: the user name is stored in clear.
    EXPECT_NE(all.find("user-name-to-find-in-the-files"), std::string::npos);
    EXPECT_NE(all.find(key.access_key_id), std::string::npos);
    EXPECT_EQ(all.find(secret), std::string::npos);
    EXPECT_EQ(all.find(master), std::string::npos);
    store_ = Reopen();
    ASSERT_NE(store_, nullptr);
    EXPECT_EQ(Secret(key.access_key_id), secret);
    RawDb raw(db_path_);
    EXPECT_EQ(raw.Query("PRAGMA wal_checkpoint(TRUNCATE)"), "0|0|0\n");
  }
}

TEST_F(AccessKeysTest, TheKeyFileIsCreatedPrivate) {
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(ModeOf(key_path_), 0600u);
  EXPECT_EQ(ReadFile(key_path_).size(), 32u);
}

TEST_F(AccessKeysTest, ADifferentMasterKeyFileIsRefusedAtOpen) {
  ASSERT_NE(store_, nullptr);
  Create("alice");
  store_.reset();
  const std::string other = dir_.File("other.key");
  WriteFile(other, std::string(32, 'x'), 0600);
  auto opened = StateStore::Open(db_path_, other);
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(opened.error().message, HasSubstr("does not match the database"));
  EXPECT_THAT(opened.error().message, HasSubstr(other));
  EXPECT_EQ(opened.error().source, ErrorSource::kConfig);
}

TEST_F(AccessKeysTest, AMissingKeyFileIsNotReplacedForAnExistingDatabase) {
  ASSERT_NE(store_, nullptr);
  Create("alice");
  store_.reset();
  ASSERT_EQ(unlink(key_path_.c_str()), 0);
  auto opened = StateStore::Open(db_path_, key_path_);
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(opened.error().message, HasSubstr("restore that key file"));
  EXPECT_FALSE(std::filesystem::exists(key_path_));
}

TEST_F(AccessKeysTest, AKeyFileOthersCanReadIsRefused) {
  ASSERT_NE(store_, nullptr);
  store_.reset();
  ASSERT_EQ(chmod(key_path_.c_str(), 0644), 0);
  auto opened = StateStore::Open(db_path_, key_path_);
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(opened.error().message, HasSubstr("chmod 600"));
  EXPECT_THAT(opened.error().message, HasSubstr(key_path_));
}

// Without the key-check value (e.g. removed by hand), a wrong key is only caught by the
// secrets themselves.
TEST_F(AccessKeysTest, SecretForWithTheWrongMasterKeyReportsTheMismatch) {
  ASSERT_NE(store_, nullptr);
  auto [key, secret] = Create("alice");
  store_.reset();
  {
    RawDb raw(db_path_);
    EXPECT_EQ(raw.Query("DELETE FROM meta WHERE key = 'master_key_check'"), "");
  }
  WriteFile(key_path_, std::string(32, 'x'), 0600);
  store_ = Reopen();
  ASSERT_NE(store_, nullptr);
  auto wrong = store_->SecretFor(key.access_key_id);
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.error().message, HasSubstr("master key does not match the database"));
}

TEST_F(AccessKeysTest, ASealedSecretMovedToAnotherKeyDoesNotDecrypt) {
  ASSERT_NE(store_, nullptr);
  auto [a, a_secret] = Create("alice");
  auto [b, b_secret] = Create("mallory");
  RawDb raw(db_path_);
  EXPECT_EQ(raw.Query("UPDATE access_keys SET sealed_secret = (SELECT sealed_secret FROM "
                      "access_keys WHERE access_key_id = '" +
                      a.access_key_id + "') WHERE access_key_id = '" + b.access_key_id + "'"),
            "");
  auto moved = store_->SecretFor(b.access_key_id);
  ASSERT_FALSE(moved.ok());
  EXPECT_THAT(moved.error().message, HasSubstr("master key does not match the database"));
  EXPECT_THAT(moved.error().message, HasSubstr(b.access_key_id));
  EXPECT_EQ(Secret(a.access_key_id), a_secret);
}

// SecretFor reads what another process committed (the `sluice api-keys create` case).
TEST_F(AccessKeysTest, AKeyCreatedByAnotherProcessIsSeenAtOnce) {
  ASSERT_NE(store_, nullptr);
  EXPECT_TRUE(store_->ListAccessKeys().ok());  // this connection has read the database
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    auto other = StateStore::Open(db_path_, key_path_);
    if (!other.ok()) _exit(2);
    auto created = other.value()->CreateAccessKey("from-another-process", "{}");
    if (!created.ok()) _exit(3);
    const std::string line = created.value().first.access_key_id + " " + created.value().second;
    _exit(write(fds[1], line.data(), line.size()) == static_cast<ssize_t>(line.size()) ? 0 : 4);
  }
  close(fds[1]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  char buf[128] = {};
  const ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
  close(fds[0]);
  ASSERT_EQ(n, 20 + 1 + 40);
  const std::string line(buf, static_cast<size_t>(n));
  EXPECT_EQ(Secret(line.substr(0, 20)), line.substr(21));
}

}  // namespace
}  // namespace sluice::store
