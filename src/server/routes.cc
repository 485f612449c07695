// The route table: every route of the API, its access rules and its
// handler, in one list (docs/architecture.md follows one from here to its
// SQL). A handler decodes what the request carries, calls one service and
// encodes the reply; matching, authentication, path ids and body parsing
// happen before it (api.cc).
#include "server/routes.h"

#include <string>
#include <vector>

#include "core/strings.h"
#include "server/codec/task_codec.h"

namespace sms::server {

std::vector<Api::Route> Api::MakeRoutes() {
  TaskService& tasks = *deps_.tasks;
  ResultService& results = *deps_.results;
  AuthService& auth = *deps_.auth;
  return {
      // operations
      {.method = "GET",
       .pattern = "/healthz",
       .auth = false,
       .read_only = true,
       .handler = [](Context&) -> ApiResult<Reply> {
         return JsonReply(json::object{{"status", "ok"}});
       }},
      {.method = "GET",
       .pattern = "/readyz",
       .auth = false,
       .read_only = true,
       .handler = [this](Context&) -> ApiResult<Reply> {
         if (auto s = deps_.store->Ping(); !s) {
           deps_.metrics->AddStorageError();
           return tl::unexpected(FromStore(s.error(), ""));
         }
         return JsonReply(json::object{{"status", "ready"}});
       }},
      {.method = "GET",
       .pattern = "/metrics",
       .auth = !options_.public_metrics,
       .read_only = true,
       .handler = [this](Context&) -> ApiResult<Reply> {
         Reply r;
         r.body = deps_.metrics->Render(deps_.results->runs_committed());
         r.content_type = "text/plain; version=0.0.4; charset=utf-8";
         return r;
       }},
      {.method = "GET",
       .pattern = "/openapi.json",
       .auth = false,
       .read_only = true,
       .handler = [this](Context&) -> ApiResult<Reply> {
         Reply r;
         r.body = options_.openapi_json;
         return r;
       }},
      // auth
      {.method = "POST",
       .pattern = "/v3/auth/tokens",
       .auth = false,
       .json_body = true,
       .handler = [&auth](Context& c) -> ApiResult<Reply> {
         auto login = ParseLoginRequest(c.body);
         if (!login) return tl::unexpected(login.error());
         login->remote = c.req->remote;
         auto issued = auth.Login(*login);
         if (!issued) return tl::unexpected(issued.error());
         c.who = issued->identity;
         Reply r;
         r.status = 201;
         r.body = ToJson(TokenToJson(*issued));
         r.extra.push_back({"X-Subject-Token", issued->token});
         return r;
       }},
      {.method = "DELETE",
       .pattern = "/v3/auth/tokens",
       .auth = false,
       .handler = [&auth](Context& c) -> ApiResult<Reply> {
         const std::string* subject =
             FindHeader(c.req->headers, "x-subject-token");
         if (subject == nullptr) return Missing("X-Subject-Token");
         if (auto s = auth.RevokeToken(*subject); !s)
           return tl::unexpected(s.error());
         Reply r;
         r.status = 204;
         r.content_type.clear();
         return r;
       }},
      // tasks
      {.method = "POST",
       .pattern = "/v3/tasks/consistency-results/export",
       .json_body = true,
       .handler = [this](Context& c) -> ApiResult<Reply> {
         bool all_runs =
             c.query.count("all_runs") && c.query["all_runs"] == "true";
         auto rows = deps_.exports->Collect(*c.who, c.body, all_runs);
         if (!rows) return tl::unexpected(rows.error());
         const std::string* accept = FindHeader(c.req->headers, "accept");
         const std::string* lang = FindHeader(c.req->headers, "x-language");
         std::string language = lang ? core::AsciiLower(*lang) : "en-us";
         ExportFormat f = ExportFormatFromAccept(accept ? *accept : "");
         Reply r;
         r.content_type = std::string(ExportContentType(f));
         if (f == ExportFormat::kCsv) {
           r.body = RenderCsv(*rows, language);
           r.extra.push_back(
               {"Content-Disposition",
                "attachment; filename=\"consistency-results.csv\""});
         } else if (f == ExportFormat::kJson) {
           r.body = RenderJson(*rows);
         } else {
           auto x = RenderXlsx(*rows, language);
           if (!x) return tl::unexpected(x.error());
           r.body = std::move(*x);
           r.extra.push_back(
               {"Content-Disposition",
                "attachment; filename=\"consistency-results.xlsx\""});
         }
         return r;
       }},
      {.method = "POST",
       .pattern = "/v3/tasks",
       .json_body = true,
       .signature_once = true,
       .handler = [&tasks](Context& c) -> ApiResult<Reply> {
         // The role before the fields, as for every route.
         SMS_RETURN_IF_ERROR(Require(*c.who, Action::kTaskWrite));
         SMS_ASSIGN_OR_RETURN(CreateTaskRequest req, DecodeCreateTask(c.body));
         SMS_ASSIGN_OR_RETURN(storage::Task t, tasks.CreateTask(*c.who, req));
         return JsonReply(EncodeCreated(t.id));
       }},
      {.method = "GET",
       .pattern = "/v3/tasks",
       .read_only = true,
       .handler =
           [&tasks](Context& c) {
             return JsonReply(tasks.ListTasks(*c.who, c.query));
           }},
      {.method = "GET",
       .pattern = "/v3/tasks/{task_id}",
       .read_only = true,
       .handler =
           [&tasks](Context& c) {
             return JsonReply(tasks.ShowTask(*c.who, c.params["task_id"]));
           }},
      {.method = "DELETE",
       .pattern = "/v3/tasks/{task_id}",
       .signature_once = true,
       .handler =
           [&tasks](Context& c) {
             return JsonReply(tasks.DeleteTask(*c.who, c.params["task_id"]));
           }},
      {.method = "POST",
       .pattern = "/v3/tasks/{task_id}/configuration-setting",
       .json_body = true,
       .signature_once = true,
       .handler =
           [&tasks](Context& c) {
             return JsonReply(
                 tasks.SetConfiguration(*c.who, c.params["task_id"], c.body));
           }},
      {.method = "GET",
       .pattern = "/v3/tasks/{task_id}/configuration-setting",
       .read_only = true,
       .handler =
           [&tasks](Context& c) {
             return JsonReply(
                 tasks.GetConfiguration(*c.who, c.params["task_id"], c.query));
           }},
      {.method = "POST",
       .pattern = "/v3/tasks/{task_id}/action",
       .json_body = true,
       .signature_once = true,
       .handler =
           [&tasks](Context& c) {
             return JsonReply(
                 tasks.RunAction(*c.who, c.params["task_id"], c.body));
           }},
      {.method = "POST",
       .pattern = "/v3/tasks/{task_id}/consistency-result",
       .json_body = true,
       .handler = [&results](Context& c) -> ApiResult<Reply> {
         auto up = results.Upload(*c.who, c.params["task_id"], c.body);
         if (!up) return tl::unexpected(up.error());
         Reply r;
         r.body = ToJson(json::string("update consistency result succeeded"));
         r.extra.push_back({"X-Run-Id", up->run_id});
         return r;
       }},
      {.method = "GET",
       .pattern = "/v3/tasks/{task_id}/consistency-result",
       .read_only = true,
       .handler =
           [&results](Context& c) {
             return JsonReply(
                 results.Get(*c.who, c.params["task_id"], c.query));
           }},
      {.method = "POST",
       .pattern = "/v3/tasks/{task_id}/consistency-result/details",
       .json_body = true,
       .handler =
           [&results](Context& c) {
             return JsonReply(
                 results.UploadDetails(*c.who, c.params["task_id"], c.body));
           }},
      {.method = "GET",
       .pattern = "/v3/tasks/{task_id}/consistency-result/details",
       .read_only = true,
       .handler =
           [&results](Context& c) {
             return JsonReply(
                 results.ListDetails(*c.who, c.params["task_id"], c.query));
           }},
      // sources
      {.method = "POST",
       .pattern = "/v3/sources",
       .json_body = true,
       .handler =
           [&tasks](Context& c) {
             return JsonReply(tasks.RegisterSource(*c.who, c.body));
           }},
      {.method = "GET",
       .pattern = "/v3/sources",
       .read_only = true,
       .handler =
           [&tasks](Context& c) {
             return JsonReply(tasks.ListSources(*c.who, c.query));
           }},
      {.method = "GET",
       .pattern = "/v3/sources/{source_id}",
       .read_only = true,
       .handler =
           [&tasks](Context& c) {
             return JsonReply(tasks.ShowSource(*c.who, c.params["source_id"]));
           }},
      {.method = "GET",
       .pattern = "/v3/sources/{source_id}/command",
       .signature_once = true,
       .handler =
           [&tasks](Context& c) {
             return JsonReply(tasks.PollCommand(*c.who, c.params["source_id"]));
           }},
      {.method = "POST",
       .pattern = "/v3/sources/{source_id}/command_result",
       .json_body = true,
       .signature_once = true,
       .handler =
           [&tasks](Context& c) {
             return JsonReply(
                 tasks.CommandResult(*c.who, c.params["source_id"], c.body));
           }},
      // issue 13: changes since the last run, webhooks
      {.method = "GET",
       .pattern = "/v3/tasks/{task_id}/consistency-result/changes",
       .read_only = true,
       .handler =
           [this](Context& c) {
             return JsonReply(
                 deps_.changes->List(*c.who, c.params["task_id"], c.query));
           }},
      {.method = "POST",
       .pattern = "/v3/webhooks",
       .json_body = true,
       .signature_once = true,
       .handler =
           [this](Context& c) {
             return JsonReply(deps_.webhooks->Create(*c.who, c.body), 201);
           }},
      {.method = "GET",
       .pattern = "/v3/webhooks",
       .read_only = true,
       .handler =
           [this](Context& c) {
             return JsonReply(deps_.webhooks->List(*c.who));
           }},
      {.method = "GET",
       .pattern = "/v3/webhooks/{webhook_id}",
       .read_only = true,
       .handler =
           [this](Context& c) {
             return JsonReply(
                 deps_.webhooks->Show(*c.who, c.params["webhook_id"]));
           }},
      {.method = "DELETE",
       .pattern = "/v3/webhooks/{webhook_id}",
       .signature_once = true,
       .handler =
           [this](Context& c) {
             return JsonReply(
                 deps_.webhooks->Delete(*c.who, c.params["webhook_id"]));
           }},
      {.method = "GET",
       .pattern = "/v3/webhooks/{webhook_id}/deliveries",
       .read_only = true,
       .handler =
           [this](Context& c) {
             return JsonReply(deps_.webhooks->Deliveries(
                 *c.who, c.params["webhook_id"], c.query));
           }},
  };
}

}  // namespace sms::server
