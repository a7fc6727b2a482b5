// The API's durable state on SQLite: the whole configuration as versioned YAML documents,
// and the API's access keys.
//
// Threads and lifetime: one StateStore is used by one thread at a time (the API thread); it
// owns one SQLite connection, closed when it is destroyed. Several processes may open the
// same database at once (e.g. `sluice api-keys create` while the server runs): writes take
// SQLite's write lock up front (BEGIN IMMEDIATE) and wait up to 5 s for it (busy_timeout);
// nothing is cached, so every read sees what other processes have committed.
//
// Durability: WAL mode with synchronous=FULL. Commit() is one transaction; after a crash or
// kill -9 at any moment Load() returns exactly the last committed document, never a torn
// one. The last 20 versions are kept for inspection and rollback.
//
// Stored form (schema version 2): each document's YAML deflated (store/document_codec.h) in
// documents.deflated, its length in documents.yaml_bytes, and documents.yaml empty; rows
// written by schema version 1 keep their text in documents.yaml and are read as they are.
// Use `sluice export` rather than SELECT to read a document.
//
// Secrets at rest. SigV4 verification needs the plaintext secret (it is an HMAC key), so
// secrets cannot be hashed; instead a copy of the database alone is not enough to sign:
//  - A 32-byte master key lives in a separate file (`master_key_path`), never in the
//    database. Open() creates it when missing: 32 bytes from RAND_bytes, mode 0600, written
//    and fsynced under a temporary name and published with link(2) (which, like O_EXCL,
//    never replaces an existing file), then the directory is fsynced. An existing key file
//    must be a regular file of exactly 32 bytes with no group/other permission bits, or Open
//    refuses it ("chmod 600").
//  - Two keys are derived from it with HMAC-SHA256(master, label): the sealing key (label
//    "sluice-state-seal-key-v1") and the key-check value (label "sluice-state-key-check",
//    first 16 bytes, hex), stored in meta('master_key_check'). Open compares it (in
//    constant time) and refuses a key file that does not match the database; a database
//    with a key-check value but no key file is refused rather than given a new key.
//  - Each secret is sealed with AES-256-GCM under the sealing key, with a fresh random
//    12-byte nonce and the access key id as additional authenticated data, and stored as
//    nonce(12) || ciphertext || tag(16). A sealed secret copied to another key's row, or
//    altered, fails to authenticate: SecretFor() then reports that the master key does not
//    match the database.
//  - Revoking a key erases its sealed secret; the row stays, listed as inactive.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "store/status.h"

namespace sluice::store {

class Database;
class MasterKey;

// Errors: ErrorSource::kConfig for what the operator or caller must fix (a stale generation,
// a bad key file, a database from a newer release, a file that is not a state database);
// kInternal for everything else. `retryable` is set when SQLite stayed busy past the
// timeout: nothing was changed.
class StateStore {
 public:
  static constexpr int kHistoryVersions = 20;

  // Opens or creates the database at `path` (WAL, synchronous=FULL, foreign keys on,
  // busy_timeout 5000), creates or migrates the schema in one transaction, and loads or
  // creates the master key (see above). A schema newer than this binary knows is refused.
  static Result<std::unique_ptr<StateStore>> Open(const std::string& path,
                                                  const std::string& master_key_path);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  struct Document {
    int64_t generation = 0;  // 0: nothing was ever committed (yaml is then empty)
    std::string yaml;
    std::string committed_at;  // ISO 8601 UTC, e.g. "2025-03-01T12:00:00Z"
    std::string reason;        // as given to Commit
  };
  // The current document.
  Result<Document> Load();
  // Commits `yaml` as generation expected_generation + 1 in one transaction, and deletes
  // the versions older than the last kHistoryVersions in the same transaction. Fails with
  // no change (kConfig, "generation conflict") when the stored generation is not
  // `expected_generation`. Returns the new generation.
  Result<int64_t> Commit(int64_t expected_generation, std::string_view yaml,
                         std::string_view reason);
  // Commit with the document deflated already: `deflated` is DeflateDocument of a document
  // of `yaml_bytes` bytes (made on another thread while the change is checked).
  Result<int64_t> CommitDeflated(int64_t expected_generation, std::string_view deflated,
                                 size_t yaml_bytes, std::string_view reason);
  // The newest `limit` versions (at most kHistoryVersions exist), newest first; none when
  // `limit` <= 0.
  Result<std::vector<Document>> History(int limit);

  struct AccessKey {
    std::string access_key_id;  // "AKIA" + 16 of [A-Z2-7]
    std::string user_name;
    std::string policy_json;  // stored as given; evaluated elsewhere
    std::string created_at;   // ISO 8601 UTC
    bool active = true;
  };
  // A new active key and its 40-character secret, which is returned only here. An empty
  // `user_name` is refused (kConfig).
  Result<std::pair<AccessKey, std::string>> CreateAccessKey(std::string_view user_name,
                                                            std::string_view policy_json);
  // false when the key is unknown. A revoked key stays listed, inactive.
  Result<bool> RevokeAccessKey(std::string_view access_key_id);
  // All keys, oldest first.
  Result<std::vector<AccessKey>> ListAccessKeys();
  // The decrypted secret of an active key (for SigV4), nullopt when unknown or revoked.
  Result<std::optional<std::string>> SecretFor(std::string_view access_key_id);
  // false when the key is unknown.
  Result<bool> SetPolicy(std::string_view access_key_id, std::string_view policy_json);

  // Test hook: called between the statements of Commit with the step just completed
  // ("begin", "check", "insert", "trim", then "commit" once committed). Returning false
  // aborts Commit there as if the process had died: the transaction is rolled back (after
  // "commit" the new generation stays) and Commit returns an error.
  using FaultInjector = std::function<bool(std::string_view step)>;
  void SetFaultInjectorForTest(FaultInjector injector) { fault_ = std::move(injector); }

 private:
  StateStore(std::unique_ptr<Database> db, std::unique_ptr<MasterKey> key);
  Status Fault(std::string_view step);
  Result<int64_t> CommitLocked(int64_t expected_generation, std::string_view deflated,
                               size_t yaml_bytes, std::string_view reason);
  Result<bool> UpdateKey(std::string_view sql, std::string_view access_key_id,
                         std::optional<std::string_view> value);

  std::unique_ptr<Database> db_;
  std::unique_ptr<MasterKey> key_;
  FaultInjector fault_;
};

}  // namespace sluice::store
