#include "schedule/readiness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sms::schedule {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kNow = 1764633600000;  // 2025-12-02 00:00 UTC

RunSummary Clean(int64_t ago, std::vector<std::string> dirs = {"/srv"}) {
  RunSummary r;
  r.finished_ms = kNow - ago;
  r.success = true;
  for (auto& d : dirs) r.dirs.push_back({d});
  return r;
}

RunSummary Dirty(int64_t ago, int64_t different, int64_t missing = 0,
                 int64_t extra = 0) {
  RunSummary r = Clean(ago);
  r.dirs[0].different = different;
  r.dirs[0].missing = missing;
  r.dirs[0].extra = extra;
  return r;
}

RunSummary Failed(int64_t ago, std::string why) {
  RunSummary r;
  r.finished_ms = kNow - ago;
  r.error_msg = std::move(why);
  return r;
}

Readiness Eval(std::vector<RunSummary> runs, ReadinessPolicy p = {},
               std::vector<std::string> dirs = {"/srv"},
               Persistence persistence = {}) {
  return AsOf(EvaluateReadiness(dirs, runs, p, persistence), kNow);
}

TEST(ReadinessTest, ReadyAfterKConsistentFullChecks) {
  Readiness r = Eval({Clean(1 * kHour), Clean(7 * kHour), Clean(13 * kHour)});
  EXPECT_EQ(r.status, ReadinessStatus::kReady);
  EXPECT_TRUE(r.reasons.empty());
  EXPECT_EQ(r.since_ms, kNow - 13 * kHour);  // the streak's first check
  EXPECT_STREQ(ReadinessName(r.status), "ready");
}

TEST(ReadinessTest, NotReadyWithTheReasonInWordsAndNumbers) {
  Readiness none = Eval({});
  EXPECT_EQ(none.status, ReadinessStatus::kNotReady);
  EXPECT_THAT(none.reasons, ElementsAre("no successful full check yet"));

  Readiness one = Eval({Clean(kHour), Dirty(2 * kHour, 3)});
  EXPECT_THAT(one.reasons,
              ElementsAre(HasSubstr("1 of the 2 consistent checks in a row")));

  Readiness differ = Eval({Dirty(kHour, 100, 20, 12), Dirty(2 * kHour, 5),
                           Clean(3 * kHour), Clean(4 * kHour)},
                          {}, {"/srv"}, {12, kNow - kHour - 3 * kDay});
  EXPECT_EQ(differ.status, ReadinessStatus::kNotReady);
  ASSERT_EQ(differ.reasons.size(), 1u);
  EXPECT_THAT(differ.reasons[0],
              HasSubstr("132 files differ in the last check (100 different, "
                        "20 missing on the target, 12 extra on the target)"));
  EXPECT_THAT(differ.reasons[0], HasSubstr("12 of them already differed"));
  EXPECT_THAT(differ.reasons[0], HasSubstr("for 3 days"));
  EXPECT_EQ(differ.since_ms, kNow - 2 * kHour);  // first bad after the good

  Readiness failed = Eval({Failed(2 * kHour, "target unreachable"),
                           Clean(3 * kHour), Clean(4 * kHour)});
  EXPECT_EQ(failed.status, ReadinessStatus::kNotReady);
  EXPECT_THAT(failed.reasons,
              ElementsAre("the last check failed at 2025-12-01 22:00 UTC: "
                          "target unreachable"));
  EXPECT_EQ(failed.since_ms, kNow - 2 * kHour);
}

