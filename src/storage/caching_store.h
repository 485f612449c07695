// CachingStore: a Store that keeps the hot reads of the API in memory, in
// front of another Store.
//
// Held: ResolveToken (every authenticated request), GetTask and ListRuns
// (GET /v3/tasks/{id}/consistency-result), GetSourceOwner (the agent loop's
// ownership check on every poll; "sources' owners", below), GetTaskSource
// (the uploads' ownership check; "tasks' sources", below), and in a shared
// cache only
// GetCredential, GetUser and GetDomain (every AK/SK-signed request reads
// all three), for found records only: a miss or an error is never cached.
// A local cache does not hold credentials, users or domains: on SQLite
// `sms-server admin` writes them from another process (revoke-credential),
// unheard, and a revocation must take effect at the next request. Everything
// else goes straight through, but for one negative: the sources whose last
// NextCommand found no pending command ("idle sources", below).
//
// Idle sources: an agent polls every few seconds and nearly every poll
// finds nothing, so NextCommand's "none" is held per (domain, source) and
// answered from memory. Only a new command can make it stale: this
// process's EnqueueCommand forgets that source (after its commit, so a
// poll after the enqueue is acknowledged goes to the database), and a
// shared cache forgets every idle source when the listener reports a write
// to the commands table (CacheFeed::ChangedTable("commands"), an INSERT
// trigger: migrations/postgres/0016) or is lost; an idle source is held and
// served under the same generation and max_lag rules as the other records.
// Other writes leave idle sources alone (they cannot add a pending
// command). A hand-out stays a write transaction in the database (FOR
// UPDATE SKIP LOCKED on PostgreSQL), so a command is never handed out
// twice; at worst a poll on another replica sees a new command max_lag
// late, as any held record.
//
// Sources' owners: held per (domain, source), in a group of their own that
// neither the heartbeat flush (which writes sources.last_seen_at several
// times a second under a fleet) nor a registration clears: neither can
// change an owner (a known agent registering again keeps its source's
// owner, and a miss is never held). No write of the service deletes a
// source or gives it another owner; one by hand is heard by a shared cache
// (ChangedTable("sources"), migrations/postgres/0018, which does not fire
// for last_seen_at), and a local cache's database has no other writer of
// sources (`sms-server admin` writes domains, users and credentials).
//
// Tasks' sources: held per (domain, task), in a group of their own that
// the writes of a task's state (a run's commit writes its verdict, several
// a second under uploads; commands, schedules, settings) do not clear: no
// write of the service changes a task's source. The task's deletion
// through this store forgets it; a shared cache forgets every task's
// source on ChangedTable("task_sources") (a task's deletion, or a new id,
// tenant or source by hand: migrations/postgres/0022). A deleted task
// whose source is still held is refused anyway by the writes that follow
// the check (CommitRun and StageDetails lock the task's row).
//
// Freshness: a write through this store that can change a held record
// clears what it can change after it returns (a write is acknowledged to its
// client after that, so a client always reads its own writes): a write to a
// task, its runs or its commands clears the held tasks and run lists, and
// keeps the held tokens (a token's user and domain do not change with
// them: uploads and polls keep their token's entry); a credential's
// revocation clears the held credentials, users and domains; a token's
// revocation clears everything. The listener's reports follow the same
// split by the table they name (tasks, runs: tasks and run lists, a
// run's directories being in its row since migration 0019; credentials:
// credentials, users and domains; sources: sources' owners; task_sources:
// tasks' sources; commands: idle sources; tokens, users, domains or an
// unknown table: every held record but the idle sources). Writes that cannot
// change one are let through without clearing it: new domains, users,
// credentials and tokens (there is no cached miss for them), sources and their
// heartbeat, staged details (invisible until CommitRun), and a command poll
// that delivered nothing. A read that missed fills the cache only if no write
// clearing its table happened since before its snapshot was taken (a generation
// count per group of tables cleared together
// -- tokens; tasks and run lists; credentials, users and domains; sources'
// owners; idle sources; tasks' sources -- read before the inner store's read,
// or at BeginReadScope for a whole scope), so an old snapshot never outlives
// the write that superseded it, and a run's commit does not stop a credential's
// fill.
//
// Two kinds (both made here):
// - NewCachingStore: for a database that this process alone writes; the
//   writes of another process are not seen. sms-server uses it over SQLite,
//   where `serve` holds the database's server lock (LockSqliteForServer) and
//   `sms-server admin` writes only domains, users and credentials (never
//   held here).
// - NewSharedCachingStore: for a database that other processes write too
//   (PostgreSQL replicas). It also listens (CacheFeed, fed by a listener on
//   a connection of its own: postgres/postgres_store.h ChangeListener) to
//   the database's reports of committed writes, and answers from memory
//   only while that listener keeps up:
//   * holds a read only if the listener was listening before the read began
//     and nothing that clears its table was reported since (the generation
//     counts above, bumped by the reports that clear their group, and all
//     by the listener starting to listen and by its loss);
//   * serves a held record only while the last fence heard was sent less
//     than `max_lag` ago: a fence is a notification the listener sends to
//     itself, delivered after every write committed before it was sent, so
//     a hit at time t reflects every write committed before t - max_lag,
//     whatever happened to the listener (stuck, cut off, reconnecting, its
//     notifications delayed). Otherwise the read goes to the database.
//   * is emptied by every report and by the listener's loss.
// Bounded: each table of the cache is cleared when it reaches its limit.
// Thread-safety: safe for concurrent use (a shared mutex; hits take it
// shared).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/clock.h"
#include "storage/store.h"

