// Retention of file-level details (issue 13.5): the CONSISTENCY_RETENTION
// setting and the background worker that applies it.
//
// CONSISTENCY_RETENTION = "runs=N", "days=D" or "runs=N,days=D": keep the
// file details of the newest N runs of the task and of every run committed
// in the last D days (a run kept by either rule is kept, as restic's
// --keep-last/--keep-within); the newest run always keeps them, and the
// per-directory counters of every run are never deleted. Empty: keep all.
// A task's setting wins over its tenant's default (PUT
// /v3/consistency-settings, kept as the domain setting of the same name),
// which wins over the server's default (--retention-default, env
// SMS_CONSISTENCY_RETENTION).
//
// RetentionWorker walks the tasks with runs and deletes what their policy
// does not keep in batches of `batch_rows`, each its own short transaction,
// pausing between batches so uploads and commits go first.
// Thread-safety: ParseRetention is pure; RetentionWorker's RunOnce may be
// called from one thread at a time (Start runs it on its own thread).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "server/periodic_worker.h"
#include "storage/store.h"

namespace sms::server {

// The name of the task setting and of the tenant's default.
inline constexpr char kRetentionSetting[] = "CONSISTENCY_RETENTION";

// Parses a CONSISTENCY_RETENTION value; the error names the part that is
// wrong ("days=x: expected a whole number of days from 1 to 36500").
[[nodiscard]] core::Result<storage::RetentionPolicy> ParseRetention(
    std::string_view text);

struct RetentionOptions {
  // For tasks without the setting whose tenant has no default.
  storage::RetentionPolicy default_policy;
  int batch_rows = 5000;
  int64_t pause_ms = 20;        // between batches
  int64_t interval_ms = 60000;  // between passes over every task
};

class RetentionWorker final {
 public:
  RetentionWorker(storage::Store& store, core::Clock& clock,
                  RetentionOptions options,
                  std::function<void(const std::string&)> log);
  ~RetentionWorker();
  RetentionWorker(const RetentionWorker&) = delete;
  RetentionWorker& operator=(const RetentionWorker&) = delete;

  // One pass over every task; returns the detail rows deleted.
  int64_t RunOnce();
  void Start();
  void Stop();

 private:
  // The tenant's default, else the server's; nullopt (logged) when the
  // tenant's cannot be read or is not valid.
  std::optional<storage::RetentionPolicy> TenantPolicy(
      const std::string& domain_id);

  storage::Store& store_;
  core::Clock& clock_;
  const RetentionOptions options_;
  const std::function<void(const std::string&)> log_;
  PeriodicWorker worker_;  // a pass every interval_ms
};

}  // namespace sms::server
