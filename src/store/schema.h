// The state database's schema and its migrations, internal to the store. The schema version
// lives in meta('schema_version'). Adding version N+1 is one more entry at the end of the
// list in schema.cc: SQL that turns version N into N+1.
// Threads: as the Database passed in. Migrate runs inside the caller's transaction (BEGIN
// IMMEDIATE), so two processes opening the same database migrate it once.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "store/sqlite_db.h"
#include "store/status.h"

namespace sluice::store {

struct Migration {
  int version;           // the version this step produces: 1, 2, ...
  std::string_view sql;  // one or more statements, run with sqlite3_exec
};

// The schema's history, oldest first.
std::span<const Migration> Migrations();

// Brings the database to migrations.back().version and returns it. A database without the
// meta table is version 0 when it is empty and refused when it holds other tables (it is
// not a Sluice state database); a version newer than the list knows is refused. Each step
// records its version; on error the caller's transaction is rolled back, undoing them all.
Result<int> Migrate(Database& db, std::span<const Migration> migrations);

// The value of meta(`key`), nullopt when there is none.
Result<std::optional<std::string>> GetMeta(Database& db, std::string_view key);
Status SetMeta(Database& db, std::string_view key, std::string_view value);

}  // namespace sluice::store
