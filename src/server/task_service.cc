#include "server/task_service.h"

#include <algorithm>

#include "auth/crypto.h"
#include "core/strings.h"
#include "server/retention.h"

namespace sms::server {

using auth::IsUuid;
using auth::NewUuid;
using storage::CommandName;
using storage::CommandState;
using storage::Role;
using storage::TaskEvent;
using storage::TaskState;
namespace {

constexpr char kTaskNotFound[] = "The task does not exist.";
constexpr char kSourceNotFound[] = "The source server does not exist.";
constexpr int64_t kMaxInt32 = 2147483647;

ApiResult<std::optional<std::string>> QueryString(const QueryParams& q,
                                                  const std::string& key,
                                                  size_t max_len) {
  auto it = q.find(key);
  if (it == q.end()) return std::optional<std::string>();
  if (it->second.size() > max_len)
    return Malformed(key, "longer than " + std::to_string(max_len) + " bytes");
  return std::optional<std::string>(it->second);
}

ApiResult<int64_t> QueryInt(const QueryParams& q, const std::string& key,
                            int64_t def, int64_t min, int64_t max) {
  auto it = q.find(key);
  if (it == q.end()) return def;
  return ParseQueryInt(it->second, key, min, max);
}

// A list query's paging: limit 0..200 (default 100) and offset, into `f`.
template <typename Filter>
ApiStatus ReadPaging(const QueryParams& q, Filter* f) {
  auto limit = QueryInt(q, "limit", 100, 0, 200);
  if (!limit) return tl::unexpected(limit.error());
  auto offset = QueryInt(q, "offset", 0, 0, kMaxInt32);
  if (!offset) return tl::unexpected(offset.error());
  f->limit = static_cast<int>(*limit);
  f->offset = static_cast<int>(*offset);
  return {};
}

}  // namespace

ApiResult<std::vector<std::string>> SplitConsistencyDirs(
    const std::string& value, std::string_view path) {
  std::vector<std::string> dirs = core::SplitList(value);
  if (dirs.empty()) return Malformed(path, "lists no directory");
  if (dirs.size() > 30) return Malformed(path, "more than 30 directories");
  for (std::string& d : dirs) {
    if (d.front() != '/')
      return Malformed(path, "\"" + d + "\" is not an absolute path");
    if (d.size() > 4096) return Malformed(path, "longer than 4096 bytes");
    if (d.find('\0') != std::string::npos)
      return Malformed(path, "contains NUL");
    while (d.size() > 1 && d.back() == '/') d.pop_back();
  }
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  std::vector<std::string> out;
  for (const std::string& d : dirs) {
    bool covered = false;
    for (const std::string& p : out) {
      if (p == "/" || (d.size() > p.size() && d.compare(0, p.size(), p) == 0 &&
                       d[p.size()] == '/')) {
        covered = true;
        break;
      }
    }
    if (!covered) out.push_back(d);
  }
  return out;
}

TaskService::TaskService(storage::Store& store, core::Clock& clock)
    : store_(store), clock_(clock) {}

ApiResult<storage::Task> TaskService::LoadTask(const Identity& who,
                                               const std::string& id) {
  auto t = store_.GetTask(who.domain_id, id);
  if (!t) return StoreFail(t.error(), kTaskNotFound);
  return std::move(*t);
}

ApiStatus TaskService::CheckAgentOwnsTask(const Identity& who,
                                          const storage::Task& task) {
  if (who.role != Role::kAgent) return {};
  auto src = store_.GetSource(who.domain_id, task.source_id);
  if (!src && src.error().code != core::ErrorCode::kNotFound)
    return StoreFail(src.error(), kSourceNotFound);
  if (!src || src->owner_user_id != who.user_id) {
    return ApiFail(ApiCode::kForbidden,
                   "You do not have permission to perform action "
                   "sms:task:uploadResult on a task whose source is not "
                   "yours.");
  }
  return {};
}

ApiResult<storage::Source> TaskService::LoadOwnSource(const Identity& who,
                                                      const std::string& id) {
  auto s = store_.GetSource(who.domain_id, id);
  if (!s) return StoreFail(s.error(), kSourceNotFound);
  if (who.role == Role::kAgent && s->owner_user_id != who.user_id) {
    return ApiFail(ApiCode::kForbidden,
                   "You do not have permission to perform action "
                   "sms:server:command on a source registered by another "
                   "agent.");
  }
  return std::move(*s);
}

json::value TaskService::TaskJson(
    const storage::Task& t, std::map<std::string, std::string>* source_names) {
  auto cached = source_names->find(t.source_id);
  if (cached == source_names->end()) {
    std::string name;
    if (auto s = store_.GetSource(t.domain_id, t.source_id)) name = s->name;
    cached = source_names->emplace(t.source_id, std::move(name)).first;
  }
  return EncodeTask(t, cached->second);
}

json::value TaskService::SourceJson(const storage::Source& s, int64_t now) {
  return EncodeSource(s, now);
}

ApiResult<storage::Task> TaskService::CreateTask(const Identity& who,
                                                 const CreateTaskRequest& req) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kTaskWrite));
  auto src = store_.GetSource(who.domain_id, req.source_id);
  if (!src) return StoreFail(src.error(), kSourceNotFound);
  const int64_t now = clock_.NowEpochMillis();
  storage::Task t;
  t.id = NewUuid();
  t.domain_id = who.domain_id;
  t.name = req.name;
  t.type = req.type;
  t.os_type = req.os_type;
  t.source_id = req.source_id;
  t.target_name = req.target_name;
  t.target_ip = req.target_ip;
  t.target_verify_uri = req.target_verify_uri;
  t.is_need_consistency_check = req.is_need_consistency_check;
  t.state = TaskState::kReady;
  t.created_at = now;
  t.updated_at = now;
  if (auto s = store_.CreateTask(t); !s) return StoreFail(s.error(), "");
  return t;
}

