// The PostgreSQL driver: connections (libpq) with their prepared
// statements, bound parameters, result rows and transactions, under the
// PostgresStore (store_impl.h in this folder).
//
// Thread-compatible: a Connection is used by one thread at a time (the
// store's pool hands it out).
#pragma once

#include <libpq-fe.h>
#include <poll.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "storage/postgres/postgres_store.h"

namespace sms::storage::postgres {

using core::Fail;
using core::Ok;
using core::Result;
using core::Status;

// Maps a failed result (or a failed connection) to an Error. The message
// names the operation and PostgreSQL's primary message, never the SQL text.
core::Error PgError(PGconn* conn, const PGresult* res, const char* what);

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

inline int64_t ParseInt(const char* s) { return std::strtoll(s, nullptr, 10); }

class Rows;

// One row of Rows, in the shape the shared readers take (storage/rows.h).
class Row final {
 public:
  Row(const Rows& rows, int i) : rows_(rows), i_(i) {}
  std::string Text(int col) const;
  int64_t Int(int col) const;
  bool Bool(int col) const;
  std::optional<int64_t> OptInt(int col) const;

 private:
  const Rows& rows_;
  int i_;
};

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
  Row At(int row) const { return Row(*this, row); }
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t affected() const { return ParseInt(PQcmdTuples(r_.get())); }

 private:
  ResultPtr r_;
};

inline std::string Row::Text(int col) const { return rows_.Text(i_, col); }
inline int64_t Row::Int(int col) const { return rows_.Int(i_, col); }
inline bool Row::Bool(int col) const { return rows_.Bool(i_, col); }
inline std::optional<int64_t> Row::OptInt(int col) const {
  return rows_.OptInt(i_, col);
}

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
  Result<Rows> Exec(const std::string& sql, const Params& params) {
    return Exec(sql.c_str(), params);
  }

  // Runs a parameterless script (one or more statements): transaction
  // control and migrations only.
  Status Script(const char* sql, const char* what) {
    ResultPtr r(PQexec(conn_, sql));
    ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      return Fail(PgError(conn_, r.get(), what));
    return Ok();
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
                                            const PostgresOptions& options);

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
  // The same, its statements run with generic plans (planned once per
  // connection): for a hot path whose statements take arrays (unnest), for
  // which PostgreSQL otherwise plans every execution anew (a custom plan
  // priced cheaper than the generic one by its own estimates), at about as
  // much CPU as it executes them. Only statements whose plan does not
  // depend on the values belong here. Such a plan is made once, at the
  // connection's first execution, and kept until the tables are next
  // analyzed: made on a table that was still small (a new database, or
  // before autovacuum's first ANALYZE) it may read the whole table, hashed,
  // at every later execution (seen: the batch's run-id check read all of
  // `runs`, 11,000 rows a call, in a 15 s benchmark). So these plans may
  // not scan a table whole nor hash or merge joins: every row is looked up
  // by key through an index, whatever size the planner saw. (The enable_*
  // settings price the other paths out; where no index serves, the scan is
  // still chosen.)
  Status BeginGenericPlans() {
    return Start(
        "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan;"
        " SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off;"
        " SET LOCAL enable_mergejoin = off");
  }
  // A read-write transaction whose COMMIT does not wait for the WAL flush
  // (synchronous_commit off): safe against a crash of this process, a crash
  // of PostgreSQL may forget the newest such commits (never a torn one). For
  // writes at the rate of agents' polls whose loss is harmless: heartbeats
  // and the replay guard. Durable() turns the wait back on for a commit that
  // turns out to matter.
  Status BeginUnsynced() {
    return Start("BEGIN; SET LOCAL synchronous_commit = off");
  }
  // The same, its rows looked up by key through an index, as in
  // BeginGenericPlans (each statement still planned for its values): for
  // a batch of keys from arrays joined to a large table, which the planner
  // otherwise joins by reading the table whole and hashing the batch once
  // the batch has a few dozen keys (it prices an index probe at
  // random_page_cost while the table's pages are cached). Seen: the
  // heartbeat flush, 50-500 beats over 10,000 sources, 3.5-9.8 ms by a
  // sequential scan and 0.9-6.2 ms by key; the purge of used signatures,
  // a few expired keys among 1,000,000, ~160 ms and ~7 ms.
  Status BeginUnsyncedByKey() {
    return Start(
        "BEGIN; SET LOCAL synchronous_commit = off;"
        " SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off;"
        " SET LOCAL enable_mergejoin = off");
  }
  Status Durable() {
    return c_.Script("SET LOCAL synchronous_commit = on", "durable commit");
  }
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

// PostgreSQL array literals, bound as one parameter each (text format):
// {"a","b\"c"} and {1,2}. Elements are quoted, so commas, braces, quotes
// and backslashes in values stay data.
std::string TextArray(const std::vector<std::string>& values);
std::string IntArray(const std::vector<int64_t>& values);

}  // namespace sms::storage::postgres
