#include "storage/postgres_store.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/migrations.h"

namespace sms::storage {

// The PostgreSQL migrations, generated from migrations/postgres/*.sql.
const std::vector<Migration>& PostgresMigrations();

namespace {

using core::Fail;
using core::Ok;

// Any fixed number: the key of the session advisory lock that serialises
// migrations of replicas starting together ("SMS" in ASCII).
constexpr int64_t kMigrationLockKey = 0x534d53;

bool IsConnectionLoss(const char* sqlstate) {
  if (sqlstate == nullptr) return true;  // no result: the link is gone
  std::string_view s(sqlstate);
  return s.substr(0, 2) == "08" ||  // connection exception
         s == "57P01" ||            // admin_shutdown (fast shutdown)
         s == "57P02" ||            // crash_shutdown
         s == "57P03";              // cannot_connect_now (starting up)
}

// Maps a failed result (or a failed connection) to an Error. The message
// names the operation and PostgreSQL's primary message, never the SQL text.
core::Error PgError(PGconn* conn, const PGresult* res, const char* what) {
  const char* sqlstate =
      res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary =
      res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string msg = std::string(what) + ": ";
  if (primary != nullptr) {
    msg += primary;
  } else if (conn != nullptr) {
    msg += PQerrorMessage(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
      msg.pop_back();
  } else {
    msg += "no connection";
  }
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK ||
      IsConnectionLoss(sqlstate)) {
    return core::Unavailable(std::move(msg));
  }
  std::string_view s(sqlstate);
  if (s.substr(0, 2) == "23") return core::AlreadyExists(std::move(msg));
  if (s.substr(0, 2) == "53" ||  // insufficient resources
      s == "40001" ||            // serialization_failure
      s == "40P01" ||            // deadlock_detected
      s == "55P03" ||            // lock_not_available
      s == "57014") {            // query_canceled (statement_timeout)
    return core::Unavailable(std::move(msg));
  }
  return core::Internal(std::move(msg));
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

int64_t ParseInt(const char* s) { return std::strtoll(s, nullptr, 10); }

// The rows of one statement. Columns are read as text (libpq text format).
class Rows final {
 public:
  explicit Rows(ResultPtr r) : r_(std::move(r)) {}
  int size() const { return PQntuples(r_.get()); }
  bool empty() const { return size() == 0; }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col),
                       PQgetlength(r_.get(), row, col));
  }
  int64_t Int(int row, int col) const {
    return ParseInt(PQgetvalue(r_.get(), row, col));
  }
  bool Bool(int row, int col) const {
    return PQgetvalue(r_.get(), row, col)[0] == 't';
  }
  bool IsNull(int row, int col) const {
    return PQgetisnull(r_.get(), row, col) != 0;
  }
  std::optional<int64_t> OptInt(int row, int col) const {
    if (IsNull(row, col)) return std::nullopt;
    return Int(row, col);
  }
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t affected() const { return ParseInt(PQcmdTuples(r_.get())); }

 private:
  ResultPtr r_;
};

// Bound parameters, sent in text format; PostgreSQL casts them to the
// column types.
class Params final {
 public:
  Params& Add(std::string v) {
    values_.emplace_back(std::move(v));
    return *this;
  }
  Params& Add(const char* v) { return Add(std::string(v)); }
  Params& Add(int64_t v) { return Add(std::to_string(v)); }
  Params& Add(int v) { return Add(static_cast<int64_t>(v)); }
  Params& Add(bool v) { return Add(std::string(v ? "t" : "f")); }
  Params& Add(const std::optional<int64_t>& v) {
    if (v) return Add(*v);
    return AddNull();
  }
  Params& Add(const std::optional<std::string>& v) {
    if (v) return Add(*v);
    return AddNull();
  }
  Params& AddNull() {
    values_.emplace_back(std::nullopt);
    return *this;
  }

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> Pointers() const {
    std::vector<const char*> out;
    out.reserve(values_.size());
    for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
    return out;
  }

 private:
  std::vector<std::optional<std::string>> values_;
};

// One connection with its prepared-statement cache.
// Thread-compatible: used by one thread at a time (the pool hands it out).
class Connection final {
 public:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // True while the link looks usable, checked without a round trip. An idle
  // connection receives nothing (we never LISTEN), so a readable socket
  // means the server sent its last words (a FATAL on shutdown) or closed
  // it: the connection is replaced instead of failing the next call.
  bool Healthy() {
    if (PQstatus(conn_) != CONNECTION_OK) return false;
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    return poll(&pfd, 1, 0) == 0;
  }
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }

  // Runs `sql` as a prepared statement with `params`.
  Result<Rows> Exec(const char* sql, const Params& params) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "sms_" + std::to_string(prepared_.size());
      ResultPtr r(PQprepare(conn_, name.c_str(), sql, params.size(), nullptr));
      if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
        return Fail(PgError(conn_, r.get(), "prepare"));
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    std::vector<const char*> values = params.Pointers();
    ResultPtr r(PQexecPrepared(conn_, it->second.c_str(), params.size(),
                               values.data(), nullptr, nullptr, 0));
    ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
      return Fail(PgError(conn_, r.get(), "query"));
    return Rows(std::move(r));
  }
  Result<Rows> Exec(const char* sql) { return Exec(sql, Params()); }

  // Runs a parameterless script (one or more statements): transaction
  // control and migrations only.
  Status Script(const char* sql, const char* what) {
    ResultPtr r(PQexec(conn_, sql));
    ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      return Fail(PgError(conn_, r.get(), what));
    return Ok();
  }

  // COPY ... FROM STDIN with `data` in COPY text format.
  Status CopyIn(const char* sql, const std::string& data) {
    ResultPtr r(PQexec(conn_, sql));
    if (!r || PQresultStatus(r.get()) != PGRES_COPY_IN)
      return Fail(PgError(conn_, r.get(), "copy"));
    constexpr size_t kPiece = 1 << 20;
    for (size_t off = 0; off < data.size(); off += kPiece) {
      size_t n = std::min(kPiece, data.size() - off);
      if (PQputCopyData(conn_, data.data() + off, static_cast<int>(n)) != 1)
        return Fail(PgError(conn_, nullptr, "copy"));
    }
    if (PQputCopyEnd(conn_, nullptr) != 1)
      return Fail(PgError(conn_, nullptr, "copy"));
    Status out = Ok();
    while (PGresult* raw = PQgetResult(conn_)) {
      ResultPtr res(raw);
      if (PQresultStatus(raw) != PGRES_COMMAND_OK && out)
        out = Fail(PgError(conn_, raw, "copy"));
    }
    return out;
  }

  PGconn* raw() { return conn_; }

 private:
  PGconn* conn_;
  std::unordered_map<std::string, std::string> prepared_;
};

// Opens one connection: `conninfo` expanded by libpq (URI or keyword
// string), with our defaults before it (so the string overrides them) and
// the schema's search_path after it.
Result<std::unique_ptr<Connection>> Connect(const std::string& conninfo,
                                            const PostgresOptions& options) {
  std::string timeout = std::to_string(options.connect_timeout_s);
  std::string search_path = "-c search_path=" + options.schema;
  // TCP: notice a dead peer (a cut network, a vanished host) within
  // seconds instead of the kernel's default of minutes; ignored on Unix
  // sockets. The connection string may override each of these.
  std::vector<const char*> keys = {"connect_timeout",
                                   "application_name",
                                   "keepalives_idle",
                                   "keepalives_interval",
                                   "keepalives_count",
                                   "tcp_user_timeout",
                                   "dbname"};
  std::vector<const char*> values = {
      timeout.c_str(), "sms-server", "10", "5", "3", "20000", conninfo.c_str()};
  if (!options.schema.empty()) {
    keys.push_back("options");
    values.push_back(search_path.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 1);
  if (conn == nullptr) return Fail(core::Unavailable("connect: out of memory"));
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
      msg.pop_back();
    // Neither the password nor the whole connection string is echoed.
    return Fail(core::Unavailable("connect to PostgreSQL: " + msg));
  }
  // Notices (e.g. "drop cascades to ...") are not errors: keep them out of
  // the server's stderr, which carries the structured log.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::make_unique<Connection>(conn);
}

