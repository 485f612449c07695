#include "server/heartbeats.h"

#include <gtest/gtest.h>

#include <chrono>

#include "server/command_service.h"
#include "server/service_fixture.h"
#include "server/source_service.h"

namespace sms::server {
namespace {

class HeartbeatsTest : public ServiceTest {};

TEST_F(HeartbeatsTest, PollsAreWrittenAtTheFlushTheLatestOfEach) {
  Heartbeats beats(*store_, clock_);
  CommandService commands(*store_, clock_, &beats);
  SourceService sources(*store_, clock_, &beats);
  const int64_t registered = store_->GetSource("d1", kSourceId)->last_seen_at;
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_THAT(commands.PollCommand(As(Role::kAgent), kSourceId), ApiOk());
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_THAT(commands.PollCommand(As(Role::kAgent), kSourceId), ApiOk());
  const int64_t polled = clock_.NowEpochMillis();
  EXPECT_EQ(beats.pending(), 1u);
  // Not written yet, but this process shows it.
  EXPECT_EQ(store_->GetSource("d1", kSourceId)->last_seen_at, registered);
  auto shown = sources.ShowSource(As(Role::kViewer), kSourceId);
  ASSERT_THAT(shown, ApiOk());
  EXPECT_EQ(shown->last_seen_at, polled);
  auto listed = sources.ListSources(As(Role::kViewer), {});
  ASSERT_THAT(listed, ApiOk());
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].last_seen_at, polled);
  // Written in one flush.
  ASSERT_TRUE(beats.Flush());
  EXPECT_EQ(beats.pending(), 0u);
  EXPECT_EQ(store_->GetSource("d1", kSourceId)->last_seen_at, polled);
  ASSERT_TRUE(beats.Flush());  // nothing to write
}

TEST_F(HeartbeatsTest, TheLatestBeatOfASourceCounts) {
  Heartbeats beats(*store_, clock_);
  beats.Record("d1", kSourceId, 5000);
  beats.Record("d1", kSourceId, 4000);  // older, noted later
  beats.Record("d1", "unknown-source", 6000);
  EXPECT_EQ(beats.Latest("d1", kSourceId), 5000);
  EXPECT_EQ(beats.Latest("d2", kSourceId), 0);
  EXPECT_EQ(beats.pending(), 2u);
  ASSERT_TRUE(beats.Flush());  // the unknown source's beat is dropped
  EXPECT_EQ(store_->GetSource("d1", kSourceId)->last_seen_at, 5000);
  // A beat older than the stored one does not move it back.
  beats.Record("d1", kSourceId, 4500);
  ASSERT_TRUE(beats.Flush());
  EXPECT_EQ(store_->GetSource("d1", kSourceId)->last_seen_at, 5000);
}

// After its first, a source's latest beat is written once 30 s have passed
// since the one last written (every poll was a row to update: 2,000 a
// second under 10,000 agents); this process shows the latest all along,
// and FlushAll (at shutdown) writes what is left.
TEST_F(HeartbeatsTest, ASourceIsWrittenAgainOnlyEveryWriteInterval) {
  Heartbeats beats(*store_, clock_, /*write_every_ms=*/30000);
  SourceService sources(*store_, clock_, &beats);
  auto stored = [&] {
    return store_->GetSource("d1", kSourceId)->last_seen_at;
  };
  auto poll = [&] {
    beats.Record("d1", kSourceId, clock_.NowEpochMillis());
    return clock_.NowEpochMillis();
  };
  const int64_t first = poll();
  ASSERT_TRUE(beats.Flush());
  EXPECT_EQ(stored(), first);  // the first: at once
  clock_.Advance(std::chrono::seconds(5));
  poll();
  clock_.Advance(std::chrono::seconds(20));
  const int64_t latest = poll();
  ASSERT_TRUE(beats.Flush());
  EXPECT_EQ(stored(), first);  // 25 s after the last written: not yet
  EXPECT_EQ(beats.pending(), 1u);
  EXPECT_EQ(beats.Latest("d1", kSourceId), latest);
  EXPECT_EQ(sources.ShowSource(As(Role::kViewer), kSourceId)->last_seen_at,
            latest);
  clock_.Advance(std::chrono::seconds(5));  // no new poll: still written
  ASSERT_TRUE(beats.Flush());
  EXPECT_EQ(stored(), latest);
  EXPECT_EQ(beats.pending(), 0u);
  clock_.Advance(std::chrono::seconds(1));
  const int64_t last = poll();
  ASSERT_TRUE(beats.Flush());
  EXPECT_EQ(stored(), latest);
  ASSERT_TRUE(beats.FlushAll());
  EXPECT_EQ(stored(), last);
  EXPECT_EQ(beats.pending(), 0u);
}

}  // namespace
}  // namespace sms::server
