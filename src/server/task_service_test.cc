// TaskService without HTTP or JSON: typed requests in, typed values out,
// over a real SQLite store in a scratch directory.
#include "server/task_service.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "server/codec/task_codec.h"
#include "storage/sqlite/sqlite_store.h"
#include "testing/fake_clock.h"
#include "testing/matchers.h"
#include "testing/temp_dir.h"

namespace sms::server {
namespace {

using ::sms::testing::IsOk;
using storage::Role;
using storage::TaskState;

constexpr char kSourceId[] = "5b6f1c9e-0d1a-4c2b-9f3e-7a8b9c0d1e2f";

class TaskServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = storage::OpenSqliteStore(dir_.Join("sms.db"));
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
    ASSERT_THAT(store_->CreateDomain({"d1", "acme", 1}), IsOk());
    storage::Source src;
    src.id = kSourceId;
    src.domain_id = "d1";
    src.owner_user_id = "agent-1";
    src.name = "web01";
    src.hostname = "web01";
    src.os_type = "LINUX";
    ASSERT_THAT(store_->UpsertSource(src), IsOk());
    service_ = std::make_unique<TaskService>(*store_, clock_);
  }

  static Identity As(Role role, const std::string& domain = "d1") {
    return Identity{domain, "acme", "u1", "user", role, "token"};
  }

  static CreateTaskRequest Request() {
    CreateTaskRequest r;
    r.name = "nightly";
    r.os_type = "LINUX";
    r.source_id = kSourceId;
    r.target_name = "target-1";
    r.target_verify_uri = "file:///srv/copy";
    return r;
  }

  ::sms::testing::TempDir dir_;
  ::sms::testing::FakeClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<TaskService> service_;
};

TEST_F(TaskServiceTest, CreateTaskStoresAReadyTaskInTheCallersDomain) {
  auto t = service_->CreateTask(As(Role::kOperator), Request());
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->state, TaskState::kReady);
  EXPECT_EQ(t->domain_id, "d1");
  EXPECT_EQ(t->type, "MIGRATE_FILE");
  EXPECT_TRUE(t->is_need_consistency_check);
  auto stored = store_->GetTask("d1", t->id);
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(stored->name, "nightly");
  EXPECT_EQ(stored->target_verify_uri, "file:///srv/copy");
  EXPECT_EQ(stored->state, TaskState::kReady);
}

TEST_F(TaskServiceTest, CreateTaskNeedsTheWriteRole) {
  for (Role role : {Role::kViewer, Role::kAgent}) {
    auto t = service_->CreateTask(As(role), Request());
    ASSERT_FALSE(t.has_value()) << storage::ToText(role);
    EXPECT_EQ(t.error().code, ApiCode::kForbidden);
  }
}

TEST_F(TaskServiceTest, ASourceOfAnotherDomainIsNotFound) {
  ASSERT_THAT(store_->CreateDomain({"d2", "other", 1}), IsOk());
  auto t = service_->CreateTask(As(Role::kAdmin, "d2"), Request());
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code, ApiCode::kNotFound);
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

}  // namespace
}  // namespace sms::server
