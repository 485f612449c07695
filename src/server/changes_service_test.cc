// Changes since the last run (issue 13.2) through ChangesService and its
// codec (server/codec/changes_codec.h), and retention (issue 13.5): the
// setting's grammar, the tenant's default (TenantSettingsService) and the
// worker, over the services' SQLite fixture (service_fixture.h).
#include "server/changes_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

#include "auth/crypto.h"
#include "server/codec/changes_codec.h"
#include "server/codec/tenant_settings_codec.h"
#include "server/retention.h"
#include "server/service_fixture.h"
#include "server/tenant_settings_service.h"
#include "testing/matchers.h"

namespace sms::server {
namespace {

using ::sms::testing::IsOk;
using ::testing::HasSubstr;

class ChangesTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    storage::Task t;
    t.id = task_;
    t.domain_id = "d1";
    t.name = "task";
    t.source_id = kSourceId;
    ASSERT_THAT(store_->CreateTask(t), IsOk());
    tasks_ = std::make_unique<TaskService>(*store_, clock_);
    changes_ = std::make_unique<ChangesService>(*store_, *tasks_);
  }

  // Commits a run of `dirs` that found `files` ({dir, path, status}) not
  // equal; returns its id.
  std::string Commit(int64_t started, std::vector<std::string> dirs,
                     std::vector<std::array<std::string, 3>> files,
                     const std::string& result = "success",
                     const std::string& scope = "",
                     const std::string& base_run_id = "") {
    return CommitTo(task_, started, std::move(dirs), std::move(files), result,
                    scope, base_run_id);
  }
  // Commit, for the task `task_id` of d1.
  std::string CommitTo(const std::string& task_id, int64_t started,
                       std::vector<std::string> dirs,
                       std::vector<std::array<std::string, 3>> files,
                       const std::string& result = "success",
                       const std::string& scope = "",
                       const std::string& base_run_id = "") {
    const std::string id = auth::NewUuid();
    storage::DetailChunk c;
    c.run_id = id;
    c.domain_id = "d1";
    c.task_id = task_id;
    c.content_hash = "h";
    for (const auto& f : files)
      c.files.push_back({f[0], f[1], "", f[2], "", "", ""});
    if (!files.empty()) {
      EXPECT_THAT(store_->StageDetails(c), IsOk());
    }
    storage::Run r;
    r.run_id = id;
    r.domain_id = "d1";
    r.task_id = task_id;
    r.started_time = started;
    r.check_result = result;
    r.scope = scope;
    r.base_run_id = base_run_id;
    r.content_hash = "c" + id;
    r.committed_at = started;
    for (const auto& d : dirs)
      r.dirs.push_back(
          {d, 10, static_cast<int64_t>(files.size()), 0, 0, 0, 0, 0, 1});
    EXPECT_THAT(store_->CommitRun(r), IsOk());
    return id;
  }

  // The query string decoded as the route does, then the service.
  ApiResult<ChangesPage> List(const QueryParams& q) {
    SMS_ASSIGN_OR_RETURN(ChangesRequest req, DecodeChangesQuery(q));
    return changes_->List(As(Role::kViewer), task_, std::move(req));
  }

  std::unique_ptr<TaskService> tasks_;
  std::unique_ptr<ChangesService> changes_;
  const std::string task_ = auth::NewUuid();
};

TEST_F(ChangesTest, DefaultsToTheLastTwoSuccessfulRunsOfOneScope) {
  const std::string a = Commit(1000, {"/a"}, {{"/a", "p", "different"}});
  Commit(1500, {"/a", "/b"}, {{"/b", "x", "different"}});  // other scope
  Commit(1700, {}, {}, "failed");
  const std::string b = Commit(
      2000, {"/a"}, {{"/a", "p", "different"}, {"/a", "q", "target_miss"}});
  auto out = List({});
  ASSERT_THAT(out, ApiOk());
  EXPECT_EQ(out->from.run_id, a);
  EXPECT_EQ(out->to.run_id, b);
  const std::vector<storage::ChangeRow>& rows = out->rows;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].change, "persisting");
  // The run of /a and /b at 1500 checked /a and found p equal: p's streak
  // began again at 2000, though it persists from the run of the same scope.
  EXPECT_EQ(rows[0].first_seen_time, 2000);
  EXPECT_EQ(rows[1].change, "new");
  EXPECT_EQ(rows[1].file.status, "target_miss");
  EXPECT_EQ(rows[1].first_seen_time, 2000);
  EXPECT_FALSE(out->more);

  // As the API shows it: each counter's change per directory.
  const json::value v = EncodeChangesPage(*out);
  const json::object& o = v.as_object();
  EXPECT_EQ(o.at("from_run_id").as_string(), a);
  const json::array& files = o.at("files").as_array();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].at("previous_status").as_string(), "different");
  EXPECT_EQ(files[1].at("first_seen_time").as_int64(), 2000);
  const json::array& dirs = o.at("directories").as_array();
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_EQ(dirs[0].at("num_different_files").at("from").as_int64(), 1);
  EXPECT_EQ(dirs[0].at("num_different_files").at("to").as_int64(), 2);
  EXPECT_EQ(dirs[0].at("num_different_files").at("change").as_int64(), 1);
  EXPECT_FALSE(o.contains("next_marker"));
}

