#include "schedule/schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>

namespace sms::schedule {
namespace {

using ::testing::HasSubstr;

// Epoch ms of a UTC calendar time.
int64_t Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

int64_t Next(const std::string& text, int64_t after) {
  auto s = ParseSchedule(text);
  EXPECT_TRUE(s) << text << ": " << s.error().ToString();
  if (!s) return -1;
  auto n = NextDue(*s, after);
  EXPECT_TRUE(n) << text;
  return n ? *n : -1;
}

std::string Error(const std::string& text, int64_t min_every_ms = 60000) {
  auto s = ParseSchedule(text, min_every_ms);
  return s ? "" : s.error().message;
}

TEST(ScheduleTest, CronFieldsAsVixieCronReadsThem) {
  const int64_t t = Utc(2026, 12, 2, 10, 17, 30);  // a Wednesday
  EXPECT_EQ(Next("0 2 * * *", t), Utc(2026, 12, 3, 2, 0));
  EXPECT_EQ(Next("*/15 * * * *", t), Utc(2026, 12, 2, 10, 30));
  EXPECT_EQ(Next("5/20 * * * *", t), Utc(2026, 12, 2, 10, 25));
  EXPECT_EQ(Next("0 8-18/2 * * *", t), Utc(2026, 12, 2, 12, 0));
  EXPECT_EQ(Next("30 1 1,15 * *", t), Utc(2026, 12, 15, 1, 30));
  EXPECT_EQ(Next("0 0 1 jan *", t), Utc(2027, 1, 1));
  EXPECT_EQ(Next("0 9 * * MON-FRI", t), Utc(2026, 12, 3, 9, 0));
  EXPECT_EQ(Next("0 9 * * 0", t), Utc(2026, 12, 6, 9, 0));
  EXPECT_EQ(Next("0 9 * * 7", t), Utc(2026, 12, 6, 9, 0));  // 7 is Sunday
  // Both day fields restricted: either may match (the 13th, or a Friday).
  EXPECT_EQ(Next("0 0 13 * 5", t), Utc(2026, 12, 4));
  EXPECT_EQ(Next("@daily", t), Utc(2026, 12, 3));
  EXPECT_EQ(Next("@hourly", t), Utc(2026, 12, 2, 11));
  EXPECT_EQ(Next("@monthly", t), Utc(2027, 1, 1));
  EXPECT_EQ(Next("@weekly", t), Utc(2026, 12, 6));
  EXPECT_EQ(Next("@yearly", t), Utc(2027, 1, 1));
  // Strictly after: a due time equal to `after` is the next one.
  EXPECT_EQ(Next("0 2 * * *", Utc(2026, 12, 3, 2, 0)), Utc(2026, 12, 4, 2, 0));
  // Leap day.
  EXPECT_EQ(Next("0 0 29 2 *", t), Utc(2028, 2, 29));
}

TEST(ScheduleTest, TimeZonesAndDaylightSaving) {
  // Shanghai is UTC+8 all year: 02:00 there is 18:00 UTC the day before.
  EXPECT_EQ(Next("TZ=Asia/Shanghai 0 2 * * *", Utc(2026, 12, 2, 10, 0)),
            Utc(2026, 12, 2, 18, 0));
  EXPECT_EQ(Next("CRON_TZ=Asia/Shanghai 0 2 * * *", Utc(2026, 12, 2, 10, 0)),
            Utc(2026, 12, 2, 18, 0));
  // Berlin springs forward on 2026-03-29 at 02:00 CET -> 03:00 CEST: 02:30
  // does not exist that day and is due at the jump (01:00 UTC).
  EXPECT_EQ(Next("TZ=Europe/Berlin 30 2 * * *", Utc(2026, 3, 28, 12, 0)),
            Utc(2026, 3, 29, 1, 0));
  // ... and the day after at 02:30 CEST (00:30 UTC).
  EXPECT_EQ(Next("TZ=Europe/Berlin 30 2 * * *", Utc(2026, 3, 29, 1, 0)),
            Utc(2026, 3, 30, 0, 30));
  // It falls back on 2026-10-25 at 03:00 CEST -> 02:00 CET: 02:30 occurs
  // twice and is due once, at its first occurrence (00:30 UTC).
  const int64_t first =
      Next("TZ=Europe/Berlin 30 2 * * *", Utc(2026, 10, 24, 12, 0));
  EXPECT_EQ(first, Utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(Next("TZ=Europe/Berlin 30 2 * * *", first),
            Utc(2026, 10, 26, 1, 30));
  // Every 15 minutes across the jump: the skipped hour is one tick.
  int64_t t = Utc(2026, 3, 29, 0, 50);
  std::vector<int64_t> ticks;
  for (int i = 0; i < 4; ++i)
    ticks.push_back(t = Next("TZ=Europe/Berlin */15 * * * *", t));
  EXPECT_EQ(ticks, (std::vector<int64_t>{
                       Utc(2026, 3, 29, 1, 0), Utc(2026, 3, 29, 1, 15),
                       Utc(2026, 3, 29, 1, 30), Utc(2026, 3, 29, 1, 45)}));
}

TEST(ScheduleTest, EveryIsAlignedToTheEpoch) {
  EXPECT_EQ(Next("@every 6h", Utc(2026, 12, 2, 10, 17)), Utc(2026, 12, 2, 12));
  EXPECT_EQ(Next("@every 6h", Utc(2026, 12, 2, 12)), Utc(2026, 12, 2, 18));
  EXPECT_EQ(Next("@every 1h30m", Utc(2026, 12, 2, 0, 10)),
            Utc(2026, 12, 2, 1, 30));
  auto fast = ParseSchedule("@every 2s", 1000);
  ASSERT_TRUE(fast);
  EXPECT_EQ(*NextDue(*fast, 5000), 6000);
  EXPECT_EQ(*ParseDurationMs("1d2h3m4s"), ((24 + 2) * 60 + 3) * 60000 + 4000);
}

TEST(ScheduleTest, BadSchedulesAreRefusedWithTheReason) {
  EXPECT_THAT(Error(""), HasSubstr("empty"));
  EXPECT_THAT(Error("0 2 * *"), HasSubstr("expected 5 cron fields"));
  EXPECT_THAT(Error("60 2 * * *"), HasSubstr("minute: 60 is outside 0-59"));
  EXPECT_THAT(Error("0 24 * * *"), HasSubstr("hour: 24 is outside 0-23"));
  EXPECT_THAT(Error("0 0 0 * *"), HasSubstr("day of month: 0"));
  EXPECT_THAT(Error("0 0 * 13 *"), HasSubstr("month: 13"));
  EXPECT_THAT(Error("0 0 * * 8"), HasSubstr("day of week: 8"));
  EXPECT_THAT(Error("0 0 * FOO *"), HasSubstr("month: 'FOO' is not a value"));
  EXPECT_THAT(Error("5-1 * * * *"), HasSubstr("runs backwards"));
  EXPECT_THAT(Error("*/0 * * * *"), HasSubstr("step 0"));
  EXPECT_THAT(Error("1,,2 * * * *"), HasSubstr("empty list item"));
  EXPECT_THAT(Error("0 0 31 2 *"), HasSubstr("never due"));
  EXPECT_THAT(Error("TZ=Mars/Olympus 0 2 * * *"), HasSubstr("Mars/Olympus"));
  EXPECT_THAT(Error("TZ=UTC"), HasSubstr("no schedule"));
  EXPECT_THAT(Error("@every 30s"),
              HasSubstr("shorter than the minimum of 60 s"));
  EXPECT_THAT(Error("@every 5x"), HasSubstr("unknown unit 'x'"));
  EXPECT_THAT(Error("@every"), HasSubstr("@every DURATION"));
  EXPECT_THAT(Error("@sometimes"), HasSubstr("unknown '@sometimes'"));
  EXPECT_THAT(Error("@every 0s"), HasSubstr("longer than 0"));
}

// The scheduler's decisions for one claimed tick, on a fake timeline (no
// clock, no sleeping): on time, late within a period, after downtime, and
// while a check is still going.
TEST(PlanTickTest, FiresOnTimeAndComputesTheNextTick) {
  auto every = ParseSchedule("@every 1h");
  ASSERT_TRUE(every);
  const int64_t due = Utc(2026, 12, 2, 10);
  auto plan = PlanTick(*every, due, due, /*check_running=*/false);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->fire);
  EXPECT_FALSE(plan->skip);
  EXPECT_FALSE(plan->catch_up);
  EXPECT_EQ(plan->next_at, Utc(2026, 12, 2, 11));
  // Handled 5 s late (the poll interval): the same tick, not a catch-up.
  plan = PlanTick(*every, due, due + 5000, false);
  EXPECT_FALSE(plan->catch_up);
  EXPECT_EQ(plan->next_at, Utc(2026, 12, 2, 11));
}

TEST(PlanTickTest, SkipsWhileACheckIsRunningAndMovesOn) {
  auto cron = ParseSchedule("TZ=Asia/Shanghai 0 2 * * *");
  ASSERT_TRUE(cron);
  const int64_t due = Utc(2026, 12, 1, 18);  // 02:00 in Shanghai
  auto plan = PlanTick(*cron, due, due + 1000, /*check_running=*/true);
  ASSERT_TRUE(plan);
  EXPECT_FALSE(plan->fire);
  EXPECT_TRUE(plan->skip);
  EXPECT_EQ(plan->next_at, Utc(2026, 12, 2, 18));  // the next night
}

TEST(PlanTickTest, DowntimeFiresOneCatchUpNotABurst) {
  auto every = ParseSchedule("@every 6h");
  ASSERT_TRUE(every);
  const int64_t due = Utc(2026, 12, 1, 6);
  // Down from 05:00 on the 1st to 13:10 on the 3rd: nine ticks missed.
  const int64_t back = Utc(2026, 12, 3, 13, 10);
  auto plan = PlanTick(*every, due, back, false);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->fire);
  EXPECT_TRUE(plan->catch_up);
  EXPECT_EQ(plan->next_at, Utc(2026, 12, 3, 18));
  // The tick after it is an ordinary one.
  plan = PlanTick(*every, plan->next_at, plan->next_at, false);
  EXPECT_FALSE(plan->catch_up);
}

}  // namespace
}  // namespace sms::schedule
