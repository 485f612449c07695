// PostgreSQL migrations: applies migrations/postgres/*.sql in order, each
// in its own transaction with its schema_migrations record, under an
// advisory lock so that replicas starting together migrate once.
#include <string>
#include <vector>

#include "storage/migrations.h"
#include "storage/postgres/driver.h"
#include "storage/postgres/postgres_store.h"
#include "storage/postgres/store_impl.h"

namespace sms::storage {
namespace postgres {
namespace {

// Any fixed number: the key of the session advisory lock that serialises
// migrations of replicas starting together ("SMS" in ASCII).
constexpr int64_t kMigrationLockKey = 0x534d53;

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

}  // namespace

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

}  // namespace postgres

using core::Fail;
using postgres::Connect;
using postgres::EnsureSchema;
using postgres::IsPlainIdentifier;
using postgres::Rows;

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