TEST_F(ChangesTest, AReCheckIsComparedWithTheRunItReChecked) {
  const std::string full =
      Commit(1000, {"/a", "/b"},
             {{"/a", "p", "different"}, {"/b", "q", "target_miss"}});
  // The re-check found p equal now (only /a had p, /b's q still misses).
  const std::string recheck =
      Commit(2000, {"/a", "/b"}, {{"/b", "q", "target_miss"}}, "success",
             "inconsistent");
  auto out = List({{"to", recheck}});
  ASSERT_THAT(out, ApiOk());
  EXPECT_EQ(out->from.run_id, full);
  ASSERT_EQ(out->rows.size(), 2u);
  EXPECT_EQ(out->rows[0].change, "resolved");
  EXPECT_EQ(out->rows[0].from_status, "different");
  EXPECT_EQ(out->rows[1].change, "persisting");

  // The next full check is compared with the full check, not the re-check
  // (which listed only what it checked again).
  const std::string next =
      Commit(3000, {"/a", "/b"},
             {{"/a", "r", "different"}, {"/b", "q", "target_miss"}});
  auto latest = List({});
  ASSERT_THAT(latest, ApiOk());
  EXPECT_EQ(latest->from.run_id, full);
  EXPECT_EQ(latest->to.run_id, next);
}

// Issue 12.5: a re-check queued before the newest full check finished
// re-checked an older run; it names it, and is compared with it.
TEST_F(ChangesTest, AReCheckIsComparedWithTheBaseRunItNames) {
  const std::string older =
      Commit(1000, {"/a"}, {{"/a", "p", "different"}, {"/a", "q", "error"}});
  Commit(1500, {"/a"}, {{"/a", "q", "error"}});
  const std::string recheck = Commit(2000, {"/a"}, {{"/a", "q", "error"}},
                                     "success", "inconsistent", older);
  auto out = List({{"to", recheck}});
  ASSERT_THAT(out, ApiOk());
  EXPECT_EQ(out->from.run_id, older);
  ASSERT_EQ(out->rows.size(), 2u);
  EXPECT_EQ(out->rows[0].change, "resolved");
  EXPECT_EQ(out->rows[1].change, "persisting");
}