ApiResult<json::value> TaskService::ListTasks(const Identity& who,
                                              const QueryParams& q) {
  if (auto s = Require(who, Action::kTaskRead); !s)
    return tl::unexpected(s.error());
  storage::TaskFilter f;
  auto state = QueryString(q, "state", 16);
  if (!state) return tl::unexpected(state.error());
  if (*state) {
    if (auto s = CheckEnum(**state, "state",
                           {"READY", "RUNNING", "ABORTING", "ABORT"});
        !s)
      return tl::unexpected(s.error());
  }
  if (*state) f.state = storage::ParseTaskState(**state);
  auto name = QueryString(q, "name", 255);
  if (!name) return tl::unexpected(name.error());
  f.name = *name;
  auto id = QueryString(q, "id", 36);
  if (!id) return tl::unexpected(id.error());
  f.id = *id;
  auto sid = QueryString(q, "source_server_id", 36);
  if (!sid) return tl::unexpected(sid.error());
  f.source_id = *sid;
  if (auto s = ReadPaging(q, &f); !s) return tl::unexpected(s.error());
  auto page = store_.ListTasks(who.domain_id, f);
  if (!page) return StoreFail(page.error(), "");
  json::array tasks;
  std::map<std::string, std::string> source_names;
  for (const auto& t : page->items) tasks.push_back(TaskJson(t, &source_names));
  return json::object{{"count", page->count}, {"tasks", std::move(tasks)}};
}

ApiResult<json::value> TaskService::ShowTask(const Identity& who,
                                             const std::string& id) {
  if (auto s = Require(who, Action::kTaskRead); !s)
    return tl::unexpected(s.error());
  auto t = LoadTask(who, id);
  if (!t) return tl::unexpected(t.error());
  std::map<std::string, std::string> source_names;
  return TaskJson(*t, &source_names);
}

ApiResult<json::value> TaskService::DeleteTask(const Identity& who,
                                               const std::string& id) {
  if (auto s = Require(who, Action::kTaskWrite); !s)
    return tl::unexpected(s.error());
  if (auto s = store_.DeleteTask(who.domain_id, id); !s)
    return StoreFail(s.error(), kTaskNotFound);
  return json::object{};
}

