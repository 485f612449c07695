// SourceService and CommandService without HTTP or JSON: registration,
// listing, the agent's poll and its command results, over a real SQLite
// store (service_fixture.h).
#include "server/source_service.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "server/command_service.h"
#include "server/service_fixture.h"
#include "server/task_service.h"

namespace sms::server {
namespace {

using storage::CommandName;
using storage::Role;
using storage::TaskState;

class SourceServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    sources_ = std::make_unique<SourceService>(*store_, clock_);
    commands_ = std::make_unique<CommandService>(*store_, clock_);
    tasks_ = std::make_unique<TaskService>(*store_, clock_);
  }

  static RegisterSourceRequest Registration(const std::string& name) {
    RegisterSourceRequest r;
    r.name = name;
    r.hostname = name + ".example";
    r.os_type = "LINUX";
    r.agent_version = "1.2.3";
    return r;
  }

  // A task of the fixture's source with a check queued.
  std::string QueuedCheck() {
    CreateTaskRequest r;
    r.name = "nightly";
    r.os_type = "LINUX";
    r.source_id = kSourceId;
    r.target_name = "t";
    r.target_verify_uri = "file:///copy";
    auto t = tasks_->CreateTask(As(Role::kOperator), r);
    EXPECT_THAT(t, ApiOk());
    EXPECT_THAT(tasks_->SetConfiguration(As(Role::kOperator), t->id,
                                         {{"CONSISTENCY_DIR", "/data"}}),
                ApiOk());
    EXPECT_THAT(
        tasks_->RunAction(As(Role::kOperator), t->id, {"consistency_check"}),
        ApiOk());
    return t->id;
  }

  TaskState StateOf(const std::string& id) {
    auto t = store_->GetTask("d1", id);
    EXPECT_TRUE(t.has_value());
    return t ? t->state : TaskState::kReady;
  }

  std::unique_ptr<SourceService> sources_;
  std::unique_ptr<CommandService> commands_;
  std::unique_ptr<TaskService> tasks_;
};

TEST_F(SourceServiceTest, RegisteringAgainKeepsTheSourcesId) {
  auto first = sources_->RegisterSource(As(Role::kAgent), Registration("db1"));
  ASSERT_THAT(first, ApiOk());
  EXPECT_EQ(first->owner_user_id, kAgentUser);
  EXPECT_EQ(first->agent_version, "1.2.3");
  clock_.Advance(std::chrono::seconds(5));
  auto again = sources_->RegisterSource(As(Role::kAgent), Registration("db1"));
  ASSERT_THAT(again, ApiOk());
  EXPECT_EQ(again->id, first->id);

  // Another agent may not take the source over.
  Identity other = As(Role::kAgent);
  other.user_id = "agent-2";
  EXPECT_THAT(sources_->RegisterSource(other, Registration("db1")),
              ApiFails(ApiCode::kForbidden, "registered by another agent"));
  EXPECT_THAT(sources_->RegisterSource(As(Role::kViewer), Registration("x")),
              ApiFails(ApiCode::kForbidden, ""));
}

TEST_F(SourceServiceTest, ListAndShowStayInTheDomain) {
  ASSERT_THAT(sources_->RegisterSource(As(Role::kAgent), Registration("db1")),
              ApiOk());
  storage::SourceFilter all;
  auto page = sources_->ListSources(As(Role::kViewer), all);
  ASSERT_THAT(page, ApiOk());
  EXPECT_EQ(page->count, 2);
  storage::SourceFilter by_name;
  by_name.name = "web01";
  page = sources_->ListSources(As(Role::kViewer), by_name);
  ASSERT_THAT(page, ApiOk());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, kSourceId);

  ASSERT_TRUE(store_->CreateDomain({"d2", "other", 1}));
  EXPECT_THAT(sources_->ShowSource(As(Role::kAdmin, "d2"), kSourceId),
              ApiFails(ApiCode::kNotFound, "source"));
  auto page2 = sources_->ListSources(As(Role::kAdmin, "d2"), all);
  ASSERT_THAT(page2, ApiOk());
  EXPECT_EQ(page2->count, 0);
}

TEST_F(SourceServiceTest, APollHandsEachCommandOverOnce) {
  auto none = commands_->PollCommand(As(Role::kAgent), kSourceId);
  ASSERT_THAT(none, ApiOk());
  EXPECT_FALSE(none->has_value());
  // The poll is the heartbeat.
  auto seen = store_->GetSource("d1", kSourceId);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->last_seen_at, clock_.NowEpochMillis());

  const std::string task_id = QueuedCheck();
  auto polled = commands_->PollCommand(As(Role::kAgent), kSourceId);
  ASSERT_THAT(polled, ApiOk());
  ASSERT_TRUE(polled->has_value());
  EXPECT_EQ((*polled)->name, CommandName::kConsistencyCheck);
  EXPECT_EQ((*polled)->task_id, task_id);
  auto again = commands_->PollCommand(As(Role::kAgent), kSourceId);
  ASSERT_THAT(again, ApiOk());
  EXPECT_FALSE(again->has_value());

  Identity other = As(Role::kAgent);
  other.user_id = "agent-2";
  EXPECT_THAT(commands_->PollCommand(other, kSourceId),
              ApiFails(ApiCode::kForbidden, "another agent"));
  EXPECT_THAT(commands_->PollCommand(As(Role::kViewer), kSourceId),
              ApiFails(ApiCode::kForbidden, ""));
}

TEST_F(SourceServiceTest, AFailedCheckReturnsTheTaskToReady) {
  const std::string task_id = QueuedCheck();
  const CommandResultRequest failed{.name = CommandName::kConsistencyCheck,
                                    .success = false,
                                    .result_detail = R"({"error":"x"})"};
  EXPECT_THAT(commands_->CommandResult(As(Role::kAgent), kSourceId, failed),
              ApiFails(ApiCode::kBadState, "no delivered CONSISTENCY_CHECK"));
  ASSERT_THAT(commands_->PollCommand(As(Role::kAgent), kSourceId), ApiOk());
  ASSERT_THAT(commands_->CommandResult(As(Role::kAgent), kSourceId, failed),
              ApiOk());
  EXPECT_EQ(StateOf(task_id), TaskState::kReady);
  auto cmd = store_->LatestTaskCommand("d1", task_id);
  ASSERT_TRUE(cmd.has_value());
  EXPECT_EQ(cmd->result, "fail");
  EXPECT_EQ(cmd->result_detail, R"({"error":"x"})");
}

TEST_F(SourceServiceTest, TheAgentsStopResultAbortsTheTask) {
  const std::string task_id = QueuedCheck();
  ASSERT_THAT(commands_->PollCommand(As(Role::kAgent), kSourceId), ApiOk());
  ASSERT_THAT(tasks_->RunAction(As(Role::kOperator), task_id, {"stop"}),
              ApiOk());
  EXPECT_EQ(StateOf(task_id), TaskState::kAborting);
  auto stop = commands_->PollCommand(As(Role::kAgent), kSourceId);
  ASSERT_THAT(stop, ApiOk());
  ASSERT_TRUE(stop->has_value());
  EXPECT_EQ((*stop)->name, CommandName::kStop);
  ASSERT_THAT(commands_->CommandResult(As(Role::kAgent), kSourceId,
                                       {.name = CommandName::kStop}),
              ApiOk());
  EXPECT_EQ(StateOf(task_id), TaskState::kAbort);
}

}  // namespace
}  // namespace sms::server