bool IsPlainIdentifier(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    bool ok = (ch >= 'a' && ch <= 'z') || ch == '_' ||
              (i > 0 && ch >= '0' && ch <= '9');
    if (!ok) return false;
  }
  return true;
}

// Creates options.schema if set (connecting without the search_path).
Status EnsureSchema(const std::string& conninfo,
                    const PostgresOptions& options) {
  if (options.schema.empty()) return Ok();
  if (!IsPlainIdentifier(options.schema))
    return Fail(core::InvalidArgument("schema: not a plain identifier"));
  PostgresOptions plain = options;
  plain.schema.clear();
  SMS_ASSIGN_OR_RETURN(auto c, Connect(conninfo, plain));
  // Under the migration lock: CREATE SCHEMA IF NOT EXISTS alone races
  // with itself (a unique violation) when replicas start together.
  std::string sql = "BEGIN; SELECT pg_advisory_xact_lock(" +
                    std::to_string(kMigrationLockKey) +
                    "); CREATE SCHEMA IF NOT EXISTS " + options.schema +
                    "; COMMIT";
  return c->Script(sql.c_str(), "create schema");
}

Status ApplyMigrations(Connection& c, std::vector<int>* applied) {
  {
    Params p;
    p.Add(kMigrationLockKey);
    SMS_RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_lock($1::bigint)", p));
  }
  auto apply = [&]() -> Status {
    SMS_RETURN_IF_ERROR(
        c.Script("CREATE TABLE IF NOT EXISTS schema_migrations"
                 " (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                 "  applied_at BIGINT NOT NULL)",
                 "create schema table"));
    for (const Migration& m : PostgresMigrations()) {
      SMS_RETURN_IF_ERROR(c.Script("BEGIN", "begin"));
      Params v;
      v.Add(m.version);
      auto done =
          c.Exec("SELECT 1 FROM schema_migrations WHERE version = $1", v);
      if (!done || !done->empty()) {
        (void)c.Script("ROLLBACK", "rollback");
        if (!done) return Fail(done.error());
        continue;
      }
      std::string sql(m.sql);
      Status s = c.Script(sql.c_str(), "apply migration");
      if (s) {
        Params ins;
        ins.Add(m.version).Add(std::string(m.name));
        auto r = c.Exec(
            "INSERT INTO schema_migrations (version, name, applied_at)"
            " VALUES ($1, $2, (extract(epoch from now()) * 1000)::bigint)",
            ins);
        if (!r) s = Fail(r.error());
      }
      if (s) s = c.Script("COMMIT", "commit migration");
      if (!s) {
        (void)c.Script("ROLLBACK", "rollback");
        return Fail(core::Error{
            s.error().code,
            "migration " + std::string(m.name) + ": " + s.error().message});
      }
      if (applied) applied->push_back(m.version);
    }
    return Ok();
  };
  Status s = apply();
  Params p;
  p.Add(kMigrationLockKey);
  (void)c.Exec("SELECT pg_advisory_unlock($1::bigint)", p);
  return s;
}

// --- row readers (column lists match the readers) ---

constexpr char kTaskColumns[] =
    "id, domain_id, name, type, os_type, source_id, target_name, target_ip,"
    " target_verify_uri, is_need_consistency_check, state, current_run_id,"
    " created_at, updated_at";

Task ReadTask(const Rows& r, int i) {
  Task t;
  t.id = r.Text(i, 0);
  t.domain_id = r.Text(i, 1);
  t.name = r.Text(i, 2);
  t.type = r.Text(i, 3);
  t.os_type = r.Text(i, 4);
  t.source_id = r.Text(i, 5);
  t.target_name = r.Text(i, 6);
  t.target_ip = r.Text(i, 7);
  t.target_verify_uri = r.Text(i, 8);
  t.is_need_consistency_check = r.Bool(i, 9);
  t.state = r.Text(i, 10);
  t.current_run_id = r.Text(i, 11);
  t.created_at = r.Int(i, 12);
  t.updated_at = r.Int(i, 13);
  return t;
}

#define SMS_PG_SOURCE_COLUMNS                                              \
  "id, domain_id, owner_user_id, name, hostname, ip, os_type, os_version," \
  " agent_version, created_at, last_seen_at,"                              \
  " EXISTS (SELECT 1 FROM runs r JOIN tasks t ON t.id = r.task_id"         \
  "         WHERE t.source_id = sources.id"                                \
  "           AND r.domain_id = sources.domain_id)"

Source ReadSource(const Rows& r, int i) {
  Source s;
  s.id = r.Text(i, 0);
  s.domain_id = r.Text(i, 1);
  s.owner_user_id = r.Text(i, 2);
  s.name = r.Text(i, 3);
  s.hostname = r.Text(i, 4);
  s.ip = r.Text(i, 5);
  s.os_type = r.Text(i, 6);
  s.os_version = r.Text(i, 7);
  s.agent_version = r.Text(i, 8);
  s.created_at = r.Int(i, 9);
  s.last_seen_at = r.Int(i, 10);
  s.has_results = r.Bool(i, 11);
  return s;
}

#define SMS_PG_COMMAND_COLUMNS                                   \
  "id, domain_id, source_id, task_id, run_id, name, param_json," \
  " state, result, result_detail, created_at, updated_at"

Command ReadCommand(const Rows& r, int i) {
  Command c;
  c.id = r.Int(i, 0);
  c.domain_id = r.Text(i, 1);
  c.source_id = r.Text(i, 2);
  c.task_id = r.Text(i, 3);
  c.run_id = r.Text(i, 4);
  c.name = r.Text(i, 5);
  c.param_json = r.Text(i, 6);
  c.state = r.Text(i, 7);
  c.result = r.Text(i, 8);
  c.result_detail = r.Text(i, 9);
  c.created_at = r.Int(i, 10);
  c.updated_at = r.Int(i, 11);
  return c;
}

#define SMS_PG_RUN_COLUMNS                                                 \
  "run_id, domain_id, task_id, started_time, finished_time, check_result," \
  " mode, hash_algorithm, error_msg, content_hash, committed_at"

Run ReadRun(const Rows& r, int i) {
  Run run;
  run.run_id = r.Text(i, 0);
  run.domain_id = r.Text(i, 1);
  run.task_id = r.Text(i, 2);
  run.started_time = r.Int(i, 3);
  run.finished_time = r.Int(i, 4);
  run.check_result = r.Text(i, 5);
  run.mode = r.Text(i, 6);
  run.hash_algorithm = r.Text(i, 7);
  run.error_msg = r.Text(i, 8);
  run.content_hash = r.Text(i, 9);
  run.committed_at = r.Int(i, 10);
  return run;
}

#define SMS_PG_DIR_COLUMNS                                            \
  "dir_check, num_total_files, num_different_files,"                  \
  " num_target_miss_files, num_target_more_files, num_changed_files," \
  " num_error_files, num_metadata_different_files, num_bytes_verified"

