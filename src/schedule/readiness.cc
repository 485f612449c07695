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
std::string DifferenceReason(const RunSummary::Dir& totals) {
  std::vector<std::string> parts;
  if (totals.different)
    parts.push_back(fmt::format("{} different", totals.different));
  if (totals.missing)
    parts.push_back(fmt::format("{} missing on the target", totals.missing));
  if (totals.extra)
    parts.push_back(fmt::format("{} extra on the target", totals.extra));
  if (totals.unsettled)
    parts.push_back(
        fmt::format("{} changed while read or unreadable", totals.unsettled));
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i)
    joined += (i ? ", " : "") + parts[i];
  const int64_t total =
      totals.different + totals.missing + totals.extra + totals.unsettled;
  return fmt::format("{} {} in the last check ({})", Files(total),
                     total == 1 ? "differs" : "differ", joined);
}

// The newest full check that checked `dir` (or a directory above it), or
// nullptr when none did.
const ReadinessHistory::Checked* LastCovering(const ReadinessHistory& h,
                                              const std::string& dir) {
  const ReadinessHistory::Checked* last = nullptr;
  for (const auto& [checked, when] : h.checked)
    if (Covers(checked, dir) &&
        (last == nullptr || when.full_ordinal > last->full_ordinal))
      last = &when;
  return last;
}

// Escapes what separates fields and lines of an encoded history.
std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    out += c == 't' ? '\t' : c == 'n' ? '\n' : c;
  }
  return out;
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> f;
  size_t start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    f.push_back(line.substr(start, tab - start));
    if (tab == std::string_view::npos) return f;
    start = tab + 1;
  }
}

