// Fuzzes the server's JSON request decoders through the public entry point
// that survives refactors of the services: Api::Handle (src/server/api.h),
// with a real SQLite store in a temporary directory and an admin's token.
//
// One source, three targets (FUZZ_ROUTE):
//   upload:  the body of POST /v3/tasks/{id}/consistency-result
//   details: the body of POST /v3/tasks/{id}/consistency-result/details
//   task:    the first byte picks the route; the rest is the body of
//            POST /v3/tasks, .../configuration-setting, .../action,
//            /v3/sources, /v3/sources/{id}/command_result,
//            /v3/tasks/consistency-results/export or /v3/auth/tokens.
// An answer of 500 is a finding (an exception or a broken invariant), so
// the harness aborts on it.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "core/clock.h"
#include "server/api.h"
#include "server/auth_service.h"
#include "server/export_service.h"
#include "server/json_fields.h"
#include "server/metrics.h"
#include "server/result_service.h"
#include "server/task_service.h"
#include "storage/caching_store.h"
#include "storage/sqlite_store.h"

namespace {

using namespace sms;  // NOLINT: file-local

struct World {
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<server::AuthService> auth;
  std::unique_ptr<server::TaskService> tasks;
  std::unique_ptr<server::ResultService> results;
  std::unique_ptr<server::ExportService> exports;
  server::Metrics metrics;
  std::unique_ptr<server::Api> api;
  std::string token;
  std::string task_id;
  std::string source_id;

  server::HttpResponse Call(const std::string& method,
                            const std::string& target, std::string body) {
    server::HttpRequest req;
    req.method = method;
    req.target = target;
    req.headers = {{"Content-Type", "application/json"},
                   {"X-Auth-Token", token}};
    req.body = std::move(body);
    req.remote = "127.0.0.1";
    return api->Handle(req);
  }
};

std::string Field(const std::string& json, const char* key) {
  auto v = server::ParseJsonObject(json);
  if (!v || !v->contains(key) || !v->at(key).is_string()) return "";
  return std::string(v->at(key).get_string());
}

World* Setup() {
  auto* w = new World;
  const char* shm = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string dir = std::string(shm) + "/sms-fuzz-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) abort();
  auto store = storage::OpenSqliteStore(dir + "/fuzz.db");
  if (!store) abort();
  // As serve runs SQLite: behind the read cache (tokens, tasks, runs).
  w->store = storage::NewCachingStore(std::move(*store));
  core::Clock& clock = core::SystemClock();
  server::AuthOptions ao;
  ao.pbkdf2_iterations = 1000;
  w->auth = std::make_unique<server::AuthService>(*w->store, clock, ao);
  w->tasks = std::make_unique<server::TaskService>(*w->store, clock);
  w->results =
      std::make_unique<server::ResultService>(*w->store, clock, *w->tasks);
  w->exports = std::make_unique<server::ExportService>(*w->store, *w->tasks);
  server::ApiDeps deps{w->store.get(), &clock,           w->auth.get(),
                       w->tasks.get(), w->results.get(), w->exports.get(),
                       &w->metrics,    nullptr};
  w->api = std::make_unique<server::Api>(deps, server::ApiOptions{});
  if (!w->auth->CreateDomain("acme") ||
      !w->auth->CreateUser("acme", "admin", "admin", "password-admin"))
    abort();
  w->token = "";
  server::HttpResponse login = w->Call(
      "POST", "/v3/auth/tokens",
      R"({"auth":{"identity":{"methods":["password"],"password":{"user":)"
      R"({"name":"admin","password":"password-admin","domain":{"name":)"
      R"("acme"}}}},"scope":{"domain":{"name":"acme"}}}})");
  for (const auto& [k, v] : login.headers)
    if (k == "X-Subject-Token") w->token = v;
  if (w->token.empty()) abort();
  w->source_id = Field(
      w->Call("POST", "/v3/sources",
              R"({"name":"web01","hostname":"web01","ip":"10.0.0.1",)"
              R"("os_type":"LINUX","os_version":"d12","agent_version":"f"})")
          .body,
      "id");
  w->task_id =
      Field(w->Call("POST", "/v3/tasks",
                    R"({"name":"t","type":"MIGRATE_FILE","os_type":"LINUX",)"
                    R"("source_server":{"id":")" +
                        w->source_id +
                        R"("},"target_server":{"name":"t","ip":"10.0.0.2",)"
                        R"("verify_uri":"file:///mnt/t"},)"
                        R"("is_need_consistency_check":true})")
                .body,
            "id");
  if (w->source_id.empty() || w->task_id.empty()) abort();
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* w = Setup();
  std::string body(reinterpret_cast<const char*>(data), size);
  std::string target;
#if defined(FUZZ_ROUTE_UPLOAD)
  target = "/v3/tasks/" + w->task_id + "/consistency-result";
#elif defined(FUZZ_ROUTE_DETAILS)
  target = "/v3/tasks/" + w->task_id + "/consistency-result/details";
#else
  const uint8_t pick = body.empty() ? 0 : static_cast<uint8_t>(body[0]);
  if (!body.empty()) body.erase(0, 1);
  const std::string task = "/v3/tasks/" + w->task_id;
  const std::string source = "/v3/sources/" + w->source_id;
  switch (pick % 7) {
    case 0:
      target = "/v3/tasks";
      break;
    case 1:
      target = task + "/configuration-setting";
      break;
    case 2:
      target = task + "/action";
      break;
    case 3:
      target = "/v3/sources";
      break;
    case 4:
      target = source + "/command_result";
      break;
    case 5:
      target = "/v3/tasks/consistency-results/export";
      break;
    default:
      target = "/v3/auth/tokens";
      break;
  }
#endif
  server::HttpResponse r = w->Call("POST", target, std::move(body));
  if (r.status >= 500 && r.status != 503) {
    std::fprintf(stderr, "POST %s -> %d %s\n", target.c_str(), r.status,
                 r.body.c_str());
    abort();
  }
  return 0;
}
