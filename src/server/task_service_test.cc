// TaskService without HTTP or JSON: typed requests in, typed values out,
// over a real SQLite store in a scratch directory (service_fixture.h).
#include "server/task_service.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "server/codec/task_codec.h"
#include "server/command_service.h"
#include "server/service_fixture.h"

namespace sms::server {
namespace {

using storage::CommandName;
using storage::CommandState;
using storage::Role;
using storage::TaskState;

class TaskServiceTest : public ServiceTest {
 protected:
  static CreateTaskRequest Request(const std::string& name = "nightly") {
    CreateTaskRequest r;
    r.name = name;
    r.os_type = "LINUX";
    r.source_id = kSourceId;
    r.target_name = "target-1";
    r.target_verify_uri = "file:///srv/copy";
    return r;
  }

  // A task with CONSISTENCY_DIR set, ready to be checked.
  std::string ReadyTask() {
    auto t = service_->CreateTask(As(Role::kOperator), Request());
    EXPECT_THAT(t, ApiOk());
    EXPECT_THAT(service_->SetConfiguration(As(Role::kOperator), t->id,
                                           {{"CONSISTENCY_DIR", "/data,/etc"}}),
                ApiOk());
    return t->id;
  }

  ApiResult<ActionOutcome> Act(const std::string& id, const std::string& op) {
    return service_->RunAction(As(Role::kOperator), id, ActionRequest{op});
  }

  TaskState StateOf(const std::string& id) {
    auto t = store_->GetTask("d1", id);
    EXPECT_TRUE(t.has_value());
    return t ? t->state : TaskState::kReady;
  }

  void SetUp() override {
    ServiceTest::SetUp();
    service_ = std::make_unique<TaskService>(*store_, clock_);
  }

  std::unique_ptr<TaskService> service_;
};

TEST_F(TaskServiceTest, CreateTaskStoresAReadyTaskInTheCallersDomain) {
  auto t = service_->CreateTask(As(Role::kOperator), Request());
  ASSERT_THAT(t, ApiOk());
  EXPECT_EQ(t->state, TaskState::kReady);
  EXPECT_EQ(t->domain_id, "d1");
  EXPECT_EQ(t->type, "MIGRATE_FILE");
  EXPECT_TRUE(t->is_need_consistency_check);
  auto stored = store_->GetTask("d1", t->id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->name, "nightly");
  EXPECT_EQ(stored->target_verify_uri, "file:///srv/copy");
  EXPECT_EQ(stored->state, TaskState::kReady);
}

TEST_F(TaskServiceTest, CreateTaskNeedsTheWriteRole) {
  for (Role role : {Role::kViewer, Role::kAgent}) {
    EXPECT_THAT(service_->CreateTask(As(role), Request()),
                ApiFails(ApiCode::kForbidden, ""))
        << storage::ToText(role);
  }
}

TEST_F(TaskServiceTest, ASourceOfAnotherDomainIsNotFound) {
  ASSERT_TRUE(store_->CreateDomain({"d2", "other", 1}));
  EXPECT_THAT(service_->CreateTask(As(Role::kAdmin, "d2"), Request()),
              ApiFails(ApiCode::kNotFound, "source"));
}

TEST_F(TaskServiceTest, ListTasksFiltersPagesAndNamesTheSource) {
  for (const char* name : {"a", "b", "c"})
    ASSERT_THAT(service_->CreateTask(As(Role::kOperator), Request(name)),
                ApiOk());
  storage::TaskFilter all;
  auto page = service_->ListTasks(As(Role::kViewer), all);
  ASSERT_THAT(page, ApiOk());
  EXPECT_EQ(page->count, 3);
  ASSERT_EQ(page->items.size(), 3u);
  for (const TaskView& v : page->items) EXPECT_EQ(v.source_name, "web01");

  storage::TaskFilter by_name;
  by_name.name = "b";
  page = service_->ListTasks(As(Role::kViewer), by_name);
  ASSERT_THAT(page, ApiOk());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].task.name, "b");

  storage::TaskFilter paged;
  paged.limit = 2;
  paged.offset = 2;
  page = service_->ListTasks(As(Role::kViewer), paged);
  ASSERT_THAT(page, ApiOk());
  EXPECT_EQ(page->count, 3);
  EXPECT_EQ(page->items.size(), 1u);

  EXPECT_THAT(service_->ListTasks(As(Role::kAgent), all),
              ApiFails(ApiCode::kForbidden, ""));
}

