// SqliteStore: the embedded default backend of Store.
//
// Durability: WAL journal with synchronous=FULL, so the WAL is fsync'ed at
// every commit and a write acknowledged to a client survives kill -9 and a
// power cut. Migrations (migrations/*.sql, embedded at build time) are
// applied at Open() inside one transaction each and recorded in the table
// schema_migrations.
// Thread-safety: safe for concurrent use; a small pool of connections serves
// concurrent readers (WAL), writers are serialised by SQLite's write lock.
#pragma once

#include <memory>
#include <string>

#include "storage/store.h"

namespace sms::storage {

struct SqliteOptions {
  // Number of pooled connections.
  int connections = 8;
  // How long a writer waits for the write lock before kUnavailable.
  int busy_timeout_ms = 5000;
  // Apply pending migrations at open (the admin `migrate` command and
  // `serve` both do).
  bool migrate = true;
};

// Opens (creating if needed) the database at `path`.
[[nodiscard]] Result<std::unique_ptr<Store>> OpenSqliteStore(
    const std::string& path, const SqliteOptions& options = {});

// Applies pending migrations to the database at `path`; returns the list of
// versions applied now (empty if it was up to date).
[[nodiscard]] Result<std::vector<int>> MigrateSqlite(const std::string& path);

// The schema versions recorded in the database at `path`, ascending.
[[nodiscard]] Result<std::vector<int>> SqliteSchemaVersions(
    const std::string& path);

}  // namespace sms::storage
