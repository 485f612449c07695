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
  Heartbeats beats(*store_);
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
  Heartbeats beats(*store_);
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

}  // namespace
}  // namespace sms::server