DirResult ReadDir(const Rows& r, int i, int c) {
  return DirResult{r.Text(i, c),    r.Int(i, c + 1), r.Int(i, c + 2),
                   r.Int(i, c + 3), r.Int(i, c + 4), r.Int(i, c + 5),
                   r.Int(i, c + 6), r.Int(i, c + 7), r.Int(i, c + 8)};
}

// Appends `v` to a COPY text-format row, escaping the delimiter, newlines
// and backslashes.
void CopyField(std::string* out, const std::string& v) {
  for (char ch : v) {
    switch (ch) {
      case '\\':
        out->append("\\\\");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        out->push_back(ch);
    }
  }
}

// PostgreSQL array literals, bound as one parameter each (text format):
// {"a","b\"c"} and {1,2}. Elements are quoted, so commas, braces, quotes
// and backslashes in values stay data.
std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char ch : values[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return out + "}";
}
std::string IntArray(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  return out + "}";
}

class PostgresStore;

// A transaction on one connection: ROLLBACK unless Commit() succeeded.
class Txn final {
 public:
  explicit Txn(Connection& c) : c_(c) {}
  ~Txn() {
    if (open_ && !c_.broken()) (void)c_.Script("ROLLBACK", "rollback");
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // A read-write transaction (READ COMMITTED; writers lock what they check).
  Status Begin() { return Start("BEGIN"); }
  // One consistent snapshot for several reads.
  Status BeginSnapshot() {
    return Start("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  }
  // A snapshot for keyset paging: sorting is priced out, so the planner
  // walks an index in the page's order from the marker even when the
  // table's statistics do not know the run yet (right after a large
  // upload), instead of reading the whole run and sorting it.
  Status BeginKeysetSnapshot() {
    return Start(
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
        " SET LOCAL enable_sort = off");
  }
  Status Commit() {
    open_ = false;
    return c_.Script("COMMIT", "commit");
  }

 private:
  Status Start(const char* sql) {
    SMS_RETURN_IF_ERROR(c_.Script(sql, "begin"));
    open_ = true;
    return Ok();
  }
  Connection& c_;
  bool open_ = false;
};

class PostgresStore final : public Store {
 public:
  PostgresStore(std::string conninfo, PostgresOptions options)
      : conninfo_(std::move(conninfo)), options_(std::move(options)) {}
  ~PostgresStore() override = default;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  // Seeds the pool with a connection opened by the caller.
  void Adopt(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu_);
    ++open_;
    free_.push_back(std::move(c));
  }

  Status Ping() override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    return c->Exec("SELECT 1").map([](Rows&&) {});
  }

  // --- identity ---
  Status CreateDomain(const Domain& d) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(d.id).Add(d.name).Add(d.created_at);
    return c
        ->Exec(
            "INSERT INTO domains (id, name, created_at)"
            " VALUES ($1, $2, $3)",
            p)
        .map([](Rows&&) {});
  }
  Result<Domain> GetDomainByName(const std::string& name) override {
    return GetDomainBy(
        "SELECT id, name, created_at FROM domains"
        " WHERE name = $1",
        name);
  }
  Result<Domain> GetDomain(const std::string& id) override {
    return GetDomainBy(
        "SELECT id, name, created_at FROM domains"
        " WHERE id = $1",
        id);
  }

  Status CreateUser(const User& u) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(u.id).Add(u.domain_id).Add(u.name).Add(u.role);
    p.Add(u.password_hash).Add(u.created_at);
    return c
        ->Exec(
            "INSERT INTO users (id, domain_id, name, role,"
            " password_hash, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            p)
        .map([](Rows&&) {});
  }
  Result<User> GetUserByName(const std::string& domain_id,
                             const std::string& name) override {
    return GetUserBy(
        "SELECT id, domain_id, name, role, password_hash,"
        " created_at FROM users WHERE domain_id = $1"
        " AND name = $2",
        domain_id, name);
  }
  Result<User> GetUser(const std::string& domain_id,
                       const std::string& id) override {
    return GetUserBy(
        "SELECT id, domain_id, name, role, password_hash,"
        " created_at FROM users WHERE domain_id = $1"
        " AND id = $2",
        domain_id, id);
  }

  Status CreateCredential(const Credential& cr) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(cr.access_key).Add(cr.domain_id).Add(cr.user_id);
    p.Add(cr.secret_key).Add(cr.created_at).Add(cr.revoked_at);
    return c
        ->Exec(
            "INSERT INTO credentials (access_key, domain_id, user_id,"
            " secret_key, created_at, revoked_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            p)
        .map([](Rows&&) {});
  }
  Result<Credential> GetCredential(const std::string& access_key) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(access_key);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("SELECT access_key, domain_id, user_id, secret_key,"
                        " created_at, revoked_at FROM credentials"
                        " WHERE access_key = $1",
                        p));
    if (r.empty()) return Fail(core::NotFound("credential not found"));
    return Credential{r.Text(0, 0), r.Text(0, 1), r.Text(0, 2),
                      r.Text(0, 3), r.Int(0, 4),  r.OptInt(0, 5)};
  }
  Status RevokeCredential(const std::string& access_key, int64_t now) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(now).Add(access_key);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("UPDATE credentials SET revoked_at = $1"
                        " WHERE access_key = $2 AND revoked_at IS NULL",
                        p));
    if (r.affected() == 0)
      return Fail(core::NotFound("credential not found or already revoked"));
    return Ok();
  }

  Status CreateToken(const Token& t) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(t.token_hash).Add(t.domain_id).Add(t.user_id);
    p.Add(t.issued_at).Add(t.expires_at).Add(t.revoked_at);
    return c
        ->Exec(
            "INSERT INTO tokens (token_hash, domain_id, user_id,"
            " issued_at, expires_at, revoked_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            p)
        .map([](Rows&&) {});
  }
  Result<Token> GetToken(const std::string& token_hash) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(token_hash);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("SELECT token_hash, domain_id, user_id, issued_at,"
                        " expires_at, revoked_at FROM tokens"
                        " WHERE token_hash = $1",
                        p));
    if (r.empty()) return Fail(core::NotFound("token not found"));
    return Token{r.Text(0, 0), r.Text(0, 1), r.Text(0, 2),
                 r.Int(0, 3),  r.Int(0, 4),  r.OptInt(0, 5)};
  }
  // The per-request authentication path: one round trip.
  Result<TokenIdentity> ResolveToken(const std::string& token_hash) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(token_hash);
    SMS_ASSIGN_OR_RETURN(
        Rows r,
        c->Exec("SELECT t.token_hash, t.domain_id, t.user_id, t.issued_at,"
                " t.expires_at, t.revoked_at, u.name, u.role,"
                " u.password_hash, u.created_at, d.name, d.created_at"
                " FROM tokens t JOIN users u ON u.id = t.user_id"
                " AND u.domain_id = t.domain_id"
                " JOIN domains d ON d.id = t.domain_id"
                " WHERE t.token_hash = $1",
                p));
    if (r.empty()) return Fail(core::NotFound("token not found"));
    TokenIdentity out;
    out.token = Token{r.Text(0, 0), r.Text(0, 1), r.Text(0, 2),
                      r.Int(0, 3),  r.Int(0, 4),  r.OptInt(0, 5)};
    out.user = User{r.Text(0, 2), r.Text(0, 1), r.Text(0, 6),
                    r.Text(0, 7), r.Text(0, 8), r.Int(0, 9)};
    out.domain = Domain{r.Text(0, 1), r.Text(0, 10), r.Int(0, 11)};
    return out;
  }
  Status RevokeToken(const std::string& token_hash, int64_t now) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(now).Add(token_hash);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("UPDATE tokens SET revoked_at = $1"
                        " WHERE token_hash = $2 AND revoked_at IS NULL",
                        p));
    if (r.affected() == 0)
      return Fail(core::NotFound("token not found or already revoked"));
    return Ok();
  }

  Status RememberSignature(const std::string& key, int64_t expires_at,
                           int64_t now) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params purge;
    purge.Add(now);
    SMS_ASSIGN_OR_RETURN(Rows gone,
                         c->Exec("DELETE FROM used_signatures WHERE sig_key IN"
                                 " (SELECT sig_key FROM used_signatures"
                                 " WHERE expires_at <= $1 LIMIT 100"
                                 " FOR UPDATE SKIP LOCKED)",
                                 purge));
    (void)gone;
    Params p;
    p.Add(key).Add(expires_at);
    // One statement: of two replicas seeing the same key, one inserts.
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("INSERT INTO used_signatures (sig_key, expires_at)"
                        " VALUES ($1, $2) ON CONFLICT (sig_key) DO NOTHING",
                        p));
    if (r.affected() == 0)
      return Fail(core::AlreadyExists("signature already used"));
    return Ok();
  }

  // --- sources ---
  Result<Source> UpsertSource(const Source& s) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(s.id).Add(s.domain_id).Add(s.owner_user_id).Add(s.name);
    p.Add(s.hostname).Add(s.ip).Add(s.os_type).Add(s.os_version);
    p.Add(s.agent_version).Add(s.created_at).Add(s.last_seen_at);
    // One statement: the upsert is atomic however many replicas register
    // the same agent at once.
    SMS_ASSIGN_OR_RETURN(
        Rows r,
        c->Exec("INSERT INTO sources AS sources (id, domain_id,"
                " owner_user_id, name, hostname, ip, os_type, os_version,"
                " agent_version, created_at, last_seen_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                " ON CONFLICT (domain_id, name, hostname) DO UPDATE SET"
                " ip = excluded.ip, os_type = excluded.os_type,"
                " os_version = excluded.os_version,"
                " agent_version = excluded.agent_version,"
                " last_seen_at = excluded.last_seen_at"
                " RETURNING " SMS_PG_SOURCE_COLUMNS,
                p));
    if (r.empty()) return Fail(core::Internal("source vanished after upsert"));
    return ReadSource(r, 0);
  }
  Result<Source> GetSource(const std::string& domain_id,
                           const std::string& id) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(domain_id).Add(id);
    SMS_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT " SMS_PG_SOURCE_COLUMNS
                                         " FROM sources WHERE domain_id = $1"
                                         " AND id = $2",
                                         p));
    if (r.empty()) return Fail(core::NotFound("source not found"));
    return ReadSource(r, 0);
  }
  Result<Page<Source>> ListSources(const std::string& domain_id,
                                   const SourceFilter& f) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Txn txn(*c);
    SMS_RETURN_IF_ERROR(txn.BeginSnapshot());
