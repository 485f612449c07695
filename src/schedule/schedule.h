// Schedule: when a task's consistency check is due (issue 13.1).
//
// A schedule is the text of the task setting CONSISTENCY_SCHEDULE:
//   - a 5-field cron expression, "MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK",
//     as Vixie cron reads it (`*`, lists `1,15`, ranges `1-5`, steps `*/15`
//     and `8-18/2`, month and day names `JAN` `MON`, day of week 0-7 with 0
//     and 7 both Sunday; when both day fields are restricted a day matching
//     either is due), or one of @yearly @annually @monthly @weekly @daily
//     @midnight @hourly;
//     optionally led by a time zone: "TZ=Asia/Shanghai 0 2 * * *" (also
//     CRON_TZ=; default UTC). Local times are those of the IANA database:
//     a time skipped by a daylight-saving jump is due at the jump, a time
//     that occurs twice is due once, at its first occurrence;
//   - "@every DURATION" ("@every 6h", "@every 1h30m", units d h m s): due
//     at every multiple of DURATION since the Unix epoch (so "@every 6h" is
//     due at 00:00, 06:00, 12:00 and 18:00 UTC, whatever restarts happen).
// Thread-safety: a Schedule is an immutable value; the functions are pure
// (the time zone database is read once, thread-safely, by date/tz).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sms::schedule {

struct Schedule {
  std::string text;  // as given, trimmed
  // @every: the period; 0 for a cron expression.
  int64_t every_ms = 0;
  // Cron: the allowed values of each field (sorted, distinct).
  std::vector<int> minutes, hours, days_of_month, months, days_of_week;
  bool dom_restricted = false;  // the day-of-month field was not `*`
  bool dow_restricted = false;  // the day-of-week field was not `*`
  std::string time_zone = "UTC";
};

// Parses `text`. `min_every_ms`: the shortest @every accepted (1 minute in
// production; tests lower it). InvalidArgument names the field and why.
[[nodiscard]] core::Result<Schedule> ParseSchedule(
    std::string_view text, int64_t min_every_ms = 60000);

// The first time the schedule is due strictly after `after_ms` (epoch ms),
// or an error when it is never due within 10 years (e.g. "0 0 30 2 *").
[[nodiscard]] core::Result<int64_t> NextDue(const Schedule& s,
                                            int64_t after_ms);

// Parses a duration such as "6h", "1h30m", "90s", "2d" (more than 0).
[[nodiscard]] core::Result<int64_t> ParseDurationMs(std::string_view text);

// What a scheduler does with one claimed tick of a task's schedule.
struct TickPlan {
  // Queue the check now; false when `skip` is.
  bool fire = false;
  // A check of the task is still queued or running: this tick is skipped
  // (and counted), not queued behind it.
  bool skip = false;
  // More than one tick went by since `due_at` (the server was down or
  // stopped): this tick stands for all of them, once. The ones in between
  // are dropped, not fired in a burst.
  bool catch_up = false;
  // The first tick strictly after `now`.
  int64_t next_at = 0;
};

// The plan for the tick that was due at `due_at`, handled at `now` (>=
// due_at), while a check of the task is (`check_running`) or is not going.
// A task late by any amount fires once; its next tick is the schedule's
// first after now, so a restart never fires missed ticks in a burst.
[[nodiscard]] core::Result<TickPlan> PlanTick(const Schedule& s, int64_t due_at,
                                              int64_t now, bool check_running);

}  // namespace sms::schedule
