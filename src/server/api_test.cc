// In-process tests of the whole API: Api::Handle() over a real SQLite store
// in a temp dir, a fake clock, no sockets.
#include "server/api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <array>
#include <atomic>
#include <set>

#include "auth/crypto.h"
#include "auth/sdk_signer.h"
#include "auth/secret_box.h"
#include "storage/caching_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace sms::server {

using auth::FormatSdkDate;
using auth::NewUuid;
using auth::SdkSignature;
using auth::SignableRequest;
std::string_view OpenApiJson();

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class FakeClock final : public core::Clock {
 public:
  TimePoint Now() override { return TimePoint(std::chrono::milliseconds(ms_)); }
  int64_t NowEpochMillis() override { return ms_; }
  void SleepFor(Duration d) override {
    ms_ += std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  }
  void Advance(int64_t ms) { ms_ += ms; }

 private:
  std::atomic<int64_t> ms_{1764400000000};  // 2025-11-29
};

// Schema `name` of docs/openapi.json's components.
const json::object& Schema(std::string_view name) {
  static const json::value doc = json::parse(OpenApiJson());
  return doc.at("components").at("schemas").at(name).as_object();
}

// Adds to `out` the fields of `v` that `schema` does not document, and the
// required ones `v` lacks, by path ("result_list[0].consistency_result[0].x").
void CollectUndocumented(const json::object& schema, const json::value& v,
                         const std::string& path,
                         std::vector<std::string>& out) {
  if (const json::value* ref = schema.if_contains("$ref")) {
    const std::string_view r = ref->as_string();
    CollectUndocumented(Schema(r.substr(r.rfind('/') + 1)), v, path, out);
    return;
  }
  if (v.is_array()) {
    if (const json::value* items = schema.if_contains("items")) {
      for (size_t i = 0; i < v.as_array().size(); ++i) {
        CollectUndocumented(items->as_object(), v.as_array()[i],
                            path + "[" + std::to_string(i) + "]", out);
      }
    }
    return;
  }
  const json::value* props = schema.if_contains("properties");
  if (!v.is_object() || props == nullptr) return;
  for (const auto& [key, value] : v.as_object()) {
    const std::string at =
        path.empty() ? std::string(key) : path + "." + std::string(key);
    if (const json::value* p = props->as_object().if_contains(key)) {
      CollectUndocumented(p->as_object(), value, at, out);
    } else {
      out.push_back(at + " (not documented)");
    }
  }
  if (const json::value* required = schema.if_contains("required")) {
    for (const auto& k : required->as_array()) {
      if (!v.as_object().contains(k.as_string()))
        out.push_back(path + "." + std::string(k.as_string()) + " (missing)");
    }
  }
}

// What a response `v` carries that docs/openapi.json's schema `name` does
// not say (empty when the schema describes it).
std::vector<std::string> Undocumented(std::string_view name,
                                      const json::value& v) {
  std::vector<std::string> out;
  CollectUndocumented(Schema(name), v, "", out);
  return out;
}

struct Reply {
  int status = 0;
  json::value body;
  std::string raw;
  Headers headers;
  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return "";
  }
  std::string Code() const {
    if (!body.is_object() || !body.as_object().contains("error_code"))
      return "";
    return std::string(body.at("error_code").as_string());
  }
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::SqliteOptions so;
    so.busy_timeout_ms = 200;  // the 503 test waits this long
    // The room on the database's disk, as /readyz sees it.
    so.free_bytes = [this](const std::string&) -> core::Result<uint64_t> {
      return free_bytes_.load();
    };
    auto s = storage::OpenSqliteStore(dir_.Join("api.db"), so);
    ASSERT_TRUE(s) << s.error().ToString();
    // As sms-server serves SQLite: behind the read cache.
    auto cache = storage::NewCachingStore(std::move(*s));
    storage::CachingStore* c = cache.get();
    metrics_.SetReadCacheSource([c] { return c->Stats(); });
    store_ = std::move(cache);
    AuthOptions ao;
    ao.pbkdf2_iterations = 1000;
    ao.secrets = &secrets_;  // as serve over SQLite: SKs sealed at rest
    auth_ = std::make_unique<AuthService>(*store_, clock_, ao);
    tasks_ = std::make_unique<TaskService>(*store_, clock_);
    results_ = std::make_unique<ResultService>(*store_, clock_, *tasks_);
    exports_ = std::make_unique<ExportService>(*store_, *tasks_);
    ApiDeps deps{store_.get(),
                 &clock_,
                 auth_.get(),
                 tasks_.get(),
                 results_.get(),
                 exports_.get(),
                 &metrics_,
                 [this](const std::string& line) {
                   log_.push_back(line); }};
    ApiOptions options;
    options.openapi_json = std::string(OpenApiJson());
    api_ = std::make_unique<Api>(deps, options);

    for (const char* d : {"acme", "other"}) ASSERT_TRUE(auth_->CreateDomain(d));
    for (const char* role : {"admin", "operator", "viewer", "agent"}) {
      ASSERT_TRUE(auth_->CreateUser("acme", role, role,
                                    "password-" + std::string(role)));
      ASSERT_TRUE(auth_->CreateUser("other", role, role,
                                    "password-" + std::string(role)));
      tokens_[std::string("acme/") + role] = Login("acme", role);
      tokens_[std::string("other/") + role] = Login("other", role);
    }
  }

  std::string Login(const std::string& domain, const std::string& user,
                    const std::string& password = "") {
    std::string pw = password.empty() ? "password-" + user : password;
    Reply r = Call("POST", "/v3/auth/tokens", LoginBody(domain, user, pw), "");
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.Header("X-Subject-Token");
  }

  static std::string LoginBody(const std::string& domain,
                               const std::string& user,
                               const std::string& password) {
    return ToJson(json::object{
        {"auth",
         json::object{
             {"identity",
              json::object{
                  {"methods", json::array{"password"}},
                  {"password",
                   json::object{
                       {"user",
                        json::object{
                            {"name", user},
                            {"password", password},
                            {"domain", json::object{{"name", domain}}}}}}}}},
             {"scope",
              json::object{{"domain", json::object{{"name", domain}}}}}}}});
  }

  Reply Call(const std::string& method, const std::string& target,
             const std::string& body, const std::string& who,
             Headers extra = {}) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.remote = "127.0.0.1";
    if (!body.empty())
      req.headers.push_back({"Content-Type", "application/json;charset=UTF-8"});
    if (!who.empty()) req.headers.push_back({"X-Auth-Token", tokens_[who]});
    for (auto& h : extra) req.headers.push_back(std::move(h));
    HttpResponse resp = api_->Handle(req);
    Reply r;
    r.status = resp.status;
    r.raw = resp.body;
    r.headers = resp.headers;
    if (!resp.body.empty()) {
      boost::system::error_code ec;
      r.body = json::parse(resp.body, ec);
    }
    return r;
  }

  // Registers a source as acme/agent and creates a task on it as
  // acme/operator; returns {source_id, task_id}.
  std::pair<std::string, std::string> MakeTask(
      const std::string& domain = "acme") {
    Reply src = Call("POST", "/v3/sources",
                     R"({"name":"web01","hostname":"web01","ip":"10.0.0.5",
                         "os_type":"LINUX","os_version":"debian12",
                         "agent_version":"0.1.0"})",
                     domain + "/agent");
    EXPECT_EQ(src.status, 200) << src.raw;
    std::string source_id(src.body.at("id").as_string());
    Reply task = Call("POST", "/v3/tasks",
                      ToJson(json::object{
                          {"name", "migrate web01"},
                          {"type", "MIGRATE_FILE"},
                          {"os_type", "LINUX"},
                          {"source_server", json::object{{"id", source_id}}},
                          {"target_server",
                           json::object{{"name", "web01-new"},
                                        {"ip", "10.0.0.6"},
                                        {"verify_uri", "file:///mnt/target"}}},
                          {"is_need_consistency_check", true}}),
                      domain + "/operator");
    EXPECT_EQ(task.status, 200) << task.raw;
    return {source_id, std::string(task.body.at("id").as_string())};
  }

  static std::string UploadBody(const std::string& run_id, int64_t total,
                                int64_t different = 0) {
    return ToJson(json::object{
        {"run_id", run_id},
        {"check_result", "success"},
        {"started_time", 1736854300000},
        {"finished_time", 1736854315000},
        {"mode", "hash"},
        {"hash_algorithm", "xxh128"},
        {"consistency_result",
         json::array{json::object{{"dir_check", "/root/sync"},
                                  {"num_total_files", total},
                                  {"num_different_files", different},
                                  {"num_target_miss_files", 0},
                                  {"num_target_more_files", 0}}}}});
  }

  sms::testing::TempDir dir_;
  std::atomic<uint64_t> free_bytes_{uint64_t{1} << 40};
  FakeClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<TaskService> tasks_;
  std::unique_ptr<ResultService> results_;
  std::unique_ptr<ExportService> exports_;
  Metrics metrics_;
  auth::SecretBox secrets_{std::string(32, 'k')};
  std::vector<std::string> log_;
  std::unique_ptr<Api> api_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(ApiTest, OriginalPageShapeRoundTrips) {
  auto [source_id, task_id] = MakeTask();
  std::string run_id = NewUuid();
  Reply up = Call("POST", "/v3/tasks/" + task_id + "/consistency-result",
                  UploadBody(run_id, 1), "acme/agent");
  ASSERT_EQ(up.status, 200) << up.raw;
  EXPECT_EQ(up.raw, R"("update consistency result succeeded")");

  Reply get = Call("GET", "/v3/tasks/" + task_id + "/consistency-result", "",
                   "acme/viewer");
  ASSERT_EQ(get.status, 200) << get.raw;
  const json::object& o = get.body.as_object();
  EXPECT_EQ(o.at("task_id").as_string(), task_id);
  const json::array& list = o.at("result_list").as_array();
  ASSERT_EQ(list.size(), 1u);
  const json::object& run = list[0].as_object();
  EXPECT_EQ(run.at("finished_time").as_int64(), 1736854315000);
  EXPECT_EQ(run.at("check_result").as_string(), "success");
  EXPECT_EQ(run.at("run_id").as_string(), run_id);
  EXPECT_EQ(run.at("consistent").as_bool(), true);
  const json::object& dir =
      run.at("consistency_result").as_array()[0].as_object();
  EXPECT_EQ(dir.at("dir_check").as_string(), "/root/sync");
  EXPECT_EQ(dir.at("num_total_files").as_int64(), 1);
  for (const char* k : {"num_different_files", "num_target_miss_files",
                        "num_target_more_files"})
    EXPECT_EQ(dir.at(k).as_int64(), 0) << k;
  EXPECT_EQ(get.Header("Content-Type"), "application/json");
  EXPECT_FALSE(get.Header("X-Request-Id").empty());
}