TEST_F(ChangesTest, PagesWithMarkersAndChecksTheQuery) {
  std::vector<std::array<std::string, 3>> before, after;
  for (int i = 0; i < 25; ++i) {
    const std::string name = "dir/file " + std::to_string(100 + i);
    if (i % 2) before.push_back({"/a", name, "different"});
    if (i % 3) after.push_back({"/a", name, "different"});
  }
  const std::string a = Commit(1000, {"/a"}, before);
  const std::string b = Commit(2000, {"/a"}, after);
  std::vector<std::string> seen;
  QueryParams q{{"limit", "4"}, {"from", a}, {"to", b}};
  for (int page = 0; page < 20; ++page) {
    auto out = List(q);
    ASSERT_THAT(out, ApiOk());
    for (const auto& r : out->rows) seen.push_back(r.file.path);
    const json::value v = EncodeChangesPage(*out);
    EXPECT_EQ(v.as_object().contains("next_marker"), out->more);
    if (!out->more) break;
    q["marker"] = std::string(v.as_object().at("next_marker").as_string());
  }
  // Every file in either run, once, in order.
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  int expected = 0;
  for (int i = 0; i < 25; ++i) expected += (i % 2 || i % 3) ? 1 : 0;
  EXPECT_EQ(static_cast<int>(seen.size()), expected);

  // The codec names the parameter; the service the missing run.
  EXPECT_THAT(DecodeChangesQuery({{"change", "gone"}}),
              ApiFails(ApiCode::kMalformed, "change"));
  EXPECT_THAT(DecodeChangesQuery({{"marker", "!!"}}),
              ApiFails(ApiCode::kMalformed, "marker"));
  EXPECT_THAT(DecodeChangesQuery({{"from", "nope"}}),
              ApiFails(ApiCode::kMalformed, "from"));
  EXPECT_THAT(DecodeChangesQuery({{"limit", "0"}}),
              ApiFails(ApiCode::kMalformed, "limit"));
  EXPECT_THAT(List({{"from", auth::NewUuid()}, {"to", b}}),
              ApiFails(ApiCode::kNotFound, "run not found"));
  // A run of another task is not found either.
  EXPECT_THAT(changes_->List(As(Role::kViewer), auth::NewUuid(), {}),
              ApiFails(ApiCode::kNotFound, ""));
}

TEST_F(ChangesTest, APurgedRunIsNamedNotEmpty) {
  Commit(1000, {"/a"}, {{"/a", "p", "different"}});
  Commit(2000, {"/a"}, {{"/a", "p", "different"}});
  Commit(3000, {"/a"}, {{"/a", "p", "different"}});
  RetentionWorker w(
      *store_, clock_,
      {.default_policy = {.keep_runs = 1}, .batch_rows = 1, .pause_ms = 0},
      [](const std::string&) {});
  EXPECT_EQ(w.RunOnce(), 2);
  auto out = List({});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, ApiCode::kBadState);
  EXPECT_THAT(out.error().message, HasSubstr("CONSISTENCY_RETENTION"));
}

TEST_F(ChangesTest, ATaskSettingOverridesTheServerDefault) {
  for (int i = 0; i < 4; ++i)
    Commit(1000 * (i + 1), {"/a"}, {{"/a", "p", "different"}});
  ASSERT_THAT(store_->PutTaskConfigs("d1", task_,
                                     {{"CONSISTENCY_RETENTION", "runs=3"}}),
              IsOk());
  RetentionWorker w(*store_, clock_, {.default_policy = {.keep_runs = 1}},
                    [](const std::string&) {});
  EXPECT_EQ(w.RunOnce(), 1);  // only the oldest of four
  EXPECT_EQ(w.RunOnce(), 0);
}

// Issue 13.5: task > tenant > server. The tenant's default (set by its
// admin through TenantSettingsService) purges a task without its own
// setting; a task with its own keeps its own.
TEST_F(ChangesTest, ATenantDefaultAppliesToTasksWithoutTheirOwn) {
  const std::string own = auth::NewUuid();
  storage::Task t;
  t.id = own;
  t.domain_id = "d1";
  t.name = "own";
  t.source_id = kSourceId;
  ASSERT_THAT(store_->CreateTask(t), IsOk());
  ASSERT_THAT(
      store_->PutTaskConfigs("d1", own, {{"CONSISTENCY_RETENTION", "runs=3"}}),
      IsOk());
  std::vector<std::string> plain_runs, own_runs;
  for (int i = 0; i < 4; ++i) {
    plain_runs.push_back(
        Commit(1000 * (i + 1), {"/a"}, {{"/a", "p", "different"}}));
    own_runs.push_back(
        CommitTo(own, 1000 * (i + 1), {"/a"}, {{"/a", "p", "different"}}));
  }
  TenantSettingsService settings(*store_);
  ASSERT_THAT(settings.Put(As(Role::kAdmin), {"runs=1"}), ApiOk());
  // The server's default keeps everything: only the tenant's can purge.
  RetentionWorker w(*store_, clock_, {.pause_ms = 0},
                    [](const std::string&) {});
  EXPECT_EQ(w.RunOnce(), 3 + 1);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(*store_->DetailsPurged("d1", plain_runs[i]), i < 3) << i;
    EXPECT_EQ(*store_->DetailsPurged("d1", own_runs[i]), i < 1) << i;
  }
  // Removed, the server's default (keep all) is back: nothing more goes.
  ASSERT_THAT(settings.Put(As(Role::kAdmin), {""}), ApiOk());
  const std::string next = Commit(5000, {"/a"}, {{"/a", "p", "different"}});
  EXPECT_EQ(w.RunOnce(), 0);
  EXPECT_FALSE(*store_->DetailsPurged("d1", plain_runs[3]));
  EXPECT_FALSE(*store_->DetailsPurged("d1", next));
}

