// ResultService without HTTP or JSON: uploads (idempotent by run id),
// reads, and the staging of file-level details, over a real SQLite store
// (service_fixture.h).
#include "server/result_service.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "server/service_fixture.h"
#include "server/task_service.h"

namespace sms::server {
namespace {

using storage::Role;
using storage::TaskState;

constexpr char kRunId[] = "0190a0b0-c0d0-7e0f-8a1b-2c3d4e5f6a7b";

class ResultServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    tasks_ = std::make_unique<TaskService>(*store_, clock_);
    results_ = std::make_unique<ResultService>(*store_, clock_, *tasks_);
    CreateTaskRequest r;
    r.name = "nightly";
    r.os_type = "LINUX";
    r.source_id = kSourceId;
    r.target_name = "t";
    r.target_verify_uri = "file:///copy";
    auto t = tasks_->CreateTask(As(Role::kOperator), r);
    ASSERT_THAT(t, ApiOk());
    task_id_ = t->id;
  }

  static ResultUpload Upload(int64_t different, const std::string& hash) {
    ResultUpload u;
    u.run_id = kRunId;
    u.started_time = 1000;
    u.finished_time = 2000;
    storage::DirResult d;
    d.dir_check = "/data";
    d.num_total_files = 10;
    d.num_different_files = different;
    u.dirs.push_back(d);
    u.content_hash = hash;  // the codec's hash of the canonical body
    return u;
  }

  static storage::DetailChunk Chunk(int64_t seq, int files) {
    storage::DetailChunk c;
    c.run_id = kRunId;
    c.seq = seq;
    c.content_hash = "chunk-" + std::to_string(seq);
    for (int i = 0; i < files; ++i) {
      storage::FileDetail f;
      f.dir_check = "/data";
      f.path = "f" + std::to_string(seq) + "-" + std::to_string(i);
      f.status = i % 2 ? "different" : "target_miss";
      c.files.push_back(f);
    }
    return c;
  }

  std::unique_ptr<TaskService> tasks_;
  std::unique_ptr<ResultService> results_;
  std::string task_id_;
};

TEST_F(ResultServiceTest, AnUploadIsCommittedOnceAndReadBack) {
  auto up = results_->Upload(As(Role::kAgent), task_id_, Upload(1, "h1"));
  ASSERT_THAT(up, ApiOk());
  EXPECT_TRUE(up->committed);
  EXPECT_EQ(up->run_id, kRunId);
  EXPECT_EQ(results_->runs_committed(), 1);

  // The same content again: acknowledged, nothing stored.
  auto again = results_->Upload(As(Role::kAgent), task_id_, Upload(1, "h1"));
  ASSERT_THAT(again, ApiOk());
  EXPECT_FALSE(again->committed);
  EXPECT_EQ(results_->runs_committed(), 1);
  // Other content under the same run id: a conflict.
  EXPECT_THAT(results_->Upload(As(Role::kAgent), task_id_, Upload(2, "h2")),
              ApiFails(ApiCode::kConflict, "already committed"));

  auto runs = results_->Get(As(Role::kViewer), task_id_, 100);
  ASSERT_THAT(runs, ApiOk());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].run_id, kRunId);
  EXPECT_EQ((*runs)[0].check_result, "success");
  ASSERT_EQ((*runs)[0].dirs.size(), 1u);
  EXPECT_EQ((*runs)[0].dirs[0].num_different_files, 1);
}

TEST_F(ResultServiceTest, MissingFieldsGetTheirDefaults) {
  ResultUpload u;
  u.content_hash = "empty";
  clock_.Advance(std::chrono::seconds(1));
  auto up = results_->Upload(As(Role::kAgent), task_id_, u);
  ASSERT_THAT(up, ApiOk());
  EXPECT_EQ(up->run_id.size(), 36u);  // a new run id
  auto run = store_->GetRun("d1", up->run_id);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->finished_time, clock_.NowEpochMillis());
  EXPECT_EQ(run->started_time, run->finished_time);
  EXPECT_EQ(run->check_result, "success");
}

TEST_F(ResultServiceTest, AnUploadIsCheckedBeforeAnythingIsStored) {
  ResultUpload late = Upload(0, "h");
  late.started_time = 3000;
  EXPECT_THAT(results_->Upload(As(Role::kAgent), task_id_, late),
              ApiFails(ApiCode::kMalformed, "started_time"));
  EXPECT_THAT(results_->Upload(As(Role::kViewer), task_id_, Upload(0, "h")),
              ApiFails(ApiCode::kForbidden, ""));
  Identity stranger = As(Role::kAgent);
  stranger.user_id = "agent-2";
  EXPECT_THAT(results_->Upload(stranger, task_id_, Upload(0, "h")),
              ApiFails(ApiCode::kForbidden, "source is not yours"));
  EXPECT_THAT(results_->Upload(As(Role::kAgent), kSourceId, Upload(0, "h")),
              ApiFails(ApiCode::kNotFound, "task"));
  EXPECT_EQ(results_->runs_committed(), 0);
}

TEST_F(ResultServiceTest, TheCurrentRunsResultReturnsTheTaskToReady) {
  ASSERT_THAT(tasks_->SetConfiguration(As(Role::kOperator), task_id_,
                                       {{"CONSISTENCY_DIR", "/data"}}),
              ApiOk());
  auto queued =
      tasks_->RunAction(As(Role::kOperator), task_id_, {"consistency_check"});
  ASSERT_THAT(queued, ApiOk());
  ResultUpload u = Upload(0, "h");
  u.run_id = queued->run_id;
  ASSERT_THAT(results_->Upload(As(Role::kAgent), task_id_, u), ApiOk());
  auto t = store_->GetTask("d1", task_id_);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->state, TaskState::kReady);
}