TEST_F(ApiTest, ResultListIsNewestFirstAndLimited) {
  auto [source_id, task_id] = MakeTask();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Call("POST", "/v3/tasks/" + task_id + "/consistency-result",
                   UploadBody(NewUuid(), 10 + i), "acme/agent")
                  .status,
              200);
  }
  Reply get =
      Call("GET", "/v3/tasks/" + task_id + "/consistency-result?limit=2", "",
           "acme/viewer");
  ASSERT_EQ(get.status, 200);
  const auto& list = get.body.at("result_list").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(
      list[0].at("consistency_result").as_array()[0].at("num_total_files"), 12);
  EXPECT_EQ(Call("GET", "/v3/tasks/" + task_id + "/consistency-result?limit=0",
                 "", "acme/viewer")
                .Code(),
            "SMS.1002");
}

// ?run_id= reads one run however old (the newest 100 are all a list gives):
// the console opens an old run by it.
TEST_F(ApiTest, ResultListOfOneRunByItsId) {
  auto [source_id, task_id] = MakeTask();
  const std::string oldest = NewUuid();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(
        Call("POST", "/v3/tasks/" + task_id + "/consistency-result",
             UploadBody(i == 0 ? oldest : NewUuid(), 10 + i), "acme/agent")
            .status,
        200);
  }
  const std::string path = "/v3/tasks/" + task_id + "/consistency-result";
  Reply get =
      Call("GET", path + "?limit=1&run_id=" + oldest, "", "acme/viewer");
  ASSERT_EQ(get.status, 200) << get.raw;
  EXPECT_EQ(get.body.at("task_id").as_string(), task_id);
  const auto& list = get.body.at("result_list").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("run_id").as_string(), oldest);
  EXPECT_EQ(
      list[0].at("consistency_result").as_array()[0].at("num_total_files"), 10);
  // Not a UUID: 400 naming run_id; no such run, or another task's: 404.
  Reply bad = Call("GET", path + "?run_id=nope", "", "acme/viewer");
  EXPECT_EQ(bad.Code(), "SMS.1002");
  EXPECT_NE(bad.raw.find("run_id"), std::string::npos) << bad.raw;
  EXPECT_EQ(
      Call("GET", path + "?run_id=" + NewUuid(), "", "acme/viewer").status,
      404);
  auto [other_source, other_task] = MakeTask();
  EXPECT_EQ(
      Call("GET",
           "/v3/tasks/" + other_task + "/consistency-result?run_id=" + oldest,
           "", "acme/viewer")
          .status,
      404);
}

TEST_F(ApiTest, UploadIsIdempotentByRunIdAndConflictsOnNewContent) {
  auto [source_id, task_id] = MakeTask();
  std::string run_id = NewUuid();
  std::string path = "/v3/tasks/" + task_id + "/consistency-result";
  ASSERT_EQ(Call("POST", path, UploadBody(run_id, 5), "acme/agent").status,
            200);
  ASSERT_EQ(Call("POST", path, UploadBody(run_id, 5), "acme/agent").status,
            200);
  Reply conflict = Call("POST", path, UploadBody(run_id, 6), "acme/agent");
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.Code(), "SMS.1005");
  EXPECT_THAT(conflict.raw, HasSubstr("run_id"));
  Reply get = Call("GET", path, "", "acme/viewer");
  EXPECT_EQ(get.body.at("result_list").as_array().size(), 1u);
}

// Run ids are the tenant's own (issue 11.5): uploading to one's own task
// with a run_id another tenant holds answers exactly as with a fresh id
// (before, 409 SMS.1005 told that the other tenant's run existed), and each
// tenant reads only its own run under that id.
TEST_F(ApiTest, AnotherTenantsRunIdAnswersLikeAFreshOne) {
  auto [their_source, their_task] = MakeTask("other");
  auto [source_id, task_id] = MakeTask();
  auto [fresh_source, fresh_task] = MakeTask();
  const std::string held = NewUuid();
  const std::string fresh = NewUuid();
  auto chunk = [](const std::string& run_id, const std::string& path) {
    return ToJson(json::object{
        {"run_id", run_id},
        {"seq", 0},
        {"files", json::array{json::object{{"dir_check", "/root/sync"},
                                           {"path", path},
                                           {"status", "different"},
                                           {"reason", "content"}}}}});
  };
  const std::string theirs = "/v3/tasks/" + their_task + "/consistency-result";
  ASSERT_EQ(
      Call("POST", theirs + "/details", chunk(held, "theirs"), "other/agent")
          .status,
      200);
  ASSERT_EQ(Call("POST", theirs, UploadBody(held, 9, 1), "other/agent").status,
            200);

  const std::string mine = "/v3/tasks/" + task_id + "/consistency-result";
  const std::string other_of_mine =
      "/v3/tasks/" + fresh_task + "/consistency-result";
  for (const auto& [path, body, fresh_path, fresh_body] :
       std::vector<std::array<std::string, 4>>{
           {mine + "/details", chunk(held, "mine"), other_of_mine + "/details",
            chunk(fresh, "mine")},
           {mine, UploadBody(held, 5, 1), other_of_mine,
            UploadBody(fresh, 5, 1)},
           // The same again: a repeat of one's own upload.
           {mine, UploadBody(held, 5, 1), other_of_mine,
            UploadBody(fresh, 5, 1)},
           // Other content: a conflict with one's own run only.
           {mine, UploadBody(held, 6, 1), other_of_mine,
            UploadBody(fresh, 6, 1)}}) {
    Reply a = Call("POST", path, body, "acme/agent");
    Reply b = Call("POST", fresh_path, fresh_body, "acme/agent");
    EXPECT_EQ(a.status, b.status) << path << ": " << a.raw;
    // The answers name their own run id; otherwise the same bytes.
    auto unnamed = [](std::string raw, const std::string& id) {
      for (size_t at; (at = raw.find(id)) != std::string::npos;)
        raw.replace(at, id.size(), "ID");
      return raw;
    };
    EXPECT_EQ(unnamed(a.raw, held), unnamed(b.raw, fresh)) << path;
  }
  // Each tenant reads its own run under the id.
  Reply my_run = Call("GET", mine, "", "acme/viewer");
  ASSERT_EQ(my_run.status, 200) << my_run.raw;
  const auto& my_list = my_run.body.at("result_list").as_array();
  ASSERT_EQ(my_list.size(), 1u);
  EXPECT_EQ(my_list[0].at("run_id").as_string(), held);
  EXPECT_EQ(
      my_list[0].at("consistency_result").as_array()[0].at("num_total_files"),
      5);
  Reply their_run = Call("GET", theirs, "", "other/viewer");
  ASSERT_EQ(their_run.status, 200) << their_run.raw;
  EXPECT_EQ(their_run.body.at("result_list")
                .as_array()[0]
                .at("consistency_result")
                .as_array()[0]
                .at("num_total_files"),
            9);
  Reply my_details =
      Call("GET", mine + "/details?run_id=" + held, "", "acme/viewer");
  ASSERT_EQ(my_details.status, 200) << my_details.raw;
  EXPECT_THAT(my_details.raw, HasSubstr("\"mine\""));
  EXPECT_THAT(my_details.raw, Not(HasSubstr("theirs")));
  Reply their_details =
      Call("GET", theirs + "/details?run_id=" + held, "", "other/viewer");
  ASSERT_EQ(their_details.status, 200) << their_details.raw;
  EXPECT_THAT(their_details.raw, HasSubstr("\"theirs\""));
  EXPECT_THAT(their_details.raw, Not(HasSubstr("\"mine\"")));
}