ApiResult<json::value> TaskService::SetConfiguration(const Identity& who,
                                                     const std::string& id,
                                                     const json::object& body) {
  if (auto s = Require(who, Action::kTaskWrite); !s)
    return tl::unexpected(s.error());
  auto list = ReqArray(body, "configurations", "configurations", 1, 20);
  if (!list) return tl::unexpected(list.error());
  std::vector<storage::ConfigEntry> entries;
  for (size_t i = 0; i < (*list)->size(); ++i) {
    std::string path = "configurations[" + std::to_string(i) + "]";
    auto item = AsObject((**list)[i], path);
    if (!item) return tl::unexpected(item.error());
    auto key = ReqString(**item, "config_key", path + ".config_key", 1, 64);
    if (!key) return tl::unexpected(key.error());
    auto value =
        ReqString(**item, "config_value", path + ".config_value", 0, 65536);
    if (!value) return tl::unexpected(value.error());
    std::string vpath = path + ".config_value";
    if (*key == "CONSISTENCY_DIR") {
      auto dirs = SplitConsistencyDirs(*value, vpath);
      if (!dirs) return tl::unexpected(dirs.error());
    } else if (*key == "CONSISTENCY_MODE") {
      if (auto s = CheckEnum(*value, vpath, {"hash", "quick"}); !s)
        return tl::unexpected(s.error());
    } else if (*key == "CONSISTENCY_HASH") {
      if (auto s = CheckEnum(*value, vpath, {"xxh128", "sha256"}); !s)
        return tl::unexpected(s.error());
    } else if (*key == "CONSISTENCY_EXCLUDE") {
      if (value->size() > 4096)
        return Malformed(vpath, "longer than 4096 bytes");
      if (core::SplitList(*value).size() > 100)
        return Malformed(vpath, "more than 100 patterns");
    } else if (*key == "CONSISTENCY_IO_LIMIT") {
      auto n = ParseQueryInt(*value, vpath, 0, 100000);
      if (!n) return tl::unexpected(n.error());
    } else if (*key == "CONSISTENCY_RETENTION") {  // issue 13.5
      if (auto p = ParseRetention(*value); !p)
        return Malformed(vpath, p.error().message);
    } else {
      return Malformed(path + ".config_key",
                       "must be one of CONSISTENCY_DIR, CONSISTENCY_MODE, "
                       "CONSISTENCY_EXCLUDE, CONSISTENCY_HASH, "
                       "CONSISTENCY_IO_LIMIT, CONSISTENCY_RETENTION");
    }
    entries.push_back({std::move(*key), std::move(*value)});
  }
  if (auto s = store_.PutTaskConfigs(who.domain_id, id, entries); !s)
    return StoreFail(s.error(), kTaskNotFound);
  return json::object{};
}

ApiResult<json::value> TaskService::GetConfiguration(const Identity& who,
                                                     const std::string& id,
                                                     const QueryParams& q) {
  if (auto s = Require(who, Action::kTaskRead); !s)
    return tl::unexpected(s.error());
  auto key = QueryString(q, "config_key", 64);
  if (!key) return tl::unexpected(key.error());
  auto entries = store_.GetTaskConfigs(who.domain_id, id);
  if (!entries) return StoreFail(entries.error(), kTaskNotFound);
  json::array out;
  for (const auto& e : *entries) {
    if (*key && e.key != **key) continue;
    out.push_back(
        json::object{{"config_key", e.key}, {"config_value", e.value}});
  }
  return json::object{{"configurations", std::move(out)}};
}