TEST_F(TaskServiceTest, ShowAndDeleteStayInTheCallersDomain) {
  auto t = service_->CreateTask(As(Role::kOperator), Request());
  ASSERT_THAT(t, ApiOk());
  auto shown = service_->ShowTask(As(Role::kViewer), t->id);
  ASSERT_THAT(shown, ApiOk());
  EXPECT_EQ(shown->task.id, t->id);
  EXPECT_EQ(shown->source_name, "web01");

  ASSERT_TRUE(store_->CreateDomain({"d2", "other", 1}));
  EXPECT_THAT(service_->ShowTask(As(Role::kAdmin, "d2"), t->id),
              ApiFails(ApiCode::kNotFound, "task"));
  EXPECT_THAT(service_->DeleteTask(As(Role::kAdmin, "d2"), t->id),
              ApiFails(ApiCode::kNotFound, "task"));
  EXPECT_THAT(service_->DeleteTask(As(Role::kViewer), t->id),
              ApiFails(ApiCode::kForbidden, ""));
  EXPECT_THAT(service_->DeleteTask(As(Role::kOperator), t->id), ApiOk());
  EXPECT_THAT(service_->ShowTask(As(Role::kViewer), t->id),
              ApiFails(ApiCode::kNotFound, "task"));
}

TEST_F(TaskServiceTest, ConfigurationIsStoredAndReadBackByKey) {
  auto t = service_->CreateTask(As(Role::kOperator), Request());
  ASSERT_THAT(t, ApiOk());
  ASSERT_THAT(service_->SetConfiguration(As(Role::kOperator), t->id,
                                         {{"CONSISTENCY_DIR", "/data"},
                                          {"CONSISTENCY_MODE", "quick"}}),
              ApiOk());
  auto all = service_->GetConfiguration(As(Role::kViewer), t->id, std::nullopt);
  ASSERT_THAT(all, ApiOk());
  EXPECT_EQ(all->size(), 2u);
  auto one = service_->GetConfiguration(As(Role::kViewer), t->id,
                                        std::string("CONSISTENCY_MODE"));
  ASSERT_THAT(one, ApiOk());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].value, "quick");
  EXPECT_THAT(service_->SetConfiguration(As(Role::kViewer), t->id, {}),
              ApiFails(ApiCode::kForbidden, ""));
  EXPECT_THAT(
      service_->GetConfiguration(As(Role::kViewer), kSourceId, std::nullopt),
      ApiFails(ApiCode::kNotFound, "task"));
}