TEST_F(ApiTest, ValidationMessagesNameFieldAndLimit) {
  auto [source_id, task_id] = MakeTask();
  std::string path = "/v3/tasks/" + task_id + "/consistency-result";
  json::array dirs;
  for (int i = 0; i < 4; ++i) {
    dirs.push_back(json::object{{"dir_check", "/d" + std::to_string(i)},
                                {"num_total_files", 1},
                                {"num_different_files", 0},
                                {"num_target_miss_files", 0},
                                {"num_target_more_files", 0}});
  }
  dirs[3].as_object()["dir_check"] = "/" + std::string(4096, 'x');
  Reply r =
      Call("POST", path, ToJson(json::object{{"consistency_result", dirs}}),
           "acme/agent");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Code(), "SMS.1002");
  EXPECT_EQ(r.body.at("error_msg").as_string(),
            "consistency_result[3].dir_check: longer than 4096 bytes");

  dirs[3].as_object().erase("num_total_files");
  dirs[3].as_object()["dir_check"] = "/ok";
  r = Call("POST", path, ToJson(json::object{{"consistency_result", dirs}}),
           "acme/agent");
  EXPECT_EQ(r.Code(), "SMS.1001");
  EXPECT_EQ(r.body.at("error_msg").as_string(),
            "consistency_result[3].num_total_files: is required");

  dirs[3].as_object()["num_total_files"] = 2147483648LL;
  r = Call("POST", path, ToJson(json::object{{"consistency_result", dirs}}),
           "acme/agent");
  EXPECT_EQ(r.Code(), "SMS.1002");
  EXPECT_THAT(std::string(r.body.at("error_msg").as_string()),
              HasSubstr("greater than 2147483647"));

  json::array many;
  for (int i = 0; i < 31; ++i) many.push_back(dirs[0]);
  r = Call("POST", path, ToJson(json::object{{"consistency_result", many}}),
           "acme/agent");
  EXPECT_EQ(r.body.at("error_msg").as_string(),
            "consistency_result: more than 30 items");

  r = Call("POST", path, R"({"consistency_result":[{"dir_check":"rel"}]})",
           "acme/agent");
  EXPECT_THAT(std::string(r.body.at("error_msg").as_string()),
              HasSubstr("absolute"));
}

TEST_F(ApiTest, EveryErrorRowOfTheContract) {
  auto [source_id, task_id] = MakeTask();
  // 403 SMS.9001: no credentials, with the full 403 body.
  Reply r = Call("GET", "/v3/tasks", "", "");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.Code(), "SMS.9001");
  const json::object& o = r.body.as_object();
  EXPECT_TRUE(o.at("encoded_authorization_message").is_string());
  EXPECT_EQ(o.at("error_param").as_array().size(), 1u);
  EXPECT_EQ(o.at("details").as_array()[0].at("error_code"), "SMS.9001");
  // 403 SMS.9002: bad token.
  tokens_["bogus"] = "not-a-token";
  EXPECT_EQ(Call("GET", "/v3/tasks", "", "bogus").Code(), "SMS.9002");
  // 403 SMS.9003: bad signature.
  r = Call("GET", "/v3/tasks", "", "",
           {{"X-Sdk-Date", FormatSdkDate(clock_.NowEpochMillis())},
            {"Authorization",
             "SDK-HMAC-SHA256 Access=NOPE, SignedHeaders=x-sdk-date, "
             "Signature=00"}});
  EXPECT_EQ(r.Code(), "SMS.9003");
  // 403 SMS.9004: a viewer may not create tasks; an agent may not read.
  EXPECT_EQ(Call("POST", "/v3/tasks", R"({"name":"x"})", "acme/viewer").Code(),
            "SMS.9004");
  EXPECT_EQ(Call("GET", "/v3/tasks/" + task_id + "/consistency-result", "",
                 "acme/agent")
                .Code(),
            "SMS.9004");
  // 400 SMS.1001 / 1002 / 1003 / 1004.
  EXPECT_EQ(Call("POST", "/v3/tasks", R"({"os_type":"LINUX"})", "acme/operator")
                .Code(),
            "SMS.1001");
  r = Call("GET", "/v3/tasks/not-a-uuid", "", "acme/viewer");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Code(), "SMS.1002");
  EXPECT_EQ(Call("GET", "/v3/tasks/" + task_id + "0", "", "acme/viewer").Code(),
            "SMS.1002");
  EXPECT_EQ(Call("POST", "/v3/tasks", "{not json", "acme/operator").Code(),
            "SMS.1003");
  std::string deep(65, '[');
  deep += std::string(65, ']');
  EXPECT_EQ(Call("POST", "/v3/tasks", deep, "acme/operator").Code(),
            "SMS.1003");
  r = Call("POST", "/v3/tasks/" + task_id + "/action",
           R"({"operation":"start"})", "acme/operator");
  EXPECT_EQ(r.Code(), "SMS.1004");
  EXPECT_THAT(r.raw, HasSubstr("does not migrate"));
  // 404 SMS.2252.
  r = Call("GET", "/v3/tasks/" + NewUuid(), "", "acme/viewer");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Code(), "SMS.2252");
  // 413 SMS.1006 and 415 SMS.1007.
  r = Call("POST", "/v3/tasks", std::string(2 << 20, ' '), "acme/operator");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.Code(), "SMS.1006");
  HttpRequest form;
  form.method = "POST";
  form.target = "/v3/tasks";
  form.body = "name=x";
  form.headers = {{"X-Auth-Token", tokens_["acme/operator"]},
                  {"Content-Type", "application/x-www-form-urlencoded"}};
  HttpResponse resp = api_->Handle(form);
  EXPECT_EQ(resp.status, 415);
  EXPECT_THAT(resp.body, HasSubstr("SMS.1007"));
}

TEST_F(ApiTest, FailedLoginsAreRateLimited) {
  for (int i = 0; i < 5; ++i) {
    Reply r = Call("POST", "/v3/auth/tokens",
                   LoginBody("acme", "viewer", "wrong-password"), "");
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.Code(), "SMS.9002");
  }
  // Locked now, even with the right password.
  Reply r = Call("POST", "/v3/auth/tokens",
                 LoginBody("acme", "viewer", "password-viewer"), "");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Code(), "SMS.9010");
  EXPECT_GT(std::stoi(r.Header("Retry-After")), 0);
  // Issue 11.4: only that user from that address; another user's correct
  // password from the same address (one nginx front for everyone) logs in.
  EXPECT_EQ(Call("POST", "/v3/auth/tokens",
                 LoginBody("acme", "operator", "password-operator"), "")
                .status,
            201);
  clock_.Advance(16 * 60 * 1000);
  EXPECT_EQ(Call("POST", "/v3/auth/tokens",
                 LoginBody("acme", "viewer", "password-viewer"), "")
                .status,
            201);
}

// Issue 11.4: an admin clears a login lock through the API, for a user of
// its own tenant only (before, only `sms-server admin unlock-login`).
TEST_F(ApiTest, AnAdminClearsALoginLockOfItsOwnTenant) {
  auto lock = [this](const std::string& domain) {
    for (int i = 0; i < 5; ++i)
      Call("POST", "/v3/auth/tokens", LoginBody(domain, "viewer", "wrong"), "");
    return Call("POST", "/v3/auth/tokens",
                LoginBody(domain, "viewer", "password-viewer"), "")
        .status;
  };
  ASSERT_EQ(lock("acme"), 429);
  ASSERT_EQ(lock("other"), 429);
  const std::string route = "/v3/auth/login-failures?user_name=viewer";
  // Another role may not; nor may the admin name a bad address or no user.
  for (const char* role : {"operator", "viewer", "agent"})
    EXPECT_EQ(Call("DELETE", route, "", std::string("acme/") + role).Code(),
              "SMS.9004")
        << role;
  EXPECT_EQ(Call("DELETE", "/v3/auth/login-failures", "", "acme/admin").Code(),
            "SMS.1001");
  Reply bad = Call("DELETE", route + "&address=not-an-ip", "", "acme/admin");
  EXPECT_EQ(bad.Code(), "SMS.1002");
  EXPECT_THAT(bad.raw, HasSubstr("address"));
  EXPECT_EQ(Call("DELETE", "/v3/auth/login-failures?user_name=nobody", "",
                 "acme/admin")
                .Code(),
            "SMS.2252");
  // From another address only: the lock from 127.0.0.1 stays.
  Reply elsewhere =
      Call("DELETE", route + "&address=10.9.9.9", "", "acme/admin");
  ASSERT_EQ(elsewhere.status, 200) << elsewhere.raw;
  EXPECT_EQ(elsewhere.body.at("cleared"), 0);
  EXPECT_EQ(Call("POST", "/v3/auth/tokens",
                 LoginBody("acme", "viewer", "password-viewer"), "")
                .status,
            429);
  Reply cleared = Call("DELETE", route, "", "acme/admin");
  ASSERT_EQ(cleared.status, 200) << cleared.raw;
  EXPECT_EQ(cleared.body.at("user_name"), "viewer");
  EXPECT_EQ(cleared.body.at("cleared"), 1);
  EXPECT_EQ(Call("POST", "/v3/auth/tokens",
                 LoginBody("acme", "viewer", "password-viewer"), "")
                .status,
            201);
  // The other tenant's user of the same name is still locked.
  EXPECT_EQ(Call("POST", "/v3/auth/tokens",
                 LoginBody("other", "viewer", "password-viewer"), "")
                .status,
            429);
  // With the address it was locked from.
  ASSERT_EQ(lock("acme"), 429);
  EXPECT_EQ(Call("DELETE", route + "&address=127.0.0.1", "", "acme/admin")
                .body.at("cleared"),
            1);
  EXPECT_EQ(Call("POST", "/v3/auth/tokens",
                 LoginBody("acme", "viewer", "password-viewer"), "")
                .status,
            201);
}

