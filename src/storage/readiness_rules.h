// ReadinessRules: what both backends do with the cut-over verdict (issue
// 13.3) when a run is committed or a readiness setting changes, written
// once: a committed run is folded into the task's stored history
// (tasks.readiness_history), the verdict is decided from the history and
// the task's settings and becomes the tasks.readiness* columns, and a
// change of the verdict becomes a webhook event. The SQL is the backends'
// (sqlite/readiness.cc, postgres/readiness.cc); the rule itself is
// schedule/readiness.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schedule/readiness.h"
#include "storage/store.h"

namespace sms::storage {

// How many of the task's newest runs are folded when a task has no usable
// history (stored before there was one, or damaged): a streak longer than
// this counts from its oldest run read. A stored history counts every run.
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
  std::string history;  // EncodeHistory's; "" when none goes with it
};

inline StoredReadiness ToStored(const schedule::Readiness& r,
                                const schedule::ReadinessHistory* h = nullptr) {
  StoredReadiness s;
  if (h != nullptr) s.history = schedule::EncodeHistory(*h);
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

// One directory of a run as a verdict counts it.
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

// A stored history, or none when there is none or it does not decode (the
// caller folds the newest runs again instead of trusting it).
inline std::optional<schedule::ReadinessHistory> UsableHistory(
    const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto h = schedule::DecodeHistory(text);
  if (!h) return std::nullopt;
  return std::move(*h);
}

// The task a run is committed to and its stored history (none when there is
// none or it does not decode), read in one statement (CommitRun's first).
struct TaskForCommit {
  Task task;
  std::optional<schedule::ReadinessHistory> history;
};

// Stored runs, newest first (with their directories), folded.
inline schedule::ReadinessHistory FoldRuns(const std::vector<Run>& runs) {
  schedule::ReadinessHistory h;
  for (auto run = runs.rbegin(); run != runs.rend(); ++run)
    h = schedule::Fold(std::move(h), ReadinessRun(*run));
  return h;
}

// The newest full successful run when it differs, whose details say how
// long its differences have persisted; nullptr when there is none or it is
// consistent.
inline const std::string* PersistenceRunId(
    const schedule::ReadinessHistory& h) {
  return h.full > 0 && h.streak == 0 ? &h.full_run_id : nullptr;
}

// The verdict of a history under the task's settings (task_configs).
inline schedule::Readiness DecideReadiness(
    const std::map<std::string, std::string>& cfg,
    const schedule::ReadinessHistory& h,
    const schedule::Persistence& persistence) {
  auto get = [&cfg](const char* key) {
    auto it = cfg.find(key);
    return it == cfg.end() ? std::string() : it->second;
  };
  const schedule::ReadinessSettings settings = schedule::ReadReadinessSettings(
      get("CONSISTENCY_DIR"), get("CONSISTENCY_READY_RUNS"),
      get("CONSISTENCY_READY_MAX_AGE"));
  return schedule::Decide(settings.dirs, h, settings.policy, persistence);
}

}  // namespace sms::storage
