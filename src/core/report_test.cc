#include "core/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sms::core {
namespace {

using ::testing::HasSubstr;

Entry FileWithMtime(int64_t mtime_ns) {
  Entry e;
  e.path = "f";
  e.type = FileType::kRegular;
  e.size = 1;
  e.mode = 0644;
  e.mtime_ns = mtime_ns;
  return e;
}

// A 1 ns difference is a metadata_different (reason mtime) whose two sides
// must show it: milliseconds alone printed the same number twice.
TEST(FileDiffJsonTest, AnMtimeDifferenceBelowAMillisecondIsShown) {
  const Entry s = FileWithMtime(1'000'000'000);
  const Entry t = FileWithMtime(1'000'000'001);
  const std::string json = FileDiffJson(
      "/", "f", {VerdictStatus::kMetadataDifferent, Reason::kMtime, {}}, &s,
      &t);
  EXPECT_THAT(json, HasSubstr(R"("source":{"type":"file","size":1,)"
                              R"("mtime":1000,"mtime_ns":1000000000,)"));
  EXPECT_THAT(json, HasSubstr(R"("target":{"type":"file","size":1,)"
                              R"("mtime":1000,"mtime_ns":1000000001,)"));
}

// Before 1970 the milliseconds are the floor, as for any later time: 1.5 s
// before the epoch is -1500 ms, and 1 ns before it is -1 ms, not 0.
TEST(FileDiffJsonTest, MtimesBeforeTheEpochRoundDown) {
  const Entry s = FileWithMtime(-1'500'000'000);
  const Entry t = FileWithMtime(-1);
  const std::string json = FileDiffJson(
      "/", "f", {VerdictStatus::kMetadataDifferent, Reason::kMtime, {}}, &s,
      &t);
  EXPECT_THAT(json, HasSubstr(R"("mtime":-1500,"mtime_ns":-1500000000,)"));
  EXPECT_THAT(json, HasSubstr(R"("mtime":-1,"mtime_ns":-1,)"));
}

// A directory that could not be read at all is no verdict: the summary
// must not say DIFFERENCES FOUND (verify exits 2 for it, not 1).
TEST(RunReportTextTest, ADirectoryThatCouldNotBeReadIsNotADifference) {
  RunReport r;
  r.completed = true;
  r.dirs.resize(2);
  r.dirs[0].dir_check = "/etc";
  r.dirs[0].error = "source: /srv/etc: Permission denied";
  r.dirs[1].dir_check = "/var";
  const std::string text = RunReportText(r);
  EXPECT_THAT(text, HasSubstr("could not be verified: source: /srv/etc"));
  EXPECT_THAT(text,
              HasSubstr("NOT VERIFIED: 1 of 2 directories could not be read"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("DIFFERENCES FOUND")));
}

}  // namespace
}  // namespace sms::core