TEST_F(TaskServiceTest, AConsistencyCheckIsQueuedWithTheTasksSettings) {
  auto t = service_->CreateTask(As(Role::kOperator), Request());
  ASSERT_THAT(t, ApiOk());
  EXPECT_THAT(Act(t->id, "consistency_check"),
              ApiFails(ApiCode::kBadState, "configure CONSISTENCY_DIR first"));
  ASSERT_THAT(service_->SetConfiguration(As(Role::kOperator), t->id,
                                         {{"CONSISTENCY_DIR", "/data/,/data/x"},
                                          {"CONSISTENCY_HASH", "sha256"}}),
              ApiOk());
  auto queued = Act(t->id, "consistency_check");
  ASSERT_THAT(queued, ApiOk());
  EXPECT_EQ(queued->run_id.size(), 36u);
  EXPECT_EQ(StateOf(t->id), TaskState::kRunning);
  auto cmd = store_->LatestTaskCommand("d1", t->id);
  ASSERT_TRUE(cmd.has_value());
  EXPECT_EQ(cmd->name, CommandName::kConsistencyCheck);
  EXPECT_EQ(cmd->state, CommandState::kPending);
  EXPECT_EQ(cmd->run_id, queued->run_id);
  // The agent's param: /data/x is inside /data, the trailing / goes.
  EXPECT_NE(cmd->param_json.find(R"("dirs":["/data"])"), std::string::npos)
      << cmd->param_json;
  EXPECT_NE(cmd->param_json.find(R"("hash_algorithm":"sha256")"),
            std::string::npos);
  EXPECT_NE(cmd->param_json.find(R"("verify_uri":"file:///srv/copy")"),
            std::string::npos);

  EXPECT_THAT(Act(t->id, "consistency_check"),
              ApiFails(ApiCode::kBadState, "already queued or running"));
}

TEST_F(TaskServiceTest, ACheckNeedsATarget) {
  CreateTaskRequest r = Request();
  r.target_verify_uri.clear();
  auto t = service_->CreateTask(As(Role::kOperator), r);
  ASSERT_THAT(t, ApiOk());
  EXPECT_THAT(Act(t->id, "consistency_check"),
              ApiFails(ApiCode::kBadState, "verify_uri is not set"));
}

TEST_F(TaskServiceTest, StopAndSkipCancelAQueuedCheck) {
  const std::string stopped = ReadyTask();
  ASSERT_THAT(Act(stopped, "consistency_check"), ApiOk());
  ASSERT_THAT(Act(stopped, "stop"), ApiOk());
  EXPECT_EQ(StateOf(stopped), TaskState::kAbort);

  const std::string skipped = ReadyTask();
  ASSERT_THAT(Act(skipped, "consistency_check"), ApiOk());
  ASSERT_THAT(Act(skipped, "skip"), ApiOk());
  EXPECT_EQ(StateOf(skipped), TaskState::kReady);
  EXPECT_THAT(Act(skipped, "stop"),
              ApiFails(ApiCode::kBadState, "no check is queued or running"));
}

TEST_F(TaskServiceTest, StopOfADeliveredCheckQueuesAStopForTheAgent) {
  const std::string id = ReadyTask();
  ASSERT_THAT(Act(id, "consistency_check"), ApiOk());
  CommandService commands(*store_, clock_);
  auto polled = commands.PollCommand(As(Role::kAgent), kSourceId);
  ASSERT_THAT(polled, ApiOk());
  ASSERT_TRUE(polled->has_value());

  EXPECT_THAT(Act(id, "skip"),
              ApiFails(ApiCode::kBadState, "the check is already running"));
  ASSERT_THAT(Act(id, "stop"), ApiOk());
  EXPECT_EQ(StateOf(id), TaskState::kAborting);
  auto stop = store_->LatestTaskCommand("d1", id);
  ASSERT_TRUE(stop.has_value());
  EXPECT_EQ(stop->name, CommandName::kStop);
  EXPECT_EQ(stop->run_id, (*polled)->run_id);
}

TEST_F(TaskServiceTest, MigrationOperationsAreRefusedAndOthersMalformed) {
  const std::string id = ReadyTask();
  EXPECT_THAT(Act(id, "start"), ApiFails(ApiCode::kBadState, "not migrate"));
  EXPECT_THAT(Act(id, "explode"),
              ApiFails(ApiCode::kMalformed,
                       "operation: must be one of consistency_check"));
  EXPECT_THAT(service_->RunAction(As(Role::kViewer), id, {"consistency_check"}),
              ApiFails(ApiCode::kForbidden, ""));
}

TEST(TaskCodecTest, DecodeCreateTaskNamesTheBadField) {
  auto ok = DecodeCreateTask(json::parse(R"({"name":"n","os_type":"WINDOWS",
        "source_server":{"id":"5b6f1c9e-0d1a-4c2b-9f3e-7a8b9c0d1e2f"},
        "target_server":{"name":"t","ip":"10.0.0.2"},
        "is_need_consistency_check":false})")
                                 .as_object());
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->os_type, "WINDOWS");
  EXPECT_EQ(ok->target_ip, "10.0.0.2");
  EXPECT_EQ(ok->type, "MIGRATE_FILE");
  EXPECT_FALSE(ok->is_need_consistency_check);

  struct Case {
    const char* body;
    const char* message;
  };
  const Case cases[] = {
      {R"({"os_type":"LINUX"})", "name: is required"},
      {R"({"name":"n","os_type":"AIX"})", "os_type"},
      {R"({"name":"n","os_type":"LINUX","source_server":{"id":"X"}})",
       "source_server.id"},
      {R"({"name":"n","os_type":"LINUX",
          "source_server":{"id":"5b6f1c9e-0d1a-4c2b-9f3e-7a8b9c0d1e2f"},
          "target_server":{"name":"t","verify_uri":"http://x"}})",
       "target_server.verify_uri: must start with file:/// or ssh://"},
  };
  for (const Case& c : cases) {
    auto r = DecodeCreateTask(json::parse(c.body).as_object());
    ASSERT_FALSE(r.has_value()) << c.body;
    EXPECT_NE(r.error().message.find(c.message), std::string::npos)
        << r.error().message;
  }
}

TEST(TaskCodecTest, DecodeConfigurationsAppliesTheSettingRules) {
  auto ok = DecodeConfigurations(json::parse(R"({"configurations":[
      {"config_key":"CONSISTENCY_DIR","config_value":"/a,/b"},
      {"config_key":"CONSISTENCY_IO_LIMIT","config_value":"50"}]})")
                                     .as_object());
  ASSERT_THAT(ok, ApiOk());
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[1].key, "CONSISTENCY_IO_LIMIT");
  const std::pair<const char*, const char*> bad[] = {
      {R"({"configurations":[{"config_key":"X","config_value":"1"}]})",
       "configurations[0].config_key: must be one of"},
      {R"({"configurations":[{"config_key":"CONSISTENCY_DIR",
           "config_value":"/ok"},{"config_key":"CONSISTENCY_MODE",
           "config_value":"slow"}]})",
       "configurations[1].config_value"},
      {R"({"configurations":[{"config_key":"CONSISTENCY_DIR",
           "config_value":"rel"}]})",
       "is not an absolute path"},
  };
  for (const auto& [body, message] : bad) {
    EXPECT_THAT(DecodeConfigurations(json::parse(body).as_object()),
                ApiFails(ApiCode::kMalformed, message));
  }
}

