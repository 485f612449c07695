#include "server/export_service.h"

#include <utility>

namespace sms::server {
namespace {

// Sources matched by one source_name item (names are unique per domain
// in practice; this bounds a pathological case).
constexpr int kMaxSourcesByName = 1000;

ExportRow ErrorRow(const std::string& task_id, const std::string& source_id,
                   const std::string& source_name, const std::string& why) {
  ExportRow r;
  r.task_id = task_id;
  r.source_id = source_id;
  r.source_name = source_name;
  r.check_result = "error: " + why;
  return r;
}

// The row of directory `d` of run `run` of the task whose columns are `base`.
ExportRow DirRow(const ExportRow& base, const storage::Run& run,
                 const storage::DirResult* d) {
  ExportRow r = base;
  r.run_id = run.run_id;
  r.finished_time = run.finished_time;
  r.check_result = run.check_result;
  r.scope = run.scope;
  if (d == nullptr) return r;
  r.dir_check = d->dir_check;
  r.has_counters = true;
  r.num_total_files = d->num_total_files;
  r.num_different_files = d->num_different_files;
  r.num_target_miss_files = d->num_target_miss_files;
  r.num_target_more_files = d->num_target_more_files;
  r.num_changed_files = d->num_changed_files;
  r.num_error_files = d->num_error_files;
  r.num_corrupt_files = d->num_corrupt_files;
  r.num_cached_files = d->num_cached_files;
  r.num_bytes_read = d->num_bytes_read;
  r.num_target_cached_files = d->num_target_cached_files;
  r.num_target_bytes_read = d->num_target_bytes_read;
  return r;
}

}  // namespace

ExportCursor::ExportCursor(storage::Store& store, Identity who,
                           ExportRequest req, ExportLimits limits)
    : store_(store),
      who_(std::move(who)),
      req_(std::move(req)),
      limits_(limits) {}

ApiResult<bool> ExportCursor::Next(size_t max, std::vector<ExportRow>& rows) {
  for (size_t n = 0; n < max && !done_; ++n) {
    SMS_ASSIGN_OR_RETURN(std::optional<ExportRow> row, NextRow());
    if (!row) {
      done_ = true;
      break;
    }
    if (written_ == limits_.max_rows) {  // one row too many: cut here
      truncated_ = true;
      done_ = true;
      break;
    }
    rows.push_back(std::move(*row));
    ++written_;
  }
  return !done_;
}

ApiResult<std::optional<ExportRow>> ExportCursor::NextRow() {
  for (;;) {
    if (in_task_) {
      SMS_ASSIGN_OR_RETURN(std::optional<ExportRow> row, NextRowOfTask());
      if (row) return row;
      in_task_ = false;
      runs_.clear();
      continue;
    }
    if (!pending_.empty()) {
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      if (!p.task) return std::optional<ExportRow>(std::move(p.error_row));
      if (!exported_.insert(p.task->id).second) continue;  // named before
      SMS_RETURN_IF_ERROR(StartTask(p));
      continue;
    }
    if (source_) {
      SMS_RETURN_IF_ERROR(ListSourceTasks());
      continue;
    }
    if (!sources_.empty()) {
      source_ = std::move(sources_.front());
      sources_.pop_front();
      task_offset_ = 0;
      continue;
    }
    if (target_ < req_.targets.size()) {
      SMS_RETURN_IF_ERROR(Expand(req_.targets[target_++]));
      continue;
    }
    return std::optional<ExportRow>();
  }
}

ApiStatus ExportCursor::Expand(const ExportTarget& t) {
  if (!t.task_id.empty()) {
    auto task = store_.GetTask(who_.domain_id, t.task_id);
    if (!task) {
      if (task.error().code != core::ErrorCode::kNotFound)
        return StoreFail(task.error(), "");
      pending_.push_back(
          {.error_row = ErrorRow(t.task_id, t.source_id, t.source_name,
                                 "the task does not exist")});
      return {};
    }
    pending_.push_back({.task = std::move(*task)});
    return {};
  }
  if (!t.source_id.empty()) {
    auto src = store_.GetSource(who_.domain_id, t.source_id);
    if (!src) {
      if (src.error().code != core::ErrorCode::kNotFound)
        return StoreFail(src.error(), "");
      pending_.push_back({.error_row = ErrorRow("", t.source_id, t.source_name,
                                                "the source does not exist")});
      return {};
    }
    sources_.push_back(std::move(*src));
    return {};
  }
  storage::SourceFilter f;
  f.name = t.source_name;
  f.limit = kMaxSourcesByName;
  SMS_ASSIGN_OR_RETURN(storage::Page<storage::Source> page,
                       FromStore(store_.ListSources(who_.domain_id, f), ""));
  if (page.items.empty()) {
    pending_.push_back({.error_row = ErrorRow("", "", t.source_name,
                                              "the source does not exist")});
  }
  for (auto& s : page.items) sources_.push_back(std::move(s));
  return {};
}

ApiStatus ExportCursor::ListSourceTasks() {
  storage::TaskFilter f;
  f.source_id = source_->id;
  f.limit = limits_.tasks_per_page;
  f.offset = task_offset_;
  SMS_ASSIGN_OR_RETURN(storage::Page<storage::Task> page,
                       FromStore(store_.ListTasks(who_.domain_id, f), ""));
  if (page.items.empty() && task_offset_ == 0) {
    pending_.push_back({.error_row = ErrorRow("", source_->id, source_->name,
                                              "the source has no task")});
  }
  task_offset_ += static_cast<int>(page.items.size());
  for (auto& t : page.items)
    pending_.push_back({.task = std::move(t), .source_name = source_->name});
  if (page.items.size() < static_cast<size_t>(f.limit)) source_.reset();
  return {};
}

ApiStatus ExportCursor::StartTask(const Pending& p) {
  const storage::Task& t = *p.task;
  base_ = ExportRow{};
  base_.source_name = p.source_name;
  if (base_.source_name.empty()) {
    if (auto s = store_.GetSource(who_.domain_id, t.source_id))
      base_.source_name = s->name;
  }
  base_.source_id = t.source_id;
  base_.task_id = t.id;
  base_.task_name = t.name;
  in_task_ = true;
  runs_.clear();
  run_ = dir_ = 0;
  before_run_id_.clear();
  runs_done_ = any_run_ = false;
  return {};
}

ApiResult<std::optional<ExportRow>> ExportCursor::NextRowOfTask() {
  for (;;) {
    if (run_ < runs_.size()) {
      const storage::Run& run = runs_[run_];
      if (run.dirs.empty()) {  // a run with no directory: one row
        ++run_;
        return std::optional<ExportRow>(DirRow(base_, run, nullptr));
      }
      if (dir_ < run.dirs.size())
        return std::optional<ExportRow>(DirRow(base_, run, &run.dirs[dir_++]));
      ++run_;
      dir_ = 0;
      continue;
    }
    if (runs_done_) {
      if (any_run_) return std::optional<ExportRow>();
      any_run_ = true;  // the one "no_result" row
      ExportRow r = base_;
      r.check_result = "no_result";
      return std::optional<ExportRow>(std::move(r));
    }
    const int limit = req_.all_runs ? limits_.runs_per_page : 1;
    SMS_ASSIGN_OR_RETURN(
        runs_, FromStore(store_.ListRunsBefore(who_.domain_id, base_.task_id,
                                               before_run_id_, limit),
                         ""));
    run_ = dir_ = 0;
    if (!req_.all_runs || runs_.size() < static_cast<size_t>(limit))
      runs_done_ = true;
    if (!runs_.empty()) {
      any_run_ = true;
      before_run_id_ = runs_.back().run_id;
    }
  }
}

ExportService::ExportService(storage::Store& store, TaskService& tasks,
                             ExportLimits limits)
    : store_(store), tasks_(tasks), limits_(limits) {}

ApiResult<std::unique_ptr<ExportCursor>> ExportService::Open(
    const Identity& who, const ExportRequest& req) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kResultRead));
  return std::make_unique<ExportCursor>(store_, who, req, limits_);
}

