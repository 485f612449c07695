#include "schedule/schedule.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <set>

#include "core/strings.h"

namespace sms::schedule {
namespace {

using core::Fail;
using core::InvalidArgument;

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

struct FieldSpec {
  const char* name;
  int lo, hi;
  std::vector<const char*> names;  // names[i] stands for lo + i
};

const FieldSpec kFields[] = {
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day of month", 1, 31, {}},
    {"month",
     1,
     12,
     {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
      "NOV", "DEC"}},
    // 7 is Sunday too (folded into 0 after parsing).
    {"day of week", 0, 7, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
};

core::Result<int> FieldValue(const FieldSpec& f, std::string_view text) {
  std::string up = core::AsciiUpper(text);
  for (size_t i = 0; i < f.names.size(); ++i)
    if (up == f.names[i]) return f.lo + static_cast<int>(i);
  if (text.empty() || text.size() > 4)
    return Fail(InvalidArgument(std::string(f.name) + ": '" +
                                std::string(text) + "' is not a value"));
  int v = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return Fail(InvalidArgument(std::string(f.name) + ": '" +
                                  std::string(text) + "' is not a value"));
    v = v * 10 + (c - '0');
  }
  if (v < f.lo || v > f.hi)
    return Fail(InvalidArgument(std::string(f.name) + ": " + std::to_string(v) +
                                " is outside " + std::to_string(f.lo) + "-" +
                                std::to_string(f.hi)));
  return v;
}

core::Result<std::vector<int>> ParseField(const FieldSpec& f,
                                          std::string_view text) {
  std::set<int> values;
  for (std::string_view item : core::Split(text, ',')) {
    if (item.empty())
      return Fail(InvalidArgument(std::string(f.name) + ": empty list item"));
    int step = 1;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      std::string_view s = item.substr(slash + 1);
      int n = 0;
      if (s.empty() || s.size() > 4)
        return Fail(InvalidArgument(std::string(f.name) + ": bad step in '" +
                                    std::string(item) + "'"));
      for (char c : s) {
        if (!std::isdigit(static_cast<unsigned char>(c)))
          return Fail(InvalidArgument(std::string(f.name) + ": bad step in '" +
                                      std::string(item) + "'"));
        n = n * 10 + (c - '0');
      }
      if (n < 1 || n > f.hi - f.lo + 1)
        return Fail(InvalidArgument(std::string(f.name) + ": step " +
                                    std::to_string(n) + " out of range"));
      step = n;
      item = item.substr(0, slash);
    }
    int lo, hi;
    if (item == "*") {
      lo = f.lo;
      hi = f.hi;
    } else if (size_t dash = item.find('-'); dash != std::string_view::npos) {
      SMS_ASSIGN_OR_RETURN(lo, FieldValue(f, item.substr(0, dash)));
      SMS_ASSIGN_OR_RETURN(hi, FieldValue(f, item.substr(dash + 1)));
      if (hi < lo)
        return Fail(InvalidArgument(std::string(f.name) + ": range '" +
                                    std::string(item) + "' runs backwards"));
    } else {
      SMS_ASSIGN_OR_RETURN(lo, FieldValue(f, item));
      // "5/15" is "5-max/15", as Vixie cron reads it.
      hi = step > 1 ? f.hi : lo;
    }
    for (int v = lo; v <= hi; v += step) values.insert(v);
  }
  return std::vector<int>(values.begin(), values.end());
}

bool Has(const std::vector<int>& v, int x) {
  return std::binary_search(v.begin(), v.end(), x);
}

core::Result<const date::time_zone*> Zone(const std::string& name) {
  // date/tz throws on an unknown name: this adapter turns it into an error.
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return Fail(InvalidArgument("time zone '" + name +
                                "' is not in the IANA database "
                                "(/usr/share/zoneinfo)"));
  }
}

bool DayMatches(const Schedule& s, date::year_month_day ymd) {
  const bool dom = Has(s.days_of_month, static_cast<int>(unsigned(ymd.day())));
  const bool dow =
      Has(s.days_of_week, static_cast<int>(date::weekday(ymd).c_encoding()));
  if (s.dom_restricted && s.dow_restricted) return dom || dow;
  if (s.dom_restricted) return dom;
  if (s.dow_restricted) return dow;
  return true;
}

}  // namespace

core::Result<int64_t> ParseDurationMs(std::string_view text) {
  text = core::TrimSpace(text);
  if (text.empty()) return Fail(InvalidArgument("duration: empty"));
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    int64_t n = 0;
    while (j < text.size() &&
           std::isdigit(static_cast<unsigned char>(text[j]))) {
      n = n * 10 + (text[j] - '0');
      if (n > 100000000)
        return Fail(InvalidArgument("duration: '" + std::string(text) +
                                    "' is too long"));
      ++j;
    }
    if (j == i || j == text.size())
      return Fail(InvalidArgument("duration: '" + std::string(text) +
                                  "': expected NUMBER UNIT pairs, units d h "
                                  "m s (\"6h\", \"1h30m\")"));
    int64_t unit = 0;
    switch (text[j]) {
      case 'd':
        unit = 86400000;
        break;
      case 'h':
        unit = 3600000;
        break;
      case 'm':
        unit = 60000;
        break;
      case 's':
        unit = 1000;
        break;
      default:
        return Fail(InvalidArgument("duration: unknown unit '" +
                                    std::string(1, text[j]) + "' in '" +
                                    std::string(text) + "' (d h m s)"));
    }
    total += n * unit;
    i = j + 1;
  }
  if (total == 0)
    return Fail(InvalidArgument("duration: '" + std::string(text) +
                                "' must be longer than 0"));
  if (total > 366LL * 86400000)
    return Fail(InvalidArgument("duration: longer than a year"));
  return total;
}

