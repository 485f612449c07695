#include "storage/states.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace sms::storage {
namespace {

using S = TaskState;
using E = TaskEvent;

// The task's state machine written out as the API documents it
// (docs/server.md, "Task states"), independently of kTaskTransitions.
std::optional<S> Expected(S from, E event) {
  switch (event) {
    case E::kCheckQueued:
      if (from == S::kReady || from == S::kAbort) return S::kRunning;
      return std::nullopt;
    case E::kQueuedCheckStopped:
      if (from == S::kRunning) return S::kAbort;
      return std::nullopt;
    case E::kQueuedCheckSkipped:
      if (from == S::kRunning) return S::kReady;
      return std::nullopt;
    case E::kStopQueued:
      if (from == S::kRunning) return S::kAborting;
      return std::nullopt;
    case E::kStopAcknowledged:
      if (from == S::kAborting) return S::kAbort;
      return std::nullopt;
    case E::kCheckFailed:
      if (from == S::kRunning) return S::kReady;
      return std::nullopt;
    case E::kRunCommitted:
      if (from == S::kRunning || from == S::kAborting) return S::kReady;
      return std::nullopt;
  }
  return std::nullopt;
}

TEST(StatesTest, EveryTaskStateAndEventPairFollowsTheTable) {
  int pairs = 0;
  for (S from : kTaskStates) {
    for (E event : kTaskEvents) {
      ++pairs;
      EXPECT_EQ(NextTaskState(from, event), Expected(from, event))
          << ToText(from) << " on event " << static_cast<int>(event);
    }
  }
  EXPECT_EQ(pairs, 4 * 7);
}

TEST(StatesTest, TaskTableHasOneRowPerPairAndNoDeadEnd) {
  std::set<std::pair<S, E>> seen;
  for (const TaskTransition& t : kTaskTransitions)
    EXPECT_TRUE(seen.emplace(t.from, t.event).second)
        << "two rows for " << ToText(t.from);
  // Every state is reachable from READY, and READY from every state.
  std::map<S, std::set<S>> next;
  for (const TaskTransition& t : kTaskTransitions) next[t.from].insert(t.to);
  auto reachable = [&](S start) {
    std::set<S> out{start};
    for (bool grew = true; grew;) {
      grew = false;
      for (S s : std::set<S>(out))
        for (S n : next[s]) grew |= out.insert(n).second;
    }
    return out;
  };
  EXPECT_EQ(reachable(S::kReady).size(), std::size(kTaskStates));
  for (S s : kTaskStates)
    EXPECT_TRUE(reachable(s).count(S::kReady)) << ToText(s);
}

TEST(StatesTest, EveryCommandStateAndEventPairFollowsTheTable) {
  using C = CommandState;
  using V = CommandEvent;
  auto expected = [](C from, V event) -> std::optional<C> {
    switch (event) {
      case V::kPolled:
        return from == C::kPending ? std::optional(C::kDelivered)
                                   : std::nullopt;
      case V::kCancelled:
        return from == C::kPending ? std::optional(C::kCancelled)
                                   : std::nullopt;
      case V::kResultPosted:
        return from == C::kDelivered ? std::optional(C::kDone) : std::nullopt;
      case V::kRunCommitted:
        return from == C::kPending || from == C::kDelivered
                   ? std::optional(C::kDone)
                   : std::nullopt;
    }
    return std::nullopt;
  };
  for (C from : kCommandStates)
    for (V event : kCommandEvents)
      EXPECT_EQ(NextCommandState(from, event), expected(from, event))
          << ToText(from) << " on event " << static_cast<int>(event);
  // done and cancelled are final.
  for (V event : kCommandEvents) {
    EXPECT_EQ(NextCommandState(C::kDone, event), std::nullopt);
    EXPECT_EQ(NextCommandState(C::kCancelled, event), std::nullopt);
  }
}

template <typename T, size_t N, typename Parse>
void ExpectRoundTrip(const T (&values)[N], Parse parse) {
  std::set<std::string> texts;
  for (T v : values) {
    std::string text(ToText(v));
    EXPECT_TRUE(texts.insert(text).second) << "duplicate text " << text;
    EXPECT_EQ(parse(text), v) << text;
  }
  EXPECT_EQ(parse(""), std::nullopt);
  EXPECT_EQ(parse("unknown"), std::nullopt);
}

TEST(StatesTest, TextRoundTripsAndUnknownTextIsRejected) {
  ExpectRoundTrip(kTaskStates, ParseTaskState);
  ExpectRoundTrip(kCommandStates, ParseCommandState);
  ExpectRoundTrip(kCommandNames, ParseCommandName);
  ExpectRoundTrip(kRoles, ParseRole);
  // The wire text is the API's (spec/API.md): case matters.
  EXPECT_EQ(ToText(TaskState::kAborting), "ABORTING");
  EXPECT_EQ(ParseTaskState("ready"), std::nullopt);
  EXPECT_EQ(ToText(CommandState::kCancelled), "cancelled");
  EXPECT_EQ(ToText(CommandName::kConsistencyCheck), "CONSISTENCY_CHECK");
  EXPECT_EQ(ToText(Role::kAgent), "agent");
}

}  // namespace
}  // namespace sms::storage
