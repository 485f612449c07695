#include "storage/sqlite/driver.h"

#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>

namespace sms::storage::sqlite {

constinit thread_local StmtCache* t_stmt_cache = nullptr;
constinit thread_local Pinned t_pinned;

core::Error SqlError(sqlite3* db, int rc, const char* what) {
  std::string msg = std::string(what) + ": " + sqlite3_errstr(rc);
  if (db != nullptr && rc != SQLITE_MISUSE) {
    msg += " (";
    msg += sqlite3_errmsg(db);
    msg += ")";
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return core::Unavailable(std::move(msg));
    case SQLITE_CONSTRAINT:
      return core::AlreadyExists(std::move(msg));
    default:
      return core::Internal(std::move(msg));
  }
}

Status ExecScript(sqlite3* db, const char* sql, const char* what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return Fail(SqlError(db, rc, what));
  return Ok();
}

Status ExecCached(sqlite3* db, const char* sql, const char* what) {
  Stmt s(db, sql);
  if (!s.ok()) return Fail(SqlError(db, s.prepare_rc(), what));
  auto done = s.Step();
  if (!done) return Fail(SqlError(db, sqlite3_errcode(db), what));
  return Ok();
}

namespace {

// Process-wide SQLite settings, before its first use: no memory statistics
// (they take a global mutex on every allocation, which every request thread
// then contends for).
void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
  });
}

}  // namespace

Result<sqlite3*> OpenConnection(const std::string& path, int busy_timeout_ms,
                                const ConnectionTuning& tuning) {
  ConfigureSqliteOnce();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    core::Error e = SqlError(db, rc, "open database");
    sqlite3_close(db);
    return Fail(std::move(e));
  }
  // Wait for another process's write lock in short steps (SQLite's default
  // handler sleeps up to 100 ms at a time, which wrecks tail latency).
  sqlite3_busy_handler(
      db,
      [](void* arg, int count) -> int {
        const int64_t timeout_us =
            static_cast<int64_t>(reinterpret_cast<intptr_t>(arg)) * 1000;
        if (static_cast<int64_t>(count) * 250 >= timeout_us) return 0;
        usleep(250);
        return 1;
      },
      reinterpret_cast<void*>(static_cast<intptr_t>(busy_timeout_ms)));
  sqlite3_extended_result_codes(db, 1);
  // WAL + synchronous=FULL: each commit fsyncs the WAL before returning, so
  // what we acknowledge is on stable storage. NORMAL would only be safe
  // against process crashes, not power loss.
  Status s = ExecScript(db,
                        "PRAGMA journal_mode=WAL;"
                        "PRAGMA synchronous=FULL;"
                        "PRAGMA foreign_keys=ON;",
                        "configure database");
  if (s && tuning.wal_autocheckpoint_pages >= 0) {
    const std::string sql = "PRAGMA wal_autocheckpoint=" +
                            std::to_string(tuning.wal_autocheckpoint_pages);
    s = ExecScript(db, sql.c_str(), "configure checkpoints");
  }
  if (s && tuning.mmap_bytes > 0) {
    const std::string sql =
        "PRAGMA mmap_size=" + std::to_string(tuning.mmap_bytes);
    s = ExecScript(db, sql.c_str(), "configure memory map");
  }
  if (!s) {
    sqlite3_close(db);
    return Fail(s.error());
  }
  return db;
}

}  // namespace sms::storage::sqlite