// A tenant's default that is not valid (written by hand: the API checks
// it) purges nothing, rather than falling back to a server default that
// may keep less than the tenant asked for.
TEST_F(ChangesTest, AnInvalidTenantDefaultPurgesNothing) {
  for (int i = 0; i < 3; ++i)
    Commit(1000 * (i + 1), {"/a"}, {{"/a", "p", "different"}});
  ASSERT_THAT(store_->PutDomainSetting("d1", "CONSISTENCY_RETENTION", "x=1"),
              IsOk());
  std::vector<std::string> logged;
  RetentionWorker w(*store_, clock_, {.default_policy = {.keep_runs = 1}},
                    [&](const std::string& line) { logged.push_back(line); });
  EXPECT_EQ(w.RunOnce(), 0);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_THAT(logged[0], HasSubstr("not valid"));
  // Put right, it applies.
  ASSERT_THAT(store_->PutDomainSetting("d1", "CONSISTENCY_RETENTION", "runs=2"),
              IsOk());
  EXPECT_EQ(w.RunOnce(), 1);
}

TEST_F(ChangesTest, TenantSettingsAreReadByReadersAndSetByAdmins) {
  TenantSettingsService settings(*store_);
  auto empty = settings.Get(As(Role::kViewer));
  ASSERT_THAT(empty, ApiOk());
  EXPECT_EQ(empty->retention, "");
  EXPECT_THAT(settings.Put(As(Role::kOperator), {"runs=2"}),
              ApiFails(ApiCode::kForbidden, "admin"));
  EXPECT_THAT(settings.Put(As(Role::kViewer), {"runs=2"}),
              ApiFails(ApiCode::kForbidden, "admin"));
  EXPECT_THAT(settings.Get(As(Role::kAgent)),
              ApiFails(ApiCode::kForbidden, ""));
  // The task setting's parser: the error names the field and the part.
  EXPECT_THAT(settings.Put(As(Role::kAdmin), {"runs=0"}),
              ApiFails(ApiCode::kMalformed, "retention"));
  EXPECT_THAT(settings.Put(As(Role::kAdmin), {"weeks=2"}),
              ApiFails(ApiCode::kMalformed, "weeks=2"));
  auto set = settings.Put(As(Role::kAdmin), {" runs=10,days=30 "});
  ASSERT_THAT(set, ApiOk());
  EXPECT_EQ(set->retention, "runs=10,days=30");
  EXPECT_EQ(settings.Get(As(Role::kOperator))->retention, "runs=10,days=30");
  // Another tenant sees its own (none).
  EXPECT_EQ(settings.Get(As(Role::kViewer, "d2"))->retention, "");
  // The codec: the field is required and a string.
  EXPECT_THAT(DecodeTenantSettings(json::object{}),
              ApiFails(ApiCode::kMissing, "retention"));
  EXPECT_THAT(DecodeTenantSettings(json::object{{"retention", 3}}),
              ApiFails(ApiCode::kMalformed, "retention"));
  EXPECT_EQ(ToJson(EncodeTenantSettings(
                *DecodeTenantSettings(json::object{{"retention", "days=7"}}))),
            R"({"retention":"days=7"})");
}

TEST(RetentionTest, ParsesTheSetting) {
  auto both = ParseRetention("runs=10, days=30");
  ASSERT_THAT(both, IsOk());
  EXPECT_EQ(both->keep_runs, 10);
  EXPECT_EQ(both->keep_ms, int64_t{30} * 24 * 3600 * 1000);
  auto none = ParseRetention("");
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(none->keep_runs, 0);
  EXPECT_EQ(none->keep_ms, 0);
  for (const char* bad :
       {"10", "runs=0", "days=x", "runs=-1", "weeks=2", "runs=100001"}) {
    auto r = ParseRetention(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_THAT(r.error().message, HasSubstr(bad)) << bad;
  }
}

}  // namespace
}  // namespace sms::server