TEST_F(ApiTest, TokenResponseAndRevocation) {
  Reply r = Call("POST", "/v3/auth/tokens",
                 LoginBody("acme", "admin", "password-admin"), "");
  ASSERT_EQ(r.status, 201);
  std::string token = r.Header("X-Subject-Token");
  EXPECT_GE(token.size(), 43u);  // 256 bits, base64url
  const json::object& t = r.body.at("token").as_object();
  EXPECT_EQ(t.at("user").at("name"), "admin");
  EXPECT_EQ(t.at("user").at("domain").at("name"), "acme");
  EXPECT_EQ(t.at("roles").as_array()[0].at("name"), "admin");
  EXPECT_THAT(std::string(t.at("expires_at").as_string()), HasSubstr("T"));
  // Nothing in the log carries the token.
  for (const auto& line : log_) EXPECT_EQ(line.find(token), std::string::npos);
  tokens_["fresh"] = token;
  EXPECT_EQ(Call("GET", "/v3/tasks", "", "fresh").status, 200);
  EXPECT_EQ(
      Call("DELETE", "/v3/auth/tokens", "", "", {{"X-Subject-Token", token}})
          .status,
      204);
  EXPECT_EQ(Call("GET", "/v3/tasks", "", "fresh").Code(), "SMS.9002");
  // Expiry.
  clock_.Advance(25LL * 3600 * 1000);
  EXPECT_EQ(Call("GET", "/v3/tasks", "", "acme/admin").Code(), "SMS.9002");
}

// GET /v3/tasks?limit=5&name=migrate%20web01 signed with AK/SK, as the SDKs
// sign it.
HttpRequest SignedListTasks(const std::string& ak, const std::string& sk,
                            int64_t now_ms) {
  HttpRequest req;
  req.method = "GET";
  req.target = "/v3/tasks?limit=5&name=migrate%20web01";
  std::string date = FormatSdkDate(now_ms);
  req.headers = {{"Host", "127.0.0.1:8080"},
                 {"Content-Type", "application/json"},
                 {"X-Sdk-Date", date}};
  SignableRequest s{"GET", "/v3/tasks", "limit=5&name=migrate%20web01",
                    req.headers, ""};
  std::string sig =
      SdkSignature(s, {"content-type", "host", "x-sdk-date"}, date, sk);
  req.headers.push_back(
      {"Authorization", "SDK-HMAC-SHA256 Access=" + ak +
                            ", SignedHeaders=content-type;host;x-sdk-date, "
                            "Signature=" +
                            sig});
  return req;
}

TEST_F(ApiTest, SignedRequestAuthenticates) {
  auto cred = auth_->CreateCredential("acme", "viewer");
  ASSERT_TRUE(cred);
  auto [source_id, task_id] = MakeTask();
  HttpRequest req = SignedListTasks(cred->access_key, cred->secret_key,
                                    clock_.NowEpochMillis());
  HttpResponse resp = api_->Handle(req);
  ASSERT_EQ(resp.status, 200) << resp.body;
  EXPECT_THAT(resp.body, HasSubstr(task_id));
  // Tampered query: 9003.
  HttpRequest bad = req;
  bad.target = "/v3/tasks?limit=6&name=migrate%20web01";
  EXPECT_THAT(api_->Handle(bad).body, HasSubstr("SMS.9003"));
  // A date 16 minutes off: 9003.
  clock_.Advance(16 * 60 * 1000);
  EXPECT_THAT(api_->Handle(req).body, HasSubstr("SMS.9003"));
  clock_.Advance(-16 * 60 * 1000);
  // Revoked: 9003.
  ASSERT_TRUE(auth_->RevokeCredential(cred->access_key));
  EXPECT_THAT(api_->Handle(req).body, HasSubstr("SMS.9003"));
}

// A request signed with AK/SK as the SDKs sign it: `signed_headers` names
// the headers the signature covers (lower-case), `extra` adds headers
// (signed or not); the body sent may differ from `signed_body`.
HttpRequest SignedRequest(
    const std::string& ak, const std::string& sk, int64_t now_ms,
    const std::string& method, const std::string& target,
    const std::string& signed_body, const std::string& sent_body,
    std::vector<std::string> signed_headers = {"content-type", "host",
                                               "x-sdk-date"},
    Headers extra = {}) {
  HttpRequest req;
  req.method = method;
  req.target = target;
  req.remote = "127.0.0.1";
  std::string date = FormatSdkDate(now_ms);
  req.headers = {{"Host", "127.0.0.1:8080"},
                 {"Content-Type", "application/json"},
                 {"X-Sdk-Date", date}};
  for (auto& h : extra) req.headers.push_back(h);
  size_t q = target.find('?');
  SignableRequest s{method, target.substr(0, q),
                    q == std::string::npos ? "" : target.substr(q + 1),
                    req.headers, signed_body};
  std::string list;
  for (const auto& h : signed_headers) list += (list.empty() ? "" : ";") + h;
  std::string sig = SdkSignature(s, signed_headers, date, sk);
  req.headers.push_back({"Authorization", "SDK-HMAC-SHA256 Access=" + ak +
                                              ", SignedHeaders=" + list +
                                              ", Signature=" + sig});
  req.body = sent_body;
  return req;
}

// Issue 11.1: X-Sdk-Content-Sha256 that is not signed used to stand in for
// the body, so a captured request could carry any body. Every POST route.
TEST_F(ApiTest, AnUnsignedBodyHashCannotCarryAnotherBody) {
  auto [source_id, task_id] = MakeTask();
  auto admin = auth_->CreateCredential("acme", "admin");
  auto agent = auth_->CreateCredential("acme", "agent");
  ASSERT_TRUE(admin && agent);
  const std::string run_a = NewUuid(), run_b = NewUuid();
  int checked = 0;
  for (const RouteInfo& route : api_->Routes()) {
    if (route.method != "POST" || route.pattern == "/v3/auth/tokens") continue;
    std::string target = route.pattern;
    auto put = [&](const std::string& name, const std::string& value) {
      if (size_t at = target.find(name); at != std::string::npos)
        target.replace(at, name.size(), value);
    };
    put("{task_id}", task_id);
    put("{source_id}", source_id);
    const bool by_agent =
        (target.find("/consistency-result") != std::string::npos &&
         target.find("export") == std::string::npos) ||
        route.pattern.rfind("/v3/sources", 0) == 0;
    const auto& cred = by_agent ? *agent : *admin;
    // Body A is what was signed; body B is what an attacker sends.
    const std::string body_a = UploadBody(run_a, 7, 0);
    const std::string body_b = UploadBody(run_b, 7, 5);
    HttpRequest forged = SignedRequest(
        cred.access_key, cred.secret_key, clock_.NowEpochMillis(), "POST",
        target, body_a, body_b, {"content-type", "host", "x-sdk-date"},
        {{"X-Sdk-Content-Sha256", auth::Sha256Hex(body_a)}});
    HttpResponse r = api_->Handle(forged);
    EXPECT_EQ(r.status, 403) << target << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr("SMS.9003")) << target;
    // The same header signed, with body B sent: the hash does not match.
    HttpRequest claimed = SignedRequest(
        cred.access_key, cred.secret_key, clock_.NowEpochMillis(), "POST",
        target, body_a, body_b,
        {"content-type", "host", "x-sdk-content-sha256", "x-sdk-date"},
        {{"X-Sdk-Content-Sha256", auth::Sha256Hex(body_a)}});
    r = api_->Handle(claimed);
    EXPECT_EQ(r.status, 403) << target << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr("does not match the body")) << target;
    // A signed UNSIGNED-PAYLOAD leaves a body unauthenticated: refused.
    HttpRequest unsigned_payload = SignedRequest(
        cred.access_key, cred.secret_key, clock_.NowEpochMillis(), "POST",
        target, body_a, body_b,
        {"content-type", "host", "x-sdk-content-sha256", "x-sdk-date"},
        {{"X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"}});
    r = api_->Handle(unsigned_payload);
    EXPECT_EQ(r.status, 403) << target << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr("UNSIGNED-PAYLOAD")) << target;
    ++checked;
  }
  EXPECT_GE(checked, 7);
  // Nothing of body B was stored.
  Reply runs = Call("GET", "/v3/tasks/" + task_id + "/consistency-result", "",
                    "acme/viewer");
  EXPECT_EQ(runs.raw.find(run_b), std::string::npos) << runs.raw;
  // The honest forms still pass: the signed hash of the body sent, and a GET
  // signed over UNSIGNED-PAYLOAD, as the vendor's SDK signs it.
  const std::string body = UploadBody(run_a, 7, 0);
  HttpRequest honest = SignedRequest(
      agent->access_key, agent->secret_key, clock_.NowEpochMillis(), "POST",
      "/v3/tasks/" + task_id + "/consistency-result", body, body,
      {"content-type", "host", "x-sdk-content-sha256", "x-sdk-date"},
      {{"X-Sdk-Content-Sha256", auth::Sha256Hex(body)}});
  HttpResponse ok = api_->Handle(honest);
  EXPECT_EQ(ok.status, 200) << ok.body;
  HttpRequest get = SignedRequest(
      admin->access_key, admin->secret_key, clock_.NowEpochMillis(), "GET",
      "/v3/tasks", "", "",
      {"content-type", "host", "x-sdk-content-sha256", "x-sdk-date"},
      {{"X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"}});
  ok = api_->Handle(get);
  EXPECT_EQ(ok.status, 200) << ok.body;
}

