#include "store/state_store.h"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <ctime>

#include "store/document_codec.h"
#include "store/master_key.h"
#include "store/schema.h"
#include "store/sqlite_db.h"

namespace sluice::store {
namespace {

constexpr std::string_view kKeyCheckMeta = "master_key_check";
constexpr int kIdAttempts = 4;  // a collision of 80 random bits: retried, never expected

// Now as ISO 8601 UTC with seconds, e.g. "2025-03-01T12:00:00Z".
Result<std::string> NowUtc() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  if (gmtime_r(&now, &tm) == nullptr) return Error{ErrorSource::kInternal, "gmtime_r failed"};
  char text[32];
  if (std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return Error{ErrorSource::kInternal, "strftime failed"};
  }
  return std::string(text);
}

bool SameCheck(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Loads (or, for a database that has no key-check value yet, creates) the master key and
// checks it against the database, recording the check value the first time.
Result<MasterKey> KeyFor(Database& db, const std::string& key_path) {
  auto stored = GetMeta(db, kKeyCheckMeta);
  if (!stored.ok()) return stored.error();
  const bool sealed_before = stored.value().has_value();
  struct stat st {};
  if (sealed_before && stat(key_path.c_str(), &st) != 0 && errno == ENOENT) {
    return db.Problem("master key file '" + key_path +
                          "' does not exist, but this database was set up with a master key: "
                          "restore that key file (a new key could not decrypt the stored secrets)",
                      ErrorSource::kConfig);
  }
  auto key = MasterKey::LoadOrCreate(key_path, !sealed_before);
  if (!key.ok()) return key.error();
  if (!sealed_before) {
    Status set = SetMeta(db, kKeyCheckMeta, key.value().check());
    if (!set.ok()) return set.error();
  } else if (!SameCheck(*stored.value(), key.value().check())) {
    return db.Problem("the master key in '" + key_path +
                          "' does not match the database (its key-check value differs): use "
                          "the key file this database was created with",
                      ErrorSource::kConfig);
  }
  return key;
}

}  // namespace

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path,
                                                     const std::string& master_key_path) {
  auto db = Database::Open(path);
  if (!db.ok()) return db.error();
  auto tx = Transaction::Begin(*db.value());
  if (!tx.ok()) return tx.error();
  auto version = Migrate(*db.value(), Migrations());
  if (!version.ok()) return version.error();
  auto key = KeyFor(*db.value(), master_key_path);
  if (!key.ok()) return key.error();
  Status committed = tx.value()->Commit();
  if (!committed.ok()) return committed.error();
  return std::unique_ptr<StateStore>(
      new StateStore(std::move(db.value()), std::make_unique<MasterKey>(std::move(key.value()))));
}

StateStore::StateStore(std::unique_ptr<Database> db, std::unique_ptr<MasterKey> key)
    : db_(std::move(db)), key_(std::move(key)) {}

StateStore::~StateStore() = default;

Status StateStore::Fault(std::string_view step) {
  if (!fault_ || fault_(step)) return Done{};
  return db_->Problem("commit aborted by the fault injector after '" + std::string(step) + "'");
}

Result<StateStore::Document> StateStore::Load() {
  auto newest = History(1);
  if (!newest.ok()) return newest.error();
  if (newest.value().empty()) return Document{};
  return std::move(newest.value().front());
}

Result<int64_t> StateStore::Commit(int64_t expected_generation, std::string_view yaml,
                                   std::string_view reason) {
  auto deflated = DeflateDocument(yaml);
  if (!deflated.ok()) return db_->Problem(deflated.error().message);
  return CommitDeflated(expected_generation, deflated.value(), yaml.size(), reason);
}