namespace sms::storage {

struct CacheLimits {
  size_t tokens = 10000;
  size_t tasks = 10000;
  // Run lists, and the directories held across all of them.
  size_t run_lists = 2000;
  size_t run_dirs = 200000;
  // Sources known to have no pending command.
  size_t idle_sources = 100000;
  // Credentials, users and domains by id (a shared cache only).
  size_t credentials = 10000;
  size_t users = 10000;
  size_t domains = 10000;
  // Sources' owners (GetSourceOwner): one per agent of the fleet.
  size_t sources = 100000;
  // Tasks' sources (GetTaskSource): one per task uploaded to.
  size_t task_sources = 100000;
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
  Table idle_sources;  // NextCommand answered "none" from memory
  Table identity;      // GetCredential, GetUser and GetDomain together
  Table sources;       // GetSourceOwner (the agent loop's owner check)
  Table task_sources;  // GetTaskSource (the uploads' owner check)
  // A shared cache's listener reports (CacheFeed): writes heard (each
  // empties the cache), connections lost, and reads that skipped the cache
  // because the last fence was older than max_lag.
  uint64_t changes_heard = 0;
  uint64_t listener_losses = 0;
  uint64_t lagging_reads = 0;
  bool listening = false;  // a shared cache's listener is listening now
};

// What a cache over a database that other processes also write hears from
// the listener on that database (called from the listener's thread, in the
// order the listener observed them).
class CacheFeed {
 public:
  virtual ~CacheFeed() = default;
  // LISTEN took effect: every write committed from now on will be reported.
  // Empties the cache; a read that begins after this may be held.
  virtual void Listening() = 0;
  // A committed write may have changed a held record: empties the cache.
  virtual void Changed() = 0;
  // The same, naming the table written (the notification's payload):
  // "commands" makes only the idle sources stale, any other table only the
  // other records. By default the whole cache, as Changed().
  virtual void ChangedTable(std::string_view table) {
    (void)table;
    Changed();
  }
  // A fence sent at `sent` (the cache's clock) came back: every write
  // committed before `sent` has been reported through Changed().
  virtual void Heard(core::Clock::TimePoint sent) = 0;
  // The listener's connection is gone: empties the cache, and nothing is
  // held or served until Listening() and a fence Heard() after it.
  virtual void Lost() = 0;
};

class CachingStore : public Store, public CacheFeed {
 public:
  [[nodiscard]] virtual CacheStats Stats() const = 0;
  // Whether a read now will likely be answered from memory: the cache may
  // serve (a shared one: its last fence is young) and fewer than 4 reads in
  // a row missed. The transport runs such GETs on its I/O thread
  // (HttpServerOptions::inline_reads_while); a guess, never a promise.
  [[nodiscard]] virtual bool LikelyServed() const = 0;
};

// Wraps `inner`, which it owns: the cache of a database this process alone
// writes. Its CacheFeed is not needed (Changed() and Lost() empty it; the
// others do nothing).
[[nodiscard]] std::unique_ptr<CachingStore> NewCachingStore(
    std::unique_ptr<Store> inner, const CacheLimits& limits = {});

struct SharedCacheOptions {
  // Time for the freshness of fences; must outlive the store.
  core::Clock* clock = nullptr;
  // A held record is served only while the last fence heard was sent less
  // than this long ago (see above); the listener sends one every
  // ChangeListenerOptions::fence_interval_ms.
  int64_t max_lag_ms = 500;
};

// Wraps `inner`, which it owns: the cache of a database that other
// processes also write. It holds and serves nothing until its CacheFeed
// reports Listening() and then Heard() a fence.
[[nodiscard]] std::unique_ptr<CachingStore> NewSharedCachingStore(
    std::unique_ptr<Store> inner, const SharedCacheOptions& options,
    const CacheLimits& limits = {});

}  // namespace sms::storage
