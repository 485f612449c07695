// CommandService: the agent's command loop (spec/API.md §4). An agent polls
// GET /v3/sources/{id}/command (which is also its heartbeat) and is handed
// each queued command once; it reports the outcome with POST
// .../command_result, which moves the task on (kTaskTransitions). Only the
// agent that registered a source may poll it. Pure logic over a Store; no
// HTTP, no JSON.
// Thread-safety: safe for concurrent use.
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"
#include "server/api_error.h"
#include "server/codec/source_codec.h"
#include "server/heartbeats.h"
#include "server/identity.h"
#include "storage/store.h"

namespace sms::server {

class CommandService final {
 public:
  // `heartbeats`: where polls are noted (flushed by its owner); null: each
  // poll writes its heartbeat at once.
  CommandService(storage::Store& store, core::Clock& clock,
                 Heartbeats* heartbeats = nullptr);
  CommandService(const CommandService&) = delete;
  CommandService& operator=(const CommandService&) = delete;

  // Records the heartbeat and hands over the oldest pending command of the
  // source (now delivered), or nullopt when none is queued (a read: nothing
  // is written then but the heartbeat, in memory with `heartbeats`).
  [[nodiscard]] ApiResult<std::optional<storage::Command>> PollCommand(
      const Identity& who, const std::string& source_id);
  // PollCommand in its two steps, for a caller that checks the poll (reads
  // only) before recording its signature and hands over a command only once
  // that is durable (Api's async poll route): CheckPoll refuses a caller who
  // may not poll this source; HandOut records the heartbeat and hands over
  // the command (call it only after CheckPoll succeeded).
  [[nodiscard]] ApiStatus CheckPoll(const Identity& who,
                                    const std::string& source_id);
  [[nodiscard]] ApiResult<std::optional<storage::Command>> HandOut(
      const Identity& who, const std::string& source_id);
  // Finishes the latest delivered command of that name (400 SMS.1004 when
  // none waits for a result, unless it is a check whose run, named in
  // result_detail.run_id, is already committed in a task of this source:
  // the commit finished it, the report is acknowledged and changes nothing).
  // A STOP's result ends the check (ABORT); a failed CONSISTENCY_CHECK of the
  // task's current run returns it to READY.
  [[nodiscard]] ApiStatus CommandResult(const Identity& who,
                                        const std::string& source_id,
                                        const CommandResultRequest& req);

 private:
  // Refuses an unknown source, and an agent that did not register it.
  ApiStatus CheckOwnSource(const Identity& who, const std::string& id);
  // Whether `req` reports a check whose run's upload finished it.
  bool FinishedByItsUpload(const Identity& who, const std::string& source_id,
                           const CommandResultRequest& req);

  storage::Store& store_;
  core::Clock& clock_;
  Heartbeats* heartbeats_;
};

}  // namespace sms::server
