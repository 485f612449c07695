#include "server/export_service.h"

#include <utility>

namespace sms::server {
namespace {

// The most runs of one task (with all_runs), and tasks of one source, that
// an export lists.
constexpr int kMaxListed = 100000;

ExportRow ErrorRow(const std::string& task_id, const std::string& source_id,
                   const std::string& source_name, const std::string& why) {
  ExportRow r;
  r.task_id = task_id;
  r.source_id = source_id;
  r.source_name = source_name;
  r.check_result = "error: " + why;
  return r;
}

}  // namespace

ExportService::ExportService(storage::Store& store, TaskService& tasks)
    : store_(store), tasks_(tasks) {}

ApiStatus ExportService::AddTask(const Identity& who, const storage::Task& t,
                                 const storage::Source* src, bool all_runs,
                                 std::vector<ExportRow>* rows) {
  std::string source_name = src ? src->name : "";
  if (!src) {
    if (auto s = store_.GetSource(who.domain_id, t.source_id))
      source_name = s->name;
  }
  SMS_ASSIGN_OR_RETURN(
      std::vector<storage::Run> runs,
      FromStore(store_.ListRuns(who.domain_id, t.id, all_runs ? kMaxListed : 1),
                ""));
  ExportRow base;
  base.source_name = source_name;
  base.source_id = t.source_id;
  base.task_id = t.id;
  base.task_name = t.name;
  if (runs.empty()) {
    base.check_result = "no_result";
    rows->push_back(base);
    return {};
  }
  for (const auto& run : runs) {
    ExportRow r = base;
    r.run_id = run.run_id;
    r.finished_time = run.finished_time;
    r.check_result = run.check_result;
    if (run.dirs.empty()) rows->push_back(r);
    for (const auto& d : run.dirs) {
      ExportRow dr = r;
      dr.dir_check = d.dir_check;
      dr.has_counters = true;
      dr.num_total_files = d.num_total_files;
      dr.num_different_files = d.num_different_files;
      dr.num_target_miss_files = d.num_target_miss_files;
      dr.num_target_more_files = d.num_target_more_files;
      dr.num_changed_files = d.num_changed_files;
      dr.num_error_files = d.num_error_files;
      rows->push_back(std::move(dr));
    }
  }
  return {};
}

ApiStatus ExportService::AddSource(const Identity& who,
                                   const storage::Source& s, bool all_runs,
                                   std::vector<ExportRow>* rows) {
  storage::TaskFilter f;
  f.source_id = s.id;
  f.limit = kMaxListed;
  SMS_ASSIGN_OR_RETURN(storage::Page<storage::Task> page,
                       FromStore(store_.ListTasks(who.domain_id, f), ""));
  if (page.items.empty())
    rows->push_back(ErrorRow("", s.id, s.name, "the source has no task"));
  for (const auto& t : page.items)
    SMS_RETURN_IF_ERROR(AddTask(who, t, &s, all_runs, rows));
  return {};
}

ApiResult<std::vector<ExportRow>> ExportService::Collect(
    const Identity& who, const ExportRequest& req) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kResultRead));
  std::vector<ExportRow> rows;
  for (const ExportTarget& t : req.targets) {
    if (!t.task_id.empty()) {
      auto task = store_.GetTask(who.domain_id, t.task_id);
      if (!task) {
        if (task.error().code != core::ErrorCode::kNotFound)
          return StoreFail(task.error(), "");
        rows.push_back(ErrorRow(t.task_id, t.source_id, t.source_name,
                                "the task does not exist"));
        continue;
      }
      SMS_RETURN_IF_ERROR(AddTask(who, *task, nullptr, req.all_runs, &rows));
    } else if (!t.source_id.empty()) {
      auto src = store_.GetSource(who.domain_id, t.source_id);
      if (!src) {
        if (src.error().code != core::ErrorCode::kNotFound)
          return StoreFail(src.error(), "");
        rows.push_back(ErrorRow("", t.source_id, t.source_name,
                                "the source does not exist"));
        continue;
      }
      SMS_RETURN_IF_ERROR(AddSource(who, *src, req.all_runs, &rows));
    } else {
      storage::SourceFilter f;
      f.name = t.source_name;
      f.limit = 1000;
      SMS_ASSIGN_OR_RETURN(storage::Page<storage::Source> page,
                           FromStore(store_.ListSources(who.domain_id, f), ""));
      if (page.items.empty()) {
        rows.push_back(
            ErrorRow("", "", t.source_name, "the source does not exist"));
        continue;
      }
      for (const auto& s : page.items)
        SMS_RETURN_IF_ERROR(AddSource(who, s, req.all_runs, &rows));
    }
  }
  return rows;
}

}  // namespace sms::server
