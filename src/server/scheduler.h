// Scheduler: fires each task's CONSISTENCY_SCHEDULE (issue 13.1).
//
// Every poll it claims the ticks that are due (Store::ClaimDueChecks: the
// task's next_check_at moves to a lease, so across PostgreSQL replicas one
// tick is claimed by one of them), then for each: reads the schedule back,
// plans the tick (schedule::PlanTick), queues the check through
// TaskService::RunAction {"operation": "consistency_check"} (the very path
// of POST /v3/tasks/{id}/action, so a scheduled check is an ordinary one)
// or, when a check of the task is still queued or running, skips the tick
// and counts it (skipped_checks); and finally stores the next tick
// (Store::FinishDueCheck). A server that was down fires one catch-up for
// all the ticks it missed, then keeps the rhythm (docs/server.md
// "Schedules"). A replica that dies mid-tick leaves the task to another
// once the lease (lease_ms) runs out.
//
// The clock is a seam: RunOnce() reads the time from it, so tests drive a
// FakeClock and never sleep. Start() polls on a thread of its own.
// Thread-safety: RunOnce may be called from one thread at a time; Start and
// Stop from the owner.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "server/periodic_worker.h"
#include "server/task_service.h"
#include "storage/store.h"

namespace sms::server {

struct SchedulerOptions {
  int64_t poll_ms = 5000;    // how often due ticks are looked for
  int64_t lease_ms = 60000;  // how long a claimed tick is this replica's
  int batch = 32;            // ticks claimed at once
};

// The scheduler's settings from the environment:
//   SMS_TEST_SCHEDULE_MIN_INTERVAL  tests only: the shortest @every a
//                                   schedule may have (a duration, "1s";
//                                   default and production: 1m); when set,
//                                   due ticks are also looked for every
//                                   200 ms instead of 5 s.
// An error names the variable.
struct ScheduleSettings {
  int64_t min_interval_ms = 60000;
  SchedulerOptions scheduler;
  [[nodiscard]] static core::Result<ScheduleSettings> FromEnvironment();
};

// What one RunOnce did.
struct SchedulerPass {
  int fired = 0;     // checks queued
  int skipped = 0;   // ticks skipped: a check was still going
  int failed = 0;    // ticks that could not queue a check (logged)
  int catch_up = 0;  // of the fired, those standing for missed ticks
};

class Scheduler final {
 public:
  // `log` receives one JSON line per fired, skipped or failed tick.
  Scheduler(storage::Store& store, core::Clock& clock, TaskService& tasks,
            SchedulerOptions options,
            std::function<void(const std::string&)> log);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Claims the ticks due now and handles each once.
  SchedulerPass RunOnce();
  void Start();
  void Stop();

 private:
  // Fires or skips one claimed tick and stores the next; adds to `pass`.
  void Handle(const storage::DueCheck& due, int64_t now, SchedulerPass& pass);

  storage::Store& store_;
  core::Clock& clock_;
  TaskService& tasks_;
  const SchedulerOptions options_;
  const std::function<void(const std::string&)> log_;
  PeriodicWorker worker_;  // polls every poll_ms
};

}  // namespace sms::server
