#include "storage/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/migrations.h"

namespace sms::storage {
namespace {

using core::Fail;
using core::Ok;

// Maps an SQLite result code to an Error. The message names the operation,
// never the SQL text or the database path (API.md §1: no internals).
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

// A prepared statement; reset and finalised by RAII.
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
thread_local StmtCache* t_stmt_cache = nullptr;

// The connection a read scope pinned to this thread (SqliteStore).
struct Pinned {
  const void* store = nullptr;
  sqlite3* db = nullptr;
};
thread_local Pinned t_pinned;

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

Status ExecScript(sqlite3* db, const char* sql, const char* what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return Fail(SqlError(db, rc, what));
  return Ok();
}

// One statement without results (BEGIN, COMMIT) through the connection's
// statement cache: sqlite3_exec would parse it again on every call, which
// was 9% of the server's CPU time on GET (two per read scope).
Status ExecCached(sqlite3* db, const char* sql, const char* what) {
  Stmt s(db, sql);
  if (!s.ok()) return Fail(SqlError(db, s.prepare_rc(), what));
  auto done = s.Step();
  if (!done) return Fail(SqlError(db, sqlite3_errcode(db), what));
  return Ok();
}

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

Result<sqlite3*> OpenConnection(const std::string& path, int busy_timeout_ms) {
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
  if (!s) {
    sqlite3_close(db);
    return Fail(s.error());
  }
  return db;
}

Status ApplyMigrations(sqlite3* db, std::vector<int>* applied) {
  SMS_RETURN_IF_ERROR(ExecScript(db,
                                 "CREATE TABLE IF NOT EXISTS schema_migrations"
                                 " (version INTEGER PRIMARY KEY,"
                                 "  name TEXT NOT NULL,"
                                 "  applied_at INTEGER NOT NULL)",
                                 "create schema table"));
  for (const Migration& m : Migrations()) {
    Txn txn(db);
    SMS_RETURN_IF_ERROR(txn.Begin(true));
    {
      SMS_PREPARE_(q, db, "SELECT 1 FROM schema_migrations WHERE version=?");
      q.Bind(static_cast<int64_t>(m.version));
      SMS_ASSIGN_OR_RETURN(bool exists, q.Step());
      if (exists) continue;
    }
    std::string sql(m.sql);
    SMS_RETURN_IF_ERROR(ExecScript(db, sql.c_str(), "apply migration"));
    SMS_PREPARE_(ins, db,
                 "INSERT INTO schema_migrations (version, name, applied_at)"
                 " VALUES (?, ?, strftime('%s','now') * 1000)");
    ins.Bind(static_cast<int64_t>(m.version)).Bind(std::string(m.name));
    SMS_RETURN_IF_ERROR(ins.Exec());
    SMS_RETURN_IF_ERROR(txn.Commit());
    if (applied) applied->push_back(m.version);
  }
  return Ok();
}

constexpr char kTaskColumns[] =
    "id, domain_id, name, type, os_type, source_id, target_name, target_ip,"
    " target_verify_uri, is_need_consistency_check, state, current_run_id,"
    " created_at, updated_at";

Task ReadTask(const Stmt& s) {
  Task t;
  t.id = s.Text(0);
  t.domain_id = s.Text(1);
  t.name = s.Text(2);
  t.type = s.Text(3);
  t.os_type = s.Text(4);
  t.source_id = s.Text(5);
  t.target_name = s.Text(6);
  t.target_ip = s.Text(7);
  t.target_verify_uri = s.Text(8);
  t.is_need_consistency_check = s.Int(9) != 0;
  t.state = s.Text(10);
  t.current_run_id = s.Text(11);
  t.created_at = s.Int(12);
  t.updated_at = s.Int(13);
  return t;
}

constexpr char kSourceColumns[] =
    "id, domain_id, owner_user_id, name, hostname, ip, os_type, os_version,"
    " agent_version, created_at, last_seen_at,"
    " EXISTS (SELECT 1 FROM runs r JOIN tasks t ON t.id = r.task_id"
    "         WHERE t.source_id = sources.id AND r.domain_id = "
    "sources.domain_id)";

Source ReadSource(const Stmt& s) {
  Source r;
  r.id = s.Text(0);
  r.domain_id = s.Text(1);
  r.owner_user_id = s.Text(2);
  r.name = s.Text(3);
  r.hostname = s.Text(4);
  r.ip = s.Text(5);
  r.os_type = s.Text(6);
  r.os_version = s.Text(7);
  r.agent_version = s.Text(8);
  r.created_at = s.Int(9);
  r.last_seen_at = s.Int(10);
  r.has_results = s.Int(11) != 0;
  return r;
}

constexpr char kCommandColumns[] =
    "id, domain_id, source_id, task_id, run_id, name, param_json, state,"
    " result, result_detail, created_at, updated_at";

Command ReadCommand(const Stmt& s) {
  Command c;
  c.id = s.Int(0);
  c.domain_id = s.Text(1);
  c.source_id = s.Text(2);
  c.task_id = s.Text(3);
  c.run_id = s.Text(4);
  c.name = s.Text(5);
  c.param_json = s.Text(6);
  c.state = s.Text(7);
  c.result = s.Text(8);
  c.result_detail = s.Text(9);
  c.created_at = s.Int(10);
  c.updated_at = s.Int(11);
  return c;
}

constexpr char kRunColumns[] =
    "run_id, domain_id, task_id, started_time, finished_time, check_result,"
    " mode, hash_algorithm, error_msg, content_hash, committed_at";

Run ReadRun(const Stmt& s) {
  Run r;
  r.run_id = s.Text(0);
  r.domain_id = s.Text(1);
  r.task_id = s.Text(2);
  r.started_time = s.Int(3);
  r.finished_time = s.Int(4);
  r.check_result = s.Text(5);
  r.mode = s.Text(6);
  r.hash_algorithm = s.Text(7);
  r.error_msg = s.Text(8);
  r.content_hash = s.Text(9);
  r.committed_at = s.Int(10);
  return r;
}

class SqliteStore final : public Store {
 public:
  // With two connections or more, the last is kept out of the pool as the
  // group-commit writer (CommitBatch): its page cache stays warm, where a
  // pooled connection's is dropped whenever another one has written.
  explicit SqliteStore(std::vector<sqlite3*> conns) : all_(conns) {
    writer_ = conns.back();
    if (conns.size() > 1) conns.pop_back();
    free_ = std::move(conns);
    for (sqlite3* db : all_) caches_[db] = std::make_unique<StmtCache>(db);
  }
  ~SqliteStore() override {
    caches_.clear();  // finalize statements before closing
    for (sqlite3* db : all_) sqlite3_close(db);
  }
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status Ping() override {
    Conn c(this);
    SMS_PREPARE_(q, c.db, "SELECT 1");
    return q.Exec();
  }