#define SMS_PG_SOURCE_WHERE                                             \
  " FROM sources WHERE domain_id = $1 AND ($2::text IS NULL OR name = " \
  "$2::text)"
    Params p;
    p.Add(domain_id).Add(f.name);
    Page<Source> page;
    SMS_ASSIGN_OR_RETURN(Rows n,
                         c->Exec("SELECT count(*)" SMS_PG_SOURCE_WHERE, p));
    page.count = n.Int(0, 0);
    p.Add(f.limit).Add(f.offset);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("SELECT " SMS_PG_SOURCE_COLUMNS SMS_PG_SOURCE_WHERE
                        " ORDER BY created_at, id LIMIT $3 OFFSET $4",
                        p));
#undef SMS_PG_SOURCE_WHERE
    for (int i = 0; i < r.size(); ++i) page.items.push_back(ReadSource(r, i));
    SMS_RETURN_IF_ERROR(txn.Commit());
    return page;
  }
  Status TouchSource(const std::string& domain_id, const std::string& id,
                     int64_t now) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(now).Add(domain_id).Add(id);
    SMS_ASSIGN_OR_RETURN(Rows r, c->Exec("UPDATE sources SET last_seen_at = $1"
                                         " WHERE domain_id = $2 AND id = $3",
                                         p));
    if (r.affected() == 0) return Fail(core::NotFound("source not found"));
    return Ok();
  }

  // --- tasks ---
  Status CreateTask(const Task& t) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(t.id).Add(t.domain_id).Add(t.name).Add(t.type).Add(t.os_type);
    p.Add(t.source_id).Add(t.target_name).Add(t.target_ip);
    p.Add(t.target_verify_uri).Add(t.is_need_consistency_check);
    p.Add(t.state).Add(t.current_run_id).Add(t.created_at).Add(t.updated_at);
    return c
        ->Exec(
            "INSERT INTO tasks (id, domain_id, name, type, os_type,"
            " source_id, target_name, target_ip, target_verify_uri,"
            " is_need_consistency_check, state, current_run_id,"
            " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6,"
            " $7, $8, $9, $10, $11, $12, $13, $14)",
            p)
        .map([](Rows&&) {});
  }
  Result<Task> GetTask(const std::string& domain_id,
                       const std::string& id) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    return GetTaskOn(*c, domain_id, id, /*lock=*/false);
  }
  Result<Page<Task>> ListTasks(const std::string& domain_id,
                               const TaskFilter& f) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Txn txn(*c);
    SMS_RETURN_IF_ERROR(txn.BeginSnapshot());
#define SMS_PG_TASK_WHERE                       \
  " FROM tasks WHERE domain_id = $1"            \
  " AND ($2::text IS NULL OR state = $2::text)" \
  " AND ($3::text IS NULL OR name = $3::text)"  \
  " AND ($4::text IS NULL OR id = $4::text)"    \
  " AND ($5::text IS NULL OR source_id = $5::text)"
    Params p;
    p.Add(domain_id).Add(f.state).Add(f.name).Add(f.id).Add(f.source_id);
    Page<Task> page;
    SMS_ASSIGN_OR_RETURN(Rows n,
                         c->Exec("SELECT count(*)" SMS_PG_TASK_WHERE, p));
    page.count = n.Int(0, 0);
    p.Add(f.limit).Add(f.offset);
    std::string sql = std::string("SELECT ") + kTaskColumns +
                      SMS_PG_TASK_WHERE
                      " ORDER BY created_at DESC, id LIMIT $6 OFFSET $7";