TEST(ReadinessTest, EveryConfiguredDirectoryMustBeChecked) {
  Readiness r = Eval({Clean(kHour, {"/srv"}), Clean(2 * kHour, {"/srv"}),
                      Clean(3 * kDay, {"/srv", "/data"})},
                     {}, {"/srv", "/data/www", "/etc"});
  EXPECT_EQ(r.status, ReadinessStatus::kNotReady);
  EXPECT_THAT(r.reasons, ElementsAre(HasSubstr("directory /data/www not "
                                               "checked since"),
                                     "directory /etc never checked"));
  // A parent covers its children; "/" covers everything.
  EXPECT_EQ(
      Eval({Clean(kHour, {"/"}), Clean(2 * kHour, {"/"})}, {}, {"/srv", "/etc"})
          .status,
      ReadinessStatus::kReady);
  // /srvx is not under /srv.
  EXPECT_EQ(Eval({Clean(kHour), Clean(2 * kHour)}, {}, {"/srvx"}).status,
            ReadinessStatus::kNotReady);
}

TEST(ReadinessTest, StaleWhenTheLastConsistentCheckIsTooOld) {
  ReadinessPolicy p;
  p.max_age_ms = kDay;
  Readiness r = Eval({Clean(2 * kDay), Clean(3 * kDay)}, p);
  EXPECT_EQ(r.status, ReadinessStatus::kStale);
  EXPECT_EQ(r.since_ms, kNow - kDay);
  EXPECT_THAT(r.reasons,
              ElementsAre(HasSubstr("CONSISTENCY_READY_MAX_AGE: the last one "
                                    "turned stale at 2025-12-01 00:00 UTC")));
  // Evaluated at commit time and read back later: ready until stale_at.
  Readiness fresh =
      EvaluateReadiness({"/srv"}, {Clean(2 * kHour), Clean(3 * kHour)}, p);
  EXPECT_EQ(fresh.status, ReadinessStatus::kReady);
  EXPECT_EQ(fresh.stale_at_ms, kNow - 2 * kHour + kDay);
  EXPECT_EQ(AsOf(fresh, fresh.stale_at_ms - 1).status, ReadinessStatus::kReady);
  Readiness later = AsOf(fresh, fresh.stale_at_ms);
  EXPECT_EQ(later.status, ReadinessStatus::kStale);
  EXPECT_EQ(later.since_ms, fresh.stale_at_ms);
  // No maximum age: never stale; not ready stays not ready.
  EXPECT_EQ(Eval({Clean(2 * kHour), Clean(3 * kHour)}).stale_at_ms, 0);
  EXPECT_EQ(AsOf(Eval({}), kNow + 100 * kDay).status,
            ReadinessStatus::kNotReady);
}

TEST(ReadinessTest, SettingsParseAndBadValuesSayWhy) {
  EXPECT_EQ(*ParseReadyRuns("3"), 3);
  EXPECT_FALSE(ParseReadyRuns("0"));
  EXPECT_FALSE(ParseReadyRuns("2x"));
  EXPECT_THAT(ParseReadyRuns("101").error().message, HasSubstr("1 to 100"));
  EXPECT_EQ(*ParseMaxAge("36h"), 36 * kHour);
  EXPECT_EQ(*ParseMaxAge("0"), 0);
  EXPECT_EQ(*ParseMaxAge(""), 0);
  EXPECT_THAT(ParseMaxAge("3 weeks").error().message, HasSubstr("\"36h\""));
  ReadinessSettings s = ReadReadinessSettings("/srv/, /data", "3", "7d");
  EXPECT_THAT(s.dirs, ElementsAre("/srv", "/data"));
  EXPECT_EQ(s.policy.ready_runs, 3);
  EXPECT_EQ(s.policy.max_age_ms, 7 * kDay);
  ReadinessSettings defaults = ReadReadinessSettings("", "", "");
  EXPECT_TRUE(defaults.dirs.empty());
  EXPECT_EQ(defaults.policy.ready_runs, 2);
  EXPECT_EQ(defaults.policy.max_age_ms, 0);
}