Result<int64_t> StateStore::CommitDeflated(int64_t expected_generation, std::string_view deflated,
                                           size_t yaml_bytes, std::string_view reason) {
  if (yaml_bytes > kMaxDocumentBytes) {
    return db_->Problem("a document of " + std::to_string(yaml_bytes) + " bytes is over the " +
                            std::to_string(kMaxDocumentBytes) + " a document may have",
                        ErrorSource::kConfig);
  }
  if (expected_generation < 0) {
    return db_->Problem(
        "expected generation " + std::to_string(expected_generation) + " is negative",
        ErrorSource::kConfig);
  }
  auto tx = Transaction::Begin(*db_);
  if (!tx.ok()) return tx.error();
  if (Status s = Fault("begin"); !s.ok()) return s.error();  // ~Transaction rolls back
  auto generation = CommitLocked(expected_generation, deflated, yaml_bytes, reason);
  if (!generation.ok()) return generation.error();
  Status committed = tx.value()->Commit();
  if (!committed.ok()) return committed.error();
  if (Status s = Fault("commit"); !s.ok()) return s.error();
  return generation;
}

// The statements of Commit, inside its transaction.
Result<int64_t> StateStore::CommitLocked(int64_t expected_generation, std::string_view deflated,
                                         size_t yaml_bytes, std::string_view reason) {
  auto current = Statement::Prepare(*db_, "SELECT coalesce(max(generation), 0) FROM documents");
  if (!current.ok()) return current.error();
  auto row = current.value()->Step();
  if (!row.ok()) return row.error();
  const int64_t stored = row.value() ? current.value()->Int(0) : 0;
  if (stored != expected_generation) {
    return db_->Problem("generation conflict: expected generation " +
                            std::to_string(expected_generation) + ", the stored one is " +
                            std::to_string(stored),
                        ErrorSource::kConfig);
  }
  if (Status s = Fault("check"); !s.ok()) return s.error();
  auto now = NowUtc();
  if (!now.ok()) return now.error();
  const int64_t next = stored + 1;
  auto insert = Statement::Prepare(*db_,
                                   "INSERT INTO documents (generation, yaml, reason, committed_at, "
                                   "deflated, yaml_bytes) VALUES (?1, '', ?2, ?3, ?4, ?5)");
  if (!insert.ok()) return insert.error();
  insert.value()->Bind(1, next);
  insert.value()->Bind(2, reason);
  insert.value()->Bind(3, now.value());
  insert.value()->BindBlob(4, deflated);
  insert.value()->Bind(5, static_cast<int64_t>(yaml_bytes));
  if (auto done = insert.value()->Step(); !done.ok()) return done.error();
  if (Status s = Fault("insert"); !s.ok()) return s.error();
  auto trim = Statement::Prepare(*db_, "DELETE FROM documents WHERE generation <= ?1");
  if (!trim.ok()) return trim.error();
  trim.value()->Bind(1, next - kHistoryVersions);
  if (auto done = trim.value()->Step(); !done.ok()) return done.error();
  if (Status s = Fault("trim"); !s.ok()) return s.error();
  return next;
}

Result<std::vector<StateStore::Document>> StateStore::History(int limit) {
  std::vector<Document> out;
  if (limit <= 0) return out;
  auto st = Statement::Prepare(*db_,
                               "SELECT generation, yaml, committed_at, reason, deflated, "
                               "yaml_bytes FROM documents "
                               "ORDER BY generation DESC LIMIT ?1");
  if (!st.ok()) return st.error();
  st.value()->Bind(1, static_cast<int64_t>(limit));
  for (;;) {
    auto row = st.value()->Step();
    if (!row.ok()) return row.error();
    if (!row.value()) break;
    Statement& s = *st.value();
    Document doc{s.Int(0), s.Text(1), s.Text(2), s.Text(3)};
    if (!s.IsNull(4)) {  // schema version 2: the YAML is deflated; rows of version 1 are text
      const int64_t bytes = s.Int(5);
      auto yaml = InflateDocument(s.Blob(4),
                                  bytes < 0 ? kMaxDocumentBytes + 1 : static_cast<size_t>(bytes));
      if (!yaml.ok()) {
        return db_->Problem("generation " + std::to_string(doc.generation) + ": " +
                            yaml.error().message);
      }
      doc.yaml = std::move(yaml.value());
    }
    out.push_back(std::move(doc));
  }
  if (Status s = st.value()->Check(); !s.ok()) return s.error();
  return out;
}

