// PostgresStore: the Store backend for production and for several server
// replicas over one database (issue 5), on libpq.
//
// Every query is a prepared statement with bound parameters (prepared once
// per connection); user data never reaches SQL text. Requests that write
// more than one row run in one transaction; per-task writes (runs, details,
// commands, configuration) lock the task row first, so two replicas
// serialise on the same task and never double a run_id. Staged details are
// inserted as arrays, a chunk per statement, and become visible when the
// run row is committed.
//
// Connections: a pool of at most `connections`, opened lazily. A pooled
// connection whose server went away (restart, failover) is found dead when
// it is taken from the pool and replaced; while the database is down every
// call fails fast with kUnavailable (the API answers 503 SMS.2008 with
// Retry-After) and the store recovers by itself when the database is back.
//
// Migrations (migrations/postgres/*.sql, embedded at build time) are applied
// at open under a session advisory lock, so replicas that start together
// apply each migration once; each runs in its own transaction and is
// recorded in schema_migrations.
// Thread-safety: safe for concurrent use.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "storage/store.h"

namespace sms::storage {

class CacheFeed;  // caching_store.h

struct PostgresOptions {
  // Maximum number of pooled connections (per process). With the change
  // listener's one, they must fit in what the server gives a role that is
  // not a superuser (max_connections - superuser_reserved_connections), or
  // the open fails naming both.
  int connections = 8;
  // What `connections` is called where the user set it, for that error.
  std::string connections_name = "connections";
  // How long a call waits for a free pooled connection before kUnavailable.
  int acquire_timeout_ms = 10000;
  // libpq connect_timeout in seconds, unless the connection string sets it.
  int connect_timeout_s = 5;
  // Connections opened at open, before the first call needs them (the rest
  // open on demand): a server opens its whole pool, as HikariCP does by
  // default, so the first burst of requests does not queue behind
  // connection set-up. Extra connections that fail to open are left to
  // open on demand (a call then reports the error).
  int open_at_start = 1;
  // Apply pending migrations at open.
  bool migrate = true;
  // When set, the store lives in this schema (created if missing) instead
  // of the connection's default search_path; the contract tests use one
  // schema per test. A plain identifier: [a-z_][a-z0-9_]*.
  std::string schema;
};

// True when `db` names a PostgreSQL database: a postgresql:// or
// postgres:// URI, or a libpq keyword string ("host=... dbname=...").
bool IsPostgresConnectionString(const std::string& db);

// `db` with any password replaced by "***", for logs and messages:
// postgresql://u:secret@h/db -> postgresql://u:***@h/db,
// "password=secret host=h" -> "password=*** host=h".
std::string RedactConnectionString(const std::string& db);

// Connects to the database named by `conninfo` (a libpq URI or keyword
// string), applies pending migrations and returns the store. Fails with
// kUnavailable when the database cannot be reached.
[[nodiscard]] Result<std::unique_ptr<Store>> OpenPostgresStore(
    const std::string& conninfo, const PostgresOptions& options = {});

// Applies pending migrations; returns the versions applied now.
[[nodiscard]] Result<std::vector<int>> MigratePostgres(
    const std::string& conninfo, const PostgresOptions& options = {});

// The schema versions recorded in the database, ascending.
[[nodiscard]] Result<std::vector<int>> PostgresSchemaVersions(
    const std::string& conninfo, const PostgresOptions& options = {});

struct ChangeListenerOptions {
  // How often the listener sends itself a fence (a shared cache serves only
  // while the last one heard is younger than its max_lag).
  int fence_interval_ms = 100;
  // A fence not back after this long: the connection is taken for lost
  // (the cache is emptied) and opened anew.
  int fence_timeout_ms = 5000;
  // The wait before connecting again after a failure or a loss.
  int retry_ms = 200;
};

// Listens for the writes that can change a replica's read cache: a thread
// with one connection of its own (application_name "sms-server cache
// listener PID"), which LISTENs on sms_cache (sent in the transaction of
// every such write, by the triggers of migrations/postgres/0014) and every
// fence_interval_ms sends a fence (a NOTIFY to itself). It reports to
// `feed` (CacheFeed, caching_store.h): Listening() once LISTEN took effect,
// Changed() per notification, Heard(sent) per fence back, Lost() when the
// connection broke (terminated, the database restarted, a fence late past
// fence_timeout_ms); then connects again every retry_ms until it can.
// `feed` and `clock` must outlive the listener.
class ChangeListener {
 public:
  // Stops the thread and closes its connection.
  virtual ~ChangeListener() = default;
};

[[nodiscard]] std::unique_ptr<ChangeListener> StartChangeListener(
    const std::string& conninfo, const PostgresOptions& options,
    CacheFeed& feed, core::Clock& clock,
    const ChangeListenerOptions& listener = {});

// Drops `schema` and everything in it (test clean-up).
[[nodiscard]] Status DropPostgresSchema(const std::string& conninfo,
                                        const std::string& schema);

}  // namespace sms::storage
