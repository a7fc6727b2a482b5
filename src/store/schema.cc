#include "store/schema.h"

#include <charconv>

namespace sluice::store {
namespace {

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE documents (
  generation INTEGER PRIMARY KEY,
  yaml TEXT NOT NULL,
  reason TEXT,
  committed_at TEXT NOT NULL
);
CREATE TABLE access_keys (
  access_key_id TEXT PRIMARY KEY,
  user_name TEXT NOT NULL,
  sealed_secret BLOB,
  policy TEXT NOT NULL,
  created_at TEXT NOT NULL,
  active INTEGER NOT NULL CHECK (active IN (0, 1))
);
)sql"},
    // Documents compressed (raw DEFLATE of the YAML, and its length): a commit at 100,000
    // targets writes ~70 KB instead of 3 MB. Rows of version 1 keep their text.
    {2, R"sql(
ALTER TABLE documents ADD COLUMN deflated BLOB;
ALTER TABLE documents ADD COLUMN yaml_bytes INTEGER;
)sql"},
};

Result<int64_t> CountTables(Database& db, std::string_view where) {
  auto st = Statement::Prepare(
      db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND " + std::string(where));
  if (!st.ok()) return st.error();
  auto row = st.value()->Step();
  if (!row.ok()) return row.error();
  return row.value() ? st.value()->Int(0) : 0;
}

// The version in force: 0 for an empty database.
Result<int> StoredVersion(Database& db) {
  auto meta = CountTables(db, "name = 'meta'");
  if (!meta.ok()) return meta.error();
  if (meta.value() == 0) {
    auto others = CountTables(db, "name NOT LIKE 'sqlite\\_%' ESCAPE '\\'");
    if (!others.ok()) return others.error();
    if (others.value() != 0) {
      return db.Problem("is an SQLite database but not a Sluice state database (no meta table)",
                        ErrorSource::kConfig);
    }
    return 0;
  }
  auto value = GetMeta(db, "schema_version");
  if (!value.ok()) return value.error();
  const std::string text = value.value().value_or("");
  int version = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || end != text.data() + text.size() || version < 1) {
    return db.Problem("meta schema_version is '" + text + "', not a version number");
  }
  return version;
}

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

Result<int> Migrate(Database& db, std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return db.Problem("migration list out of order at version " +
                        std::to_string(migrations[i].version));
    }
  }
  const int known = static_cast<int>(migrations.size());
  auto stored = StoredVersion(db);
  if (!stored.ok()) return stored.error();
  if (stored.value() > known) {
    return db.Problem("schema version " + std::to_string(stored.value()) +
                          " is newer than this Sluice supports (" + std::to_string(known) +
                          "); it was written by a newer release: run that release, or restore "
                          "a backup made by this one",
                      ErrorSource::kConfig);
  }
  for (int v = stored.value() + 1; v <= known; ++v) {
    const Migration& m = migrations[static_cast<size_t>(v - 1)];
    Status applied = db.Exec(m.sql, "cannot migrate the schema to version " + std::to_string(v));
    if (!applied.ok()) return applied.error();
    Status recorded = SetMeta(db, "schema_version", std::to_string(v));
    if (!recorded.ok()) return recorded.error();
  }
  return known;
}

Result<std::optional<std::string>> GetMeta(Database& db, std::string_view key) {
  auto st = Statement::Prepare(db, "SELECT value FROM meta WHERE key = ?1");
  if (!st.ok()) return st.error();
  st.value()->Bind(1, key);
  auto row = st.value()->Step();
  if (!row.ok()) return row.error();
  if (!row.value()) return std::optional<std::string>();
  std::string value = st.value()->Text(0);
  if (Status s = st.value()->Check(); !s.ok()) return s.error();
  return std::optional<std::string>(std::move(value));
}

Status SetMeta(Database& db, std::string_view key, std::string_view value) {
  auto st = Statement::Prepare(db,
                               "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                               "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  if (!st.ok()) return st.error();
  st.value()->Bind(1, key);
  st.value()->Bind(2, value);
  auto row = st.value()->Step();
  if (!row.ok()) return row.error();
  return Done{};
}

}  // namespace sluice::store