ApiResult<json::value> TaskService::RunAction(const Identity& who,
                                              const std::string& id,
                                              const json::object& body) {
  if (auto s = Require(who, Action::kTaskWrite); !s)
    return tl::unexpected(s.error());
  auto op = ReqString(body, "operation", "operation", 1, 64);
  if (!op) return tl::unexpected(op.error());
  auto task = LoadTask(who, id);
  if (!task) return tl::unexpected(task.error());
  const int64_t now = clock_.NowEpochMillis();
  auto bad_state = [&](const std::string& why) {
    return ApiFail(ApiCode::kBadState,
                   "operation " + *op + ": " + why + " (task state " +
                       std::string(ToText(task->state)) + ")");
  };

  if (*op == "consistency_check") {
    std::optional<TaskState> running =
        NextTaskState(task->state, TaskEvent::kCheckQueued);
    if (!running) return bad_state("a check is already queued or running");
    if (task->target_verify_uri.empty())
      return bad_state("target_server.verify_uri is not set");
    auto configs = store_.GetTaskConfigs(who.domain_id, id);
    if (!configs) return StoreFail(configs.error(), kTaskNotFound);
    std::map<std::string, std::string> cfg;
    for (const auto& e : *configs) cfg[e.key] = e.value;
    if (cfg["CONSISTENCY_DIR"].empty())
      return bad_state("configure CONSISTENCY_DIR first");
    auto dirs = SplitConsistencyDirs(cfg["CONSISTENCY_DIR"], "CONSISTENCY_DIR");
    if (!dirs) return tl::unexpected(dirs.error());
    json::array dir_list;
    for (const auto& d : *dirs) dir_list.push_back(json::string(d));
    json::array exclude;
    for (const auto& p : core::SplitList(cfg["CONSISTENCY_EXCLUDE"]))
      exclude.push_back(json::string(p));
    int64_t io_limit = 0;
    if (!cfg["CONSISTENCY_IO_LIMIT"].empty()) {
      auto n = ParseQueryInt(cfg["CONSISTENCY_IO_LIMIT"],
                             "CONSISTENCY_IO_LIMIT", 0, 100000);
      if (n) io_limit = *n;
    }
    std::string run_id = NewUuid();
    json::object param{
        {"task_id", task->id},
        {"run_id", run_id},
        {"dirs", std::move(dir_list)},
        {"mode",
         cfg["CONSISTENCY_MODE"].empty() ? "hash" : cfg["CONSISTENCY_MODE"]},
        {"hash_algorithm",
         cfg["CONSISTENCY_HASH"].empty() ? "xxh128" : cfg["CONSISTENCY_HASH"]},
        {"exclude", std::move(exclude)},
        {"io_limit", io_limit},
        {"verify_uri", task->target_verify_uri}};
    const storage::Command cmd{.domain_id = who.domain_id,
                               .source_id = task->source_id,
                               .task_id = task->id,
                               .run_id = run_id,
                               .name = CommandName::kConsistencyCheck,
                               .param_json = ToJson(param),
                               .state = CommandState::kPending,
                               .created_at = now,
                               .updated_at = now};
    auto queued = store_.EnqueueCommand(cmd, task->state, *running);
    if (!queued) return StoreFail(queued.error(), kTaskNotFound);
    return json::object{{"run_id", run_id}};
  }

  if (*op == "stop" || *op == "skip") {
    if (task->state != TaskState::kRunning)
      return bad_state("no check is queued or running");
    auto latest = store_.LatestTaskCommand(who.domain_id, id);
    if (!latest) return StoreFail(latest.error(), kTaskNotFound);
    bool queued = latest->name == CommandName::kConsistencyCheck &&
                  latest->state == CommandState::kPending;
    if (queued) {
      // Compare-and-set: the agent may poll it between our read and now.
      auto cancelled =
          store_.CancelPendingCommand(who.domain_id, latest->id, now);
      if (!cancelled &&
          cancelled.error().code != core::ErrorCode::kFailedPrecondition)
        return StoreFail(cancelled.error(), kTaskNotFound);
      queued = cancelled.has_value();
    }
    if (queued) {
      const TaskState next = *NextTaskState(
          TaskState::kRunning, *op == "stop" ? TaskEvent::kQueuedCheckStopped
                                             : TaskEvent::kQueuedCheckSkipped);
      if (auto s =
              store_.UpdateTaskState(who.domain_id, id, TaskState::kRunning,
                                     next, task->current_run_id, now);
          !s)
        return StoreFail(s.error(), kTaskNotFound);
      return json::object{};
    }
    if (*op == "skip") return bad_state("the check is already running");
    json::object param{{"task_id", task->id}, {"run_id", task->current_run_id}};
    const storage::Command cmd{.domain_id = who.domain_id,
                               .source_id = task->source_id,
                               .task_id = task->id,
                               .run_id = task->current_run_id,
                               .name = CommandName::kStop,
                               .param_json = ToJson(param),
                               .state = CommandState::kPending,
                               .created_at = now,
                               .updated_at = now};
    auto q = store_.EnqueueCommand(
        cmd, TaskState::kRunning,
        *NextTaskState(TaskState::kRunning, TaskEvent::kStopQueued));
    if (!q) return StoreFail(q.error(), kTaskNotFound);
    return json::object{};
  }

  static const char* const kMigrationOps[] = {
      "start",         "restart",     "test",  "clone_test", "sync",
      "network_check", "collect_log", "pause", "resume"};
  for (const char* m : kMigrationOps) {
    if (*op == m) {
      return ApiFail(ApiCode::kBadState,
                     "operation " + *op +
                         ": this service verifies consistency and does not "
                         "migrate; use consistency_check, stop or skip");
    }
  }
  return Malformed("operation", "must be one of consistency_check, stop, skip");
}