Result<std::pair<StateStore::AccessKey, std::string>> StateStore::CreateAccessKey(
    std::string_view user_name, std::string_view policy_json) {
  if (user_name.empty())
    return db_->Problem("an access key needs a user name", ErrorSource::kConfig);
  auto secret = RandomSecret();
  if (!secret.ok()) return secret.error();
  auto now = NowUtc();
  if (!now.ok()) return now.error();
  for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
    auto id = RandomAccessKeyId();
    if (!id.ok()) return id.error();
    auto sealed = key_->Seal(secret.value(), id.value());
    if (!sealed.ok()) return db_->Problem("cannot seal a secret: " + sealed.error().message);
    auto st = Statement::Prepare(
        *db_,
        "INSERT INTO access_keys (access_key_id, user_name, sealed_secret, policy, created_at, "
        "active) VALUES (?1, ?2, ?3, ?4, ?5, 1) ON CONFLICT (access_key_id) DO NOTHING");
    if (!st.ok()) return st.error();
    st.value()->Bind(1, id.value());
    st.value()->Bind(2, user_name);
    st.value()->BindBlob(3, sealed.value());
    st.value()->Bind(4, policy_json);
    st.value()->Bind(5, now.value());
    if (auto done = st.value()->Step(); !done.ok()) return done.error();
    if (sqlite3_changes(db_->handle()) == 1) {
      AccessKey key{id.value(), std::string(user_name), std::string(policy_json), now.value(),
                    true};
      return std::make_pair(std::move(key), std::move(secret.value()));
    }
  }
  return db_->Problem("cannot find an unused access key id");
}

Result<bool> StateStore::UpdateKey(std::string_view sql, std::string_view access_key_id,
                                   std::optional<std::string_view> value) {
  auto st = Statement::Prepare(*db_, sql);
  if (!st.ok()) return st.error();
  st.value()->Bind(1, access_key_id);
  if (value.has_value()) st.value()->Bind(2, *value);
  if (auto done = st.value()->Step(); !done.ok()) return done.error();
  return sqlite3_changes(db_->handle()) > 0;
}

Result<bool> StateStore::RevokeAccessKey(std::string_view access_key_id) {
  return UpdateKey(
      "UPDATE access_keys SET active = 0, sealed_secret = NULL WHERE access_key_id = ?1",
      access_key_id, std::nullopt);
}

Result<bool> StateStore::SetPolicy(std::string_view access_key_id, std::string_view policy_json) {
  return UpdateKey("UPDATE access_keys SET policy = ?2 WHERE access_key_id = ?1", access_key_id,
                   policy_json);
}

Result<std::vector<StateStore::AccessKey>> StateStore::ListAccessKeys() {
  auto st = Statement::Prepare(*db_,
                               "SELECT access_key_id, user_name, policy, created_at, active "
                               "FROM access_keys ORDER BY rowid");
  if (!st.ok()) return st.error();
  std::vector<AccessKey> out;
  for (;;) {
    auto row = st.value()->Step();
    if (!row.ok()) return row.error();
    if (!row.value()) break;
    Statement& s = *st.value();
    out.push_back(AccessKey{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4) != 0});
  }
  return out;
}

Result<std::optional<std::string>> StateStore::SecretFor(std::string_view access_key_id) {
  auto st = Statement::Prepare(
      *db_, "SELECT sealed_secret FROM access_keys WHERE access_key_id = ?1 AND active = 1");
  if (!st.ok()) return st.error();
  st.value()->Bind(1, access_key_id);
  auto row = st.value()->Step();
  if (!row.ok()) return row.error();
  if (!row.value()) return std::optional<std::string>();
  const std::string sealed = st.value()->Blob(0);
  if (Status s = st.value()->Check(); !s.ok()) return s.error();
  auto secret = key_->Unseal(sealed, access_key_id);
  if (!secret.ok()) {
    return db_->Problem("the master key does not match the database: the sealed secret of " +
                        std::string(access_key_id) + " cannot be opened (" +
                        secret.error().message +
                        "; a wrong key file, or a row altered or copied from another key)");
  }
  return std::optional<std::string>(std::move(secret.value()));
}

}  // namespace sluice::store