// Issue 11.1: a signed request that changes state is accepted once in its
// ±15 min window; an idempotent upload may be repeated.
TEST_F(ApiTest, ASignedStateChangeIsAcceptedOnce) {
  auto [source_id, task_id] = MakeTask();
  auto op = auth_->CreateCredential("acme", "operator");
  auto agent = auth_->CreateCredential("acme", "agent");
  ASSERT_TRUE(op && agent);
  ASSERT_EQ(Call("POST", "/v3/tasks/" + task_id + "/configuration-setting",
                 R"({"configurations":[{"config_key":"CONSISTENCY_DIR",
                                        "config_value":"/srv"}]})",
                 "acme/operator")
                .status,
            200);
  const std::string action = R"({"operation":"consistency_check"})";
  HttpRequest req =
      SignedRequest(op->access_key, op->secret_key, clock_.NowEpochMillis(),
                    "POST", "/v3/tasks/" + task_id + "/action", action, action);
  HttpResponse first = api_->Handle(req);
  ASSERT_EQ(first.status, 200) << first.body;
  clock_.Advance(60 * 1000);
  HttpResponse again = api_->Handle(req);
  EXPECT_EQ(again.status, 403) << again.body;
  EXPECT_THAT(again.body, HasSubstr("replay"));
  // DELETE is refused the same way (the first one goes through).
  HttpRequest del =
      SignedRequest(op->access_key, op->secret_key, clock_.NowEpochMillis(),
                    "DELETE", "/v3/tasks/" + task_id, "", "");
  HttpResponse gone = api_->Handle(del);
  EXPECT_LT(gone.status, 300) << gone.body;
  EXPECT_THAT(api_->Handle(del).body, HasSubstr("replay"));
  // An upload signed once may be sent again: the retry stores nothing new.
  auto [source2, task2] = MakeTask();
  const std::string body = UploadBody(NewUuid(), 3);
  HttpRequest up = SignedRequest(
      agent->access_key, agent->secret_key, clock_.NowEpochMillis(), "POST",
      "/v3/tasks/" + task2 + "/consistency-result", body, body);
  EXPECT_EQ(api_->Handle(up).status, 200);
  EXPECT_EQ(api_->Handle(up).status, 200);
  // Past the window the date check refuses it, whatever the set holds.
  clock_.Advance(16 * 60 * 1000);
  EXPECT_THAT(api_->Handle(req).body, HasSubstr("15 minutes"));
}

TEST_F(ApiTest, SecretKeysAreSealedAtRest) {
  auto cred = auth_->CreateCredential("acme", "viewer");
  ASSERT_TRUE(cred);
  auto stored = store_->GetCredential(cred->access_key);
  ASSERT_TRUE(stored);
  EXPECT_TRUE(auth::SecretBox::IsSealed(stored->secret_key));
  EXPECT_EQ(stored->secret_key.find(cred->secret_key), std::string::npos);
  const int64_t now = clock_.NowEpochMillis();
  EXPECT_EQ(
      api_->Handle(SignedListTasks(cred->access_key, cred->secret_key, now))
          .status,
      200);

  // An SK stored in the clear by an older version still verifies.
  auto domain = store_->GetDomainByName("acme");
  auto user = store_->GetUserByName(domain->id, "viewer");
  ASSERT_TRUE(store_->CreateCredential(
      {"AKCLEARCLEARCLEAR001", domain->id, user->id, "clear-sk", now, {}}));
  EXPECT_EQ(
      api_->Handle(SignedListTasks("AKCLEARCLEARCLEAR001", "clear-sk", now))
          .status,
      200);

  // Sealed under another key (the key file was replaced): the server is
  // misconfigured, which is a 500 with the detail in the log, not a 403.
  auth::SecretBox other(std::string(32, 'x'));
  ASSERT_TRUE(
      store_->CreateCredential({"AKOTHERKEYOTHERKEY01",
                                domain->id,
                                user->id,
                                other.Seal("AKOTHERKEYOTHERKEY01", "other-sk"),
                                now,
                                {}}));
  HttpResponse r =
      api_->Handle(SignedListTasks("AKOTHERKEYOTHERKEY01", "other-sk", now));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("SMS.2007"));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("sealed")));  // no internals
  bool logged = false;
  for (const auto& line : log_)
    if (line.find("AKOTHERKEYOTHERKEY01") != std::string::npos &&
        line.find("--secret-key-file") != std::string::npos)
      logged = true;
  EXPECT_TRUE(logged);
}

TEST_F(ApiTest, TenantIsolationOnEveryTaskAndSourceEndpoint) {
  auto [source_id, task_id] = MakeTask("acme");
  std::string run_id = NewUuid();
  ASSERT_EQ(Call("POST", "/v3/tasks/" + task_id + "/consistency-result",
                 UploadBody(run_id, 1), "acme/agent")
                .status,
            200);
  struct Ep {
    std::string method, path, body;
  };
  std::string t = "/v3/tasks/" + task_id;
  std::vector<Ep> eps = {
      {"GET", t, ""},
      {"DELETE", t, ""},
      {"GET", t + "/configuration-setting", ""},
      {"POST", t + "/configuration-setting",
       R"({"configurations":[{"config_key":"CONSISTENCY_DIR","config_value":"/a"}]})"},
      {"POST", t + "/action", R"({"operation":"consistency_check"})"},
      {"GET", t + "/consistency-result", ""},
      {"POST", t + "/consistency-result", UploadBody(NewUuid(), 1)},
      {"GET", t + "/consistency-result/details?run_id=" + run_id, ""},
      {"POST", t + "/consistency-result/details",
       ToJson(json::object{
           {"run_id", NewUuid()}, {"seq", 0}, {"files", json::array{}}})},
      {"GET", "/v3/sources/" + source_id, ""},
      {"GET", "/v3/sources/" + source_id + "/command", ""},
      {"POST", "/v3/sources/" + source_id + "/command_result",
       R"({"command_name":"STOP","result":"success"})"},
  };
  for (const char* role : {"admin", "operator", "viewer", "agent"}) {
    for (const Ep& ep : eps) {
      Reply r = Call(ep.method, ep.path, ep.body, std::string("other/") + role);
      // Either the role may not do it at all (9004, decided before any
      // lookup), or the record does not exist for this tenant (2252).
      EXPECT_TRUE(r.Code() == "SMS.2252" || r.Code() == "SMS.9004")
          << role << " " << ep.method << " " << ep.path << " -> " << r.raw;
      if (std::string(role) == "admin") {
        EXPECT_EQ(r.status, 404) << ep.method << " " << ep.path;
        EXPECT_THAT(r.raw, ::testing::Not(HasSubstr(task_id)));
      }
    }
  }
  // Lists do not show the other tenant's records.
  EXPECT_EQ(Call("GET", "/v3/tasks", "", "other/admin").body.at("count"), 0);
  EXPECT_EQ(Call("GET", "/v3/sources", "", "other/admin").body.at("count"), 0);
  // And acme still sees everything.
  EXPECT_EQ(Call("GET", t, "", "acme/viewer").status, 200);
}

TEST_F(ApiTest, CommandLoopDrivesTaskState) {
  auto [source_id, task_id] = MakeTask();
  std::string t = "/v3/tasks/" + task_id;
  // No directories configured yet.
  EXPECT_EQ(Call("POST", t + "/action", R"({"operation":"consistency_check"})",
                 "acme/operator")
                .Code(),
            "SMS.1004");
  ASSERT_EQ(Call("POST", t + "/configuration-setting",
                 R"({"configurations":[
                   {"config_key":"CONSISTENCY_DIR","config_value":"/srv/a,/srv,/etc"},
                   {"config_key":"CONSISTENCY_MODE","config_value":"quick"},
                   {"config_key":"CONSISTENCY_EXCLUDE","config_value":"*.tmp, cache/*"}]})",
                 "acme/operator")
                .status,
            200);
  Reply cfg =
      Call("GET", t + "/configuration-setting?config_key=CONSISTENCY_MODE", "",
           "acme/viewer");
  ASSERT_EQ(cfg.body.at("configurations").as_array().size(), 1u);
  EXPECT_EQ(cfg.body.at("configurations").as_array()[0].at("config_value"),
            "quick");
  EXPECT_EQ(
      Call(
          "POST", t + "/configuration-setting",
          R"({"configurations":[{"config_key":"CONSISTENCY_DIR","config_value":"relative"}]})",
          "acme/operator")
          .Code(),
      "SMS.1002");

  std::string poll = "/v3/sources/" + source_id + "/command";
  EXPECT_EQ(Call("GET", poll, "", "acme/agent").body.at("command_name"),
            "NONE");
  Reply act = Call("POST", t + "/action",
                   R"({"operation":"consistency_check"})", "acme/operator");
  ASSERT_EQ(act.status, 200) << act.raw;
  std::string run_id(act.body.at("run_id").as_string());
  EXPECT_EQ(Call("GET", t, "", "acme/viewer").body.at("state"), "RUNNING");
  EXPECT_EQ(Call("POST", t + "/action", R"({"operation":"consistency_check"})",
                 "acme/operator")
                .Code(),
            "SMS.1004");
  Reply cmd = Call("GET", poll, "", "acme/agent");
  ASSERT_EQ(cmd.body.at("command_name"), "CONSISTENCY_CHECK") << cmd.raw;
  const json::object& p = cmd.body.at("command_param").as_object();
  EXPECT_EQ(p.at("run_id").as_string(), run_id);
  EXPECT_EQ(p.at("task_id").as_string(), task_id);
  EXPECT_EQ(p.at("mode"), "quick");
  EXPECT_EQ(p.at("verify_uri"), "file:///mnt/target");
  // /srv/a is under /srv: only the parent is verified.
  EXPECT_EQ(p.at("dirs"), (json::array{"/etc", "/srv"}));
  EXPECT_EQ(p.at("exclude"), (json::array{"*.tmp", "cache/*"}));
  EXPECT_EQ(Call("GET", poll, "", "acme/agent").body.at("command_name"),
            "NONE");
  EXPECT_EQ(Call("GET", "/v3/sources/" + source_id, "", "acme/viewer")
                .body.at("connected"),
            true);
  // skip is refused once the agent has it.
  EXPECT_EQ(
      Call("POST", t + "/action", R"({"operation":"skip"})", "acme/operator")
          .Code(),
      "SMS.1004");
  ASSERT_EQ(Call("POST", "/v3/sources/" + source_id + "/command_result",
                 R"({"command_name":"CONSISTENCY_CHECK","result":"success"})",
                 "acme/agent")
                .status,
            200);
  ASSERT_EQ(Call("POST", t + "/consistency-result", UploadBody(run_id, 3),
                 "acme/agent")
                .status,
            200);
  EXPECT_EQ(Call("GET", t, "", "acme/viewer").body.at("state"), "READY");

  // stop: a queued check is cancelled at once; a delivered one gets STOP.
  ASSERT_EQ(Call("POST", t + "/action", R"({"operation":"consistency_check"})",
                 "acme/operator")
                .status,
            200);
  ASSERT_EQ(
      Call("POST", t + "/action", R"({"operation":"stop"})", "acme/operator")
          .status,
      200);
  EXPECT_EQ(Call("GET", t, "", "acme/viewer").body.at("state"), "ABORT");
  EXPECT_EQ(Call("GET", poll, "", "acme/agent").body.at("command_name"),
            "NONE");
  ASSERT_EQ(Call("POST", t + "/action", R"({"operation":"consistency_check"})",
                 "acme/operator")
                .status,
            200);
  EXPECT_EQ(Call("GET", poll, "", "acme/agent").body.at("command_name"),
            "CONSISTENCY_CHECK");
  ASSERT_EQ(
      Call("POST", t + "/action", R"({"operation":"stop"})", "acme/operator")
          .status,
      200);
  EXPECT_EQ(Call("GET", t, "", "acme/viewer").body.at("state"), "ABORTING");
  EXPECT_EQ(Call("GET", poll, "", "acme/agent").body.at("command_name"),
            "STOP");
  ASSERT_EQ(Call("POST", "/v3/sources/" + source_id + "/command_result",
                 R"({"command_name":"STOP","result":"success"})", "acme/agent")
                .status,
            200);
  EXPECT_EQ(Call("GET", t, "", "acme/viewer").body.at("state"), "ABORT");
}