TEST(TaskCodecTest, EncodeTaskShowsTheStateAsTheApiSpellsIt) {
  storage::Task t;
  t.id = "t1";
  t.state = TaskState::kAborting;
  t.current_run_id = "r1";
  json::value v = EncodeTask(t, "web01");
  EXPECT_EQ(v.at("state"), "ABORTING");
  EXPECT_EQ(v.at("source_server").at("name"), "web01");
  EXPECT_EQ(v.at("current_run_id"), "r1");
  t.current_run_id.clear();
  EXPECT_FALSE(EncodeTask(t, "").as_object().contains("current_run_id"));
}

// Issue 13.1 / 13.3: the schedule's fields and the cut-over verdict.
TEST(TaskCodecTest, EncodeTaskShowsTheScheduleAndTheVerdict) {
  TaskView v;
  v.task.id = "t1";
  json::value plain = EncodeTask(v);
  EXPECT_FALSE(plain.as_object().contains("next_check_time"));
  EXPECT_EQ(plain.at("skipped_check_count"), 0);
  EXPECT_EQ(plain.at("cutover_readiness").at("status"), "not_ready");
  EXPECT_TRUE(plain.at("cutover_readiness").at("since").is_null());
  v.task.next_check_at = 1764633600000;
  v.task.skipped_checks = 3;
  v.readiness.status = schedule::ReadinessStatus::kStale;
  v.readiness.since_ms = 1764600000000;
  v.readiness.reasons = {"no consistent check for longer than ..."};
  json::value full = EncodeTask(v);
  EXPECT_EQ(full.at("next_check_time"), 1764633600000);
  EXPECT_EQ(full.at("skipped_check_count"), 3);
  EXPECT_EQ(full.at("cutover_readiness").at("status"), "stale");
  EXPECT_EQ(full.at("cutover_readiness").at("since"), 1764600000000);
  EXPECT_EQ(full.at("cutover_readiness").at("reasons").at(0),
            "no consistent check for longer than ...");
}

TEST(TaskCodecTest, TaskListSortsByReadinessOnRequest) {
  auto f = DecodeTaskListQuery({{"sort", "cutover_readiness"}});
  ASSERT_THAT(f, ApiOk());
  EXPECT_EQ(f->order, storage::TaskOrder::kReadiness);
  EXPECT_EQ(DecodeTaskListQuery({})->order, storage::TaskOrder::kNewest);
  EXPECT_EQ(DecodeTaskListQuery({{"sort", "create_date"}})->order,
            storage::TaskOrder::kNewest);
  EXPECT_THAT(DecodeTaskListQuery({{"sort", "name"}}),
              ApiFails(ApiCode::kMalformed, "sort"));
}

TEST(TaskCodecTest, ReadinessSettingsAreChecked) {
  EXPECT_THAT(CheckSetting("CONSISTENCY_READY_RUNS", "0", "k", "v"),
              ApiFails(ApiCode::kMalformed, "v: expected a whole number"));
  EXPECT_THAT(CheckSetting("CONSISTENCY_READY_RUNS", "3", "k", "v"), ApiOk());
  EXPECT_THAT(CheckSetting("CONSISTENCY_READY_MAX_AGE", "3 weeks", "k", "v"),
              ApiFails(ApiCode::kMalformed, "v: expected a duration"));
  EXPECT_THAT(CheckSetting("CONSISTENCY_READY_MAX_AGE", "36h", "k", "v"),
              ApiOk());
  EXPECT_THAT(CheckSetting("CONSISTENCY_SCHEDULE", "0 2 * *", "k", "v"),
              ApiFails(ApiCode::kMalformed, "v: schedule: expected 5 cron"));
  EXPECT_THAT(CheckSetting("CONSISTENCY_SCHEDULE", "", "k", "v"), ApiOk());
}

TEST_F(TaskServiceTest, ANewTaskIsNotReadyAndSaysWhy) {
  const std::string id = ReadyTask();
  auto shown = service_->ShowTask(As(Role::kViewer), id);
  ASSERT_THAT(shown, ApiOk());
  EXPECT_EQ(shown->readiness.status, schedule::ReadinessStatus::kNotReady);
  ASSERT_EQ(shown->readiness.reasons.size(), 1u);
  EXPECT_EQ(shown->readiness.reasons[0], "no successful full check yet");
  storage::TaskFilter by_readiness;
  by_readiness.order = storage::TaskOrder::kReadiness;
  auto page = service_->ListTasks(As(Role::kViewer), by_readiness);
  ASSERT_THAT(page, ApiOk());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].readiness.reasons.at(0),
            "no successful full check yet");
}

}  // namespace
}  // namespace sms::server
