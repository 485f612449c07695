// Daemon: `sms-agent run`. Registers the source, polls for commands (the
// poll is also the heartbeat), runs consistency checks with the task's
// settings, spools each finished run and uploads it until the server has
// acknowledged it, retrying with exponential backoff and full jitter.
// Thread-safety: Run() on one thread; Stop() from any thread (signals).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "agent/agent_config.h"
#include "agent/server_client.h"
#include "agent/spool.h"
#include "agent/uploader.h"
#include "agent/verify_command.h"
#include "core/clock.h"

namespace sms::agent {

// One log line on stderr as JSON: {"ts", "level", "msg", ...}. Never pass
// secrets.
void LogEvent(const char* level, const std::string& message);

class Daemon final {
 public:
  Daemon(AgentConfig config, ServerClient& client, core::Clock& clock);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until Stop(). Returns an exit code: 0 after Stop(), 2 when the
  // agent cannot work at all (state directory unusable, credentials
  // refused at registration).
  int Run();
  // Stops the loop and cancels a running check (its run is uploaded as
  // failed, "cancelled").
  void Stop();

 private:
  core::Result<std::string> Register();
  void HandleCommand(const Command& command);
  // Starts the oldest queued check once no check runs.
  void StartQueuedCheck();
  // After RunCheck() ended: joins its thread and frees the agent for the
  // next check. REQUIRES: mu_ held.
  void ReapFinishedCheck();
  // `only` (may be null): the paths of a `scope: "inconsistent"` check, or
  // the reason they could not be fetched in `fetch_error`.
  void RunCheck(Command command, std::shared_ptr<const PathSets> only,
                std::string fetch_error);
  void UploadPending();
  void SendStopResult();
  // Sleeps up to `seconds`, waking early on Stop() or a finished check.
  void Wait(double seconds);
  double Backoff(int attempt, double retry_after);

  const AgentConfig config_;
  ServerClient& client_;
  core::Clock& clock_;
  Spool spool_;
  Uploader uploader_;
  std::string source_id_;
  std::mt19937_64 rng_{std::random_device{}()};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                 // Guarded by mu_.
  bool check_finished_ = false;           // Guarded by mu_.
  std::string running_task_;              // Guarded by mu_.
  std::shared_ptr<Canceller> canceller_;  // Guarded by mu_.
  std::thread check_thread_;
  double upload_not_before_ = 0;  // monotonic seconds
  int upload_failures_ = 0;
  std::string pending_stop_result_;  // a STOP acknowledgement to send
  // Checks delivered while another ran (the server hands out every queued
  // command of the source: a check of another task may come during one),
  // started in order. Used on Run()'s thread only.
  std::deque<Command> queued_checks_;
};

}  // namespace sms::agent
