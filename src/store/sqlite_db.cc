#include "store/sqlite_db.h"

#include <limits>
#include <utility>

namespace sluice::store {
namespace {

bool IsBusy(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

std::string Quoted(const std::string& path) { return "'" + path + "'"; }

// The first words of a statement, for error messages.
std::string Head(std::string_view sql) {
  constexpr size_t kMax = 40;
  std::string out(sql.substr(0, kMax));
  for (char& c : out) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return sql.size() > kMax ? out + "..." : out;
}

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const std::string& path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_EXRESCODE
  flags |= SQLITE_OPEN_EXRESCODE;
#endif
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string text = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    // A handle is returned even on failure (unless out of memory) and must be closed; a
    // close error would only repeat the open error.
    if (raw != nullptr) (void)sqlite3_close(raw);
    return Error{ErrorSource::kInternal,
                 "state database " + Quoted(path) + ": cannot open: " + text, IsBusy(rc)};
  }
  std::unique_ptr<Database> db(new Database(path, raw));
  Status configured = db->Configure();
  if (!configured.ok()) return configured.error();
  return db;
}

Database::~Database() {
  // Statements are finalized by their owners before this; sqlite3_close_v2 would defer the
  // close if one were not, and nothing can be reported from a destructor anyway.
  if (db_ != nullptr) (void)sqlite3_close_v2(db_);
}

Status Database::Configure() {
  const int rc = sqlite3_busy_timeout(db_, 5000);
  if (rc != SQLITE_OK) return Fail("cannot set the busy timeout");
  // journal_mode answers with the mode in force: "wal" unless the database cannot use WAL
  // (e.g. an in-memory database). Reading the header here is also where a file that is not
  // a database is detected.
  auto st = Statement::Prepare(*this, "PRAGMA journal_mode=WAL");
  if (!st.ok()) return st.error();
  auto row = st.value()->Step();
  if (!row.ok()) return row.error();
  const std::string mode = row.value() ? st.value()->Text(0) : "";
  if (Status s = st.value()->Check(); !s.ok()) return s.error();
  if (mode != "wal") {
    return Problem("cannot use write-ahead logging (journal_mode is '" + mode + "')");
  }
  return Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", "cannot set the pragmas");
}

Status Database::Exec(std::string_view sql, std::string_view what) {
  char* message = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return Done{};
  std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return Error{ErrorSource::kInternal,
               "state database " + Quoted(path_) + ": " + std::string(what) + ": " + detail,
               IsBusy(rc)};
}

Error Database::Fail(std::string_view what) const {
  const int rc = sqlite3_extended_errcode(db_);
  return Error{
      ErrorSource::kInternal,
      "state database " + Quoted(path_) + ": " + std::string(what) + ": " + sqlite3_errmsg(db_),
      IsBusy(rc)};
}

Error Database::Problem(std::string_view what, ErrorSource source) const {
  return Error{source, "state database " + Quoted(path_) + ": " + std::string(what)};
}

Result<std::unique_ptr<Statement>> Statement::Prepare(Database& db, std::string_view sql) {
  if (sql.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return db.Problem("statement too long");
  }
  sqlite3_stmt* raw = nullptr;
  const int rc =
      sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  if (rc != SQLITE_OK) {
    Error e = db.Fail("cannot prepare '" + Head(sql) + "'");
    if (raw != nullptr) (void)sqlite3_finalize(raw);  // its error is the prepare error
    return e;
  }
  if (raw == nullptr) return db.Problem("empty statement '" + Head(sql) + "'");
  std::unique_ptr<Statement> st(new Statement(db, raw));
  st->sql_head_ = Head(sql);
  return st;
}

Statement::~Statement() {
  // sqlite3_finalize repeats the error of the last failed step, already reported by Step().
  (void)sqlite3_finalize(stmt_);
}

void Statement::NoteBind(int rc, int index) {
  if (rc == SQLITE_OK || !sticky_.empty()) return;
  sticky_ = "cannot bind parameter " + std::to_string(index) + " of '" + sql_head_ +
            "': " + sqlite3_errstr(rc);
}

void Statement::Bind(int index, int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_, index, value), index);
}

// SQLite binds a null pointer as SQL NULL; an empty string_view may hold one, and means "".
void Statement::Bind(int index, std::string_view text) {
  const char* data = text.data() != nullptr ? text.data() : "";
  NoteBind(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
           index);
}

void Statement::BindBlob(int index, std::string_view bytes) {
  const char* data = bytes.data() != nullptr ? bytes.data() : "";
  NoteBind(sqlite3_bind_blob64(stmt_, index, data, bytes.size(), SQLITE_TRANSIENT), index);
}

void Statement::BindNull(int index) { NoteBind(sqlite3_bind_null(stmt_, index), index); }

Result<bool> Statement::Step() {
  if (Status s = Check(); !s.ok()) return s.error();
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_.Fail("'" + sql_head_ + "' failed");
}

Status Statement::Check() const {
  if (sticky_.empty()) return Done{};
  return db_.Problem(sticky_);
}

void Statement::NoteColumn(const void* value, int column) {
  // SQLite answers NULL (or 0) for a value it could not allocate and then reports NOMEM.
  if (value != nullptr || !sticky_.empty()) return;
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return;
  if (sqlite3_column_bytes(stmt_, column) == 0) return;  // an empty text or blob
  sticky_ = "cannot read column " + std::to_string(column) + " of '" + sql_head_ +
            "': " + sqlite3_errmsg(db_.handle());
}

int64_t Statement::Int(int column) { return sqlite3_column_int64(stmt_, column); }

std::string Statement::Text(int column) {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  NoteColumn(p, column);
  if (p == nullptr) return "";
  const int n = sqlite3_column_bytes(stmt_, column);
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

std::string Statement::Blob(int column) {
  const void* p = sqlite3_column_blob(stmt_, column);
  NoteColumn(p, column);
  if (p == nullptr) return "";
  const int n = sqlite3_column_bytes(stmt_, column);
  return std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}

bool Statement::IsNull(int column) { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

Result<std::unique_ptr<Transaction>> Transaction::Begin(Database& db) {
  // A connection still inside a transaction (a rollback from a destructor failed) is
  // brought back to autocommit first, or refused.
  if (sqlite3_get_autocommit(db.handle()) == 0) {
    Status s = db.Exec("ROLLBACK", "cannot end an earlier transaction");
    if (!s.ok()) return s.error();
  }
  Status s = db.Exec("BEGIN IMMEDIATE", "cannot begin a transaction");
  if (!s.ok()) return s.error();
  return std::unique_ptr<Transaction>(new Transaction(db));
}

Transaction::~Transaction() {
  if (!open_) return;
  // Nothing can be reported from here; a failure leaves the connection in the transaction
  // and the next Begin() retries the rollback and reports it.
  (void)Rollback();
}

Status Transaction::Commit() {
  Status s = db_.Exec("COMMIT", "cannot commit");
  // On failure SQLite may already have rolled back; otherwise the destructor does.
  if (s.ok() || sqlite3_get_autocommit(db_.handle()) != 0) open_ = false;
  return s;
}

Status Transaction::Rollback() {
  open_ = false;
  if (sqlite3_get_autocommit(db_.handle()) != 0) return Done{};  // SQLite rolled back already
  return db_.Exec("ROLLBACK", "cannot roll back");
}

}  // namespace sluice::store