#undef SMS_PG_TASK_WHERE
    SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(sql.c_str(), p));
    for (int i = 0; i < r.size(); ++i) page.items.push_back(ReadTask(r, i));
    SMS_RETURN_IF_ERROR(txn.Commit());
    return page;
  }
  Status DeleteTask(const std::string& domain_id,
                    const std::string& id) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Txn txn(*c);
    SMS_RETURN_IF_ERROR(txn.Begin());
    SMS_RETURN_IF_ERROR(GetTaskOn(*c, domain_id, id, /*lock=*/true));
    // Children first (the schema would cascade; explicit keeps the cost
    // visible), then the task.
    static const char* const kDeletes[] = {
        "DELETE FROM detail_counts WHERE run_id IN (SELECT run_id FROM"
        " detail_chunks WHERE domain_id = $1 AND task_id = $2)",
        "DELETE FROM file_details WHERE run_id IN (SELECT run_id FROM"
        " detail_chunks WHERE domain_id = $1 AND task_id = $2)",
        "DELETE FROM detail_chunks WHERE domain_id = $1 AND task_id = $2",
        "DELETE FROM run_dirs WHERE run_id IN (SELECT run_id FROM runs"
        " WHERE domain_id = $1 AND task_id = $2)",
        "DELETE FROM runs WHERE domain_id = $1 AND task_id = $2",
        "DELETE FROM commands WHERE domain_id = $1 AND task_id = $2",
        "DELETE FROM task_configs WHERE task_id IN (SELECT id FROM tasks"
        " WHERE domain_id = $1 AND id = $2)",
        "DELETE FROM tasks WHERE domain_id = $1 AND id = $2",
    };
    Params p;
    p.Add(domain_id).Add(id);
    for (const char* sql : kDeletes) SMS_RETURN_IF_ERROR(c->Exec(sql, p));
    return txn.Commit();
  }
  Status UpdateTaskState(const std::string& domain_id, const std::string& id,
                         const std::string& expected_state,
                         const std::string& new_state,
                         const std::string& current_run_id,
                         int64_t now) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Txn txn(*c);
    SMS_RETURN_IF_ERROR(txn.Begin());
    SMS_RETURN_IF_ERROR(SetTaskStateOn(*c, domain_id, id, expected_state,
                                       new_state, current_run_id, now));
    return txn.Commit();
  }

  Status PutTaskConfigs(const std::string& domain_id,
                        const std::string& task_id,
                        const std::vector<ConfigEntry>& entries) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Txn txn(*c);
    SMS_RETURN_IF_ERROR(txn.Begin());
    SMS_RETURN_IF_ERROR(GetTaskOn(*c, domain_id, task_id, /*lock=*/true));
    for (const ConfigEntry& e : entries) {
      Params p;
      p.Add(task_id).Add(e.key).Add(e.value);
      SMS_RETURN_IF_ERROR(
          c->Exec("INSERT INTO task_configs (task_id, config_key,"
                  " config_value) VALUES ($1, $2, $3)"
                  " ON CONFLICT (task_id, config_key) DO UPDATE SET"
                  " config_value = excluded.config_value",
                  p));
    }
    return txn.Commit();
  }
  Result<std::vector<ConfigEntry>> GetTaskConfigs(
      const std::string& domain_id, const std::string& task_id) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(domain_id).Add(task_id);
    // The task and its entries in one statement: no entries but a task is
    // an empty list, no task is NotFound.
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("SELECT c.config_key, c.config_value FROM tasks t"
                        " LEFT JOIN task_configs c ON c.task_id = t.id"
                        " WHERE t.domain_id = $1 AND t.id = $2"
                        " ORDER BY c.config_key COLLATE \"C\"",
                        p));
    if (r.empty()) return Fail(core::NotFound("task not found"));
    std::vector<ConfigEntry> out;
    for (int i = 0; i < r.size(); ++i) {
      if (r.IsNull(i, 0)) continue;  // the task has no entries
      out.push_back({r.Text(i, 0), r.Text(i, 1)});
    }
    return out;
  }

  // --- commands ---
  Result<Command> EnqueueCommand(const Command& cmd,
                                 const std::string& expected_state,
                                 const std::string& new_state) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Txn txn(*c);
    SMS_RETURN_IF_ERROR(txn.Begin());
    SMS_ASSIGN_OR_RETURN(Task task, GetTaskOn(*c, cmd.domain_id, cmd.task_id,
                                              /*lock=*/true));
    std::string run_id =
        cmd.name == "CONSISTENCY_CHECK" ? cmd.run_id : task.current_run_id;
    SMS_RETURN_IF_ERROR(SetTaskStateOn(*c, cmd.domain_id, cmd.task_id,
                                       expected_state, new_state, run_id,
                                       cmd.created_at));
    Params p;
    p.Add(cmd.domain_id).Add(cmd.source_id).Add(cmd.task_id).Add(cmd.run_id);
    p.Add(cmd.name).Add(cmd.param_json).Add(cmd.state).Add(cmd.result);
    p.Add(cmd.result_detail).Add(cmd.created_at).Add(cmd.updated_at);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("INSERT INTO commands (domain_id, source_id, task_id,"
                        " run_id, name, param_json, state, result,"
                        " result_detail, created_at, updated_at) VALUES ($1,"
                        " $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                        " RETURNING id",
                        p));
    Command out = cmd;
    out.id = r.Int(0, 0);
    SMS_RETURN_IF_ERROR(txn.Commit());
    return out;
  }
  Result<std::optional<Command>> NextCommand(const std::string& domain_id,
                                             const std::string& source_id,
                                             int64_t now) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Txn txn(*c);
    SMS_RETURN_IF_ERROR(txn.Begin());
    Params p;
    p.Add(now).Add(domain_id).Add(source_id);
    SMS_ASSIGN_OR_RETURN(Rows touched,
                         c->Exec("UPDATE sources SET last_seen_at = $1"
                                 " WHERE domain_id = $2 AND id = $3",
                                 p));
    if (touched.affected() == 0)
      return Fail(core::NotFound("source not found"));
    // SKIP LOCKED: two replicas polling for the same agent never deliver one
    // command twice.
    SMS_ASSIGN_OR_RETURN(
        Rows r,
        c->Exec("UPDATE commands SET state = 'delivered', updated_at = $1"
                " WHERE id = (SELECT id FROM commands WHERE domain_id = $2"
                " AND source_id = $3 AND state = 'pending' ORDER BY id"
                " LIMIT 1 FOR UPDATE SKIP LOCKED)"
                " RETURNING " SMS_PG_COMMAND_COLUMNS,
                p));
    std::optional<Command> out;
    if (!r.empty()) out = ReadCommand(r, 0);
    SMS_RETURN_IF_ERROR(txn.Commit());
    return out;
  }
  Result<Command> LatestTaskCommand(const std::string& domain_id,
                                    const std::string& task_id) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(domain_id).Add(task_id);
    SMS_ASSIGN_OR_RETURN(Rows r,
                         c->Exec("SELECT " SMS_PG_COMMAND_COLUMNS
                                 " FROM commands WHERE domain_id = $1"
                                 " AND task_id = $2 ORDER BY id DESC LIMIT 1",
                                 p));
    if (r.empty()) return Fail(core::NotFound("no command for task"));
    return ReadCommand(r, 0);
  }
  Result<Command> LatestDeliveredCommand(const std::string& domain_id,
                                         const std::string& source_id,
                                         const std::string& name) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(domain_id).Add(source_id).Add(name);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("SELECT " SMS_PG_COMMAND_COLUMNS
                        " FROM commands WHERE domain_id = $1"
                        " AND source_id = $2 AND name = $3"
                        " AND state = 'delivered' ORDER BY id DESC LIMIT 1",
                        p));
    if (r.empty()) return Fail(core::NotFound("no delivered command"));
    return ReadCommand(r, 0);
  }
  Status CancelPendingCommand(const std::string& domain_id, int64_t command_id,
                              int64_t now) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(now).Add(domain_id).Add(command_id);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("UPDATE commands SET state = 'cancelled',"
                        " updated_at = $1 WHERE domain_id = $2 AND id = $3"
                        " AND state = 'pending'",
                        p));
    if (r.affected() == 0)
      return Fail(core::FailedPrecondition("command is no longer pending"));
    return Ok();
  }
  Status FinishCommand(const std::string& domain_id, int64_t command_id,
                       const std::string& state, const std::string& result,
                       const std::string& result_detail, int64_t now) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(state).Add(result).Add(result_detail).Add(now);
    p.Add(domain_id).Add(command_id);
    SMS_ASSIGN_OR_RETURN(Rows r,
                         c->Exec("UPDATE commands SET state = $1, result = $2,"
                                 " result_detail = $3, updated_at = $4"
                                 " WHERE domain_id = $5 AND id = $6",
                                 p));
    if (r.affected() == 0) return Fail(core::NotFound("command not found"));
    return Ok();
  }

  // --- runs ---
  Result<CommitOutcome> CommitRun(const Run& run) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Txn txn(*c);
    SMS_RETURN_IF_ERROR(txn.Begin());
    // The task row lock serialises every commit and staging of this task,
    // across replicas: the checks below see what the last holder wrote.
    SMS_ASSIGN_OR_RETURN(Task task, GetTaskOn(*c, run.domain_id, run.task_id,
                                              /*lock=*/true));
    {
      Params p;
      p.Add(run.run_id).Add(run.domain_id).Add(run.task_id);
      // One row: the run committed under this id (NULLs if none), and
      // whether the id was staged with details by another task or tenant.
      SMS_ASSIGN_OR_RETURN(
          Rows r,
          c->Exec("SELECT r.domain_id, r.task_id, r.content_hash,"
                  " EXISTS (SELECT 1 FROM detail_chunks WHERE run_id = $1"
                  "  AND (domain_id <> $2 OR task_id <> $3))"
                  " FROM (SELECT 1) one LEFT JOIN runs r ON r.run_id = $1",
                  p));
      if (!r.IsNull(0, 0)) {
        if (r.Text(0, 0) == run.domain_id && r.Text(0, 1) == run.task_id &&
            r.Text(0, 2) == run.content_hash) {
          return CommitOutcome::kAlreadyCommitted;
        }
        return Fail(core::AlreadyExists(
            "run_id: already committed with different content"));
      }
      // A run id staged with details for another task or tenant is not
      // this run's.
      if (r.Bool(0, 3))
        return Fail(core::AlreadyExists("run_id: used by another task"));
    }
    {
      // The run and its directories in one statement (the directories as
      // arrays, unnested in order). A run id committed meanwhile for another
      // task (whose lock we do not hold) fails on the unique key:
      // kAlreadyExists, as above.
      std::vector<std::string> dir_check;
      std::vector<int64_t> counters[8];
      for (const DirResult& d : run.dirs) {
        dir_check.push_back(d.dir_check);
        const int64_t values[8] = {d.num_total_files,
                                   d.num_different_files,
                                   d.num_target_miss_files,
                                   d.num_target_more_files,
                                   d.num_changed_files,
                                   d.num_error_files,
                                   d.num_metadata_different_files,
                                   d.num_bytes_verified};
        for (int i = 0; i < 8; ++i) counters[i].push_back(values[i]);
      }
      Params p;
      p.Add(run.run_id).Add(run.domain_id).Add(run.task_id);
      p.Add(run.started_time).Add(run.finished_time).Add(run.check_result);
      p.Add(run.mode).Add(run.hash_algorithm).Add(run.error_msg);
      p.Add(run.content_hash).Add(run.committed_at);
      p.Add(TextArray(dir_check));
      for (const auto& v : counters) p.Add(IntArray(v));
      SMS_RETURN_IF_ERROR(c->Exec(
          "WITH run AS (INSERT INTO runs (" SMS_PG_RUN_COLUMNS
          ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
          " RETURNING run_id)"
          " INSERT INTO run_dirs (run_id, idx, " SMS_PG_DIR_COLUMNS
          ")"
          " SELECT run.run_id, x.ord - 1, x.dir_check, x.a, x.b, x.c, x.d,"
          " x.e, x.f, x.g, x.h FROM run, unnest($12::text[], $13::bigint[],"
          " $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[],"
          " $18::bigint[], $19::bigint[], $20::bigint[]) WITH ORDINALITY"
          " AS x (dir_check, a, b, c, d, e, f, g, h, ord)",
          p));
    }
    if (task.current_run_id == run.run_id &&
        (task.state == "RUNNING" || task.state == "ABORTING")) {
      SMS_RETURN_IF_ERROR(SetTaskStateOn(*c, run.domain_id, run.task_id,
                                         task.state, "READY", run.run_id,
                                         run.committed_at));
      Params p;
      p.Add(run.committed_at).Add(run.domain_id).Add(run.run_id);
      SMS_RETURN_IF_ERROR(
          c->Exec("UPDATE commands SET state = 'done', updated_at = $1"
                  " WHERE domain_id = $2 AND run_id = $3"
                  " AND state IN ('pending', 'delivered')",
                  p));
    }
    SMS_RETURN_IF_ERROR(txn.Commit());
    return CommitOutcome::kCommitted;
  }
  Result<std::vector<Run>> ListRuns(const std::string& domain_id,
                                    const std::string& task_id,
                                    int limit) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(domain_id).Add(task_id).Add(limit);
    // Runs and their directories in one statement (one snapshot, one round
    // trip): the runs' columns repeat on each directory's row.
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("SELECT r.run_id, r.domain_id, r.task_id,"
                        " r.started_time, r.finished_time, r.check_result,"
                        " r.mode, r.hash_algorithm, r.error_msg,"
                        " r.content_hash, r.committed_at, d." SMS_PG_DIR_COLUMNS
                        " FROM (SELECT * FROM runs WHERE domain_id = $1"
                        "  AND task_id = $2 ORDER BY seq DESC LIMIT $3) r"
                        " LEFT JOIN run_dirs d ON d.run_id = r.run_id"
                        " ORDER BY r.seq DESC, d.idx",
                        p));
    return RunsFromRows(r);
  }
  Result<Run> GetRun(const std::string& domain_id,
                     const std::string& run_id) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(domain_id).Add(run_id);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("SELECT r.run_id, r.domain_id, r.task_id,"
                        " r.started_time, r.finished_time, r.check_result,"
                        " r.mode, r.hash_algorithm, r.error_msg,"
                        " r.content_hash, r.committed_at, d." SMS_PG_DIR_COLUMNS
                        " FROM runs r LEFT JOIN run_dirs d"
                        " ON d.run_id = r.run_id"
                        " WHERE r.domain_id = $1 AND r.run_id = $2"
                        " ORDER BY d.idx",
                        p));
    std::vector<Run> runs = RunsFromRows(r);
    if (runs.empty()) return Fail(core::NotFound("run not found"));
    return std::move(runs.front());
  }

  Result<StageOutcome> StageDetails(const DetailChunk& chunk) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Txn txn(*c);
    SMS_RETURN_IF_ERROR(txn.Begin());
    SMS_RETURN_IF_ERROR(
        GetTaskOn(*c, chunk.domain_id, chunk.task_id, /*lock=*/true));
    {
      Params p;
      p.Add(chunk.run_id);
      SMS_ASSIGN_OR_RETURN(Rows r,
                           c->Exec("SELECT 1 FROM runs WHERE run_id = $1", p));
      if (!r.empty())
        return Fail(
            core::FailedPrecondition("run_id: the run is already committed"));
    }
    {
      Params p;
      p.Add(chunk.run_id).Add(chunk.seq);
      SMS_ASSIGN_OR_RETURN(
          Rows r, c->Exec("SELECT domain_id, task_id, content_hash"
                          " FROM detail_chunks WHERE run_id = $1 AND seq = $2",
                          p));
      if (!r.empty()) {
        if (r.Text(0, 0) == chunk.domain_id && r.Text(0, 1) == chunk.task_id &&
            r.Text(0, 2) == chunk.content_hash) {
          return StageOutcome::kAlreadyStaged;
        }
        return Fail(core::AlreadyExists(
            "seq: chunk already uploaded with different content"));
      }
    }
    {
      Params p;
      p.Add(chunk.run_id).Add(chunk.domain_id).Add(chunk.task_id);
      SMS_ASSIGN_OR_RETURN(
          Rows r, c->Exec("SELECT 1 FROM detail_chunks WHERE run_id = $1"
                          " AND (domain_id <> $2 OR task_id <> $3) LIMIT 1",
                          p));
      if (!r.empty())
        return Fail(core::AlreadyExists("run_id: used by another task"));
    }
    {
      Params p;
      p.Add(chunk.run_id).Add(chunk.seq).Add(chunk.domain_id);
      p.Add(chunk.task_id).Add(chunk.content_hash).Add(chunk.created_at);
      SMS_RETURN_IF_ERROR(
          c->Exec("INSERT INTO detail_chunks (run_id, seq, domain_id,"
                  " task_id, content_hash, created_at)"
                  " VALUES ($1, $2, $3, $4, $5, $6)",
                  p));
    }
    if (!chunk.files.empty()) {
      // COPY: one round trip for up to 10,000 rows. The data is not SQL.
      std::string data;
      data.reserve(chunk.files.size() * 160);
      std::string prefix;
      CopyField(&prefix, chunk.run_id);
      prefix += '\t' + std::to_string(chunk.seq) + '\t';
      int64_t idx = 0;
      for (const FileDetail& f : chunk.files) {
        data += prefix;
        data += std::to_string(idx++);
        for (const std::string* v :
             {&f.dir_check, &f.path, &f.path_b64, &f.status, &f.reason,
              &f.source_json, &f.target_json}) {
          data += '\t';
          CopyField(&data, *v);
        }
        data += '\n';
      }
      SMS_RETURN_IF_ERROR(
          c->CopyIn("COPY file_details (run_id, seq, idx, dir_check, path,"
                    " path_b64, status, reason, source_json, target_json)"
                    " FROM STDIN",
                    data));
      // The chunk's rows counted into the run's totals (same transaction).
      Params p;
      p.Add(chunk.run_id).Add(chunk.seq);
      SMS_RETURN_IF_ERROR(
          c->Exec("INSERT INTO detail_counts (run_id, dir_check, status, n)"
                  " SELECT run_id, dir_check, status, count(*)"
                  " FROM file_details WHERE run_id = $1 AND seq = $2"
                  " GROUP BY run_id, dir_check, status"
                  " ON CONFLICT (run_id, dir_check, status) DO UPDATE"
                  " SET n = detail_counts.n + excluded.n",
                  p));
    }
    SMS_RETURN_IF_ERROR(txn.Commit());
    return StageOutcome::kStaged;
  }

  Result<DetailPage> ListDetails(const std::string& domain_id,
                                 const DetailQuery& dq) override {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Txn txn(*c);  // the page and its total from one snapshot
    SMS_RETURN_IF_ERROR(txn.BeginKeysetSnapshot());
    Params p;
    p.Add(domain_id).Add(dq.run_id).Add(dq.dir_check).Add(dq.status);
    DetailPage page;
    // The total from the per-(directory, status) counts kept at staging:
    // a few rows, however large the run.
    SMS_ASSIGN_OR_RETURN(
        Rows n, c->Exec("SELECT coalesce(sum(c.n), 0) FROM detail_counts c"
                        " JOIN runs r ON r.run_id = c.run_id"
                        " WHERE r.domain_id = $1 AND c.run_id = $2"
                        " AND ($3::text IS NULL OR c.dir_check = $3::text)"
                        " AND ($4::text IS NULL OR c.status = $4::text)",
                        p));
    page.total = n.Int(0, 0);
    // The page: one statement text per filter combination (so each plan
    // uses the index for its filter), values always bound. Keyset: a row
    // comparison in the index's order, so a late page is an index range
    // scan from the marker, like the first page.
    static const char* const kPage[4] = {
        "SELECT f.seq, f.idx, f.dir_check, f.path, f.path_b64, f.status,"
        " f.reason, f.source_json, f.target_json FROM file_details f"
        " JOIN runs r ON r.run_id = f.run_id"
        " WHERE r.domain_id = $1 AND f.run_id = $2"
        " AND (f.seq, f.idx) > ($3::bigint, $4::bigint)"
        " ORDER BY f.seq, f.idx LIMIT $5",
        "SELECT f.seq, f.idx, f.dir_check, f.path, f.path_b64, f.status,"
        " f.reason, f.source_json, f.target_json FROM file_details f"
        " JOIN runs r ON r.run_id = f.run_id"
        " WHERE r.domain_id = $1 AND f.run_id = $2 AND f.dir_check = $6"
        " AND (f.seq, f.idx) > ($3::bigint, $4::bigint)"
        " ORDER BY f.seq, f.idx LIMIT $5",
        "SELECT f.seq, f.idx, f.dir_check, f.path, f.path_b64, f.status,"
        " f.reason, f.source_json, f.target_json FROM file_details f"
        " JOIN runs r ON r.run_id = f.run_id"
        " WHERE r.domain_id = $1 AND f.run_id = $2 AND f.status = $6"
        " AND (f.seq, f.idx) > ($3::bigint, $4::bigint)"
        " ORDER BY f.seq, f.idx LIMIT $5",
        "SELECT f.seq, f.idx, f.dir_check, f.path, f.path_b64, f.status,"
        " f.reason, f.source_json, f.target_json FROM file_details f"
        " JOIN runs r ON r.run_id = f.run_id"
        " WHERE r.domain_id = $1 AND f.run_id = $2 AND f.dir_check = $6"
        " AND f.status = $7 AND (f.seq, f.idx) > ($3::bigint, $4::bigint)"
        " ORDER BY f.seq, f.idx LIMIT $5",
    };
    Params q;
    q.Add(domain_id).Add(dq.run_id).Add(dq.after_seq).Add(dq.after_idx);
    q.Add(dq.limit);
    if (dq.dir_check) q.Add(*dq.dir_check);
    if (dq.status) q.Add(*dq.status);
    const int variant = (dq.dir_check ? 1 : 0) + (dq.status ? 2 : 0);
    SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kPage[variant], q));
    for (int i = 0; i < r.size(); ++i) {
      DetailRow row;
      row.seq = r.Int(i, 0);
      row.idx = r.Int(i, 1);
      row.file =
          FileDetail{r.Text(i, 2), r.Text(i, 3), r.Text(i, 4), r.Text(i, 5),
                     r.Text(i, 6), r.Text(i, 7), r.Text(i, 8)};
      page.rows.push_back(std::move(row));
    }
    SMS_RETURN_IF_ERROR(txn.Commit());
    return page;
  }

 private:
  // A pooled connection, returned to the pool (or dropped, if broken) on
  // destruction.
  class Lease final {
   public:
    Lease(PostgresStore* store, std::unique_ptr<Connection> c)
        : store_(store), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept : store_(o.store_), c_(std::move(o.c_)) {}
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (c_) store_->Release(std::move(c_));
    }
    Connection* operator->() { return c_.get(); }
    Connection& operator*() { return *c_; }

   private:
    PostgresStore* store_;
    std::unique_ptr<Connection> c_;
  };

  // Takes a healthy connection from the pool, opening one if the pool is
  // not full. kUnavailable when the database is unreachable or every
  // connection stays busy for acquire_timeout_ms.
  Result<Lease> Acquire() {
    std::unique_ptr<Connection> c;
    {
      std::unique_lock lock(mu_);
      const int max = options_.connections < 1 ? 1 : options_.connections;
      bool ok = cv_.wait_for(
          lock, std::chrono::milliseconds(options_.acquire_timeout_ms),
          [&] { return !free_.empty() || open_ < max; });
      if (!ok)
        return Fail(core::Unavailable("all " + std::to_string(max) +
                                      " database connections are busy"));
      if (!free_.empty()) {
        c = std::move(free_.back());
        free_.pop_back();
      } else {
        ++open_;  // reserve the slot; connect outside the lock
      }
    }
    if (c && c->Healthy()) return Lease(this, std::move(c));
    c.reset();  // dead (the server restarted): replace it
    auto fresh = Connect(conninfo_, options_);
    if (!fresh) {
      {
        std::lock_guard lock(mu_);
        --open_;
      }
      cv_.notify_one();
      return Fail(fresh.error());
    }
    return Lease(this, std::move(*fresh));
  }

  void Release(std::unique_ptr<Connection> c) {
    {
      std::lock_guard lock(mu_);
      // A connection that broke mid-call, or is still inside a transaction
      // (a failure between BEGIN and COMMIT/ROLLBACK), is not reused.
      if (c->broken() || PQtransactionStatus(c->raw()) != PQTRANS_IDLE) {
        --open_;
      } else {
        free_.push_back(std::move(c));
      }
    }
    cv_.notify_one();
  }

  // Rows of (run columns, directory columns) ordered by run, then
  // directory: one Run per run, its directories in order.
  static std::vector<Run> RunsFromRows(const Rows& r) {
    std::vector<Run> runs;
    for (int i = 0; i < r.size(); ++i) {
      if (runs.empty() || runs.back().run_id != r.Text(i, 0))
        runs.push_back(ReadRun(r, i));
      if (!r.IsNull(i, 11)) runs.back().dirs.push_back(ReadDir(r, i, 11));
    }
    return runs;
  }

  Result<Domain> GetDomainBy(const char* sql, const std::string& v) {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(v);
    SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(sql, p));
    if (r.empty()) return Fail(core::NotFound("domain not found"));
    return Domain{r.Text(0, 0), r.Text(0, 1), r.Int(0, 2)};
  }

  Result<User> GetUserBy(const char* sql, const std::string& domain_id,
                         const std::string& v) {
    SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
    Params p;
    p.Add(domain_id).Add(v);
    SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(sql, p));
    if (r.empty()) return Fail(core::NotFound("user not found"));
    return User{r.Text(0, 0), r.Text(0, 1), r.Text(0, 2),
                r.Text(0, 3), r.Text(0, 4), r.Int(0, 5)};
  }

  // The task of this domain; with `lock`, also locks its row until the end
  // of the transaction (REQUIRES: inside Txn::Begin()).
  static Result<Task> GetTaskOn(Connection& c, const std::string& domain_id,
                                const std::string& id, bool lock) {
    static const std::string kPlain = std::string("SELECT ") + kTaskColumns +
                                      " FROM tasks WHERE domain_id = $1"
                                      " AND id = $2";
    static const std::string kLocked = kPlain + " FOR UPDATE";
    Params p;
    p.Add(domain_id).Add(id);
    SMS_ASSIGN_OR_RETURN(Rows r, c.Exec((lock ? kLocked : kPlain).c_str(), p));
    if (r.empty()) return Fail(core::NotFound("task not found"));
    return ReadTask(r, 0);
  }

  static Status SetTaskStateOn(Connection& c, const std::string& domain_id,
                               const std::string& id,
                               const std::string& expected_state,
                               const std::string& new_state,
                               const std::string& current_run_id, int64_t now) {
    Params p;
    p.Add(new_state).Add(current_run_id).Add(now);
    p.Add(domain_id).Add(id).Add(expected_state);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c.Exec("UPDATE tasks SET state = $1, current_run_id = $2,"
                       " updated_at = $3 WHERE domain_id = $4 AND id = $5"
                       " AND state = $6",
                       p));
    if (r.affected() == 0) {
      SMS_RETURN_IF_ERROR(GetTaskOn(c, domain_id, id, /*lock=*/false));
      return Fail(core::FailedPrecondition("task state changed"));
    }
    return Ok();
  }

  // Constant after construction.
  const std::string conninfo_;
  const PostgresOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::vector<std::unique_ptr<Connection>> free_;
  int open_ = 0;  // connections in free_ plus those leased or connecting
};

}  // namespace