TEST_F(ResultServiceTest, AnUncheckedTaskHasNoRunsAndAMissingOneIsNotFound) {
  auto runs = results_->Get(As(Role::kViewer), task_id_, 10);
  ASSERT_THAT(runs, ApiOk());
  EXPECT_TRUE(runs->empty());
  EXPECT_THAT(results_->Get(As(Role::kViewer), kSourceId, 10),
              ApiFails(ApiCode::kNotFound, "task"));
  EXPECT_THAT(results_->Get(As(Role::kAgent), task_id_, 10),
              ApiFails(ApiCode::kForbidden, ""));
}

TEST_F(ResultServiceTest, DetailsAreStagedThenListedPageByPage) {
  auto staged =
      results_->UploadDetails(As(Role::kAgent), task_id_, Chunk(0, 3));
  ASSERT_THAT(staged, ApiOk());
  EXPECT_TRUE(staged->staged);
  EXPECT_EQ(staged->count, 3);
  auto repeat =
      results_->UploadDetails(As(Role::kAgent), task_id_, Chunk(0, 3));
  ASSERT_THAT(repeat, ApiOk());
  EXPECT_FALSE(repeat->staged);
  storage::DetailChunk other = Chunk(0, 3);
  other.content_hash = "something else";
  EXPECT_THAT(results_->UploadDetails(As(Role::kAgent), task_id_, other),
              ApiFails(ApiCode::kConflict, "seq: chunk 0"));
  ASSERT_THAT(results_->UploadDetails(As(Role::kAgent), task_id_, Chunk(1, 2)),
              ApiOk());

  // Not visible before the run is committed.
  DetailListQuery q;
  EXPECT_THAT(results_->ListDetails(As(Role::kViewer), task_id_, q),
              ApiFails(ApiCode::kNotFound, "run"));
  ASSERT_THAT(results_->Upload(As(Role::kAgent), task_id_, Upload(5, "h")),
              ApiOk());
  EXPECT_THAT(results_->UploadDetails(As(Role::kAgent), task_id_, Chunk(2, 1)),
              ApiFails(ApiCode::kBadState, "already committed"));

  q.limit = 4;
  auto page = results_->ListDetails(As(Role::kViewer), task_id_, q);
  ASSERT_THAT(page, ApiOk());
  EXPECT_EQ(page->run_id, kRunId);
  EXPECT_EQ(page->total, 5);
  EXPECT_EQ(page->rows.size(), 4u);
  EXPECT_TRUE(page->more);
  q.after_seq = page->rows.back().seq;
  q.after_idx = page->rows.back().idx;
  auto rest = results_->ListDetails(As(Role::kViewer), task_id_, q);
  ASSERT_THAT(rest, ApiOk());
  ASSERT_EQ(rest->rows.size(), 1u);
  EXPECT_EQ(rest->rows[0].file.path, "f1-1");
  EXPECT_FALSE(rest->more);

  DetailListQuery filtered;
  filtered.status = "different";
  auto different = results_->ListDetails(As(Role::kViewer), task_id_, filtered);
  ASSERT_THAT(different, ApiOk());
  EXPECT_EQ(different->total, 2);
}

TEST_F(ResultServiceTest, AnAgentReadsTheDetailsOfItsOwnSourcesTasksOnly) {
  ASSERT_THAT(results_->UploadDetails(As(Role::kAgent), task_id_, Chunk(0, 2)),
              ApiOk());
  ASSERT_THAT(results_->Upload(As(Role::kAgent), task_id_, Upload(2, "h")),
              ApiOk());
  // A re-check of scope "inconsistent" pages the base run's details.
  auto own = results_->ListDetails(As(Role::kAgent), task_id_, {});
  ASSERT_THAT(own, ApiOk());
  EXPECT_EQ(own->total, 2);
  Identity stranger = As(Role::kAgent);
  stranger.user_id = "agent-2";
  EXPECT_THAT(results_->ListDetails(stranger, task_id_, {}),
              ApiFails(ApiCode::kForbidden, "source is not yours"));
  // The run list and exports stay for readers.
  EXPECT_THAT(results_->Get(As(Role::kAgent), task_id_, 10),
              ApiFails(ApiCode::kForbidden, "sms:task:getResult"));
}

TEST_F(ResultServiceTest, ARunIdOfAnotherTaskIsNotFound) {
  ASSERT_THAT(results_->Upload(As(Role::kAgent), task_id_, Upload(0, "h")),
              ApiOk());
  DetailListQuery q;
  q.run_id = "not-a-uuid";
  EXPECT_THAT(results_->ListDetails(As(Role::kViewer), task_id_, q),
              ApiFails(ApiCode::kMalformed, "run_id"));
  CreateTaskRequest r;
  r.name = "other";
  r.os_type = "LINUX";
  r.source_id = kSourceId;
  r.target_name = "t";
  auto other = tasks_->CreateTask(As(Role::kOperator), r);
  ASSERT_THAT(other, ApiOk());
  q.run_id = kRunId;
  EXPECT_THAT(results_->ListDetails(As(Role::kViewer), other->id, q),
              ApiFails(ApiCode::kNotFound, "run"));
}

}  // namespace
}  // namespace sms::server
