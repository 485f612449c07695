// Heartbeats: the agents' polls, held in memory and written to the store in
// one statement per flush (once a second in sms-server) instead of one
// write per poll.
//
// A heartbeat is liveness data (a source's last_seen_at: the console's
// "connected", the silent-agent metric and alert). What a crash of the
// process loses is the beats since the last flush: the sources those agents
// poll look up to one flush interval older than they are until their next
// poll is flushed. A flush that fails keeps its beats for the next one.
// Thread-safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "storage/store.h"

namespace sms::server {

class Heartbeats final {
 public:
  explicit Heartbeats(storage::Store& store) : store_(store) {}
  Heartbeats(const Heartbeats&) = delete;
  Heartbeats& operator=(const Heartbeats&) = delete;

  // Notes a poll of the source at `at` (epoch ms); the latest one counts.
  void Record(const std::string& domain_id, const std::string& source_id,
              int64_t at);
  // Writes every beat noted since the last flush (RecordHeartbeats), or
  // keeps them when the store fails.
  [[nodiscard]] storage::Status Flush();
  // The source's beat noted and not yet written (0: none), so that this
  // process shows a poll it answered at once.
  int64_t Latest(const std::string& domain_id,
                 const std::string& source_id) const;
  // Beats noted and not yet written.
  size_t pending() const;

 private:
  storage::Store& store_;
  mutable std::mutex mu_;
  // "domain_id/source_id" -> the beat (guarded by mu_)
  std::unordered_map<std::string, storage::Heartbeat> beats_;
};

}  // namespace sms::server