// sms-agent reports a check's result after uploading its run; the commit
// already finished the command, so the report is acknowledged, not refused.
TEST_F(ApiTest, TheAgentsReportAfterItsUploadIsAcknowledged) {
  auto [source_id, task_id] = MakeTask();
  const std::string run_id = NewUuid();
  ASSERT_EQ(Call("POST", "/v3/tasks/" + task_id + "/consistency-result",
                 UploadBody(run_id, 1), "acme/agent")
                .status,
            200);
  const std::string url = "/v3/sources/" + source_id + "/command_result";
  auto report = [&](const std::string& run) {
    return R"({"command_name":"CONSISTENCY_CHECK","result":"success",)"
           R"("result_detail":{"task_id":")" +
           task_id + R"(","run_id":")" + run + R"("}})";
  };
  Reply ok = Call("POST", url, report(run_id), "acme/agent");
  EXPECT_EQ(ok.status, 200) << ok.raw;
  // A run that was never committed, or no run at all: nothing waits.
  EXPECT_EQ(Call("POST", url, report(NewUuid()), "acme/agent").Code(),
            "SMS.1004");
  EXPECT_EQ(Call("POST", url,
                 R"({"command_name":"CONSISTENCY_CHECK","result":"success"})",
                 "acme/agent")
                .Code(),
            "SMS.1004");
  EXPECT_EQ(Call("POST", url, R"({"command_name":"STOP","result":"success"})",
                 "acme/agent")
                .Code(),
            "SMS.1004");
  // The run of another source's task does not count for this one.
  Reply other = Call("POST", "/v3/sources",
                     R"({"name":"web02","hostname":"web02","ip":"10.0.0.7",
                         "os_type":"LINUX","os_version":"debian12",
                         "agent_version":"0.1.0"})",
                     "acme/agent");
  ASSERT_EQ(other.status, 200) << other.raw;
  const std::string other_source(other.body.at("id").as_string());
  ASSERT_NE(other_source, source_id);
  EXPECT_EQ(Call("POST", "/v3/sources/" + other_source + "/command_result",
                 report(run_id), "acme/agent")
                .Code(),
            "SMS.1004");
}

TEST_F(ApiTest, AnotherAgentCannotUploadForThisSource) {
  auto [source_id, task_id] = MakeTask();
  ASSERT_TRUE(auth_->CreateUser("acme", "agent2", "agent", "password-agent2"));
  tokens_["acme/agent2"] = Login("acme", "agent2");
  EXPECT_EQ(Call("POST", "/v3/tasks/" + task_id + "/consistency-result",
                 UploadBody(NewUuid(), 1), "acme/agent2")
                .Code(),
            "SMS.9004");
  EXPECT_EQ(
      Call("GET", "/v3/sources/" + source_id + "/command", "", "acme/agent2")
          .Code(),
      "SMS.9004");
}

// The agent's hash cache reports a file whose content changed while its
// metadata did not as "corrupt" (issue 12): its details are accepted and
// filtered like the other statuses.
TEST_F(ApiTest, CorruptFilesFromTheHashCacheAreAccepted) {
  auto [source_id, task_id] = MakeTask();
  std::string t = "/v3/tasks/" + task_id + "/consistency-result";
  std::string run_id = NewUuid();
  json::array files{json::object{{"dir_check", "/root/sync"},
                                 {"path", "rotten.bin"},
                                 {"status", "corrupt"},
                                 {"reason", "content"}},
                    json::object{{"dir_check", "/root/sync"},
                                 {"path", "other.bin"},
                                 {"status", "different"},
                                 {"reason", "content"}}};
  ASSERT_EQ(Call("POST", t + "/details",
                 ToJson(json::object{
                     {"run_id", run_id}, {"seq", 0}, {"files", files}}),
                 "acme/agent")
                .status,
            200);
  ASSERT_EQ(Call("POST", t, UploadBody(run_id, 9, 2), "acme/agent").status,
            200);
  Reply page = Call("GET", t + "/details?status=corrupt", "", "acme/viewer");
  ASSERT_EQ(page.status, 200) << page.raw;
  ASSERT_EQ(page.body.at("files").as_array().size(), 1u);
  EXPECT_EQ(page.body.at("files").as_array()[0].at("path"), "rotten.bin");
}

TEST_F(ApiTest, DetailsAreStagedCommittedAndPaged) {
  auto [source_id, task_id] = MakeTask();
  std::string t = "/v3/tasks/" + task_id + "/consistency-result";
  std::string run_id = NewUuid();
  const int kChunks = 5, kPerChunk = 50;
  for (int seq = 0; seq < kChunks; ++seq) {
    json::array files;
    for (int i = 0; i < kPerChunk; ++i) {
      json::object f{
          {"dir_check", "/root/sync"},
          {"path", "f" + std::to_string(seq * 1000 + i)},
          {"status", i % 2 ? "different" : "target_miss"},
          {"reason", "content"},
          {"source",
           json::object{{"type", "file"}, {"size", 10}, {"ignored", "x"}}}};
      if (i % 2) f["target"] = json::object{{"type", "file"}, {"size", 11}};
      files.push_back(std::move(f));
    }
    std::string body = ToJson(
        json::object{{"run_id", run_id}, {"seq", seq}, {"files", files}});
    ASSERT_EQ(Call("POST", t + "/details", body, "acme/agent").status, 200);
    // Retrying a chunk is a no-op.
    Reply again = Call("POST", t + "/details", body, "acme/agent");
    EXPECT_EQ(again.body.at("staged"), false);
  }
  // Same seq, other content: 409.
  EXPECT_EQ(Call("POST", t + "/details",
                 ToJson(json::object{
                     {"run_id", run_id}, {"seq", 0}, {"files", json::array{}}}),
                 "acme/agent")
                .Code(),
            "SMS.1005");
  // Invisible before the run is committed.
  EXPECT_EQ(
      Call("GET", t + "/details?run_id=" + run_id, "", "acme/viewer").Code(),
      "SMS.2252");
  ASSERT_EQ(Call("POST", t, UploadBody(run_id, 250, 125), "acme/agent").status,
            200);
  // Page through everything, 30 at a time (default run: the latest).
  std::set<std::string> seen;
  std::string marker;
  int pages = 0;
  while (true) {
    std::string q = t + "/details?limit=30";
    if (!marker.empty()) q += "&marker=" + marker;
    Reply page = Call("GET", q, "", "acme/viewer");
    ASSERT_EQ(page.status, 200) << page.raw;
    EXPECT_EQ(page.body.at("count"), kChunks * kPerChunk);
    EXPECT_EQ(page.body.at("run_id").as_string(), run_id);
    for (const auto& f : page.body.at("files").as_array()) {
      EXPECT_TRUE(seen.insert(std::string(f.at("path").as_string())).second);
      EXPECT_FALSE(f.at("source").as_object().contains("ignored"));
    }
    ++pages;
    if (!page.body.as_object().contains("next_marker")) break;
    marker = std::string(page.body.at("next_marker").as_string());
    ASSERT_LT(pages, 100);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kChunks * kPerChunk));
  EXPECT_EQ(pages, 9);  // 250 / 30 rounded up
  Reply filtered = Call("GET", t + "/details?status=different&limit=1000", "",
                        "acme/viewer");
  EXPECT_EQ(filtered.body.at("count"), 125);
  EXPECT_EQ(filtered.body.at("files").as_array().size(), 125u);
  EXPECT_EQ(
      Call("GET", t + "/details?marker=garbage!", "", "acme/viewer").Code(),
      "SMS.1002");
  EXPECT_EQ(Call("GET", t + "/details?limit=1001", "", "acme/viewer").Code(),
            "SMS.1002");
  // A committed run takes no more details.
  EXPECT_EQ(
      Call("POST", t + "/details",
           ToJson(json::object{
               {"run_id", run_id}, {"seq", 99}, {"files", json::array{}}}),
           "acme/agent")
          .Code(),
      "SMS.1004");
}