core::Result<Schedule> ParseSchedule(std::string_view text,
                                     int64_t min_every_ms) {
  Schedule s;
  text = core::TrimSpace(text);
  s.text = std::string(text);
  std::vector<std::string_view> words = Words(text);
  if (words.empty()) return Fail(InvalidArgument("schedule: empty"));
  for (std::string_view prefix : {"TZ=", "CRON_TZ="}) {
    if (words[0].rfind(prefix, 0) == 0) {
      s.time_zone = std::string(words[0].substr(prefix.size()));
      words.erase(words.begin());
      SMS_RETURN_IF_ERROR(Zone(s.time_zone));
      break;
    }
  }
  if (words.empty())
    return Fail(InvalidArgument("schedule: a time zone but no schedule"));
  if (words[0] == "@every") {
    if (words.size() != 2)
      return Fail(InvalidArgument("schedule: expected \"@every DURATION\""));
    SMS_ASSIGN_OR_RETURN(s.every_ms, ParseDurationMs(words[1]));
    if (s.every_ms < min_every_ms)
      return Fail(InvalidArgument("schedule: @every " + std::string(words[1]) +
                                  " is shorter than the minimum of " +
                                  std::to_string(min_every_ms / 1000) + " s"));
    return s;
  }
  if (words.size() == 1 && words[0][0] == '@') {
    static const std::pair<const char*, const char*> kMacros[] = {
        {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
        {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
        {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}};
    std::vector<std::string_view> expanded;
    for (const auto& [name, fields] : kMacros) {
      if (words[0] == name) expanded = Words(fields);
    }
    if (expanded.empty())
      return Fail(InvalidArgument(
          "schedule: unknown '" + std::string(words[0]) +
          "' (@every DURATION, @hourly, @daily, @weekly, @monthly, @yearly)"));
    words = expanded;
  }
  if (words.size() != 5)
    return Fail(InvalidArgument(
        "schedule: expected 5 cron fields (minute hour day-of-month month "
        "day-of-week), got " +
        std::to_string(words.size())));
  std::vector<int>* out[] = {&s.minutes, &s.hours, &s.days_of_month, &s.months,
                             &s.days_of_week};
  for (int i = 0; i < 5; ++i) {
    SMS_ASSIGN_OR_RETURN(*out[i], ParseField(kFields[i], words[i]));
  }
  s.dom_restricted = words[2][0] != '*';
  s.dow_restricted = words[4][0] != '*';
  if (Has(s.days_of_week, 7)) {
    s.days_of_week.pop_back();  // 7 sorts last
    if (!Has(s.days_of_week, 0))
      s.days_of_week.insert(s.days_of_week.begin(), 0);
  }
  // A schedule that is never due ("0 0 31 2 *") is refused now, not found
  // out at the first tick.
  if (auto next = NextDue(s, 0); !next) return Fail(next.error());
  return s;
}

core::Result<int64_t> NextDue(const Schedule& s, int64_t after_ms) {
  using namespace std::chrono;
  if (s.every_ms > 0) {
    return (after_ms >= 0 ? after_ms / s.every_ms + 1 : 0) * s.every_ms;
  }
  SMS_ASSIGN_OR_RETURN(const date::time_zone* tz, Zone(s.time_zone));
  const date::sys_seconds after{floor<seconds>(milliseconds(after_ms))};
  date::local_seconds t = floor<minutes>(tz->to_local(after)) + minutes(1);
  const date::local_seconds limit = t + date::days(3660);
  while (t < limit) {
    const date::local_days day = floor<date::days>(t);
    const date::year_month_day ymd(day);
    const auto tod = date::hh_mm_ss<seconds>(t - day);
    if (!Has(s.months, static_cast<int>(unsigned(ymd.month())))) {
      // The first day of the next month.
      const date::year_month_day_last last =
          ymd.year() / ymd.month() / date::last;
      t = date::local_days(last) + date::days(1);
      continue;
    }
    if (!DayMatches(s, ymd)) {
      t = day + date::days(1);
      continue;
    }
    const int hour = static_cast<int>(tod.hours().count());
    const int minute = static_cast<int>(tod.minutes().count());
    if (!Has(s.hours, hour)) {
      t = day + hours(hour + 1);
      continue;
    }
    if (!Has(s.minutes, minute)) {
      t += minutes(1);
      continue;
    }
    // A local time skipped by a DST jump maps to the jump; one that occurs
    // twice, to its first occurrence.
    const date::sys_seconds when = tz->to_sys(t, date::choose::earliest);
    if (when > after) {
      return duration_cast<milliseconds>(when.time_since_epoch()).count();
    }
    t += minutes(1);
  }
  return Fail(InvalidArgument("schedule '" + s.text +
                              "' is never due within 10 years"));
}

core::Result<TickPlan> PlanTick(const Schedule& s, int64_t due_at, int64_t now,
                                bool check_running) {
  TickPlan plan;
  plan.skip = check_running;
  plan.fire = !check_running;
  SMS_ASSIGN_OR_RETURN(const int64_t after_due, NextDue(s, due_at));
  plan.catch_up = after_due <= now;
  SMS_ASSIGN_OR_RETURN(plan.next_at, NextDue(s, now));
  return plan;
}

}  // namespace sms::schedule
