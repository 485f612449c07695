// SqliteCheckpointer (sqlite_store.h): the WAL's checkpoints on a connection
// of their own.
#include <sys/stat.h>

#include <string>
#include <utility>

#include "storage/sqlite/driver.h"
#include "storage/sqlite/sqlite_store.h"

namespace sms::storage {

Result<std::unique_ptr<SqliteCheckpointer>> SqliteCheckpointer::Open(
    const std::string& path, const Options& options) {
  // Never checkpoints on its own commits (it makes none): Run() does.
  SMS_ASSIGN_OR_RETURN(sqlite3 * db,
                       sqlite::OpenConnection(path, options.busy_timeout_ms,
                                              {.wal_autocheckpoint_pages = 0}));
  return std::unique_ptr<SqliteCheckpointer>(
      new SqliteCheckpointer(db, path + "-wal", options));
}

SqliteCheckpointer::~SqliteCheckpointer() { sqlite3_close(db_); }

Result<SqliteCheckpointer::Report> SqliteCheckpointer::Run() {
  Report r;
  struct stat st {};
  if (stat(wal_path_.c_str(), &st) == 0) r.wal_bytes = st.st_size;
  r.truncated = r.wal_bytes > options_.truncate_above_bytes;
  auto checkpoint = [&](int mode) -> Status {
    int log = 0;
    int copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, mode, &log, &copied);
    // BUSY: a RESTART or TRUNCATE waited busy_timeout_ms for a reader or
    // the writer (or another checkpoint ran); what it could copy is copied.
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
      return core::Fail(sqlite::SqlError(db_, rc, "checkpoint"));
    r.wal_pages = log;
    r.copied_pages = copied;
    return core::Ok();
  };
  if (r.truncated) {
    SMS_RETURN_IF_ERROR(checkpoint(SQLITE_CHECKPOINT_TRUNCATE));
    return r;
  }
  SMS_RETURN_IF_ERROR(checkpoint(SQLITE_CHECKPOINT_PASSIVE));
  // The WAL is reused from its start only by a writer that began after a
  // complete checkpoint, which a passive one under steady writes never is.
  if (r.wal_pages >= options_.restart_above_pages) {
    r.restarted = true;
    SMS_RETURN_IF_ERROR(checkpoint(SQLITE_CHECKPOINT_RESTART));
  }
  return r;
}

}  // namespace sms::storage
