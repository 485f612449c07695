// ExportService: POST /v3/tasks/consistency-results/export (spec/API.md
// §3.3). One row per directory of the latest (or every) run of the named
// tasks, read through a cursor (ExportCursor) a page of runs at a time, so
// an export of any size holds one page; server/codec/export_codec.h
// decodes the request and encodes the rows. A task or source that does not
// exist is a row saying so, not an error: the rest of the export is still
// useful. A task named twice (twice by id, or by id and through its
// source) is exported once. One export writes at most ExportLimits::max_rows
// rows, then a truncation marker (docs/server.md#exports).
// Thread-safety: ExportService is safe for concurrent use; an ExportCursor
// is used by one thread at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/body_stream.h"
#include "server/codec/export_codec.h"
#include "server/identity.h"
#include "server/task_service.h"
#include "storage/store.h"

namespace sms::server {

struct ExportLimits {
  // The most rows of one export. An XLSX sheet holds 1,048,576 rows, so the
  // same cap serves every format; past it the export ends with a marker.
  int64_t max_rows = 1000000;
  // Runs read per store call (each with its directories).
  int runs_per_page = 16;
  // Tasks of one source read per store call.
  int tasks_per_page = 500;
};

// The rows of one export, in order: per item of task_info, per task, runs
// newest first, directories in upload order.
class ExportCursor final {
 public:
  ExportCursor(storage::Store& store, Identity who, ExportRequest req,
               ExportLimits limits);
  ExportCursor(const ExportCursor&) = delete;
  ExportCursor& operator=(const ExportCursor&) = delete;

  // Appends up to `max` next rows to `rows`; false once the export has no
  // more (rows may still have been appended by that call), including when
  // it stopped at max_rows (then truncated() is true).
  [[nodiscard]] ApiResult<bool> Next(size_t max, std::vector<ExportRow>& rows);
  // The export stopped at limits.max_rows while more rows existed.
  bool truncated() const { return truncated_; }
  int64_t rows_written() const { return written_; }
  const ExportLimits& limits() const { return limits_; }

 private:
  // A task to export, or (task empty) a row saying why there is none.
  struct Pending {
    std::optional<storage::Task> task;
    std::string source_name;  // known when listed through its source
    ExportRow error_row;
  };

  [[nodiscard]] ApiResult<std::optional<ExportRow>> NextRow();
  [[nodiscard]] ApiResult<std::optional<ExportRow>> NextRowOfTask();
  [[nodiscard]] ApiStatus Expand(const ExportTarget& t);
  [[nodiscard]] ApiStatus ListSourceTasks();
  [[nodiscard]] ApiStatus StartTask(const Pending& p);

  storage::Store& store_;
  const Identity who_;
  const ExportRequest req_;
  const ExportLimits limits_;

  size_t target_ = 0;                      // next item of task_info
  std::deque<storage::Source> sources_;    // sources still to list
  std::optional<storage::Source> source_;  // whose tasks are being paged
  int task_offset_ = 0;
  std::deque<Pending> pending_;     // tasks still to export
  std::set<std::string> exported_;  // task ids already started
  // The task being exported.
  bool in_task_ = false;
  ExportRow base_;                  // its columns common to every row
  std::vector<storage::Run> runs_;  // the current page of its runs
  size_t run_ = 0, dir_ = 0;        // position in runs_
  std::string before_run_id_;       // keyset of the next page
  bool runs_done_ = false, any_run_ = false;

  int64_t written_ = 0;
  bool truncated_ = false;
  bool done_ = false;
};

class ExportService final {
 public:
  ExportService(storage::Store& store, TaskService& tasks,
                ExportLimits limits = {});

  // A cursor over the rows of `req`; 403 when `who` may not read results.
  [[nodiscard]] ApiResult<std::unique_ptr<ExportCursor>> Open(
      const Identity& who, const ExportRequest& req);

  // Every row of `req` at once (tests and small callers; the API streams).
  [[nodiscard]] ApiResult<std::vector<ExportRow>> Collect(
      const Identity& who, const ExportRequest& req);

 private:
  storage::Store& store_;
  TaskService& tasks_;
  const ExportLimits limits_;
};

// The body of an export: rows pulled from `cursor`, encoded by `encoder`,
// about kBodyStreamPiece bytes per call; the end carries the truncation
// marker when the cursor stopped at its row limit.
BodyStream StreamExport(std::unique_ptr<ExportCursor> cursor,
                        std::unique_ptr<ExportEncoder> encoder);

}  // namespace sms::server