TEST(ReadinessTest, ReChecksOfInconsistentFilesNeitherCountNorBreak) {
  RunSummary recheck = Clean(kHour);
  recheck.full_scope = false;
  // A clean re-check after an inconsistent full check: still not ready, with
  // a hint.
  Readiness r = Eval({recheck, Dirty(2 * kHour, 4), Clean(3 * kHour)});
  EXPECT_EQ(r.status, ReadinessStatus::kNotReady);
  EXPECT_THAT(r.reasons, ElementsAre(HasSubstr("4 files differ"),
                                     HasSubstr("run a full check")));
  // A re-check between two consistent full checks does not break them.
  RunSummary dirty_recheck = Dirty(2 * kHour, 1);
  dirty_recheck.full_scope = false;
  EXPECT_EQ(Eval({Clean(kHour), dirty_recheck, Clean(3 * kHour)}).status,
            ReadinessStatus::kReady);
}

// The history a commit folds its run into gives the verdict a whole
// re-evaluation gives, and survives being stored as text.
TEST(ReadinessTest, FoldedHistoryRoundTripsAndDecidesAsTheRuns) {
  RunSummary recheck = Clean(30 * 60000);
  recheck.full_scope = false;
  RunSummary odd = Clean(5 * kHour, {"/srv", "/a\tb\\c\nd"});
  odd.run_id = "run\t1";
  const std::vector<RunSummary> newest_first = {
      recheck,
      Dirty(kHour, 2, 1),
      Failed(2 * kHour, "line one\nline\ttwo \\ three"),
      Clean(3 * kHour),
      odd,
      Dirty(7 * kHour, 3),
      Clean(9 * kHour, {"/etc"})};
  ReadinessHistory h;
  for (auto run = newest_first.rbegin(); run != newest_first.rend(); ++run) {
    h = Fold(h, *run);
    auto back = DecodeHistory(EncodeHistory(h));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, h) << EncodeHistory(h);
  }
  const std::vector<std::string> dirs = {"/srv", "/etc"};
  EXPECT_EQ(Decide(dirs, h, {}).reasons,
            EvaluateReadiness(dirs, newest_first, {}).reasons);
  EXPECT_THAT(
      Decide(dirs, h, {}).reasons,
      ElementsAre(HasSubstr("3 files differ"), HasSubstr("run a full check"),
                  HasSubstr("directory /etc not checked since "
                            "2025-12-01 15:00 UTC")));
  EXPECT_EQ(Decide(dirs, h, {}).since_ms, kNow - kHour);
}

TEST(ReadinessTest, DamagedHistoryDoesNotDecode) {
  ReadinessHistory h = Fold({}, Clean(kHour));
  const std::string good = EncodeHistory(h);
  EXPECT_TRUE(DecodeHistory(good));
  for (const std::string& bad :
       {std::string(), std::string("readiness-history 2") + good.substr(19),
        good.substr(0, good.find("\nfull")), good + "\nextra\t1",
        good + "\ndir\tx\t1\t/srv"}) {
    auto decoded = DecodeHistory(bad);
    ASSERT_FALSE(decoded) << bad;
    EXPECT_THAT(decoded.error().message, HasSubstr("readiness history"));
  }
}

// A streak is counted whole, however long (a bounded re-read would have
// counted from its oldest run read).
TEST(ReadinessTest, ALongStreakIsReadySinceItsFirstCheck) {
  ReadinessHistory h;
  for (int i = 500; i >= 1; --i) h = Fold(h, Clean(i * kHour));
  Readiness r = Decide({"/srv"}, h, {});
  EXPECT_EQ(r.status, ReadinessStatus::kReady);
  EXPECT_EQ(r.since_ms, kNow - 500 * kHour);
  EXPECT_EQ(h.streak, 500);
}

TEST(ReadinessTest, HumanDurations) {
  EXPECT_EQ(HumanDuration(60000), "1 minute");
  EXPECT_EQ(HumanDuration(45 * 60000), "45 minutes");
  EXPECT_EQ(HumanDuration(3 * kHour), "3 hours");
  EXPECT_EQ(HumanDuration(3 * kDay), "3 days");
}

}  // namespace
}  // namespace sms::schedule