bool IsPostgresConnectionString(const std::string& db) {
  if (db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0)
    return true;
  return db.rfind("sqlite:", 0) != 0 && db.find('=') != std::string::npos;
}

std::string RedactConnectionString(const std::string& db) {
  std::string out = db;
  size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    size_t start = scheme + 3;
    size_t at = out.find('@', start);
    size_t slash = out.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at)
        out.replace(colon + 1, at - colon - 1, "***");
    }
    // A password may also come as a query parameter.
    size_t q = out.find("password=", start);
    if (q != std::string::npos) {
      size_t v = q + 9;
      size_t end = out.find('&', v);
      out.replace(v, (end == std::string::npos ? out.size() : end) - v, "***");
    }
    return out;
  }
  // Keyword string: password=value or password='quoted value'.
  size_t pos = 0;
  while ((pos = out.find("password", pos)) != std::string::npos) {
    size_t eq = out.find_first_not_of(' ', pos + 8);
    if (eq == std::string::npos || out[eq] != '=') {
      pos += 8;
      continue;
    }
    size_t v = out.find_first_not_of(' ', eq + 1);
    if (v == std::string::npos) break;
    size_t end = v;
    if (out[v] == '\'') {
      end = v + 1;
      while (end < out.size() && out[end] != '\'') {
        if (out[end] == '\\') ++end;
        ++end;
      }
      if (end < out.size()) ++end;
    } else {
      end = out.find(' ', v);
      if (end == std::string::npos) end = out.size();
    }
    out.replace(v, end - v, "***");
    pos = v + 3;
  }
  return out;
}