  // --- identity ---
  Status CreateDomain(const Domain& d) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "INSERT INTO domains (id, name, created_at) VALUES (?,?,?)");
    q.Bind(d.id).Bind(d.name).Bind(d.created_at);
    return q.Exec();
  }
  Result<Domain> GetDomainByName(const std::string& name) override {
    return GetDomainWhere("name", name);
  }
  Result<Domain> GetDomain(const std::string& id) override {
    return GetDomainWhere("id", id);
  }

  Status CreateUser(const User& u) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "INSERT INTO users (id, domain_id, name, role, password_hash,"
                 " created_at) VALUES (?,?,?,?,?,?)");
    q.Bind(u.id).Bind(u.domain_id).Bind(u.name).Bind(u.role);
    q.Bind(u.password_hash).Bind(u.created_at);
    return q.Exec();
  }
  Result<User> GetUserByName(const std::string& domain_id,
                             const std::string& name) override {
    return GetUserWhere(domain_id, "name", name);
  }
  Result<User> GetUser(const std::string& domain_id,
                       const std::string& id) override {
    return GetUserWhere(domain_id, "id", id);
  }

  Status CreateCredential(const Credential& cr) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "INSERT INTO credentials (access_key, domain_id, user_id,"
                 " secret_key, created_at, revoked_at) VALUES (?,?,?,?,?,?)");
    q.Bind(cr.access_key).Bind(cr.domain_id).Bind(cr.user_id);
    q.Bind(cr.secret_key).Bind(cr.created_at).Bind(cr.revoked_at);
    return q.Exec();
  }
  Result<Credential> GetCredential(const std::string& access_key) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "SELECT access_key, domain_id, user_id, secret_key,"
                 " created_at, revoked_at FROM credentials"
                 " WHERE access_key = ?");
    q.Bind(access_key);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::NotFound("credential not found"));
    return Credential{q.Text(0), q.Text(1), q.Text(2),
                      q.Text(3), q.Int(4),  q.OptInt(5)};
  }
  Status RevokeCredential(const std::string& access_key, int64_t now) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "UPDATE credentials SET revoked_at = ? WHERE access_key = ?"
                 " AND revoked_at IS NULL");
    q.Bind(now).Bind(access_key);
    SMS_RETURN_IF_ERROR(q.Exec());
    if (sqlite3_changes(c.db) == 0)
      return Fail(core::NotFound("credential not found or already revoked"));
    return Ok();
  }

  Status CreateToken(const Token& t) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "INSERT INTO tokens (token_hash, domain_id, user_id,"
                 " issued_at, expires_at, revoked_at) VALUES (?,?,?,?,?,?)");
    q.Bind(t.token_hash).Bind(t.domain_id).Bind(t.user_id);
    q.Bind(t.issued_at).Bind(t.expires_at).Bind(t.revoked_at);
    return q.Exec();
  }
  Result<Token> GetToken(const std::string& token_hash) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "SELECT token_hash, domain_id, user_id, issued_at,"
                 " expires_at, revoked_at FROM tokens WHERE token_hash = ?");
    q.Bind(token_hash);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::NotFound("token not found"));
    return Token{q.Text(0), q.Text(1), q.Text(2),
                 q.Int(3),  q.Int(4),  q.OptInt(5)};
  }
  Result<TokenIdentity> ResolveToken(const std::string& token_hash) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "SELECT t.token_hash, t.domain_id, t.user_id, t.issued_at,"
                 " t.expires_at, t.revoked_at, u.name, u.role,"
                 " u.password_hash, u.created_at, d.name, d.created_at"
                 " FROM tokens t JOIN users u ON u.id = t.user_id AND"
                 " u.domain_id = t.domain_id JOIN domains d ON"
                 " d.id = t.domain_id WHERE t.token_hash = ?");
    q.Bind(token_hash);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::NotFound("token not found"));
    TokenIdentity out;
    out.token =
        Token{q.Text(0), q.Text(1), q.Text(2), q.Int(3), q.Int(4), q.OptInt(5)};
    out.user =
        User{q.Text(2), q.Text(1), q.Text(6), q.Text(7), q.Text(8), q.Int(9)};
    out.domain = Domain{q.Text(1), q.Text(10), q.Int(11)};
    return out;
  }
  Status RevokeToken(const std::string& token_hash, int64_t now) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "UPDATE tokens SET revoked_at = ? WHERE token_hash = ?"
                 " AND revoked_at IS NULL");
    q.Bind(now).Bind(token_hash);
    SMS_RETURN_IF_ERROR(q.Exec());
    if (sqlite3_changes(c.db) == 0)
      return Fail(core::NotFound("token not found or already revoked"));
    return Ok();
  }

  Status RememberSignature(const std::string& key, int64_t expires_at,
                           int64_t now) override {
    Conn c(this);
    Txn txn(c.db, &write_mu_);
    SMS_RETURN_IF_ERROR(txn.Begin(true));
    {
      SMS_PREPARE_(purge, c.db,
                   "DELETE FROM used_signatures WHERE sig_key IN (SELECT"
                   " sig_key FROM used_signatures WHERE expires_at <= ?"
                   " LIMIT 100)");
      purge.Bind(now);
      SMS_RETURN_IF_ERROR(purge.Exec());
      SMS_PREPARE_(q, c.db,
                   "INSERT INTO used_signatures (sig_key, expires_at)"
                   " VALUES (?,?) ON CONFLICT (sig_key) DO NOTHING");
      q.Bind(key).Bind(expires_at);
      SMS_RETURN_IF_ERROR(q.Exec());
      if (sqlite3_changes(c.db) == 0)
        return Fail(core::AlreadyExists("signature already used"));
    }
    return txn.Commit();
  }

  // --- sources ---
  Result<Source> UpsertSource(const Source& s) override {
    Conn c(this);
    Txn txn(c.db, &write_mu_);
    SMS_RETURN_IF_ERROR(txn.Begin(true));
    {
      SMS_PREPARE_(q, c.db,
                   "INSERT INTO sources (id, domain_id, owner_user_id, name,"
                   " hostname, ip, os_type, os_version, agent_version,"
                   " created_at, last_seen_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                   " ON CONFLICT (domain_id, name, hostname) DO UPDATE SET"
                   " ip = excluded.ip, os_type = excluded.os_type,"
                   " os_version = excluded.os_version,"
                   " agent_version = excluded.agent_version,"
                   " last_seen_at = excluded.last_seen_at");
      q.Bind(s.id).Bind(s.domain_id).Bind(s.owner_user_id).Bind(s.name);
      q.Bind(s.hostname).Bind(s.ip).Bind(s.os_type).Bind(s.os_version);
      q.Bind(s.agent_version).Bind(s.created_at).Bind(s.last_seen_at);
      SMS_RETURN_IF_ERROR(q.Exec());
    }
    std::string sql = std::string("SELECT ") + kSourceColumns +
                      " FROM sources WHERE domain_id = ? AND name = ?"
                      " AND hostname = ?";
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(s.domain_id).Bind(s.name).Bind(s.hostname);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::Internal("source vanished after upsert"));
    Source out = ReadSource(q);
    SMS_RETURN_IF_ERROR(txn.Commit());
    return out;
  }
  Result<Source> GetSource(const std::string& domain_id,
                           const std::string& id) override {
    Conn c(this);
    std::string sql = std::string("SELECT ") + kSourceColumns +
                      " FROM sources WHERE domain_id = ? AND id = ?";
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(domain_id).Bind(id);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::NotFound("source not found"));
    return ReadSource(q);
  }
  Result<Page<Source>> ListSources(const std::string& domain_id,
                                   const SourceFilter& f) override {
    Conn c(this);
    const char* where =
        " FROM sources WHERE domain_id = ?1 AND (?2 IS NULL OR name = ?2)";
    Page<Source> page;
    {
      std::string sql = std::string("SELECT count(*)") + where;
      SMS_PREPARE_(q, c.db, sql.c_str());
      q.Bind(domain_id);
      if (f.name)
        q.Bind(*f.name);
      else
        q.BindNull();
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      page.count = row ? q.Int(0) : 0;
    }
    std::string sql = std::string("SELECT ") + kSourceColumns + where +
                      " ORDER BY created_at, id LIMIT ?3 OFFSET ?4";
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(domain_id);
    if (f.name)
      q.Bind(*f.name);
    else
      q.BindNull();
    q.Bind(f.limit).Bind(f.offset);
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      page.items.push_back(ReadSource(q));
    }
    return page;
  }
  Status TouchSource(const std::string& domain_id, const std::string& id,
                     int64_t now) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "UPDATE sources SET last_seen_at = ? WHERE domain_id = ?"
                 " AND id = ?");
    q.Bind(now).Bind(domain_id).Bind(id);
    SMS_RETURN_IF_ERROR(q.Exec());
    if (sqlite3_changes(c.db) == 0)
      return Fail(core::NotFound("source not found"));
    return Ok();
  }

  // --- tasks ---
  Status CreateTask(const Task& t) override {
    Conn c(this);
    std::string sql = std::string("INSERT INTO tasks (") + kTaskColumns +
                      ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(t.id).Bind(t.domain_id).Bind(t.name).Bind(t.type).Bind(t.os_type);
    q.Bind(t.source_id).Bind(t.target_name).Bind(t.target_ip);
    q.Bind(t.target_verify_uri).Bind(t.is_need_consistency_check);
    q.Bind(t.state).Bind(t.current_run_id).Bind(t.created_at);
    q.Bind(t.updated_at);
    return q.Exec();
  }
  Result<Task> GetTask(const std::string& domain_id,
                       const std::string& id) override {
    Conn c(this);
    return GetTaskOn(c.db, domain_id, id);
  }
  Result<Page<Task>> ListTasks(const std::string& domain_id,
                               const TaskFilter& f) override {
    Conn c(this);
    const char* where =
        " FROM tasks WHERE domain_id = ?1 AND (?2 IS NULL OR state = ?2)"
        " AND (?3 IS NULL OR name = ?3) AND (?4 IS NULL OR id = ?4)"
        " AND (?5 IS NULL OR source_id = ?5)";
    auto bind_filter = [&](Stmt& q) {
      q.Bind(domain_id);
      for (const auto* v : {&f.state, &f.name, &f.id, &f.source_id}) {
        if (*v)
          q.Bind(**v);
        else
          q.BindNull();
      }
    };
    Page<Task> page;
    {
      std::string sql = std::string("SELECT count(*)") + where;
      SMS_PREPARE_(q, c.db, sql.c_str());
      bind_filter(q);
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      page.count = row ? q.Int(0) : 0;
    }
    std::string sql = std::string("SELECT ") + kTaskColumns + where +
                      " ORDER BY created_at DESC, id LIMIT ?6 OFFSET ?7";
    SMS_PREPARE_(q, c.db, sql.c_str());
    bind_filter(q);
    q.Bind(f.limit).Bind(f.offset);
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      page.items.push_back(ReadTask(q));
    }
    return page;
  }
  Status DeleteTask(const std::string& domain_id,
                    const std::string& id) override {
    Conn c(this);
    Txn txn(c.db, &write_mu_);
    SMS_RETURN_IF_ERROR(txn.Begin(true));
    // Children first; runs/detail chunks cascade to their own children.
    static const char* const kDeletes[] = {
        "DELETE FROM file_details WHERE run_id IN (SELECT run_id FROM"
        " detail_chunks WHERE domain_id = ?1 AND task_id = ?2)",
        "DELETE FROM detail_chunks WHERE domain_id = ?1 AND task_id = ?2",
        "DELETE FROM run_dirs WHERE run_id IN (SELECT run_id FROM runs"
        " WHERE domain_id = ?1 AND task_id = ?2)",
        "DELETE FROM runs WHERE domain_id = ?1 AND task_id = ?2",
        "DELETE FROM commands WHERE domain_id = ?1 AND task_id = ?2",
        "DELETE FROM task_configs WHERE task_id IN (SELECT id FROM tasks"
        " WHERE domain_id = ?1 AND id = ?2)",
    };
    for (const char* sql : kDeletes) {
      SMS_PREPARE_(q, c.db, sql);
      q.Bind(domain_id).Bind(id);
      SMS_RETURN_IF_ERROR(q.Exec());
    }
    SMS_PREPARE_(q, c.db, "DELETE FROM tasks WHERE domain_id = ? AND id = ?");
    q.Bind(domain_id).Bind(id);
    SMS_RETURN_IF_ERROR(q.Exec());
    if (sqlite3_changes(c.db) == 0)
      return Fail(core::NotFound("task not found"));
    return txn.Commit();
  }
  Status UpdateTaskState(const std::string& domain_id, const std::string& id,
                         const std::string& expected_state,
                         const std::string& new_state,
                         const std::string& current_run_id,
                         int64_t now) override {
    Conn c(this);
    Txn txn(c.db, &write_mu_);
    SMS_RETURN_IF_ERROR(txn.Begin(true));
    SMS_RETURN_IF_ERROR(SetTaskStateOn(c.db, domain_id, id, expected_state,
                                       new_state, current_run_id, now));
    return txn.Commit();
  }

  Status PutTaskConfigs(const std::string& domain_id,
                        const std::string& task_id,
                        const std::vector<ConfigEntry>& entries) override {
    Conn c(this);
    Txn txn(c.db, &write_mu_);
    SMS_RETURN_IF_ERROR(txn.Begin(true));
    SMS_RETURN_IF_ERROR(GetTaskOn(c.db, domain_id, task_id));
    for (const ConfigEntry& e : entries) {
      SMS_PREPARE_(q, c.db,
                   "INSERT INTO task_configs (task_id, config_key,"
                   " config_value) VALUES (?,?,?) ON CONFLICT (task_id,"
                   " config_key) DO UPDATE SET config_value ="
                   " excluded.config_value");
      q.Bind(task_id).Bind(e.key).Bind(e.value);
      SMS_RETURN_IF_ERROR(q.Exec());
    }
    return txn.Commit();
  }
  Result<std::vector<ConfigEntry>> GetTaskConfigs(
      const std::string& domain_id, const std::string& task_id) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "SELECT c.config_key, c.config_value FROM task_configs c"
                 " JOIN tasks t ON t.id = c.task_id WHERE t.domain_id = ?"
                 " AND t.id = ? ORDER BY c.config_key");
    q.Bind(domain_id).Bind(task_id);
    std::vector<ConfigEntry> out;
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      out.push_back({q.Text(0), q.Text(1)});
    }
    if (out.empty()) SMS_RETURN_IF_ERROR(GetTaskOn(c.db, domain_id, task_id));
    return out;
  }

  // --- commands ---
  Result<Command> EnqueueCommand(const Command& cmd,
                                 const std::string& expected_state,
                                 const std::string& new_state) override {
    Conn c(this);
    Txn txn(c.db, &write_mu_);
    SMS_RETURN_IF_ERROR(txn.Begin(true));
    SMS_ASSIGN_OR_RETURN(Task task,
                         GetTaskOn(c.db, cmd.domain_id, cmd.task_id));
    std::string run_id =
        cmd.name == "CONSISTENCY_CHECK" ? cmd.run_id : task.current_run_id;
    SMS_RETURN_IF_ERROR(SetTaskStateOn(c.db, cmd.domain_id, cmd.task_id,
                                       expected_state, new_state, run_id,
                                       cmd.created_at));
    std::string sql = std::string("INSERT INTO commands (") + kCommandColumns +
                      ") VALUES (NULL,?,?,?,?,?,?,?,?,?,?,?)";
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(cmd.domain_id).Bind(cmd.source_id).Bind(cmd.task_id);
    q.Bind(cmd.run_id).Bind(cmd.name).Bind(cmd.param_json).Bind(cmd.state);
    q.Bind(cmd.result).Bind(cmd.result_detail).Bind(cmd.created_at);
    q.Bind(cmd.updated_at);
    SMS_RETURN_IF_ERROR(q.Exec());
    Command out = cmd;
    out.id = sqlite3_last_insert_rowid(c.db);
    SMS_RETURN_IF_ERROR(txn.Commit());
    return out;
  }
  Result<std::optional<Command>> NextCommand(const std::string& domain_id,
                                             const std::string& source_id,
                                             int64_t now) override {
    Conn c(this);
    Txn txn(c.db, &write_mu_);
    SMS_RETURN_IF_ERROR(txn.Begin(true));
    {
      SMS_PREPARE_(q, c.db,
                   "UPDATE sources SET last_seen_at = ? WHERE domain_id = ?"
                   " AND id = ?");
      q.Bind(now).Bind(domain_id).Bind(source_id);
      SMS_RETURN_IF_ERROR(q.Exec());
      if (sqlite3_changes(c.db) == 0)
        return Fail(core::NotFound("source not found"));
    }
    std::optional<Command> out;
    {
      std::string sql = std::string("SELECT ") + kCommandColumns +
                        " FROM commands WHERE domain_id = ? AND source_id = ?"
                        " AND state = 'pending' ORDER BY id LIMIT 1";
      SMS_PREPARE_(q, c.db, sql.c_str());
      q.Bind(domain_id).Bind(source_id);
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) out = ReadCommand(q);
    }
    if (out) {
      SMS_PREPARE_(q, c.db,
                   "UPDATE commands SET state = 'delivered', updated_at = ?"
                   " WHERE id = ?");
      q.Bind(now).Bind(out->id);
      SMS_RETURN_IF_ERROR(q.Exec());
      out->state = "delivered";
      out->updated_at = now;
    }
    SMS_RETURN_IF_ERROR(txn.Commit());
    return out;
  }
  Result<Command> LatestTaskCommand(const std::string& domain_id,
                                    const std::string& task_id) override {
    Conn c(this);
    std::string sql = std::string("SELECT ") + kCommandColumns +
                      " FROM commands WHERE domain_id = ? AND task_id = ?"
                      " ORDER BY id DESC LIMIT 1";
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(domain_id).Bind(task_id);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::NotFound("no command for task"));
    return ReadCommand(q);
  }
  Result<Command> LatestDeliveredCommand(const std::string& domain_id,
                                         const std::string& source_id,
                                         const std::string& name) override {
    Conn c(this);
    std::string sql = std::string("SELECT ") + kCommandColumns +
                      " FROM commands WHERE domain_id = ? AND source_id = ?"
                      " AND name = ? AND state = 'delivered'"
                      " ORDER BY id DESC LIMIT 1";
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(domain_id).Bind(source_id).Bind(name);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::NotFound("no delivered command"));
    return ReadCommand(q);
  }
  Status CancelPendingCommand(const std::string& domain_id, int64_t command_id,
                              int64_t now) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "UPDATE commands SET state = 'cancelled', updated_at = ?"
                 " WHERE domain_id = ? AND id = ? AND state = 'pending'");
    q.Bind(now).Bind(domain_id).Bind(command_id);
    SMS_RETURN_IF_ERROR(q.Exec());
    if (sqlite3_changes(c.db) == 0)
      return Fail(core::FailedPrecondition("command is no longer pending"));
    return Ok();
  }
  Status FinishCommand(const std::string& domain_id, int64_t command_id,
                       const std::string& state, const std::string& result,
                       const std::string& result_detail, int64_t now) override {
    Conn c(this);
    SMS_PREPARE_(q, c.db,
                 "UPDATE commands SET state = ?, result = ?, result_detail = ?,"
                 " updated_at = ? WHERE domain_id = ? AND id = ?");
    q.Bind(state).Bind(result).Bind(result_detail).Bind(now);
    q.Bind(domain_id).Bind(command_id);
    SMS_RETURN_IF_ERROR(q.Exec());
    if (sqlite3_changes(c.db) == 0)
      return Fail(core::NotFound("command not found"));
    return Ok();
  }

  // --- runs ---
  // Group commit: concurrent CommitRun calls share one transaction and so
  // one fsync. The first caller to find no batch running becomes the leader
  // and commits everything queued; each run has its own SAVEPOINT, so one
  // failing run does not fail the others. Nothing is acknowledged before
  // the shared COMMIT has returned.
  Result<CommitOutcome> CommitRun(const Run& run) override {
    PendingCommit me{&run, core::Fail(core::Internal("not run")), false};
    std::unique_lock lock(gc_mu_);
    gc_queue_.push_back(&me);
    while (!me.done) {
      if (gc_leader_active_) {
        gc_cv_.wait(lock);
        continue;
      }
      gc_leader_active_ = true;
      std::vector<PendingCommit*> batch;
      while (!gc_queue_.empty() && batch.size() < 128) {
        batch.push_back(gc_queue_.front());
        gc_queue_.pop_front();
      }
      lock.unlock();
      CommitBatch(batch);
      lock.lock();
      for (PendingCommit* p : batch) p->done = true;
      gc_leader_active_ = false;
      gc_cv_.notify_all();
    }
    return std::move(me.result);
  }

  // The body of CommitRun, inside the caller's transaction.
  static Result<CommitOutcome> CommitRunOn(sqlite3* db, const Run& run) {
    SMS_ASSIGN_OR_RETURN(Task task, GetTaskOn(db, run.domain_id, run.task_id));
    {
      SMS_PREPARE_(q, db,
                   "SELECT domain_id, task_id, content_hash FROM runs"
                   " WHERE run_id = ?");
      q.Bind(run.run_id);
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) {
        if (q.Text(0) == run.domain_id && q.Text(1) == run.task_id &&
            q.Text(2) == run.content_hash) {
          return CommitOutcome::kAlreadyCommitted;
        }
        return Fail(core::AlreadyExists(
            "run_id: already committed with different content"));
      }
    }
    {
      // A run id staged with details for another task or tenant is not
      // this run's.
      SMS_PREPARE_(q, db,
                   "SELECT 1 FROM detail_chunks WHERE run_id = ? AND"
                   " (domain_id <> ? OR task_id <> ?) LIMIT 1");
      q.Bind(run.run_id).Bind(run.domain_id).Bind(run.task_id);
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) return Fail(core::AlreadyExists("run_id: used by another task"));
    }
    {
      std::string sql = std::string("INSERT INTO runs (") + kRunColumns +
                        ") VALUES (?,?,?,?,?,?,?,?,?,?,?)";
      SMS_PREPARE_(q, db, sql.c_str());
      q.Bind(run.run_id).Bind(run.domain_id).Bind(run.task_id);
      q.Bind(run.started_time).Bind(run.finished_time).Bind(run.check_result);
      q.Bind(run.mode).Bind(run.hash_algorithm).Bind(run.error_msg);
      q.Bind(run.content_hash).Bind(run.committed_at);
      SMS_RETURN_IF_ERROR(q.Exec());
    }
    int64_t idx = 0;
    for (const DirResult& d : run.dirs) {
      SMS_PREPARE_(q, db,
                   "INSERT INTO run_dirs (run_id, idx, dir_check,"
                   " num_total_files, num_different_files,"
                   " num_target_miss_files, num_target_more_files,"
                   " num_changed_files, num_error_files,"
                   " num_metadata_different_files, num_bytes_verified)"
                   " VALUES (?,?,?,?,?,?,?,?,?,?,?)");
      q.Bind(run.run_id).Bind(idx++).Bind(d.dir_check);
      q.Bind(d.num_total_files).Bind(d.num_different_files);
      q.Bind(d.num_target_miss_files).Bind(d.num_target_more_files);
      q.Bind(d.num_changed_files).Bind(d.num_error_files);
      q.Bind(d.num_metadata_different_files).Bind(d.num_bytes_verified);
      SMS_RETURN_IF_ERROR(q.Exec());
    }
    if (task.current_run_id == run.run_id &&
        (task.state == "RUNNING" || task.state == "ABORTING")) {
      SMS_RETURN_IF_ERROR(SetTaskStateOn(db, run.domain_id, run.task_id,
                                         task.state, "READY", run.run_id,
                                         run.committed_at));
      SMS_PREPARE_(q, db,
                   "UPDATE commands SET state = 'done', updated_at = ?"
                   " WHERE domain_id = ? AND run_id = ? AND state IN"
                   " ('pending', 'delivered')");
      q.Bind(run.committed_at).Bind(run.domain_id).Bind(run.run_id);
      SMS_RETURN_IF_ERROR(q.Exec());
    }
    return CommitOutcome::kCommitted;
  }
  Result<std::vector<Run>> ListRuns(const std::string& domain_id,
                                    const std::string& task_id,
                                    int limit) override {
    Conn c(this);
    Txn txn(c.db, &write_mu_);  // one snapshot for runs and their directories
    SMS_RETURN_IF_ERROR(txn.Begin(false));
    std::vector<Run> runs;
    {
      std::string sql = std::string("SELECT ") + kRunColumns +
                        " FROM runs WHERE domain_id = ? AND task_id = ?"
                        " ORDER BY seq DESC LIMIT ?";
      SMS_PREPARE_(q, c.db, sql.c_str());
      q.Bind(domain_id).Bind(task_id).Bind(limit);
      while (true) {
        SMS_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        runs.push_back(ReadRun(q));
      }
    }
    if (runs.empty()) return runs;
    // All directories of these runs in one query (not one per run).
    std::map<std::string, Run*> by_id;
    for (Run& r : runs) by_id[r.run_id] = &r;
    SMS_PREPARE_(q, c.db,
                 "SELECT d.run_id, d.dir_check, d.num_total_files,"
                 " d.num_different_files, d.num_target_miss_files,"
                 " d.num_target_more_files, d.num_changed_files,"
                 " d.num_error_files, d.num_metadata_different_files,"
                 " d.num_bytes_verified FROM run_dirs d WHERE d.run_id IN"
                 " (SELECT run_id FROM runs WHERE domain_id = ? AND"
                 "  task_id = ? ORDER BY seq DESC LIMIT ?)"
                 " ORDER BY d.run_id, d.idx");
    q.Bind(domain_id).Bind(task_id).Bind(limit);
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      auto it = by_id.find(q.Text(0));
      if (it == by_id.end()) continue;
      it->second->dirs.push_back(DirResult{q.Text(1), q.Int(2), q.Int(3),
                                           q.Int(4), q.Int(5), q.Int(6),
                                           q.Int(7), q.Int(8), q.Int(9)});
    }
    return runs;
  }
  Result<Run> GetRun(const std::string& domain_id,
                     const std::string& run_id) override {
    Conn c(this);
    Txn txn(c.db, &write_mu_);
    SMS_RETURN_IF_ERROR(txn.Begin(false));
    std::string sql = std::string("SELECT ") + kRunColumns +
                      " FROM runs WHERE domain_id = ? AND run_id = ?";
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(domain_id).Bind(run_id);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::NotFound("run not found"));
    Run r = ReadRun(q);
    SMS_RETURN_IF_ERROR(LoadDirs(c.db, &r));
    return r;
  }

  Result<StageOutcome> StageDetails(const DetailChunk& chunk) override {
    Conn c(this);
    Txn txn(c.db, &write_mu_);
    SMS_RETURN_IF_ERROR(txn.Begin(true));
    SMS_RETURN_IF_ERROR(GetTaskOn(c.db, chunk.domain_id, chunk.task_id));
    {
      SMS_PREPARE_(q, c.db, "SELECT 1 FROM runs WHERE run_id = ?");
      q.Bind(chunk.run_id);
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row)
        return Fail(
            core::FailedPrecondition("run_id: the run is already committed"));
    }
    {
      SMS_PREPARE_(q, c.db,
                   "SELECT domain_id, task_id, content_hash FROM detail_chunks"
                   " WHERE run_id = ? AND seq = ?");
      q.Bind(chunk.run_id).Bind(chunk.seq);
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) {
        if (q.Text(0) == chunk.domain_id && q.Text(1) == chunk.task_id &&
            q.Text(2) == chunk.content_hash) {
          return StageOutcome::kAlreadyStaged;
        }
        return Fail(core::AlreadyExists(
            "seq: chunk already uploaded with different content"));
      }
    }
    {
      SMS_PREPARE_(q, c.db,
                   "SELECT 1 FROM detail_chunks WHERE run_id = ? AND"
                   " (domain_id <> ? OR task_id <> ?) LIMIT 1");
      q.Bind(chunk.run_id).Bind(chunk.domain_id).Bind(chunk.task_id);
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) return Fail(core::AlreadyExists("run_id: used by another task"));
    }
    {
      SMS_PREPARE_(q, c.db,
                   "INSERT INTO detail_chunks (run_id, seq, domain_id,"
                   " task_id, content_hash, created_at) VALUES (?,?,?,?,?,?)");
      q.Bind(chunk.run_id).Bind(chunk.seq).Bind(chunk.domain_id);
      q.Bind(chunk.task_id).Bind(chunk.content_hash).Bind(chunk.created_at);
      SMS_RETURN_IF_ERROR(q.Exec());
    }
    SMS_PREPARE_(ins, c.db,
                 "INSERT INTO file_details (run_id, seq, idx, dir_check, path,"
                 " path_b64, status, reason, source_json, target_json)"
                 " VALUES (?,?,?,?,?,?,?,?,?,?)");
    int64_t idx = 0;
    for (const FileDetail& f : chunk.files) {
      ins.Reset();
      ins.Bind(chunk.run_id).Bind(chunk.seq).Bind(idx++).Bind(f.dir_check);
      ins.Bind(f.path).Bind(f.path_b64).Bind(f.status).Bind(f.reason);
      ins.Bind(f.source_json).Bind(f.target_json);
      SMS_RETURN_IF_ERROR(ins.Exec());
    }
    SMS_RETURN_IF_ERROR(txn.Commit());
    return StageOutcome::kStaged;
  }

  Result<DetailPage> ListDetails(const std::string& domain_id,
                                 const DetailQuery& dq) override {
    Conn c(this);
    Txn txn(c.db, &write_mu_);  // the page and its total from one snapshot
    SMS_RETURN_IF_ERROR(txn.Begin(false));
    constexpr char kWhere[] =
        " FROM file_details f JOIN runs r ON r.run_id = f.run_id"
        " WHERE r.domain_id = ?1 AND f.run_id = ?2"
        " AND (?3 IS NULL OR f.dir_check = ?3)"
        " AND (?4 IS NULL OR f.status = ?4)";
    auto bind_filter = [&](Stmt& q) {
      q.Bind(domain_id).Bind(dq.run_id);
      if (dq.dir_check)
        q.Bind(*dq.dir_check);
      else
        q.BindNull();
      if (dq.status)
        q.Bind(*dq.status);
      else
        q.BindNull();
    };
    DetailPage page;
    {
      std::string sql = std::string("SELECT count(*)") + kWhere;
      SMS_PREPARE_(q, c.db, sql.c_str());
      bind_filter(q);
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      page.total = row ? q.Int(0) : 0;
    }
    std::string sql =
        std::string(
            "SELECT f.seq, f.idx, f.dir_check, f.path, f.path_b64,"
            " f.status, f.reason, f.source_json, f.target_json") +
        kWhere +
        " AND (f.seq > ?5 OR (f.seq = ?5 AND f.idx > ?6))"
        " ORDER BY f.seq, f.idx LIMIT ?7";
    SMS_PREPARE_(q, c.db, sql.c_str());
    bind_filter(q);
    q.Bind(dq.after_seq).Bind(dq.after_idx).Bind(dq.limit);
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      DetailRow r;
      r.seq = q.Int(0);
      r.idx = q.Int(1);
      r.file = FileDetail{q.Text(2), q.Text(3), q.Text(4), q.Text(5),
                          q.Text(6), q.Text(7), q.Text(8)};
      page.rows.push_back(std::move(r));
    }
    return page;
  }

 private:
  struct PendingCommit {
    const Run* run;
    Result<CommitOutcome> result;
    bool done;
  };

  void CommitBatch(const std::vector<PendingCommit*>& batch) {
    WriterConn c(this);  // one leader at a time: the writer is ours
    Txn txn(c.db, &write_mu_);
    Status begun = txn.Begin(true);
    if (!begun) {
      for (PendingCommit* p : batch) p->result = Fail(begun.error());
      return;
    }
    for (PendingCommit* p : batch) {
      Status sp = ExecScript(c.db, "SAVEPOINT run", "savepoint");
      if (!sp) {
        p->result = Fail(sp.error());
        continue;
      }
      p->result = CommitRunOn(c.db, *p->run);
      if (!p->result)
        (void)ExecScript(c.db, "ROLLBACK TO run", "rollback to savepoint");
      (void)ExecScript(c.db, "RELEASE run", "release savepoint");
    }
    Status committed = txn.Commit();
    if (!committed) {
      for (PendingCommit* p : batch)
        if (p->result) p->result = Fail(committed.error());
    }
  }

  // A pooled connection, returned on destruction; the thread's pinned one
  // inside a read scope.
  struct Conn {
    explicit Conn(SqliteStore* s) : store(s) {
      if (t_pinned.store == s) {
        db = t_pinned.db;
        pinned = true;
        return;
      }
      std::unique_lock lock(s->mu_);
      s->cv_.wait(lock, [s] { return !s->free_.empty(); });
      db = s->free_.back();
      s->free_.pop_back();
      saved_cache = t_stmt_cache;
      t_stmt_cache = s->caches_.at(db).get();
    }
    ~Conn() {
      if (pinned) return;
      t_stmt_cache = saved_cache;
      {
        std::lock_guard lock(store->mu_);
        store->free_.push_back(db);
      }
      store->cv_.notify_one();
    }
    SqliteStore* store;
    sqlite3* db = nullptr;
    StmtCache* saved_cache = nullptr;
    bool pinned = false;
  };

  // The group-commit writer connection, for the batch leader.
  struct WriterConn {
    explicit WriterConn(SqliteStore* s)
        : db(s->writer_), saved_cache(t_stmt_cache) {
      if (s->all_.size() == 1) {
        // A single connection: take it from the pool like any call.
        conn.emplace(s);
        db = conn->db;
        return;
      }
      t_stmt_cache = s->caches_.at(db).get();
    }
    ~WriterConn() {
      if (!conn) t_stmt_cache = saved_cache;
    }
    sqlite3* db;
    StmtCache* saved_cache;
    std::optional<Conn> conn;
  };

  class SqliteReadScope final : public ReadScope {
   public:
    explicit SqliteReadScope(SqliteStore* s) : conn_(s) {
      // Deferred: the snapshot is taken by the first read.
      ok_ = ExecCached(conn_.db, "BEGIN", "begin").has_value();
      if (ok_) t_pinned = {s, conn_.db};
    }
    ~SqliteReadScope() override {
      if (!ok_) return;
      t_pinned = {};
      (void)ExecCached(conn_.db, "COMMIT", "commit");
    }

   private:
    Conn conn_;
    bool ok_ = false;
  };

 public:
  std::unique_ptr<ReadScope> BeginReadScope() override {
    if (t_pinned.store != nullptr) return nullptr;  // already in one
    return std::make_unique<SqliteReadScope>(this);
  }

 private:
  Result<Domain> GetDomainWhere(const char* column, const std::string& v) {
    Conn c(this);
    std::string sql =
        std::string("SELECT id, name, created_at FROM domains WHERE ") +
        column + " = ?";
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(v);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::NotFound("domain not found"));
    return Domain{q.Text(0), q.Text(1), q.Int(2)};
  }

  Result<User> GetUserWhere(const std::string& domain_id, const char* column,
                            const std::string& v) {
    Conn c(this);
    std::string sql = std::string(
                          "SELECT id, domain_id, name, role, password_hash,"
                          " created_at FROM users WHERE domain_id = ? AND ") +
                      column + " = ?";
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(domain_id).Bind(v);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::NotFound("user not found"));
    return User{q.Text(0), q.Text(1), q.Text(2),
                q.Text(3), q.Text(4), q.Int(5)};
  }

  static Result<Task> GetTaskOn(sqlite3* db, const std::string& domain_id,
                                const std::string& id) {
    std::string sql = std::string("SELECT ") + kTaskColumns +
                      " FROM tasks WHERE domain_id = ? AND id = ?";
    SMS_PREPARE_(q, db, sql.c_str());
    q.Bind(domain_id).Bind(id);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::NotFound("task not found"));
    return ReadTask(q);
  }

  static Status SetTaskStateOn(sqlite3* db, const std::string& domain_id,
                               const std::string& id,
                               const std::string& expected_state,
                               const std::string& new_state,
                               const std::string& current_run_id, int64_t now) {
    SMS_PREPARE_(q, db,
                 "UPDATE tasks SET state = ?, current_run_id = ?,"
                 " updated_at = ? WHERE domain_id = ? AND id = ?"
                 " AND state = ?");
    q.Bind(new_state).Bind(current_run_id).Bind(now);
    q.Bind(domain_id).Bind(id).Bind(expected_state);
    SMS_RETURN_IF_ERROR(q.Exec());
    if (sqlite3_changes(db) == 0) {
      SMS_RETURN_IF_ERROR(GetTaskOn(db, domain_id, id));
      return Fail(core::FailedPrecondition("task state changed"));
    }
    return Ok();
  }

  static Status LoadDirs(sqlite3* db, Run* r) {
    SMS_PREPARE_(q, db,
                 "SELECT dir_check, num_total_files, num_different_files,"
                 " num_target_miss_files, num_target_more_files,"
                 " num_changed_files, num_error_files,"
                 " num_metadata_different_files, num_bytes_verified"
                 " FROM run_dirs WHERE run_id = ? ORDER BY idx");
    q.Bind(r->run_id);
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      r->dirs.push_back(DirResult{q.Text(0), q.Int(1), q.Int(2), q.Int(3),
                                  q.Int(4), q.Int(5), q.Int(6), q.Int(7),
                                  q.Int(8)});
    }
    return Ok();
  }

  std::vector<sqlite3*> all_;
  sqlite3* writer_ = nullptr;  // the group-commit writer (see constructor)
  // One statement cache per connection; used only by the thread holding it.
  std::map<sqlite3*, std::unique_ptr<StmtCache>> caches_;
  std::mutex write_mu_;
  std::mutex gc_mu_;
  std::condition_variable gc_cv_;
  // Guarded by gc_mu_: runs waiting for the next group commit.
  std::deque<PendingCommit*> gc_queue_;
  bool gc_leader_active_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::vector<sqlite3*> free_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const SqliteOptions& options) {
  std::vector<sqlite3*> conns;
  auto close_all = [&conns] {
    for (sqlite3* db : conns) sqlite3_close(db);
  };
  int n = options.connections < 1 ? 1 : options.connections;
  for (int i = 0; i < n; ++i) {
    auto db = OpenConnection(path, options.busy_timeout_ms);
    if (!db) {
      close_all();
      return Fail(db.error());
    }
    conns.push_back(*db);
    if (i == 0 && options.migrate) {
      Status s = ApplyMigrations(*db, nullptr);
      if (!s) {
        close_all();
        return Fail(s.error());
      }
    }
  }
  return std::unique_ptr<Store>(new SqliteStore(std::move(conns)));
}