bool ToInt(std::string_view s, int64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

constexpr std::string_view kHistoryHeader = "readiness-history 1";

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

ReadinessHistory Fold(ReadinessHistory h, const RunSummary& run) {
  if (h.runs++ == 0) h.first_finished_ms = run.finished_ms;
  h.newest_finished_ms = run.finished_ms;
  h.newest_failed = !run.success;
  h.newest_error = run.success ? "" : run.error_msg;
  if (!run.success) return h;
  if (!run.full_scope) {
    if (run.Consistent() && h.full > 0 && run.finished_ms > h.full_finished_ms)
      h.clean_recheck_ms = run.finished_ms;
    return h;
  }
  const bool had_full = h.full++ > 0;
  h.full_run_id = run.run_id;
  h.full_finished_ms = run.finished_ms;
  h.full_totals = {};
  for (const auto& d : run.dirs) {
    h.full_totals.different += d.different;
    h.full_totals.missing += d.missing;
    h.full_totals.extra += d.extra;
    h.full_totals.unsettled += d.unsettled;
    h.checked[d.dir_check] = {h.full, run.finished_ms};
  }
  if (run.Consistent()) {
    if (!had_full || h.streak == 0) h.streak_since_ms = run.finished_ms;
    ++h.streak;
  } else {
    if (!had_full || h.streak > 0) h.streak_since_ms = run.finished_ms;
    h.streak = 0;
  }
  h.clean_recheck_ms = 0;
  while (h.checked.size() > kMaxCheckedDirs) {
    auto oldest = h.checked.begin();
    for (auto it = h.checked.begin(); it != h.checked.end(); ++it)
      if (it->second.full_ordinal < oldest->second.full_ordinal) oldest = it;
    h.checked.erase(oldest);
  }
  return h;
}

Readiness Decide(const std::vector<std::string>& configured,
                 const ReadinessHistory& h, const ReadinessPolicy& policy,
                 const Persistence& persistence) {
  const std::vector<std::string> dirs =
      configured.empty() ? std::vector<std::string>{"/"} : configured;
  const int64_t k = policy.ready_runs < 1 ? 1 : policy.ready_runs;
  Readiness r;

  if (h.runs > 0 && h.newest_failed) {
    r.since_ms = h.newest_finished_ms;
    std::string why = h.newest_error;
    for (char& c : why)
      if (c == '\n' || c == '\r') c = ' ';  // one reason, one line
    r.reasons.push_back(fmt::format("the last check failed at {}{}",
                                    Date(h.newest_finished_ms),
                                    why.empty() ? "" : ": " + why));
  }
  if (h.full == 0) {
    r.reasons.push_back("no successful full check yet");
    r.since_ms = h.runs > 0 ? h.first_finished_ms : 0;
    return r;
  }

  if (h.streak == 0) {
    std::string why = DifferenceReason(h.full_totals);
    if (persistence.count > 0 && persistence.oldest_first_seen_ms > 0) {
      why += fmt::format(
          "; {} of them already differed in an earlier check, "
          "the oldest for {} (since {})",
          persistence.count,
          HumanDuration(h.full_finished_ms - persistence.oldest_first_seen_ms),
          Date(persistence.oldest_first_seen_ms));
    }
    r.reasons.push_back(why);
    r.since_ms = h.streak_since_ms;
    // A clean re-check of the inconsistent files is a hint, not a proof.
    if (h.clean_recheck_ms > 0)
      r.reasons.push_back(fmt::format(
          "a re-check of the inconsistent files at {} found them resolved: "
          "run a full check to confirm",
          Date(h.clean_recheck_ms)));
  } else if (h.streak < k) {
    r.reasons.push_back(
        fmt::format("{} of the {} consistent checks in a row needed so far "
                    "(CONSISTENCY_READY_RUNS)",
                    h.streak, k));
    r.since_ms = h.streak_since_ms;
  }
  // Every configured directory must have been checked, by the streak's
  // newest check.
  for (const std::string& dir : dirs) {
    const ReadinessHistory::Checked* last = LastCovering(h, dir);
    if (last != nullptr && last->full_ordinal == h.full) continue;
    r.reasons.push_back(last ? fmt::format("directory {} not checked since {}",
                                           dir, Date(last->finished_ms))
                             : fmt::format("directory {} never checked", dir));
    if (r.since_ms == 0) r.since_ms = h.full_finished_ms;
  }
  if (!r.reasons.empty()) return r;

  // Ready, until the newest consistent check is too old.
  r.status = ReadinessStatus::kReady;
  r.since_ms = h.streak_since_ms;
  if (policy.max_age_ms > 0)
    r.stale_at_ms = h.full_finished_ms + policy.max_age_ms;
  return r;
}

Readiness EvaluateReadiness(const std::vector<std::string>& dirs,
                            const std::vector<RunSummary>& runs,
                            const ReadinessPolicy& policy,
                            const Persistence& persistence) {
  ReadinessHistory h;
  for (auto run = runs.rbegin(); run != runs.rend(); ++run)
    h = Fold(std::move(h), *run);
  return Decide(dirs, h, policy, persistence);
}

std::string EncodeHistory(const ReadinessHistory& h) {
  std::string out(kHistoryHeader);
  out += fmt::format("\nruns\t{}\t{}", h.runs, h.first_finished_ms);
  out += fmt::format("\nnewest\t{}\t{}\t{}", h.newest_finished_ms,
                     h.newest_failed ? 1 : 0, Escape(h.newest_error));
  const RunSummary::Dir& t = h.full_totals;
  out += fmt::format("\nfull\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}", h.full,
                     Escape(h.full_run_id), h.full_finished_ms, t.different,
                     t.missing, t.extra, t.unsettled, h.streak,
                     h.streak_since_ms, h.clean_recheck_ms);
  for (const auto& [dir, when] : h.checked)
    out += fmt::format("\ndir\t{}\t{}\t{}", when.full_ordinal, when.finished_ms,
                       Escape(dir));
  return out;
}

core::Result<ReadinessHistory> DecodeHistory(std::string_view text) {
  auto bad = [](std::string_view why) {
    return core::Fail(core::InvalidArgument(
        fmt::format("readiness history does not decode: {}", why)));
  };
  ReadinessHistory h;
  bool header = false, runs = false, newest = false, full = false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::vector<std::string_view> f =
        Fields(text.substr(start, end - start));
    start = end + 1;
    auto ints = [&](size_t from, std::initializer_list<int64_t*> out) {
      if (f.size() < from + out.size()) return false;
      size_t i = from;
      for (int64_t* o : out)
        if (!ToInt(f[i++], o)) return false;
      return true;
    };
    if (!header) {
      if (f.size() != 1 || f[0] != kHistoryHeader) return bad("header");
      header = true;
    } else if (f[0] == "runs" && f.size() == 3) {
      if (!ints(1, {&h.runs, &h.first_finished_ms})) return bad("runs");
      runs = true;
    } else if (f[0] == "newest" && f.size() == 4) {
      int64_t failed = 0;
      if (!ints(1, {&h.newest_finished_ms, &failed})) return bad("newest");
      h.newest_failed = failed != 0;
      h.newest_error = Unescape(f[3]);
      newest = true;
    } else if (f[0] == "full" && f.size() == 11) {
      h.full_run_id = Unescape(f[2]);
      RunSummary::Dir& t = h.full_totals;
      if (!ints(1, {&h.full}) ||
          !ints(3, {&h.full_finished_ms, &t.different, &t.missing, &t.extra,
                    &t.unsettled, &h.streak, &h.streak_since_ms,
                    &h.clean_recheck_ms}))
        return bad("full");
      full = true;
    } else if (f[0] == "dir" && f.size() == 4) {
      ReadinessHistory::Checked when;
      if (!ints(1, {&when.full_ordinal, &when.finished_ms})) return bad("dir");
      h.checked[Unescape(f[3])] = when;
    } else {
      return bad("unknown line");
    }
  }
  if (!runs || !newest || !full) return bad("a line is missing");
  return h;
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