TEST_F(ApiTest, ExportInThreeFormatsIsFormulaSafe) {
  auto [source_id, task_id] = MakeTask();
  std::string body = ToJson(json::object{
      {"consistency_result",
       json::array{json::object{{"dir_check", "/=cmd|' /C calc'!A0"},
                                {"num_total_files", 3},
                                {"num_different_files", 1},
                                {"num_target_miss_files", 0},
                                {"num_target_more_files", 0}}}}});
  ASSERT_EQ(Call("POST", "/v3/tasks/" + task_id + "/consistency-result", body,
                 "acme/agent")
                .status,
            200);
  std::string missing = NewUuid();
  std::string req = ToJson(json::object{
      {"task_info", json::array{json::object{{"task_id", task_id}},
                                json::object{{"task_id", missing}}}}});
  Reply csv =
      Call("POST", "/v3/tasks/consistency-results/export", req, "acme/viewer");
  ASSERT_EQ(csv.status, 200) << csv.raw;
  EXPECT_EQ(csv.Header("Content-Type"), "text/csv; charset=utf-8");
  EXPECT_EQ(csv.raw.rfind("source_name,source_id,task_id,task_name,run_id,", 0),
            0u);
  EXPECT_THAT(csv.raw, HasSubstr(task_id));
  // The fourteen older columns, then scope (empty: a full check) and the
  // hash caches' counters (issue 12).
  EXPECT_THAT(csv.raw, HasSubstr(",3,1,0,0,0,0,,0,0,0,0,0\r\n"));
  EXPECT_THAT(csv.raw,
              HasSubstr(missing + ",,,,error: the task does not exist"));
  // The task name starts with '=' nowhere, but source names can: check a
  // dangerous value is neutralised.
  EXPECT_EQ(NeutraliseCell("=1+2"), "'=1+2");
  EXPECT_EQ(NeutraliseCell("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(NeutraliseCell("\tx"), "'\tx");
  EXPECT_EQ(NeutraliseCell("/root"), "/root");

  Reply js = Call("POST", "/v3/tasks/consistency-results/export", req,
                  "acme/viewer", {{"Accept", "application/json"}});
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.body.at("count"), 2);
  EXPECT_EQ(js.body.at("rows").as_array()[0].at("num_total_files"), 3);

  Reply zh = Call("POST", "/v3/tasks/consistency-results/export", req,
                  "acme/viewer", {{"X-Language", "zh-cn"}});
  EXPECT_THAT(zh.raw, HasSubstr("源端名称"));

  Reply x = Call(
      "POST", "/v3/tasks/consistency-results/export", req, "acme/viewer",
      {{"Accept",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}});
  ASSERT_EQ(x.status, 200);
  EXPECT_EQ(x.raw.substr(0, 2), "PK");  // a zip container

  // Another tenant's task shows as an error row, never as data.
  Reply other =
      Call("POST", "/v3/tasks/consistency-results/export", req, "other/viewer");
  EXPECT_THAT(other.raw, ::testing::Not(HasSubstr("migrate web01")));
  EXPECT_THAT(other.raw, HasSubstr(task_id + ",,,,error"));
}

// Issue 11.5: /readyz said ready while the disk was full (every upload
// 503); it fails while a write cannot be made, and recovers with the room.
TEST_F(ApiTest, ReadyzFailsWhileTheDatabaseDiskIsFull) {
  EXPECT_EQ(Call("GET", "/readyz", "", "").status, 200);
  free_bytes_ = 64 * 1024;
  Reply full = Call("GET", "/readyz", "", "");
  EXPECT_EQ(full.status, 503);
  EXPECT_EQ(full.Code(), "SMS.2008");
  EXPECT_EQ(Call("GET", "/healthz", "", "").status, 200);
  free_bytes_ = uint64_t{1} << 30;
  EXPECT_EQ(Call("GET", "/readyz", "", "").status, 200);
}

TEST_F(ApiTest, OperationsEndpoints) {
  EXPECT_EQ(Call("GET", "/healthz", "", "").status, 200);
  EXPECT_EQ(Call("GET", "/readyz", "", "").status, 200);
  Call("GET", "/v3/tasks", "", "acme/viewer");
  Reply m = Call("GET", "/metrics", "", "");
  EXPECT_EQ(m.status, 200);
  EXPECT_THAT(m.raw, HasSubstr("sms_http_requests_total{method=\"GET\","
                               "route=\"/v3/tasks\",status=\"200\"} 1"));
  EXPECT_THAT(m.raw, HasSubstr("sms_http_request_duration_seconds_bucket"));
  EXPECT_THAT(m.raw, HasSubstr("sms_runs_committed_total 0"));
  // The viewer's token: read from the database by the GET above (a miss),
  // then from the cache by the next one (a hit).
  Call("GET", "/v3/tasks", "", "acme/viewer");
  Reply m2 = Call("GET", "/metrics", "", "");
  EXPECT_THAT(m2.raw,
              HasSubstr("sms_read_cache_requests_total{table=\"tokens\","
                        "result=\"miss\"} 1\n"));
  EXPECT_THAT(m2.raw,
              HasSubstr("sms_read_cache_requests_total{table=\"tokens\","
                        "result=\"hit\"} 1\n"));
  // An agent's polls: the first finds no command in the database (a miss),
  // the second is answered "none" from memory (a hit).
  auto [source_id, task_id] = MakeTask();
  const std::string poll = "/v3/sources/" + source_id + "/command";
  EXPECT_EQ(Call("GET", poll, "", "acme/agent").body.at("command_name"),
            "NONE");
  EXPECT_EQ(Call("GET", poll, "", "acme/agent").body.at("command_name"),
            "NONE");
  Reply m3 = Call("GET", "/metrics", "", "");
  EXPECT_THAT(m3.raw,
              HasSubstr("sms_read_cache_requests_total{table=\"idle_sources\","
                        "result=\"miss\"} 1\n"));
  EXPECT_THAT(m3.raw,
              HasSubstr("sms_read_cache_requests_total{table=\"idle_sources\","
                        "result=\"hit\"} 1\n"));
  // And the source's owner, checked on each poll: read once, then held.
  EXPECT_THAT(m3.raw,
              HasSubstr("sms_read_cache_requests_total{table=\"source_owners\","
                        "result=\"miss\"} 1\n"));
  EXPECT_THAT(m3.raw,
              HasSubstr("sms_read_cache_requests_total{table=\"source_owners\","
                        "result=\"hit\"} 1\n"));
  Reply o = Call("GET", "/openapi.json", "", "");
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(o.body.at("openapi"), "3.0.3");
  EXPECT_EQ(Call("GET", "/nope", "", "").status, 404);
  EXPECT_EQ(Call("PUT", "/v3/tasks", "", "acme/viewer").status, 405);
}

TEST_F(ApiTest, RequestIdIsEchoedAndLogged) {
  Reply r = Call("GET", "/v3/tasks", "", "acme/viewer",
                 {{"X-Request-Id", "req-123"}});
  EXPECT_EQ(r.Header("X-Request-Id"), "req-123");
  ASSERT_FALSE(log_.empty());
  auto line = json::parse(log_.back());
  EXPECT_EQ(line.at("request_id"), "req-123");
  EXPECT_EQ(line.at("route"), "/v3/tasks");
  EXPECT_EQ(line.at("status"), 200);
  EXPECT_EQ(line.at("user"), "viewer");
  EXPECT_EQ(log_.back().find(tokens_["acme/viewer"]), std::string::npos);
}

TEST_F(ApiTest, OpenApiDocumentsEveryRoute) {
  auto doc = json::parse(OpenApiJson());
  const json::object& paths = doc.at("paths").as_object();
  size_t documented = 0;
  for (const auto& [p, item] : paths) documented += item.as_object().size();
  for (const RouteInfo& r : api_->Routes()) {
    std::string method = r.method;
    for (char& c : method) c = static_cast<char>(std::tolower(c));
    ASSERT_TRUE(paths.contains(r.pattern)) << r.pattern;
    EXPECT_TRUE(paths.at(r.pattern).as_object().contains(method))
        << r.method << " " << r.pattern;
  }
  // And nothing documented that is not served.
  EXPECT_EQ(documented, api_->Routes().size());
}

TEST_F(ApiTest, LockedDatabaseIs503WithRetryAfterAndNothingWritten) {
  auto [source_id, task_id] = MakeTask();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.Join("api.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr),
            SQLITE_OK);
  std::string run_id = NewUuid();
  Reply r = Call("POST", "/v3/tasks/" + task_id + "/consistency-result",
                 UploadBody(run_id, 1), "acme/agent");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.Code(), "SMS.2008");
  EXPECT_FALSE(r.Header("Retry-After").empty());
  EXPECT_EQ(r.raw.find("locked"), std::string::npos);  // no internals
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  Reply get = Call("GET", "/v3/tasks/" + task_id + "/consistency-result", "",
                   "acme/viewer");
  EXPECT_TRUE(get.body.at("result_list").as_array().empty());
  // The internal detail is in the log, keyed by the request id.
  bool logged = false;
  for (const auto& line : log_)
    if (line.find("\"internal\"") != std::string::npos) logged = true;
  EXPECT_TRUE(logged);
}