Result<std::unique_ptr<SqliteServerLock>> SqliteServerLock::Acquire(
    const std::string& path) {
  const std::string lock_path = path + ".lock";
  int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0)
    return Fail(
        core::Unavailable("open " + lock_path + ": " + std::strerror(errno)));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
    close(fd);
    std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' '))
      holder.pop_back();
    if (err != EWOULDBLOCK)
      return Fail(
          core::Unavailable("lock " + lock_path + ": " + std::strerror(err)));
    return Fail(core::FailedPrecondition(
        "the database " + path + " is served by another sms-server" +
        (holder.empty() ? "" : " (pid " + holder + ")") + ", which holds " +
        lock_path +
        ": one server per SQLite database; for several, use PostgreSQL"));
  }
  std::string pid = std::to_string(getpid()) + "\n";
  // Without the pid the lock still holds; a refusal then names no pid.
  if (ftruncate(fd, 0) == 0) (void)!pwrite(fd, pid.data(), pid.size(), 0);
  return std::unique_ptr<SqliteServerLock>(new SqliteServerLock(fd));
}

SqliteServerLock::~SqliteServerLock() { close(fd_); }

Result<std::vector<int>> MigrateSqlite(const std::string& path) {
  SMS_ASSIGN_OR_RETURN(sqlite3 * db, OpenConnection(path, 5000));
  std::vector<int> applied;
  Status s = ApplyMigrations(db, &applied);
  sqlite3_close(db);
  if (!s) return Fail(s.error());
  return applied;
}

Result<std::vector<int>> SqliteSchemaVersions(const std::string& path) {
  SMS_ASSIGN_OR_RETURN(sqlite3 * db, OpenConnection(path, 5000));
  std::vector<int> out;
  {
    Stmt q(db, "SELECT version FROM schema_migrations ORDER BY version");
    if (!q.ok()) {
      core::Error e = SqlError(db, q.prepare_rc(), "prepare");
      sqlite3_close(db);
      return Fail(std::move(e));
    }
    while (true) {
      auto row = q.Step();
      if (!row || !*row) break;
      out.push_back(static_cast<int>(q.Int(0)));
    }
  }
  sqlite3_close(db);
  return out;
}

}  // namespace sms::storage
