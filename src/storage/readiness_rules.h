// ReadinessRules: what both backends do with the cut-over verdict (issue
// 13.3) when a run is committed or a readiness setting changes, written
// once: the rows they read become schedule::RunSummary values, the verdict
// becomes the tasks.readiness* columns, and a change of the verdict becomes
// a webhook event. The SQL is the backends' (sqlite/readiness.cc,
// postgres/readiness.cc); the rule itself is schedule/readiness.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schedule/readiness.h"
#include "storage/store.h"

namespace sms::storage {

// How many of the task's newest runs a verdict reads (bounded: a streak
// longer than this counts from its oldest run read).
inline constexpr int kReadinessRuns = 100;

// The settings a verdict depends on (a change of one re-evaluates it).
inline constexpr const char* kReadinessSettings[] = {
    "CONSISTENCY_DIR", "CONSISTENCY_READY_RUNS", "CONSISTENCY_READY_MAX_AGE"};

inline bool IsReadinessSetting(std::string_view key) {
  for (const char* k : kReadinessSettings)
    if (key == k) return true;
  return false;
}

// The tasks.readiness* columns of a verdict (ready or not_ready, as
// EvaluateReadiness gives it; staleness is applied when it is read).
struct StoredReadiness {
  std::string status;  // ready | not_ready
  int64_t since = 0;
  std::string reasons;  // one per line
  std::optional<int64_t> stale_at;
};

inline StoredReadiness ToStored(const schedule::Readiness& r) {
  StoredReadiness s;
  s.status =
      r.status == schedule::ReadinessStatus::kNotReady ? "not_ready" : "ready";
  s.since = r.since_ms;
  if (r.stale_at_ms > 0) s.stale_at = r.stale_at_ms;
  for (const std::string& reason : r.reasons) {
    if (!s.reasons.empty()) s.reasons += '\n';
    s.reasons += reason;
  }
  return s;
}

// The verdict stored on `task`, as of `now` (never evaluated: not ready,
// with a reason saying so).
inline schedule::Readiness FromStored(const Task& task, int64_t now) {
  schedule::Readiness r;
  if (task.readiness.empty()) {
    r.reasons = {
        "not evaluated yet: the next committed run (or a change of "
        "CONSISTENCY_DIR or CONSISTENCY_READY_*) evaluates it"};
    return r;
  }
  r.status = task.readiness == "ready" ? schedule::ReadinessStatus::kReady
                                       : schedule::ReadinessStatus::kNotReady;
  r.since_ms = task.readiness_since;
  r.stale_at_ms = task.readiness_stale_at.value_or(0);
  size_t start = 0;
  while (start < task.readiness_reasons.size()) {
    size_t end = task.readiness_reasons.find('\n', start);
    if (end == std::string::npos) end = task.readiness_reasons.size();
    r.reasons.push_back(task.readiness_reasons.substr(start, end - start));
    start = end + 1;
  }
  return schedule::AsOf(std::move(r), now);
}

// The webhook event a change of verdict raises, or "" for none:
// task.ready when the task turns ready (from not ready, stale or never
// evaluated), task.not_ready when a ready (or stale) task turns not ready.
inline std::string ReadinessEvent(schedule::ReadinessStatus before,
                                  bool before_known,
                                  schedule::ReadinessStatus after) {
  using schedule::ReadinessStatus;
  if (after == ReadinessStatus::kReady && before != ReadinessStatus::kReady)
    return "task.ready";
  if (after == ReadinessStatus::kNotReady && before_known &&
      before != ReadinessStatus::kNotReady)
    return "task.not_ready";
  return "";
}

// One row of run_dirs as a verdict counts it.
inline schedule::RunSummary::Dir ReadinessDir(const DirResult& d) {
  return schedule::RunSummary::Dir{
      .dir_check = d.dir_check,
      .different = d.num_different_files + d.num_metadata_different_files,
      .missing = d.num_target_miss_files,
      .extra = d.num_target_more_files,
      .unsettled = d.num_changed_files + d.num_error_files};
}

// A stored run (with its directories) as a verdict reads it.
inline schedule::RunSummary ReadinessRun(const Run& run) {
  schedule::RunSummary s;
  s.run_id = run.run_id;
  s.finished_ms = run.finished_time;
  s.success = run.check_result == "success";
  s.full_scope = run.scope.empty();
  s.error_msg = run.error_msg;
  for (const DirResult& d : run.dirs) s.dirs.push_back(ReadinessDir(d));
  return s;
}

// The newest full successful run with a difference, whose details say how
// long its differences have persisted; nullptr when there is none or the
// newest full successful run is consistent.
inline const schedule::RunSummary* PersistenceRun(
    const std::vector<schedule::RunSummary>& runs) {
  for (const schedule::RunSummary& r : runs) {
    if (!r.success || !r.full_scope) continue;
    return r.Consistent() ? nullptr : &r;
  }
  return nullptr;
}

}  // namespace sms::storage
