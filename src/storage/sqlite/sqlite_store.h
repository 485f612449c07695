// SqliteStore: the embedded default backend of Store.
//
// Durability: WAL journal with synchronous=FULL, so the WAL is fsync'ed at
// every commit and a write acknowledged to a client survives kill -9 and a
// power cut. Exceptions, for writes at the rate of agents' polls whose loss
// is harmless: an agent's heartbeat and the replay guard's used signatures
// are committed without the fsync (still safe against kill -9; a power cut
// may forget the newest of them); a command handed over in a poll is
// durable again. Migrations (migrations/*.sql, embedded at build time) are
// applied at Open() inside one transaction each and recorded in the table
// schema_migrations.
// Thread-safety: safe for concurrent use; a small pool of connections serves
// concurrent readers (WAL), writers are serialised by SQLite's write lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "storage/store.h"

struct sqlite3;

namespace sms::storage {

struct SqliteOptions {
  // Number of pooled connections.
  int connections = 8;
  // How long a writer waits for the write lock before kUnavailable.
  int busy_timeout_ms = 5000;
  // Apply pending migrations at open (the admin `migrate` command and
  // `serve` both do).
  bool migrate = true;
  // CheckWritable() fails while the database's file system has less room
  // than this (a commit appends its pages to the WAL).
  uint64_t min_free_bytes = 1 << 20;
  // The bytes free to this process on the file system holding `dir`
  // (statvfs); a seam for tests. Null: statvfs(3).
  std::function<Result<uint64_t>(const std::string& dir)> free_bytes;
  // The WAL is checkpointed by the commit that takes it past this many
  // pages, on that commit's thread (SQLite's default, 1000). 0: by nobody
  // here; `serve` runs a SqliteCheckpointer instead, off the request path.
  int wal_autocheckpoint_pages = 1000;
  // Reads of the database file through a memory map of at most this size
  // (PRAGMA mmap_size); 0: pread(2).
  int64_t mmap_bytes = 0;
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

// The WAL's checkpoints, off the request path (docs/server.md "SQLite
// checkpoints"): `serve` opens its store with wal_autocheckpoint_pages = 0,
// so no request's commit copies the WAL back into the database and fsyncs
// it, and calls Run() twice a second on a connection of its own.
// A checkpoint moves committed pages from the WAL into the database file;
// durability is the commit's WAL fsync, which checkpoints do not change.
// Thread-compatible: one thread calls Run().
class SqliteCheckpointer final {
 public:
  struct Options {
    // A PASSIVE checkpoint waits for nobody, but under steady writes it
    // never catches up with the WAL's end, and the WAL is only reused from
    // its start by a writer that began after a complete one: once the WAL
    // holds this many pages, a RESTART follows, which holds new writers
    // back (up to busy_timeout_ms) while it copies what the passive one
    // left and waits for readers to move on (measured: without it the WAL
    // grew by ~6 MB/s under 1,200 polls/s). SQLite's own default: 1,000.
    int64_t restart_above_pages = 1000;
    // Past this size the WAL file is truncated (a TRUNCATE checkpoint,
    // which waits up to busy_timeout_ms for readers and the writer).
    int64_t truncate_above_bytes = 64 << 20;
    int busy_timeout_ms = 5000;
  };
  struct Report {
    bool restarted = false;    // a RESTART followed the PASSIVE one
    bool truncated = false;    // a TRUNCATE checkpoint ran instead
    int64_t wal_pages = 0;     // pages in the WAL
    int64_t copied_pages = 0;  // of them, now in the database file
    int64_t wal_bytes = 0;     // the WAL file's size before it
  };
  [[nodiscard]] static Result<std::unique_ptr<SqliteCheckpointer>> Open(
      const std::string& path, const Options& options);
  ~SqliteCheckpointer();
  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

  // One checkpoint: PASSIVE, then RESTART when the WAL holds
  // restart_above_pages or more; TRUNCATE instead when the WAL file is larger
  // than truncate_above_bytes. A checkpoint that waited busy_timeout_ms in vain
  // is not an error (tried again at the next call).
  [[nodiscard]] Result<Report> Run();

 private:
  SqliteCheckpointer(sqlite3* db, std::string wal_path, const Options& options)
      : db_(db), wal_path_(std::move(wal_path)), options_(options) {}
  sqlite3* db_;
  std::string wal_path_;
  Options options_;
};

// The database's server lock: one `sms-server serve` per SQLite database,
// since the server keeps what it has read in memory (caching_store.h) and
// would not see another server's writes. An exclusive flock(2) on
// PATH.lock, which names the holder's pid; the kernel drops it when the
// process ends, kill -9 included. `sms-server admin` does not take it.
// Several servers over one database: PostgreSQL.
class SqliteServerLock final {
 public:
  // kFailedPrecondition naming the holder's pid when another process holds
  // it; kUnavailable when the lock file cannot be opened.
  [[nodiscard]] static Result<std::unique_ptr<SqliteServerLock>> Acquire(
      const std::string& path);
  ~SqliteServerLock();
  SqliteServerLock(const SqliteServerLock&) = delete;
  SqliteServerLock& operator=(const SqliteServerLock&) = delete;

 private:
  explicit SqliteServerLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace sms::storage