TEST_F(ApiTest, DeleteTaskRemovesItsRuns) {
  auto [source_id, task_id] = MakeTask();
  ASSERT_EQ(Call("POST", "/v3/tasks/" + task_id + "/consistency-result",
                 UploadBody(NewUuid(), 1), "acme/agent")
                .status,
            200);
  EXPECT_EQ(Call("DELETE", "/v3/tasks/" + task_id, "", "acme/viewer").Code(),
            "SMS.9004");
  EXPECT_EQ(Call("DELETE", "/v3/tasks/" + task_id, "", "acme/operator").status,
            200);
  EXPECT_EQ(Call("GET", "/v3/tasks/" + task_id + "/consistency-result", "",
                 "acme/viewer")
                .Code(),
            "SMS.2252");
}

TEST_F(ApiTest, ListTasksFiltersAndValidates) {
  MakeTask();
  MakeTask();
  Reply all = Call("GET", "/v3/tasks?limit=1", "", "acme/viewer");
  EXPECT_EQ(all.body.at("count"), 2);
  EXPECT_EQ(all.body.at("tasks").as_array().size(), 1u);
  const auto& task = all.body.at("tasks").as_array()[0];
  EXPECT_EQ(task.at("state"), "READY");
  EXPECT_EQ(task.at("source_server").at("name"), "web01");
  EXPECT_EQ(Call("GET", "/v3/tasks?state=RUNNING", "", "acme/viewer")
                .body.at("count"),
            0);
  EXPECT_EQ(Call("GET", "/v3/tasks?limit=201", "", "acme/viewer").Code(),
            "SMS.1002");
  EXPECT_EQ(Call("GET", "/v3/tasks?state=BOGUS", "", "acme/viewer").Code(),
            "SMS.1002");
}

}  // namespace
}  // namespace sms::server

namespace sms::server {
namespace {

// Issue 12, server side: the task's cache and push settings and a
// re-check's scope reach the agent in command_param; a run's scope and its
// cache counters are stored and read back.
TEST_F(ApiTest, ReCheckScopeAndCacheCountersRoundTrip) {
  auto [source_id, task_id] = MakeTask();
  const std::string t = "/v3/tasks/" + task_id;
  const std::string poll = "/v3/sources/" + source_id + "/command";
  ASSERT_EQ(Call("POST", t + "/configuration-setting",
                 R"({"configurations":[
                   {"config_key":"CONSISTENCY_DIR","config_value":"/srv"},
                   {"config_key":"CONSISTENCY_CACHE","config_value":"off"},
                   {"config_key":"CONSISTENCY_PUSH_AGENT","config_value":"on"}]})",
                 "acme/operator")
                .status,
            200);
  Reply bad = Call(
      "POST", t + "/configuration-setting",
      R"({"configurations":[{"config_key":"CONSISTENCY_CACHE","config_value":"yes"}]})",
      "acme/operator");
  EXPECT_EQ(bad.Code(), "SMS.1002");
  EXPECT_NE(bad.raw.find("configurations[0].config_value"), std::string::npos)
      << bad.raw;
  EXPECT_EQ(Call("POST", t + "/action",
                 R"({"operation":"consistency_check","scope":"everything"})",
                 "acme/operator")
                .Code(),
            "SMS.1002");
  // Nothing to re-check before a successful run.
  Reply none =
      Call("POST", t + "/action",
           R"({"operation":"consistency_check","scope":"inconsistent"})",
           "acme/operator");
  EXPECT_EQ(none.Code(), "SMS.1004") << none.raw;
  EXPECT_NE(none.raw.find("no successful run"), std::string::npos) << none.raw;

  // A full check first: cache and push_agent from the settings, no scope.
  Reply act = Call("POST", t + "/action",
                   R"({"operation":"consistency_check"})", "acme/operator");
  ASSERT_EQ(act.status, 200) << act.raw;
  const std::string base(act.body.at("run_id").as_string());
  Reply cmd = Call("GET", poll, "", "acme/agent");
  const json::object& p = cmd.body.at("command_param").as_object();
  EXPECT_EQ(p.at("cache"), false);
  EXPECT_EQ(p.at("push_agent"), true);
  EXPECT_FALSE(p.contains("scope"));
  EXPECT_FALSE(p.contains("base_run_id"));
  json::object full = json::parse(UploadBody(base, 10, 2)).as_object();
  json::object& dir = full["consistency_result"].as_array()[0].as_object();
  dir["num_corrupt_files"] = 1;
  dir["num_cached_files"] = 7;
  dir["num_bytes_read"] = int64_t{6} << 32;
  dir["num_target_cached_files"] = 9;
  dir["num_target_bytes_read"] = int64_t{2} << 32;
  ASSERT_EQ(Call("POST", t + "/consistency-result", ToJson(full), "acme/agent")
                .status,
            200);

  // The re-check names the run whose differences it checks again.
  act = Call("POST", t + "/action",
             R"({"operation":"consistency_check","scope":"inconsistent"})",
             "acme/operator");
  ASSERT_EQ(act.status, 200) << act.raw;
  const std::string recheck(act.body.at("run_id").as_string());
  cmd = Call("GET", poll, "", "acme/agent");
  const json::object& q = cmd.body.at("command_param").as_object();
  EXPECT_EQ(q.at("scope"), "inconsistent");
  EXPECT_EQ(q.at("base_run_id").as_string(), base);
  json::object again = json::parse(UploadBody(recheck, 2)).as_object();
  again["scope"] = "inconsistent";
  // Issue 12.5: the base run must be a UUID, and only a re-check has one.
  json::object bad_base = again;
  bad_base["base_run_id"] = "not a uuid";
  Reply bad_reply =
      Call("POST", t + "/consistency-result", ToJson(bad_base), "acme/agent");
  EXPECT_EQ(bad_reply.Code(), "SMS.1002");
  EXPECT_NE(bad_reply.raw.find("base_run_id"), std::string::npos)
      << bad_reply.raw;
  json::object full_with_base = json::parse(UploadBody(recheck, 2)).as_object();
  full_with_base["base_run_id"] = base;
  bad_reply = Call("POST", t + "/consistency-result", ToJson(full_with_base),
                   "acme/agent");
  EXPECT_EQ(bad_reply.Code(), "SMS.1002");
  EXPECT_NE(bad_reply.raw.find("base_run_id"), std::string::npos)
      << bad_reply.raw;
  again["base_run_id"] = base;
  ASSERT_EQ(Call("POST", t + "/consistency-result", ToJson(again), "acme/agent")
                .status,
            200);
  // A retry of the same upload is still a no-op (scope is in its hash).
  EXPECT_EQ(Call("POST", t + "/consistency-result", ToJson(again), "acme/agent")
                .status,
            200);

  Reply get = Call("GET", t + "/consistency-result", "", "acme/viewer");
  ASSERT_EQ(get.status, 200) << get.raw;
  const json::array& runs = get.body.at("result_list").as_array();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].at("scope"), "inconsistent");
  EXPECT_EQ(runs[0].at("base_run_id").as_string(), base);
  EXPECT_EQ(runs[0].at("consistent"), true);
  EXPECT_FALSE(runs[1].as_object().contains("scope"));
  EXPECT_FALSE(runs[1].as_object().contains("base_run_id"));
  EXPECT_EQ(runs[1].at("consistent"), false);
  const json::object& d =
      runs[1].at("consistency_result").as_array()[0].as_object();
  EXPECT_EQ(d.at("num_corrupt_files"), 1);
  EXPECT_EQ(d.at("num_cached_files"), 7);
  EXPECT_EQ(d.at("num_bytes_read"), int64_t{6} << 32);
  EXPECT_EQ(d.at("num_target_cached_files"), 9);
  EXPECT_EQ(d.at("num_target_bytes_read"), int64_t{2} << 32);

  // docs/openapi.json describes these responses: the runs with scope,
  // base_run_id and every counter, and the export's rows and columns.
  EXPECT_THAT(Undocumented("ConsistencyResultList", get.body),
              ::testing::IsEmpty());
  const std::string req = R"({"task_info":[{"task_id":")" + task_id + R"("}]})";
  const std::string path = "/v3/tasks/consistency-results/export?all_runs=true";
  Reply rows =
      Call("POST", path, req, "acme/viewer", {{"Accept", "application/json"}});
  ASSERT_EQ(rows.status, 200) << rows.raw;
  EXPECT_THAT(Undocumented("ExportRows", rows.body), ::testing::IsEmpty());
  // The columns are ExportRow's properties, in order: the keys of a JSON
  // row with counters, and the CSV header.
  std::vector<std::string> columns, keys;
  for (const auto& [k, v] : Schema("ExportRow").at("properties").as_object())
    columns.emplace_back(k);
  for (const auto& [k, v] : rows.body.at("rows").as_array()[1].as_object())
    keys.emplace_back(k);
  EXPECT_EQ(keys, columns);
  Reply csv = Call("POST", path, req, "acme/viewer");
  ASSERT_EQ(csv.status, 200) << csv.raw;
  std::string header;
  for (const auto& c : columns) header += (header.empty() ? "" : ",") + c;
  EXPECT_EQ(csv.raw.substr(0, csv.raw.find("\r\n")), header);
}

}  // namespace
}  // namespace sms::server
