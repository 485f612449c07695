// Readiness: may this server cut over now? (issue 13.3)
//
// A task is `ready` when its last K successful full checks (K =
// CONSISTENCY_READY_RUNS, default 2) were all consistent and together with
// the newest one cover every configured directory; `stale` when it would be
// ready but its newest successful check is older than the maximum age
// (CONSISTENCY_READY_MAX_AGE); `not_ready` otherwise, with the reasons in
// words and numbers. A failed newest run makes the task not ready whatever
// came before. Re-checks of the inconsistent files only (scope
// "inconsistent") cannot prove a whole directory: they neither count towards
// K nor break the streak; a clean one is mentioned as a hint.
//
// The reasons name times as dates and durations between checks, never
// "ago": a verdict is evaluated when a run is committed and stored
// (storage/sqlite/readiness.cc), then read back later; only staleness
// depends on the time of reading (AsOf).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sms::schedule {

struct RunSummary {
  std::string run_id;
  int64_t finished_ms = 0;
  bool success = false;    // check_result "success"
  bool full_scope = true;  // false: scope "inconsistent"
  std::string error_msg;   // of a failed run
  struct Dir {
    std::string dir_check;
    int64_t different = 0;  // num_different_files (+ corrupt, metadata)
    int64_t missing = 0;    // num_target_miss_files (+ directories)
    int64_t extra = 0;      // num_target_more_files (+ directories)
    int64_t unsettled = 0;  // changed while read, unreadable
    bool operator==(const Dir&) const = default;
  };
  std::vector<Dir> dirs;

  int64_t Differences() const;
  bool Consistent() const { return success && Differences() == 0; }
};

struct ReadinessPolicy {
  int ready_runs = 2;      // K
  int64_t max_age_ms = 0;  // 0: never stale
};

// Of the newest run's differing files, how many were first seen in an
// earlier run, and when the oldest of them was (0 when unknown).
struct Persistence {
  int64_t count = 0;
  int64_t oldest_first_seen_ms = 0;
};

enum class ReadinessStatus { kReady, kNotReady, kStale };
const char* ReadinessName(
    ReadinessStatus s);  // "ready" | "not_ready" | "stale"

struct Readiness {
  ReadinessStatus status = ReadinessStatus::kNotReady;
  int64_t since_ms = 0;  // ready: the streak's first run; else when it began
  std::vector<std::string> reasons;
  // Ready (or stale): when the verdict turns stale, the newest consistent
  // check's time + CONSISTENCY_READY_MAX_AGE; 0: never.
  int64_t stale_at_ms = 0;
};

// What a verdict needs to know of a task's runs, folded one run at a time
// (Fold), so that committing a run reads that run alone: storage keeps it
// on the task and evaluates from it (Decide). It does not depend on the
// settings, so a change of one re-evaluates from it too.
struct ReadinessHistory {
  int64_t runs = 0;               // runs folded
  int64_t first_finished_ms = 0;  // the oldest of them
  // The newest run.
  int64_t newest_finished_ms = 0;
  bool newest_failed = false;
  std::string newest_error;
  // The full successful checks.
  int64_t full = 0;         // how many
  std::string full_run_id;  // the newest
  int64_t full_finished_ms = 0;
  RunSummary::Dir full_totals;  // its directories' counters summed
  // Consistent ones in a row, the newest included (0: the newest differs).
  int64_t streak = 0;
  // streak > 0: the oldest of the streak; 0: the first inconsistent check
  // after the last consistent one.
  int64_t streak_since_ms = 0;
  // A consistent re-check of the inconsistent files finished after the
  // newest full check (0: none).
  int64_t clean_recheck_ms = 0;
  // Each directory a full successful check checked, and the newest such
  // check (its ordinal among the full checks, 1-based, and time). Bounded
  // by kMaxCheckedDirs (the least recent dropped).
  struct Checked {
    int64_t full_ordinal = 0;
    int64_t finished_ms = 0;
    bool operator==(const Checked&) const = default;
  };
  std::map<std::string, Checked> checked;

  bool operator==(const ReadinessHistory&) const = default;
};
inline constexpr size_t kMaxCheckedDirs = 1024;

// `h` with `run`, the next newer run, folded in.
ReadinessHistory Fold(ReadinessHistory h, const RunSummary& run);

// The verdict of a history; `dirs`: the configured directories
// (CONSISTENCY_DIR; empty means "/"): ready or not_ready, never stale
// (AsOf applies the time of reading).
Readiness Decide(const std::vector<std::string>& dirs,
                 const ReadinessHistory& history, const ReadinessPolicy& policy,
                 const Persistence& persistence = {});

// `runs` newest first (any scope, any result): Decide over their fold.
Readiness EvaluateReadiness(const std::vector<std::string>& dirs,
                            const std::vector<RunSummary>& runs,
                            const ReadinessPolicy& policy,
                            const Persistence& persistence = {});

// A history as text (versioned lines, as storage keeps it) and back; text
// that does not decode (damaged, or of another version) is an error, and
// the caller folds the runs again.
std::string EncodeHistory(const ReadinessHistory& h);
[[nodiscard]] core::Result<ReadinessHistory> DecodeHistory(
    std::string_view text);

// A ready verdict read back at `now_ms`: stale (since stale_at_ms, with the
// reason) once now_ms has reached stale_at_ms; any other is unchanged.
Readiness AsOf(Readiness verdict, int64_t now_ms);

// The readiness settings of a task as stored (CONSISTENCY_DIR,
// CONSISTENCY_READY_RUNS, CONSISTENCY_READY_MAX_AGE; "" when not set).
struct ReadinessSettings {
  std::vector<std::string> dirs;
  ReadinessPolicy policy;
};
// Reads them; a value that does not parse (never stored by the API) leaves
// the default.
ReadinessSettings ReadReadinessSettings(const std::string& dirs,
                                        const std::string& ready_runs,
                                        const std::string& max_age);
// CONSISTENCY_READY_RUNS: a whole number 1..100 (error: why).
[[nodiscard]] core::Result<int> ParseReadyRuns(std::string_view text);
// CONSISTENCY_READY_MAX_AGE: a duration ("36h", "7d"); "0" or "": never
// stale (error: why).
[[nodiscard]] core::Result<int64_t> ParseMaxAge(std::string_view text);

// "45 minutes", "3 hours", "2 days".
std::string HumanDuration(int64_t ms);

}  // namespace sms::schedule