Result<std::unique_ptr<Store>> OpenPostgresStore(
    const std::string& conninfo, const PostgresOptions& options) {
  SMS_RETURN_IF_ERROR(EnsureSchema(conninfo, options));
  SMS_ASSIGN_OR_RETURN(auto first, Connect(conninfo, options));
  if (options.migrate) SMS_RETURN_IF_ERROR(ApplyMigrations(*first, nullptr));
  auto store = std::make_unique<PostgresStore>(conninfo, options);
  store->Adopt(std::move(first));
  const int warm = std::min(options.open_at_start, options.connections);
  for (int i = 1; i < warm; ++i) {
    auto c = Connect(conninfo, options);
    if (!c) break;
    store->Adopt(std::move(*c));
  }
  return std::unique_ptr<Store>(std::move(store));
}

Result<std::vector<int>> MigratePostgres(const std::string& conninfo,
                                         const PostgresOptions& options) {
  SMS_RETURN_IF_ERROR(EnsureSchema(conninfo, options));
  SMS_ASSIGN_OR_RETURN(auto c, Connect(conninfo, options));
  std::vector<int> applied;
  SMS_RETURN_IF_ERROR(ApplyMigrations(*c, &applied));
  return applied;
}

Result<std::vector<int>> PostgresSchemaVersions(
    const std::string& conninfo, const PostgresOptions& options) {
  SMS_ASSIGN_OR_RETURN(auto c, Connect(conninfo, options));
  SMS_ASSIGN_OR_RETURN(
      Rows r,
      c->Exec("SELECT version FROM schema_migrations ORDER BY version"));
  std::vector<int> out;
  for (int i = 0; i < r.size(); ++i)
    out.push_back(static_cast<int>(r.Int(i, 0)));
  return out;
}

Status DropPostgresSchema(const std::string& conninfo,
                          const std::string& schema) {
  if (!IsPlainIdentifier(schema))
    return Fail(core::InvalidArgument("schema: not a plain identifier"));
  SMS_ASSIGN_OR_RETURN(auto c, Connect(conninfo, PostgresOptions{}));
  std::string sql = "DROP SCHEMA IF EXISTS " + schema + " CASCADE";
  return c->Script(sql.c_str(), "drop schema");
}

}  // namespace sms::storage
