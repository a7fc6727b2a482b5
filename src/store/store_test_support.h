// Helpers for the store's tests only: a temporary directory removed at the end, whole-file
// reads and writes, and a raw SQLite connection to inspect or tamper with a database behind
// the store's back. Test thread only.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace sluice::store::test_support {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sluice-store-test-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::string& path, const std::string& bytes, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  ASSERT_EQ(chmod(path.c_str(), mode), 0) << path;
}

inline mode_t ModeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// A second, raw connection to the database at `path`.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db_);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Runs `sql`; returns the rows as "a|b\n" lines, or "ERROR: ..." on failure.
  std::string Query(const std::string& sql) {
    std::ostringstream out;
    char* error = nullptr;
    auto row = [](void* arg, int n, char** values, char**) {
      auto* os = static_cast<std::ostringstream*>(arg);
      for (int i = 0; i < n; ++i) *os << (i > 0 ? "|" : "") << (values[i] ? values[i] : "NULL");
      *os << "\n";
      return 0;
    };
    if (sqlite3_exec(db_, sql.c_str(), row, &out, &error) != SQLITE_OK) {
      std::string text = "ERROR: " + std::string(error ? error : "?");
      sqlite3_free(error);
      return text;
    }
    return out.str();
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace sluice::store::test_support