ApiResult<json::value> TaskService::RegisterSource(const Identity& who,
                                                   const json::object& body) {
  if (auto s = Require(who, Action::kSourceRegister); !s)
    return tl::unexpected(s.error());
  storage::Source src;
  auto name = ReqString(body, "name", "name", 1, 255);
  if (!name) return tl::unexpected(name.error());
  auto hostname = OptString(body, "hostname", "hostname", 1, 255);
  if (!hostname) return tl::unexpected(hostname.error());
  auto ip = OptString(body, "ip", "ip", 0, 64);
  if (!ip) return tl::unexpected(ip.error());
  auto os = ReqString(body, "os_type", "os_type", 1, 16);
  if (!os) return tl::unexpected(os.error());
  if (auto s = CheckEnum(*os, "os_type", {"LINUX", "WINDOWS"}); !s)
    return tl::unexpected(s.error());
  auto osv = OptString(body, "os_version", "os_version", 0, 255);
  if (!osv) return tl::unexpected(osv.error());
  auto av = OptString(body, "agent_version", "agent_version", 0, 64);
  if (!av) return tl::unexpected(av.error());
  const int64_t now = clock_.NowEpochMillis();
  src.id = NewUuid();
  src.domain_id = who.domain_id;
  src.owner_user_id = who.user_id;
  src.name = *name;
  src.hostname = hostname->value_or(*name);
  src.ip = ip->value_or("");
  src.os_type = *os;
  src.os_version = osv->value_or("");
  src.agent_version = av->value_or("");
  src.created_at = now;
  src.last_seen_at = now;
  auto saved = store_.UpsertSource(src);
  if (!saved) return StoreFail(saved.error(), "");
  if (who.role == Role::kAgent && saved->owner_user_id != who.user_id) {
    return ApiFail(ApiCode::kForbidden,
                   "You do not have permission to perform action "
                   "sms:server:register on a source registered by another "
                   "agent.");
  }
  return json::object{{"id", saved->id}};
}

ApiResult<json::value> TaskService::ListSources(const Identity& who,
                                                const QueryParams& q) {
  if (auto s = Require(who, Action::kSourceRead); !s)
    return tl::unexpected(s.error());
  storage::SourceFilter f;
  auto name = QueryString(q, "name", 255);
  if (!name) return tl::unexpected(name.error());
  f.name = *name;
  if (auto s = ReadPaging(q, &f); !s) return tl::unexpected(s.error());
  auto page = store_.ListSources(who.domain_id, f);
  if (!page) return StoreFail(page.error(), "");
  const int64_t now = clock_.NowEpochMillis();
  json::array items;
  for (const auto& s : page->items) items.push_back(SourceJson(s, now));
  return json::object{{"count", page->count},
                      {"source_servers", std::move(items)}};
}

