// SqliteStore (store_impl.h): the pool's life and read scopes; opening the
// store; the one-server-per-database lock.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "storage/sqlite/sqlite_store.h"
#include "storage/sqlite/store_impl.h"

namespace sms::storage {
namespace sqlite {

SqliteStore::~SqliteStore() {
  caches_.clear();  // finalize statements before closing
  for (sqlite3* db : all_) sqlite3_close(db);
}

std::unique_ptr<ReadScope> SqliteStore::BeginReadScope() {
  if (t_pinned.store != nullptr) return nullptr;  // already in one
  return std::make_unique<SqliteReadScope>(this);
}

Status SqliteStore::Ping() {
  Conn c(this);
  SMS_PREPARE_(q, c.db, "SELECT 1");
  return q.Exec();
}

Status SqliteStore::CheckWritable() {
  SMS_RETURN_IF_ERROR(Ping());
  // No write probe: a rolled-back write never reaches the disk, and a
  // committed one per probe would fsync every few seconds. SQLite needs
  // room in the WAL's file system for a commit; too little and every write
  // fails with SQLITE_FULL (503), while reads still work.
  Result<uint64_t> free = 0;
  if (free_bytes_) {
    free = free_bytes_(dir_);
  } else {
    struct statvfs st {};
    if (statvfs(dir_.c_str(), &st) != 0)
      free = Fail(core::ErrnoError("statvfs " + dir_, errno));
    else
      free = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }
  if (!free)
    return Fail(core::Unavailable("database disk: " + free.error().message));
  if (*free < min_free_bytes_)
    return Fail(
        core::Unavailable("database disk full: " + std::to_string(*free) +
                          " bytes free in " + dir_ + " (writes need at least " +
                          std::to_string(min_free_bytes_) + ")"));
  return Ok();
}

}  // namespace sqlite

using core::Fail;

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const SqliteOptions& options) {
  std::vector<sqlite3*> conns;
  auto close_all = [&conns] {
    for (sqlite3* db : conns) sqlite3_close(db);
  };
  int n = options.connections < 1 ? 1 : options.connections;
  for (int i = 0; i < n; ++i) {
    auto db = sqlite::OpenConnection(
        path, options.busy_timeout_ms,
        {.wal_autocheckpoint_pages = options.wal_autocheckpoint_pages,
         .mmap_bytes = options.mmap_bytes});
    if (!db) {
      close_all();
      return Fail(db.error());
    }
    conns.push_back(*db);
    if (i == 0 && options.migrate) {
      Status s = sqlite::ApplyMigrations(*db, nullptr);
      if (!s) {
        close_all();
        return Fail(s.error());
      }
    }
  }
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  if (dir.empty()) dir = ".";
  return std::unique_ptr<Store>(
      new sqlite::SqliteStore(std::move(conns), std::move(dir), options));
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

}  // namespace sms::storage
