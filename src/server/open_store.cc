#include "server/open_store.h"

#include <sys/stat.h>

#include <string>
#include <utility>

#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace sms::server {

core::Result<std::string> SqlitePath(const std::string& db) {
  const std::string prefix = "sqlite:";
  if (db.rfind(prefix, 0) != 0 || db.size() == prefix.size())
    return core::Fail(core::InvalidArgument(
        "--db: expected sqlite:PATH, postgresql://... or a libpq string"));
  std::string path = db.substr(prefix.size());
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string dir = path.substr(0, slash);
    // mkdir -p
    for (size_t i = 1; i <= dir.size(); ++i) {
      if (i == dir.size() || dir[i] == '/')
        mkdir(dir.substr(0, i).c_str(), 0750);
    }
  }
  return path;
}

core::Result<std::optional<auth::SecretBox>> LoadSecrets(
    const ServerConfig& cfg) {
  const bool sqlite = !storage::IsPostgresConnectionString(cfg.db);
  std::string file = cfg.secret_key_file;
  if (file.empty()) {
    if (!sqlite) return std::optional<auth::SecretBox>();
    SMS_ASSIGN_OR_RETURN(std::string path, SqlitePath(cfg.db));
    file = path + ".secret";
  }
  SMS_ASSIGN_OR_RETURN(auth::SecretBox box,
                       auth::SecretBox::FromKeyFile(file, sqlite));
  return std::optional<auth::SecretBox>(std::move(box));
}

core::Result<std::unique_ptr<storage::Store>> OpenStore(const std::string& db,
                                                        int pool_size,
                                                        bool serving) {
  if (storage::IsPostgresConnectionString(db)) {
    storage::PostgresOptions o;
    o.connections = pool_size;
    o.connections_name = "db_pool_size (SMS_DB_POOL_SIZE)";
    if (serving) o.open_at_start = pool_size;
    return storage::OpenPostgresStore(db, o);
  }
  SMS_ASSIGN_OR_RETURN(std::string path, SqlitePath(db));
  storage::SqliteOptions o;
  if (serving) {
    // `serve` checkpoints from a worker (SqliteCheckpointer), not on the
    // commit of a request. No memory map: with the poll's one read
    // transaction, SQLite's remap of a shared map after another connection's
    // commit (16 % of the server's CPU under 10,000 agents) cost more than
    // the page refetches it saves (fleet A/B: 590/597 -> 541/511 us a poll).
    o.wal_autocheckpoint_pages = 0;
  }
  return storage::OpenSqliteStore(path, o);
}

}  // namespace sms::server