ApiResult<json::value> TaskService::ShowSource(const Identity& who,
                                               const std::string& id) {
  if (auto s = Require(who, Action::kSourceRead); !s)
    return tl::unexpected(s.error());
  auto src = store_.GetSource(who.domain_id, id);
  if (!src) return StoreFail(src.error(), kSourceNotFound);
  return SourceJson(*src, clock_.NowEpochMillis());
}

ApiResult<json::value> TaskService::PollCommand(const Identity& who,
                                                const std::string& id) {
  if (auto s = Require(who, Action::kAgentLoop); !s)
    return tl::unexpected(s.error());
  auto src = LoadOwnSource(who, id);
  if (!src) return tl::unexpected(src.error());
  auto next = store_.NextCommand(who.domain_id, id, clock_.NowEpochMillis());
  if (!next) return StoreFail(next.error(), kSourceNotFound);
  if (!next->has_value()) return json::object{{"command_name", "NONE"}};
  const storage::Command& c = **next;
  json::value param = json::object{};
  if (auto parsed = ParseJsonBody(c.param_json)) param = std::move(*parsed);
  return json::object{{"command_name", storage::ToText(c.name)},
                      {"command_param", std::move(param)}};
}

ApiResult<json::value> TaskService::CommandResult(const Identity& who,
                                                  const std::string& id,
                                                  const json::object& body) {
  if (auto s = Require(who, Action::kAgentLoop); !s)
    return tl::unexpected(s.error());
  auto name = ReqString(body, "command_name", "command_name", 1, 64);
  if (!name) return tl::unexpected(name.error());
  if (auto s = CheckEnum(*name, "command_name", {"CONSISTENCY_CHECK", "STOP"});
      !s)
    return tl::unexpected(s.error());
  auto result = ReqString(body, "result", "result", 1, 16);
  if (!result) return tl::unexpected(result.error());
  if (auto s = CheckEnum(*result, "result", {"success", "fail"}); !s)
    return tl::unexpected(s.error());
  auto detail = OptObject(body, "result_detail", "result_detail");
  if (!detail) return tl::unexpected(detail.error());
  std::string detail_text = *detail ? ToJson(**detail) : "{}";
  if (detail_text.size() > 65536)
    return Malformed("result_detail", "longer than 65536 bytes");
  auto src = LoadOwnSource(who, id);
  if (!src) return tl::unexpected(src.error());
  auto cmd = store_.LatestDeliveredCommand(who.domain_id, id,
                                           *storage::ParseCommandName(*name));
  if (!cmd) {
    if (cmd.error().code == core::ErrorCode::kNotFound)
      return ApiFail(ApiCode::kBadState,
                     "command_name: no delivered " + *name +
                         " command is waiting for a result");
    return StoreFail(cmd.error(), "");
  }
  const int64_t now = clock_.NowEpochMillis();
  if (auto s = store_.FinishCommand(who.domain_id, cmd->id, CommandState::kDone,
                                    *result, detail_text, now);
      !s)
    return StoreFail(s.error(), "");
  // Move the task on. A concurrent transition (the run committed first)
  // makes these compare-and-set updates no-ops, which is what we want.
  if (*name == "STOP") {
    auto s = store_.UpdateTaskState(
        who.domain_id, cmd->task_id, TaskState::kAborting,
        *NextTaskState(TaskState::kAborting, TaskEvent::kStopAcknowledged),
        cmd->run_id, now);
    if (!s && s.error().code != core::ErrorCode::kFailedPrecondition &&
        s.error().code != core::ErrorCode::kNotFound)
      return StoreFail(s.error(), "");
  } else if (*result == "fail") {
    auto task = store_.GetTask(who.domain_id, cmd->task_id);
    if (task && task->current_run_id == cmd->run_id) {
      auto s = store_.UpdateTaskState(
          who.domain_id, cmd->task_id, TaskState::kRunning,
          *NextTaskState(TaskState::kRunning, TaskEvent::kCheckFailed),
          cmd->run_id, now);
      if (!s && s.error().code != core::ErrorCode::kFailedPrecondition &&
          s.error().code != core::ErrorCode::kNotFound)
        return StoreFail(s.error(), "");
    }
  }
  return json::object{};
}

}  // namespace sms::server
