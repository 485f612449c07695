// The SQLite driver: connections, cached prepared statements and
// transactions, under the SqliteStore (store.h in this folder).
//
// Thread-compatible: a connection, its statement cache and its statements
// are used by one thread at a time (the store's pool hands them out).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/result.h"

namespace sms::storage::sqlite {

using core::Fail;
using core::Ok;
using core::Result;
using core::Status;

// Maps an SQLite result code to an Error. The message names the operation,
// never the SQL text or the database path (API.md §1: no internals).
core::Error SqlError(sqlite3* db, int rc, const char* what);

// Prepared statements of one pooled connection, reused across calls
// (preparing costs more than running most of our queries).
struct StmtCache {
  struct Entry {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  explicit StmtCache(sqlite3* d) : db(d) {}
  ~StmtCache() {
    for (auto& [sql, e] : by_sql) sqlite3_finalize(e.stmt);
  }
  sqlite3* db;
  std::unordered_map<std::string, Entry> by_sql;
};

// The cache of the connection this thread holds (set by the pool).
extern constinit thread_local StmtCache* t_stmt_cache;

// The connection a read scope pinned to this thread (SqliteStore).
struct Pinned {
  const void* store = nullptr;
  sqlite3* db = nullptr;
};
extern constinit thread_local Pinned t_pinned;

// A prepared statement, borrowed from the thread's statement cache when it
// holds one for `db` (else prepared for this use); reset and returned, or
// finalised, by RAII.
class Stmt final {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (t_stmt_cache != nullptr && t_stmt_cache->db == db) {
      auto it = t_stmt_cache->by_sql.find(sql);
      if (it == t_stmt_cache->by_sql.end()) {
        sqlite3_stmt* st = nullptr;
        rc_ = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                                 nullptr);
        if (rc_ != SQLITE_OK) return;
        it = t_stmt_cache->by_sql.emplace(sql, StmtCache::Entry{st, false})
                 .first;
      }
      if (!it->second.in_use) {
        it->second.in_use = true;
        entry_ = &it->second;
        stmt_ = entry_->stmt;
        return;
      }
      // The same statement is already running (nested use): prepare a
      // private copy.
    }
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() {
    if (entry_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
      entry_->in_use = false;
    } else {
      sqlite3_finalize(stmt_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  int prepare_rc() const { return rc_; }
  bool read_only() const { return sqlite3_stmt_readonly(stmt_) != 0; }

  Stmt& Bind(const std::string& v) {
    sqlite3_bind_text(stmt_, ++n_, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(const char* v) { return Bind(std::string(v)); }
  Stmt& Bind(int64_t v) {
    sqlite3_bind_int64(stmt_, ++n_, v);
    return *this;
  }
  Stmt& Bind(int v) { return Bind(static_cast<int64_t>(v)); }
  Stmt& Bind(bool v) { return Bind(static_cast<int64_t>(v ? 1 : 0)); }
  Stmt& Bind(const std::optional<int64_t>& v) {
    if (v) return Bind(*v);
    sqlite3_bind_null(stmt_, ++n_);
    return *this;
  }
  // Makes the statement ready to run again with new bindings.
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    n_ = 0;
  }
  Stmt& BindNull() {
    sqlite3_bind_null(stmt_, ++n_);
    return *this;
  }

  // Steps once: true for a row, false when done.
  Result<bool> Step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Fail(SqlError(db_, rc, "query"));
  }
  Status Exec() {
    SMS_ASSIGN_OR_RETURN(bool row, Step());
    (void)row;
    return Ok();
  }

  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool Bool(int col) const { return Int(col) != 0; }
  std::optional<int64_t> OptInt(int col) const {
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
    return Int(col);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  StmtCache::Entry* entry_ = nullptr;  // set when borrowed from the cache
  int rc_ = SQLITE_OK;
  int n_ = 0;
};

// Prepares `sql` on `db` or returns the error.
// Inside a read scope (SqliteStore::BeginReadScope) a statement that would
// write is refused before it runs.
#define SMS_PREPARE_(var, conn, sql)                                         \
  Stmt var((conn), (sql));                                                   \
  if (!var.ok()) return Fail(SqlError((conn), var.prepare_rc(), "prepare")); \
  if (t_pinned.db == (conn) && !var.read_only())                             \
  return Fail(core::Internal("a write inside a read-only scope"))

// Runs a script of one or more statements (configuration, migrations).
Status ExecScript(sqlite3* db, const char* sql, const char* what);

// One statement without results (BEGIN, COMMIT) through the connection's
// statement cache: sqlite3_exec would parse it again on every call, which
// was 9% of the server's CPU time on GET (two per read scope).
Status ExecCached(sqlite3* db, const char* sql, const char* what);

// A transaction: BEGIN IMMEDIATE (take the write lock up front, so a
// read-then-write never fails on lock upgrade) and ROLLBACK unless
// Commit() succeeded.
class Txn final {
 public:
  // `write_mu`, when given, serialises this process's write transactions,
  // so they queue on a mutex instead of polling SQLite's lock.
  explicit Txn(sqlite3* db, std::mutex* write_mu = nullptr)
      : db_(db), write_mu_(write_mu) {}
  ~Txn() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  Status Begin(bool write) {
    if (sqlite3_get_autocommit(db_) == 0) {
      // Inside a read scope (SqliteStore::BeginReadScope): reads join it.
      if (write)
        return Fail(core::Internal("a write inside a read-only scope"));
      return Ok();
    }
    if (write && write_mu_ != nullptr)
      write_lock_ = std::unique_lock<std::mutex>(*write_mu_);
    SMS_RETURN_IF_ERROR(
        ExecCached(db_, write ? "BEGIN IMMEDIATE" : "BEGIN", "begin"));
    open_ = true;
    return Ok();
  }
  Status Commit() {
    if (!open_) return Ok();  // joined a read scope: it ends the transaction
    SMS_RETURN_IF_ERROR(ExecCached(db_, "COMMIT", "commit"));
    open_ = false;
    return Ok();
  }

 private:
  sqlite3* db_;
  std::mutex* write_mu_;
  std::unique_lock<std::mutex> write_lock_;  // released after ROLLBACK/COMMIT
  bool open_ = false;
};

// While it lives, commits on `db` skip the WAL fsync (synchronous=NORMAL,
// which in WAL mode is safe against a process crash: the WAL is written
// before COMMIT returns, only a power cut can lose the newest such
// commits). For writes whose loss is harmless and which come at the rate of
// agents' polls: heartbeats and the replay guard. The next synchronous
// commit fsyncs them too. Construct it before the Txn it covers.
class UnsyncedCommits final {
 public:
  explicit UnsyncedCommits(sqlite3* db) : db_(db) {
    (void)ExecCached(db_, "PRAGMA synchronous=NORMAL", "relax durability");
  }
  ~UnsyncedCommits() { Restore(); }
  // Full durability again from here, e.g. for a commit that turns out to
  // carry more than a heartbeat (SQLite reads the level at COMMIT).
  void Restore() {
    if (restored_) return;
    (void)ExecCached(db_, "PRAGMA synchronous=FULL", "restore durability");
    restored_ = true;
  }
  UnsyncedCommits(const UnsyncedCommits&) = delete;
  UnsyncedCommits& operator=(const UnsyncedCommits&) = delete;

 private:
  sqlite3* db_;
  bool restored_ = false;
};

// How a connection is set up beyond the fixed pragmas of OpenConnection.
struct ConnectionTuning {
  // PRAGMA wal_autocheckpoint: the commit that takes the WAL past this many
  // pages checkpoints it on the committing thread (fsyncs and all). 0: never;
  // the owner checkpoints (SqliteCheckpointer). Negative: SQLite's default
  // (1000 pages).
  int wal_autocheckpoint_pages = -1;
  // PRAGMA mmap_size: the database file's pages are read through a memory
  // map instead of a pread(2) copy each (a pooled connection drops its page
  // cache whenever another one has written, so a read refetches its pages).
  // Pages newer than the last checkpoint are still read from the WAL.
  int64_t mmap_bytes = 0;
};

// Opens (creating if missing) the database at `path` in WAL mode with
// synchronous=FULL and foreign keys on. A writer waits up to
// `busy_timeout_ms` for another process's write lock.
Result<sqlite3*> OpenConnection(const std::string& path, int busy_timeout_ms,
                                const ConnectionTuning& tuning = {});

}  // namespace sms::storage::sqlite
