// ReadinessCore: the dialect-free part of keeping the cut-over verdict
// (issue 13.3) on the task row, written once for both backends. A backend
// gives the reads and the write a verdict needs (ReadinessSql: its SQL,
// inside its own transaction, in sqlite/readiness.cc and
// postgres/readiness.cc); the folding, deciding and which webhook event a
// change raises are here, on the rules of storage/readiness_rules.h.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "schedule/readiness.h"
#include "storage/readiness_rules.h"
#include "storage/store.h"

namespace sms::storage {

// What a verdict reads and writes, for one backend inside one transaction
// that holds the task's row (lock).
class ReadinessSql {
 public:
  virtual ~ReadinessSql() = default;
  // The task's settings (task_configs: key -> value).
  virtual Result<std::map<std::string, std::string>> Settings(
      const std::string& domain_id, const std::string& task_id) = 0;
  // Of run `run_id`'s differing files, those first seen by an earlier run:
  // how many, and the oldest first sighting.
  virtual Result<schedule::Persistence> Persistence(
      const std::string& domain_id, const std::string& run_id) = 0;
  // The task's newest kReadinessRuns runs, folded (FoldRuns).
  virtual Result<schedule::ReadinessHistory> FoldNewestRuns(
      const std::string& domain_id, const std::string& task_id) = 0;
  // Writes the verdict and its history on the task; kNotFound when the
  // task is gone.
  virtual Status Store(const std::string& domain_id, const std::string& task_id,
                       const StoredReadiness& verdict) = 0;
};

// Decides the verdict of `history` under the task's settings and stores it.
Result<schedule::Readiness> StoreReadiness(
    ReadinessSql& sql, const std::string& domain_id, const std::string& task_id,
    const schedule::ReadinessHistory& history);

// Runs being committed to one task (in commit order, stored already), as
// one step: each is folded into the task's history (`stored`, read with
// `before` under the task's lock) and the verdict is stored once, after
// the last. Returns, per run, the task.ready / task.not_ready event the
// verdict's change at that run raises, or "" (each run's verdict is
// decided as if it had been committed alone). Without a usable stored
// history the newest runs are folded (the batch's among them) and only
// the last run's verdict is decided.
Result<std::vector<std::string>> UpdateReadiness(
    ReadinessSql& sql, const std::vector<const Run*>& runs, const Task& before,
    std::optional<schedule::ReadinessHistory> stored);

// RefreshReadiness's body (a setting changed): the stored history (none:
// the newest runs folded), decided again and stored.
Status RefreshReadiness(ReadinessSql& sql, const std::string& domain_id,
                        const std::string& task_id,
                        std::optional<schedule::ReadinessHistory> stored);

}  // namespace sms::storage
