#include "schedule/readiness.h"

#include <fmt/format.h>

#include <charconv>
#include <ctime>

#include "core/strings.h"
#include "schedule/schedule.h"

namespace sms::schedule {
namespace {

// True when `dir` is `covering` or lies under it.
bool Covers(const std::string& covering, const std::string& dir) {
  if (covering == "/" || covering == dir) return true;
  return dir.size() > covering.size() &&
         dir.compare(0, covering.size(), covering) == 0 &&
         dir[covering.size()] == '/';
}

bool RunCovers(const RunSummary& run, const std::string& dir) {
  for (const auto& d : run.dirs)
    if (Covers(d.dir_check, dir)) return true;
  return false;
}

std::string Date(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::string Files(int64_t n) {
  return fmt::format("{} file{}", n, n == 1 ? "" : "s");
}

// "132 files differ (100 different, 20 missing on the target, 12 extra)".
std::string DifferenceReason(const RunSummary& run) {
  int64_t different = 0, missing = 0, extra = 0, unsettled = 0;
  for (const auto& d : run.dirs) {
    different += d.different;
    missing += d.missing;
    extra += d.extra;
    unsettled += d.unsettled;
  }
  std::vector<std::string> parts;
  if (different) parts.push_back(fmt::format("{} different", different));
  if (missing)
    parts.push_back(fmt::format("{} missing on the target", missing));
  if (extra) parts.push_back(fmt::format("{} extra on the target", extra));
  if (unsettled)
    parts.push_back(
        fmt::format("{} changed while read or unreadable", unsettled));
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i)
    joined += (i ? ", " : "") + parts[i];
  const int64_t total = different + missing + extra + unsettled;
  return fmt::format("{} {} in the last check ({})", Files(total),
                     total == 1 ? "differs" : "differ", joined);
}

}  // namespace

int64_t RunSummary::Differences() const {
  int64_t n = 0;
  for (const auto& d : dirs)
    n += d.different + d.missing + d.extra + d.unsettled;
  return n;
}

const char* ReadinessName(ReadinessStatus s) {
  switch (s) {
    case ReadinessStatus::kReady:
      return "ready";
    case ReadinessStatus::kStale:
      return "stale";
    case ReadinessStatus::kNotReady:
      break;
  }
  return "not_ready";
}

std::string HumanDuration(int64_t ms) {
  const int64_t minutes = ms / 60000;
  if (minutes < 120)
    return fmt::format("{} minute{}", minutes, minutes == 1 ? "" : "s");
  const int64_t hours = minutes / 60;
  if (hours < 48) return fmt::format("{} hours", hours);
  return fmt::format("{} days", hours / 24);
}

Readiness EvaluateReadiness(const std::vector<std::string>& configured,
                            const std::vector<RunSummary>& runs,
                            const ReadinessPolicy& policy,
                            const Persistence& persistence) {
  const std::vector<std::string> dirs =
      configured.empty() ? std::vector<std::string>{"/"} : configured;
  const int k = policy.ready_runs < 1 ? 1 : policy.ready_runs;
  Readiness r;

  // The full successful checks, newest first, and the newest run overall.
  std::vector<const RunSummary*> full;
  for (const auto& run : runs)
    if (run.success && run.full_scope) full.push_back(&run);
  const RunSummary* newest = runs.empty() ? nullptr : &runs.front();

  if (newest != nullptr && !newest->success) {
    r.since_ms = newest->finished_ms;
    std::string why = newest->error_msg;
    for (char& c : why)
      if (c == '\n' || c == '\r') c = ' ';  // one reason, one line
    r.reasons.push_back(fmt::format("the last check failed at {}{}",
                                    Date(newest->finished_ms),
                                    why.empty() ? "" : ": " + why));
  }
  if (full.empty()) {
    r.reasons.push_back("no successful full check yet");
    r.since_ms = newest ? runs.back().finished_ms : 0;
    return r;
  }

  // The current streak of consistent full checks.
  size_t streak = 0;
  while (streak < full.size() && full[streak]->Consistent()) ++streak;
  if (streak == 0) {
    std::string why = DifferenceReason(*full[0]);
    if (persistence.count > 0 && persistence.oldest_first_seen_ms > 0) {
      why += fmt::format(
          "; {} of them already differed in an earlier check, "
          "the oldest for {} (since {})",
          persistence.count,
          HumanDuration(full[0]->finished_ms -
                        persistence.oldest_first_seen_ms),
          Date(persistence.oldest_first_seen_ms));
    }
    r.reasons.push_back(why);
    // The first inconsistent check after the last consistent one.
    size_t first_bad = 0;
    while (first_bad + 1 < full.size() && !full[first_bad + 1]->Consistent())
      ++first_bad;
    r.since_ms = full[first_bad]->finished_ms;
    // A clean re-check of the inconsistent files is a hint, not a proof.
    for (const auto& run : runs) {
      if (run.finished_ms <= full[0]->finished_ms) break;
      if (!run.full_scope && run.Consistent()) {
        r.reasons.push_back(fmt::format(
            "a re-check of the inconsistent files at {} found them resolved: "
            "run a full check to confirm",
            Date(run.finished_ms)));
        break;
      }
    }
  } else if (static_cast<int>(streak) < k) {
    r.reasons.push_back(
        fmt::format("{} of the {} consistent checks in a row needed so far "
                    "(CONSISTENCY_READY_RUNS)",
                    streak, k));
    r.since_ms = full[streak - 1]->finished_ms;
  }
  // Every configured directory must have been checked, by the streak's
  // newest check.
  for (const std::string& dir : dirs) {
    if (RunCovers(*full[0], dir)) continue;
    const RunSummary* last = nullptr;
    for (const RunSummary* run : full) {
      if (RunCovers(*run, dir)) {
        last = run;
        break;
      }
    }
    r.reasons.push_back(last ? fmt::format("directory {} not checked since {}",
                                           dir, Date(last->finished_ms))
                             : fmt::format("directory {} never checked", dir));
    if (r.since_ms == 0) r.since_ms = full[0]->finished_ms;
  }
  if (!r.reasons.empty()) return r;

  // Ready, until the newest consistent check is too old.
  r.status = ReadinessStatus::kReady;
  r.since_ms = full[streak - 1]->finished_ms;
  if (policy.max_age_ms > 0)
    r.stale_at_ms = full[0]->finished_ms + policy.max_age_ms;
  return r;
}

Readiness AsOf(Readiness r, int64_t now_ms) {
  if (r.status != ReadinessStatus::kReady || r.stale_at_ms <= 0 ||
      now_ms < r.stale_at_ms)
    return r;
  r.status = ReadinessStatus::kStale;
  r.since_ms = r.stale_at_ms;
  r.reasons = {fmt::format(
      "no consistent check for longer than CONSISTENCY_READY_MAX_AGE: the "
      "last one turned stale at {}; run a check",
      Date(r.stale_at_ms))};
  return r;
}

core::Result<int> ParseReadyRuns(std::string_view text) {
  text = core::TrimSpace(text);
  int n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      n < 1 || n > 100)
    return core::Fail(core::InvalidArgument(
        "expected a whole number of checks from 1 to 100"));
  return n;
}

core::Result<int64_t> ParseMaxAge(std::string_view text) {
  text = core::TrimSpace(text);
  if (text.empty() || text == "0") return int64_t{0};
  auto ms = ParseDurationMs(text);
  if (!ms)
    return core::Fail(core::InvalidArgument(
        "expected a duration such as \"36h\" or \"7d\" (units d h m s), "
        "or 0 for never: " +
        ms.error().message));
  return *ms;
}

ReadinessSettings ReadReadinessSettings(const std::string& dirs,
                                        const std::string& ready_runs,
                                        const std::string& max_age) {
  ReadinessSettings s;
  for (std::string d : core::SplitList(dirs)) {
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    s.dirs.push_back(std::move(d));
  }
  if (auto k = ParseReadyRuns(ready_runs)) s.policy.ready_runs = *k;
  if (auto age = ParseMaxAge(max_age)) s.policy.max_age_ms = *age;
  return s;
}

}  // namespace sms::schedule
