// A thin RAII layer over one SQLite connection, internal to the store: opening with the
// pragmas the store relies on, prepared statements whose every sqlite3_* return value is
// checked, and transactions that roll back unless committed. Every error message names the
// database path and carries SQLite's own error text.
// Threads: a Database (and its Statements and Transactions) is used by one thread at a time
// (the connection is opened SQLITE_OPEN_NOMUTEX). A Statement or Transaction must not
// outlive its Database.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "store/status.h"

namespace sluice::store {

class Database {
 public:
  // Opens or creates `path` and sets WAL mode (refusing a database that cannot use it),
  // synchronous=FULL, foreign_keys=ON and a 5000 ms busy timeout. A file that is not an
  // SQLite database fails here with a message naming the path.
  static Result<std::unique_ptr<Database>> Open(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

  // Runs one or more statements without results (sqlite3_exec).
  Status Exec(std::string_view sql, std::string_view what);
  // An Error for the failed `what`, with the connection's current SQLite error text.
  // Busy/locked errors are marked retryable: nothing happened.
  Error Fail(std::string_view what) const;
  // An Error about this database without SQLite text (e.g. a bad stored value).
  Error Problem(std::string_view what, ErrorSource source = ErrorSource::kInternal) const;

 private:
  Database(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  Status Configure();

  std::string path_;
  sqlite3* db_ = nullptr;
};

// One prepared statement. Bind errors are sticky and reported by the next Step(); a column
// read that runs out of memory is sticky too and reported by Step() or Check().
class Statement {
 public:
  static Result<std::unique_ptr<Statement>> Prepare(Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void Bind(int index, int64_t value);
  void Bind(int index, std::string_view text);
  void BindBlob(int index, std::string_view bytes);
  void BindNull(int index);

  // true: a row is available; false: the statement is done.
  Result<bool> Step();
  // Reports a sticky error from a column read, if any.
  Status Check() const;

  int64_t Int(int column);
  std::string Text(int column);  // "" for NULL
  std::string Blob(int column);  // "" for NULL
  bool IsNull(int column);

 private:
  Statement(Database& db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void NoteBind(int rc, int index);
  void NoteColumn(const void* value, int column);

  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sticky_;  // the first bind or column failure
  std::string sql_head_;
};

// BEGIN IMMEDIATE (takes the write lock up front, waiting up to the busy timeout, so that a
// read-then-write transaction never fails half way with SQLITE_BUSY). The destructor rolls
// back unless Commit() succeeded.
class Transaction {
 public:
  static Result<std::unique_ptr<Transaction>> Begin(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Commit();
  Status Rollback();

 private:
  explicit Transaction(Database& db) : db_(db) {}
  Database& db_;
  bool open_ = true;
};

}  // namespace sluice::store
