#include "agent/server_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>

#include "agent/recheck.h"
#include "auth/sdk_signer.h"
#include "testing/fake_clock.h"

namespace sms::agent {
namespace {

// Records requests and answers from a queue of canned responses.
class FakeHttp final : public HttpClient {
 public:
  core::Result<HttpResponse> Send(const HttpRequest& req) override {
    requests.push_back(req);
    if (replies.empty()) return core::Fail(core::Unavailable("refused"));
    HttpResponse r = replies.front();
    replies.pop_front();
    return r;
  }
  std::vector<HttpRequest> requests;
  std::deque<HttpResponse> replies;
};

std::string Header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

AgentConfig AkSk() {
  AgentConfig c;
  c.server = "http://127.0.0.1:8080";
  c.ak = "AK1";
  c.sk = "secret";
  return c;
}

TEST(ServerClientTest, SignsRequestsTheWayTheServerVerifies) {
  FakeHttp http;
  testing::FakeClock clock;
  ServerClient client(http, clock, AkSk());
  http.replies.push_back({200, {}, R"({"id":"src-1"})"});
  auto id = client.RegisterSource({.name = "web01"});
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "src-1");
  const HttpRequest& req = http.requests.at(0);
  EXPECT_EQ(req.url, "http://127.0.0.1:8080/v3/sources");
  const std::string date = Header(req, "X-Sdk-Date");
  ASSERT_EQ(date.size(), 16u);
  auto auth = auth::ParseSdkAuthorization(Header(req, "Authorization"));
  ASSERT_TRUE(auth);
  EXPECT_EQ(auth->access_key, "AK1");
  auth::SignableRequest sreq{"POST",
                             "/v3/sources",
                             "",
                             {{"Content-Type", "application/json"},
                              {"Host", "127.0.0.1:8080"},
                              {"X-Request-Id", Header(req, "X-Request-Id")},
                              {"X-Sdk-Date", date}},
                             req.body};
  EXPECT_EQ(auth->signature,
            auth::SdkSignature(sreq, auth->signed_headers, date, "secret"));
  // A fresh request id is signed with every request, so two identical
  // requests in one second differ (the server accepts a state-changing
  // signature once).
  EXPECT_THAT(auth->signed_headers, ::testing::Contains("x-request-id"));
  const std::string first = Header(req, "Authorization");
  http.replies.push_back({200, {}, R"({"id":"src-1"})"});
  ASSERT_TRUE(client.RegisterSource({.name = "web01"}));
  EXPECT_NE(Header(http.requests.at(1), "Authorization"), first);
}

TEST(ServerClientTest, CorrectsClockSkewFromTheDateHeader) {
  FakeHttp http;
  testing::FakeClock clock;  // 2023-11-14
  ServerClient client(http, clock, AkSk());
  http.replies.push_back(
      {200, {{"date", "Sun, 29 Nov 2026 10:30:39 GMT"}}, R"({"id":"s"})"});
  http.replies.push_back({200, {}, R"({"command_name":"NONE"})"});
  ASSERT_TRUE(client.RegisterSource({}));
  EXPECT_GT(client.clock_skew_ms(), int64_t{365} * 86400 * 1000);
  ASSERT_TRUE(client.PollCommand("s"));
  EXPECT_EQ(Header(http.requests.at(1), "X-Sdk-Date").substr(0, 8), "20261129");
}

TEST(ServerClientTest, ASkewedClockIsCorrectedOnTheFirstRefusal) {
  FakeHttp http;
  testing::FakeClock clock;  // years behind the server
  ServerClient client(http, clock, AkSk());
  http.replies.push_back(
      {403,
       {{"date", "Sun, 29 Nov 2026 10:30:39 GMT"}},
       R"({"error_code":"SMS.9003","error_msg":"X-Sdk-Date: more than 15 minutes from server time"})"});
  http.replies.push_back({200, {}, R"({"id":"s"})"});
  auto id = client.RegisterSource({});
  ASSERT_TRUE(id) << id.error().ToString();
  ASSERT_EQ(http.requests.size(), 2u);
  EXPECT_EQ(Header(http.requests[1], "X-Sdk-Date").substr(0, 8), "20261129");
  // A refusal that is not about time is not retried.
  http.replies.push_back({403,
                          {{"date", "Sun, 29 Nov 2026 10:30:40 GMT"}},
                          R"({"error_code":"SMS.9004"})"});
  EXPECT_EQ(client.PostJson("/v3/x", "{}").error().code,
            core::ErrorCode::kPermissionDenied);
  EXPECT_EQ(http.requests.size(), 3u);
}

TEST(ServerClientTest, ParsesACheckCommand) {
  FakeHttp http;
  testing::FakeClock clock;
  ServerClient client(http, clock, AkSk());
  http.replies.push_back(
      {200,
       {},
       R"({"command_name":"CONSISTENCY_CHECK","command_param":{"task_id":"t",
       "run_id":"r","dirs":["/etc","/var/www"],"mode":"quick",
       "hash_algorithm":"sha256","exclude":"*.log, cache","io_limit":20,
       "verify_uri":"ssh://root@10.0.0.5/"}})"});
  auto c = client.PollCommand("s");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "CONSISTENCY_CHECK");
  EXPECT_EQ(c->dirs, (std::vector<std::string>{"/etc", "/var/www"}));
  EXPECT_EQ(c->exclude, (std::vector<std::string>{"*.log", "cache"}));
  EXPECT_EQ(c->mode, "quick");
  EXPECT_EQ(c->hash_algorithm, "sha256");
  EXPECT_EQ(c->io_limit, 20);
  EXPECT_EQ(c->verify_uri, "ssh://root@10.0.0.5/");
}

