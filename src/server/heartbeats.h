// Heartbeats: the agents' polls, held in memory and written to the store in
// one statement per flush (once a second in sms-server) instead of one
// write per poll, and each source at most once per `write_every_ms` (30 s
// by default: ServerConfig::heartbeat_write_ms) instead of at every poll
// (every 5 s).
//
// A heartbeat is liveness data (a source's last_seen_at: the console's
// "connected" within 60 s, the silent-agent metric and its 5-minute
// alert). A source's first beat seen by this process is written at the
// next flush; after that its latest beat is written at the first flush
// write_every_ms after the beat this process last wrote, so the stored
// last_seen_at is at most that much (plus a flush) older than the agent's
// last poll.
// This process shows the latest beat it noted (Latest(), SourceService);
// another replica shows the stored one. Under a 10,000-agent fleet that is
// 333 rows a second to update instead of 2,000 (docs/operations.md §7).
// What a crash of the process loses is the beats not written yet: the
// sources those agents poll look up to rewrite_after_ms older than they
// are until their next written beat (write_every_ms at most). FlushAll (at
// shutdown) writes every
// beat not written yet. A flush that fails keeps its beats for the next
// one.
// Thread-safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "storage/store.h"

namespace sms::server {

class Heartbeats final {
 public:
  // `clock`: when a flush runs; must outlive this.
  Heartbeats(storage::Store& store, core::Clock& clock,
             int64_t write_every_ms = 30000)
      : store_(store), clock_(clock), write_every_ms_(write_every_ms) {}
  Heartbeats(const Heartbeats&) = delete;
  Heartbeats& operator=(const Heartbeats&) = delete;

  // Notes a poll of the source at `at` (epoch ms); the latest one counts.
  void Record(const std::string& domain_id, const std::string& source_id,
              int64_t at);
  // Writes (RecordHeartbeats) the beats due: a source's first, and its
  // latest once write_every_ms have passed since the beat this process
  // last wrote for it. The others stay noted; all stay when the store
  // fails.
  [[nodiscard]] storage::Status Flush();
  // Writes every beat not written yet (at shutdown).
  [[nodiscard]] storage::Status FlushAll();
  // The source's latest beat noted, written or not (0: none), so that this
  // process shows a poll it answered at once.
  int64_t Latest(const std::string& domain_id,
                 const std::string& source_id) const;
  // Sources whose latest beat is not written yet.
  size_t pending() const;

 private:
  struct Noted {
    storage::Heartbeat beat;  // the latest
    int64_t written = 0;      // the latest written by this process (0: none)
  };
  storage::Status Write(bool all);

  storage::Store& store_;
  core::Clock& clock_;
  const int64_t write_every_ms_;
  mutable std::mutex mu_;
  // "domain_id/source_id" -> its beats (guarded by mu_); a source written
  // up to date and silent for 10 minutes is dropped.
  std::unordered_map<std::string, Noted> beats_;
};

}  // namespace sms::server