ApiResult<std::vector<ExportRow>> ExportService::Collect(
    const Identity& who, const ExportRequest& req) {
  SMS_ASSIGN_OR_RETURN(std::unique_ptr<ExportCursor> cursor, Open(who, req));
  std::vector<ExportRow> rows;
  for (;;) {
    SMS_ASSIGN_OR_RETURN(bool more, cursor->Next(1024, rows));
    if (!more) break;
  }
  return rows;
}

BodyStream StreamExport(std::unique_ptr<ExportCursor> cursor,
                        std::unique_ptr<ExportEncoder> encoder) {
  enum class Stage { kBegin, kRows, kFile, kDone };
  struct State {
    std::unique_ptr<ExportCursor> cursor;
    std::unique_ptr<ExportEncoder> encoder;
    Stage stage = Stage::kBegin;
    std::vector<ExportRow> batch;
  };
  auto st = std::make_shared<State>();
  st->cursor = std::move(cursor);
  st->encoder = std::move(encoder);
  // The store's "unavailable" stays so (503 when it happens before the
  // first byte is sent); anything else is internal.
  auto fail = [](const ApiError& e) {
    std::string what =
        "export: " + (e.internal.empty() ? e.message : e.internal);
    return core::Fail(e.code == ApiCode::kUnavailable
                          ? core::Unavailable(std::move(what))
                          : core::Internal(std::move(what)));
  };
  return [st, fail](std::string& out) -> core::Result<bool> {
    if (st->stage == Stage::kBegin) {
      if (auto s = st->encoder->Begin(out); !s) return fail(s.error());
      st->stage = Stage::kRows;
    }
    while (st->stage == Stage::kRows && out.size() < kBodyStreamPiece) {
      st->batch.clear();
      auto more = st->cursor->Next(256, st->batch);
      if (!more) return fail(more.error());
      for (const ExportRow& r : st->batch)
        if (auto s = st->encoder->Add(r, out); !s) return fail(s.error());
      if (!*more) {
        const ExportEnd end{.rows = st->cursor->rows_written(),
                            .truncated = st->cursor->truncated(),
                            .row_limit = st->cursor->limits().max_rows};
        if (auto s = st->encoder->Finish(end, out); !s) return fail(s.error());
        st->stage = Stage::kFile;
      }
    }
    if (st->stage == Stage::kFile && out.size() < kBodyStreamPiece) {
      auto more = st->encoder->ReadFile(out, kBodyStreamPiece - out.size());
      if (!more) return fail(more.error());
      if (!*more) st->stage = Stage::kDone;
    }
    return st->stage != Stage::kDone;
  };
}

}  // namespace sms::server