TEST(ServerClientTest, ParsesTheCacheAndScopeExtensions) {
  FakeHttp http;
  testing::FakeClock clock;
  ServerClient client(http, clock, AkSk());
  http.replies.push_back(
      {200, {}, R"({"command_name":"CONSISTENCY_CHECK","command_param":{
       "task_id":"t","run_id":"r","dirs":["/"],"cache":"off",
       "scope":"inconsistent","base_run_id":"b"}})"});
  auto c = client.PollCommand("s");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->cache, std::optional<bool>(false));
  EXPECT_EQ(c->scope, "inconsistent");
  EXPECT_EQ(c->base_run_id, "b");
  http.replies.push_back({200, {}, R"({"command_name":"CONSISTENCY_CHECK",
       "command_param":{"task_id":"t","cache":true}})"});
  EXPECT_EQ(client.PollCommand("s")->cache, std::optional<bool>(true));
  http.replies.push_back({200, {}, R"({"command_name":"CONSISTENCY_CHECK",
       "command_param":{"task_id":"t"}})"});
  EXPECT_FALSE(client.PollCommand("s")->cache.has_value());
}

TEST(ServerClientTest, ParsesPushAgent) {
  FakeHttp http;
  testing::FakeClock clock;
  ServerClient client(http, clock, AkSk());
  http.replies.push_back({200, {}, R"({"command_name":"CONSISTENCY_CHECK",
       "command_param":{"task_id":"t","push_agent":true}})"});
  EXPECT_EQ(client.PollCommand("s")->push_agent, std::optional<bool>(true));
  http.replies.push_back({200, {}, R"({"command_name":"CONSISTENCY_CHECK",
       "command_param":{"task_id":"t","push_agent":"off"}})"});
  EXPECT_EQ(client.PollCommand("s")->push_agent, std::optional<bool>(false));
  http.replies.push_back({200, {}, R"({"command_name":"CONSISTENCY_CHECK",
       "command_param":{"task_id":"t"}})"});
  EXPECT_FALSE(client.PollCommand("s")->push_agent.has_value());
}

TEST(RecheckTest, FetchesEveryPageOfTheLatestSuccessfulRun) {
  FakeHttp http;
  testing::FakeClock clock;
  ServerClient client(http, clock, AkSk());
  http.replies.push_back({200, {}, R"({"task_id":"t","result_list":[
       {"run_id":"failed-run","check_result":"failed"},
       {"run_id":"good run","check_result":"success"}]})"});
  http.replies.push_back({200, {}, R"({"task_id":"t","run_id":"good run",
       "count":3,"next_marker":"m/1","files":[
       {"dir_check":"/etc","path":"passwd","status":"different"},
       {"dir_check":"/etc","path":"x\\xff","path_b64":"eP8=","status":"error"}]})"});
  http.replies.push_back({200, {}, R"({"task_id":"t","run_id":"good run",
       "count":3,"files":[
       {"dir_check":"/var","path":"gone","status":"target_miss"},
       {"dir_check":"/home","path":"dropped","status":"target_more"}]})"});
  auto paths = FetchInconsistentPaths(client, "t", "", {"/etc", "/var"});
  ASSERT_TRUE(paths) << paths.error().ToString();
  EXPECT_EQ(paths->base_run_id, "good run");
  EXPECT_EQ(paths->files, 4u);
  EXPECT_EQ(paths->paths["/etc"],
            (std::vector<std::string>{"passwd", "x\xff"}));
  EXPECT_EQ(paths->paths["/var"], (std::vector<std::string>{"gone"}));
  ASSERT_EQ(http.requests.size(), 3u);
  EXPECT_EQ(http.requests[1].url,
            "http://127.0.0.1:8080/v3/tasks/t/consistency-result/details?"
            "run_id=good%20run&limit=1000");
  EXPECT_EQ(http.requests[2].url,
            "http://127.0.0.1:8080/v3/tasks/t/consistency-result/details?"
            "run_id=good%20run&limit=1000&marker=m%2F1");
}

TEST(RecheckTest, NoSuccessfulRunIsAnError) {
  FakeHttp http;
  testing::FakeClock clock;
  ServerClient client(http, clock, AkSk());
  http.replies.push_back({200, {}, R"({"result_list":[]})"});
  auto paths = FetchInconsistentPaths(client, "t", "", {"/"});
  ASSERT_FALSE(paths);
  EXPECT_EQ(paths.error().code, core::ErrorCode::kFailedPrecondition);
}

TEST(ServerClientTest, ClassifiesRetryableAndPermanentFailures) {
  FakeHttp http;
  testing::FakeClock clock;
  AgentConfig c = AkSk();
  c.ak.clear();
  c.sk.clear();
  c.token = "tok";
  ServerClient client(http, clock, c);
  http.replies.push_back({503,
                          {{"retry-after", "7"}},
                          R"({"error_code":"SMS.2008","error_msg":"down"})"});
  auto down = client.PostJson("/v3/x", "{}");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, core::ErrorCode::kUnavailable);
  EXPECT_EQ(client.retry_after(), 7);
  EXPECT_NE(down.error().message.find("SMS.2008 down"), std::string::npos);
  EXPECT_EQ(Header(http.requests.at(0), "X-Auth-Token"), "tok");

  http.replies.push_back(
      {404, {}, R"({"error_code":"SMS.2252","error_msg":"no"})"});
  EXPECT_EQ(client.PostJson("/v3/x", "{}").error().code,
            core::ErrorCode::kNotFound);
  http.replies.push_back({409, {}, "{}"});
  EXPECT_EQ(client.PostJson("/v3/x", "{}").error().code,
            core::ErrorCode::kAlreadyExists);
  // No response at all.
  EXPECT_EQ(client.PostJson("/v3/x", "{}").error().code,
            core::ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace sms::agent
