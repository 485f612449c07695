// SQLite migrations: applies migrations/sqlite/*.sql in order, each in its
// own transaction with its schema_migrations record.
#include <string>
#include <vector>

#include "storage/migrations.h"
#include "storage/sqlite/driver.h"
#include "storage/sqlite/sqlite_store.h"

namespace sms::storage {
namespace sqlite {
namespace {

// Records written under an older numbering, renumbered before migrating.
// Before both dialects shared one numbering, SQLite's used_signatures was
// version 2; PostgreSQL had 2 = detail_counts, 3 = used_signatures, which
// is the numbering of both now. A database that recorded (2,
// 0002_used_signatures) has that table and lacks detail_counts: its record
// becomes (3, 0003_used_signatures) and 0002_detail_counts then applies.
struct Renumbered {
  int old_version;
  const char* old_name;
  int new_version;
  const char* new_name;
};
constexpr Renumbered kRenumbered[] = {
    {2, "0002_used_signatures", 3, "0003_used_signatures"},
};

Status RenumberLegacyRecords(sqlite3* db) {
  for (const Renumbered& r : kRenumbered) {
    SMS_PREPARE_(q, db,
                 "UPDATE schema_migrations SET version = ?, name = ?"
                 " WHERE version = ? AND name = ?");
    q.Bind(static_cast<int64_t>(r.new_version)).Bind(r.new_name);
    q.Bind(static_cast<int64_t>(r.old_version)).Bind(r.old_name);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  return Ok();
}

}  // namespace

Status ApplyMigrations(sqlite3* db, std::vector<int>* applied) {
  SMS_RETURN_IF_ERROR(ExecScript(db,
                                 "CREATE TABLE IF NOT EXISTS schema_migrations"
                                 " (version INTEGER PRIMARY KEY,"
                                 "  name TEXT NOT NULL,"
                                 "  applied_at INTEGER NOT NULL)",
                                 "create schema table"));
  {
    Txn txn(db);
    SMS_RETURN_IF_ERROR(txn.Begin(true));
    SMS_RETURN_IF_ERROR(RenumberLegacyRecords(db));
    SMS_RETURN_IF_ERROR(txn.Commit());
  }
  for (const Migration& m : SqliteMigrations()) {
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

}  // namespace sqlite

Result<std::vector<int>> MigrateSqlite(const std::string& path) {
  SMS_ASSIGN_OR_RETURN(sqlite3 * db, sqlite::OpenConnection(path, 5000));
  std::vector<int> applied;
  Status s = sqlite::ApplyMigrations(db, &applied);
  sqlite3_close(db);
  if (!s) return core::Fail(s.error());
  return applied;
}

Result<std::vector<int>> SqliteSchemaVersions(const std::string& path) {
  SMS_ASSIGN_OR_RETURN(sqlite3 * db, sqlite::OpenConnection(path, 5000));
  std::vector<int> out;
  {
    sqlite::Stmt q(db,
                   "SELECT version FROM schema_migrations ORDER BY version");
    if (!q.ok()) {
      core::Error e = sqlite::SqlError(db, q.prepare_rc(), "prepare");
      sqlite3_close(db);
      return core::Fail(std::move(e));
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
