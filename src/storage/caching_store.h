// CachingStore: a Store that keeps the hot reads of the API in memory, in
// front of another Store.
//
// Held: ResolveToken (every authenticated request), GetTask and ListRuns
// (GET /v3/tasks/{id}/consistency-result), for found records only: a miss
// or an error is never cached. Everything else goes straight through.
//
// Freshness: a write through this store that can change a held record
// clears the whole cache after it returns (a write is acknowledged to its
// client after that, so a client always reads its own writes). Writes that
// cannot change one are let through without clearing it: new domains, users,
// credentials and tokens (there is no cached miss for them), sources and
// their heartbeat, staged details (invisible until CommitRun), and a command
// poll that delivered nothing.
// A read that missed fills the cache only if no clearing write happened
// since before its snapshot was taken (a generation count, read before the
// inner store's read, or at BeginReadScope for a whole scope), so an old
// snapshot never outlives the write that superseded it.
//
// Only for a database that this process alone writes: the writes of another
// process are not seen. sms-server uses it over SQLite, where `serve` holds
// the database's server lock (LockSqliteForServer) and `sms-server admin`
// writes only domains, users and credentials (never held here). It is not
// used over PostgreSQL, where replicas write the same database.
//
// Bounded: each table of the cache is cleared when it reaches its limit.
// Thread-safety: safe for concurrent use (a shared mutex; hits take it
// shared).
#pragma once

#include <cstdint>
#include <memory>

#include "storage/store.h"

namespace sms::storage {

struct CacheLimits {
  size_t tokens = 10000;
  size_t tasks = 10000;
  // Run lists, and the directories held across all of them.
  size_t run_lists = 2000;
  size_t run_dirs = 200000;
};

// What the cache answered since it was made, per table (for /metrics).
struct CacheStats {
  struct Table {
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  Table tokens;
  Table tasks;
  Table runs;
};

class CachingStore : public Store {
 public:
  [[nodiscard]] virtual CacheStats Stats() const = 0;
};

// Wraps `inner`, which it owns.
[[nodiscard]] std::unique_ptr<CachingStore> NewCachingStore(
    std::unique_ptr<Store> inner, const CacheLimits& limits = {});

}  // namespace sms::storage
