// The route table: every route of the API, its access rules and its
// handler, in one list (docs/architecture.md follows one from here to its
// SQL). A handler decodes what the request carries (server/codec/), calls
// one service with typed values and encodes what it returns; matching,
// authentication, path ids, body parsing and the role check (`.action`)
// happen before it (api.cc).
#include "server/routes.h"

#include <string>
#include <vector>

#include "core/strings.h"
#include "server/codec/auth_codec.h"
#include "server/codec/changes_codec.h"
#include "server/codec/export_codec.h"
#include "server/codec/result_codec.h"
#include "server/codec/source_codec.h"
#include "server/codec/task_codec.h"
#include "server/codec/tenant_settings_codec.h"
#include "server/codec/webhook_codec.h"

namespace sms::server {

std::vector<Api::Route> Api::MakeRoutes() {
  TaskService& tasks = *deps_.tasks;
  ResultService& results = *deps_.results;
  AuthService& auth = *deps_.auth;
  ExportService& exports = *deps_.exports;
  SourceService& sources = sources_;
  CommandService& commands = commands_;
  core::Clock& clock = *deps_.clock;
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
         if (auto s = deps_.store->CheckWritable(); !s) {
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
         r.body = deps_.metrics->Render(deps_.results->runs_committed(),
                                        ReadDatabaseGauges(*deps_.store));
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
         SMS_ASSIGN_OR_RETURN(LoginRequest login, DecodeLoginRequest(c.body));
         login.remote = c.req->remote;
         for (const auto& [name, value] : c.req->headers)
           if (core::AsciiLower(name) == "x-forwarded-for")
             login.forwarded_for.push_back(value);
         SMS_ASSIGN_OR_RETURN(IssuedToken issued, auth.Login(login));
         c.who = issued.identity;
         Reply r = JsonReply(EncodeIssuedToken(issued), 201);
         r.extra.push_back({"X-Subject-Token", issued.token});
         return r;
       }},
      {.method = "DELETE",
       .pattern = "/v3/auth/login-failures",
       .signature_once = true,
       .handler = [&auth](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(LoginLockQuery q, DecodeLoginLockQuery(c.query));
         SMS_ASSIGN_OR_RETURN(
             int64_t cleared,
             auth.ClearLoginLock(*c.who, q.user_name, q.address));
         return JsonReply(EncodeLoginLockCleared(q, cleared));
       }},
      {.method = "DELETE",
       .pattern = "/v3/auth/tokens",
       .auth = false,
       .handler = [&auth](Context& c) -> ApiResult<Reply> {
         const std::string* subject =
             FindHeader(c.req->headers, "x-subject-token");
         if (subject == nullptr) return Missing("X-Subject-Token");
         SMS_RETURN_IF_ERROR(auth.RevokeToken(*subject));
         Reply r;
         r.status = 204;
         r.content_type.clear();
         return r;
       }},
      // tasks
      {.method = "POST",
       .pattern = "/v3/tasks/consistency-results/export",
       .json_body = true,
       .action = Action::kResultRead,
       .handler = [&exports](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(ExportRequest req,
                              DecodeExportRequest(c.body, c.query));
         const std::string* accept = FindHeader(c.req->headers, "accept");
         const std::string* lang = FindHeader(c.req->headers, "x-language");
         const ExportFormat format =
             ExportFormatFromAccept(accept ? *accept : "");
         SMS_ASSIGN_OR_RETURN(
             std::unique_ptr<ExportEncoder> encoder,
             MakeExportEncoder(format,
                               lang ? core::AsciiLower(*lang) : "en-us"));
         SMS_ASSIGN_OR_RETURN(std::unique_ptr<ExportCursor> cursor,
                              exports.Open(*c.who, req));
         // Rows go to the socket as they are read (issue 11.2). The first
         // piece is made here, so an export that fits in it is an ordinary
         // answer and an early failure still gets its status.
         Reply r;
         BodyStream stream =
             StreamExport(std::move(cursor), std::move(encoder));
         core::Result<bool> more = stream(r.body);
         if (!more) return StoreFail(more.error(), "");
         if (*more) r.stream = std::move(stream);
         r.content_type = std::string(ExportContentType(format));
         if (const std::string name = ExportFileName(format); !name.empty()) {
           r.extra.push_back({"Content-Disposition",
                              "attachment; filename=\"" + name + "\""});
         }
         return r;
       }},
      {.method = "POST",
       .pattern = "/v3/tasks",
       .json_body = true,
       .action = Action::kTaskWrite,
       .signature_once = true,
       .handler = [&tasks](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(CreateTaskRequest req, DecodeCreateTask(c.body));
         SMS_ASSIGN_OR_RETURN(storage::Task t, tasks.CreateTask(*c.who, req));
         return JsonReply(EncodeCreated(t.id));
       }},
      {.method = "GET",
       .pattern = "/v3/tasks",
       .read_only = true,
       .action = Action::kTaskRead,
       .handler = [&tasks](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(storage::TaskFilter f,
                              DecodeTaskListQuery(c.query));
         SMS_ASSIGN_OR_RETURN(storage::Page<TaskView> page,
                              tasks.ListTasks(*c.who, f));
         return JsonReply(EncodeTaskList(page));
       }},
      {.method = "GET",
       .pattern = "/v3/tasks/{task_id}",
       .read_only = true,
       .action = Action::kTaskRead,
       .handler = [&tasks](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(TaskView t,
                              tasks.ShowTask(*c.who, c.params["task_id"]));
         return JsonReply(EncodeTask(t));
       }},
      {.method = "DELETE",
       .pattern = "/v3/tasks/{task_id}",
       .action = Action::kTaskWrite,
       .signature_once = true,
       .handler = [&tasks](Context& c) -> ApiResult<Reply> {
         SMS_RETURN_IF_ERROR(tasks.DeleteTask(*c.who, c.params["task_id"]));
         return JsonReply(json::object{});
       }},
      {.method = "POST",
       .pattern = "/v3/tasks/{task_id}/configuration-setting",
       .json_body = true,
       .action = Action::kTaskWrite,
       .signature_once = true,
       .handler = [&tasks](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(std::vector<storage::ConfigEntry> entries,
                              DecodeConfigurations(c.body));
         SMS_RETURN_IF_ERROR(
             tasks.SetConfiguration(*c.who, c.params["task_id"], entries));
         return JsonReply(json::object{});
       }},
      {.method = "GET",
       .pattern = "/v3/tasks/{task_id}/configuration-setting",
       .read_only = true,
       .action = Action::kTaskRead,
       .handler = [&tasks](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(std::optional<std::string> key,
                              DecodeConfigKeyQuery(c.query));
         SMS_ASSIGN_OR_RETURN(
             std::vector<storage::ConfigEntry> entries,
             tasks.GetConfiguration(*c.who, c.params["task_id"], key));
         return JsonReply(EncodeConfigurations(entries));
       }},
      {.method = "POST",
       .pattern = "/v3/tasks/{task_id}/action",
       .json_body = true,
       .action = Action::kTaskWrite,
       .signature_once = true,
       .handler = [&tasks](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(ActionRequest req, DecodeAction(c.body));
         SMS_ASSIGN_OR_RETURN(
             ActionOutcome outcome,
             tasks.RunAction(*c.who, c.params["task_id"], req));
         return JsonReply(EncodeActionOutcome(outcome));
       }},
      {.method = "POST",
       .pattern = "/v3/tasks/{task_id}/consistency-result",
       .json_body = true,
       .action = Action::kResultUpload,
       .handler = [&results](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(ResultUpload upload, DecodeResultUpload(c.body));
         SMS_ASSIGN_OR_RETURN(
             UploadOutcome up,
             results.Upload(*c.who, c.params["task_id"], upload));
         Reply r =
             JsonReply(json::string("update consistency result succeeded"));
         r.extra.push_back({"X-Run-Id", up.run_id});
         return r;
       }},
      {.method = "GET",
       .pattern = "/v3/tasks/{task_id}/consistency-result",
       .read_only = true,
       .action = Action::kResultRead,
       .handler = [&results](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(ResultListQuery q,
                              DecodeResultListQuery(c.query));
         const std::string& task_id = c.params["task_id"];
         if (q.run_id) {
           SMS_ASSIGN_OR_RETURN(storage::Run run,
                                results.GetOne(*c.who, task_id, *q.run_id));
           return JsonReply(EncodeRunList(task_id, {run}));
         }
         SMS_ASSIGN_OR_RETURN(std::vector<storage::Run> runs,
                              results.Get(*c.who, task_id, q.limit));
         return JsonReply(EncodeRunList(task_id, runs));
       }},
      {.method = "POST",
       .pattern = "/v3/tasks/{task_id}/consistency-result/details",
       .json_body = true,
       .action = Action::kResultUpload,
       .handler = [&results](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(storage::DetailChunk chunk,
                              DecodeDetailChunk(c.body));
         SMS_ASSIGN_OR_RETURN(StagedDetails staged,
                              results.UploadDetails(*c.who, c.params["task_id"],
                                                    std::move(chunk)));
         return JsonReply(EncodeStagedDetails(staged));
       }},
      {.method = "GET",
       .pattern = "/v3/tasks/{task_id}/consistency-result/details",
       .read_only = true,
       .action = Action::kDetailsRead,
       .handler = [&results](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(DetailListQuery q,
                              DecodeDetailListQuery(c.query));
         SMS_ASSIGN_OR_RETURN(
             DetailListing listing,
             results.ListDetails(*c.who, c.params["task_id"], q));
         return JsonReply(EncodeDetailListing(listing));
       }},
      // sources and the agent's command loop
      {.method = "POST",
       .pattern = "/v3/sources",
       .json_body = true,
       .action = Action::kSourceRegister,
       .handler = [&sources](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(RegisterSourceRequest req,
                              DecodeRegisterSource(c.body));
         SMS_ASSIGN_OR_RETURN(storage::Source s,
                              sources.RegisterSource(*c.who, req));
         return JsonReply(EncodeCreated(s.id));
       }},
      {.method = "GET",
       .pattern = "/v3/sources",
       .read_only = true,
       .action = Action::kSourceRead,
       .handler = [&sources, &clock](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(storage::SourceFilter f,
                              DecodeSourceListQuery(c.query));
         SMS_ASSIGN_OR_RETURN(storage::Page<storage::Source> page,
                              sources.ListSources(*c.who, f));
         return JsonReply(EncodeSourceList(page, clock.NowEpochMillis()));
       }},
      {.method = "GET",
       .pattern = "/v3/sources/{source_id}",
       .read_only = true,
       .action = Action::kSourceRead,
       .handler = [&sources, &clock](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(
             storage::Source s,
             sources.ShowSource(*c.who, c.params["source_id"]));
         return JsonReply(EncodeSource(s, clock.NowEpochMillis()));
       }},
      {.method = "GET",
       .pattern = "/v3/sources/{source_id}/command",
       .action = Action::kAgentLoop,
       .signature_once = true,
       .check = [&commands](Context& c) -> ApiStatus {
         return commands.CheckPoll(*c.who, c.params["source_id"]);
       },
       .async = true,
       .handler = [&commands](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(std::optional<storage::Command> next,
                              commands.HandOut(*c.who, c.params["source_id"]));
         return JsonReply(EncodePolledCommand(next));
       }},
      {.method = "POST",
       .pattern = "/v3/sources/{source_id}/command_result",
       .json_body = true,
       .action = Action::kAgentLoop,
       .signature_once = true,
       .handler = [&commands](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(CommandResultRequest req,
                              DecodeCommandResult(c.body));
         SMS_RETURN_IF_ERROR(
             commands.CommandResult(*c.who, c.params["source_id"], req));
         return JsonReply(json::object{});
       }},
      // issue 13: changes since the last run, webhooks (admin role: the
      // service checks it)
      {.method = "GET",
       .pattern = "/v3/tasks/{task_id}/consistency-result/changes",
       .read_only = true,
       .action = Action::kResultRead,
       .handler = [this](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(ChangesRequest req, DecodeChangesQuery(c.query));
         SMS_ASSIGN_OR_RETURN(
             ChangesPage page,
             deps_.changes->List(*c.who, c.params["task_id"], std::move(req)));
         return JsonReply(EncodeChangesPage(page));
       }},
      {.method = "POST",
       .pattern = "/v3/webhooks",
       .json_body = true,
       .signature_once = true,
       .handler = [this](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(CreateWebhookRequest req,
                              DecodeCreateWebhook(c.body));
         SMS_ASSIGN_OR_RETURN(CreatedWebhook made,
                              deps_.webhooks->Create(*c.who, req));
         return JsonReply(EncodeCreatedWebhook(made), 201);
       }},
      {.method = "GET",
       .pattern = "/v3/webhooks",
       .read_only = true,
       .handler = [this](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(std::vector<storage::Webhook> hooks,
                              deps_.webhooks->List(*c.who));
         return JsonReply(EncodeWebhookList(hooks));
       }},
      {.method = "GET",
       .pattern = "/v3/webhooks/{webhook_id}",
       .read_only = true,
       .handler = [this](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(
             storage::Webhook w,
             deps_.webhooks->Show(*c.who, c.params["webhook_id"]));
         return JsonReply(EncodeWebhook(w));
       }},
      {.method = "DELETE",
       .pattern = "/v3/webhooks/{webhook_id}",
       .signature_once = true,
       .handler = [this](Context& c) -> ApiResult<Reply> {
         const std::string& id = c.params["webhook_id"];
         SMS_RETURN_IF_ERROR(deps_.webhooks->Delete(*c.who, id));
         return JsonReply(json::object{{"id", id}});
       }},
      {.method = "GET",
       .pattern = "/v3/webhooks/{webhook_id}/deliveries",
       .read_only = true,
       .handler = [this](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(int limit, DecodeDeliveriesQuery(c.query));
         const std::string& id = c.params["webhook_id"];
         SMS_ASSIGN_OR_RETURN(std::vector<storage::AttemptRow> rows,
                              deps_.webhooks->Deliveries(*c.who, id, limit));
         return JsonReply(EncodeDeliveries(id, rows));
       }},
      // issue 13.5: the tenant's defaults (PUT: admin role, the service
      // checks it)
      {.method = "GET",
       .pattern = "/v3/consistency-settings",
       .read_only = true,
       .action = Action::kTaskRead,
       .handler = [this](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(TenantSettings s, tenant_settings_.Get(*c.who));
         return JsonReply(EncodeTenantSettings(s));
       }},
      {.method = "PUT",
       .pattern = "/v3/consistency-settings",
       .json_body = true,
       .signature_once = true,
       .handler = [this](Context& c) -> ApiResult<Reply> {
         SMS_ASSIGN_OR_RETURN(TenantSettings req, DecodeTenantSettings(c.body));
         SMS_ASSIGN_OR_RETURN(TenantSettings s,
                              tenant_settings_.Put(*c.who, req));
         return JsonReply(EncodeTenantSettings(s));
       }},
  };
}

}  // namespace sms::server
