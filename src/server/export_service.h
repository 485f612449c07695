// ExportService: POST /v3/tasks/consistency-results/export (spec/API.md
// §3.3). Collects one row per directory of the latest (or every) run of the
// named tasks; server/codec/export_codec.h decodes the request and renders
// the rows. A task or source that does not exist is a row saying so, not an
// error: the rest of the export is still useful.
// Thread-safety: safe for concurrent use.
#pragma once

#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/codec/export_codec.h"
#include "server/identity.h"
#include "server/task_service.h"
#include "storage/store.h"

namespace sms::server {

class ExportService final {
 public:
  ExportService(storage::Store& store, TaskService& tasks);

  [[nodiscard]] ApiResult<std::vector<ExportRow>> Collect(
      const Identity& who, const ExportRequest& req);

 private:
  // The rows of one task (its source `src` when known, else looked up).
  ApiStatus AddTask(const Identity& who, const storage::Task& t,
                    const storage::Source* src, bool all_runs,
                    std::vector<ExportRow>* rows);
  // The rows of every task of one source.
  ApiStatus AddSource(const Identity& who, const storage::Source& s,
                      bool all_runs, std::vector<ExportRow>* rows);

  storage::Store& store_;
  TaskService& tasks_;
};

}  // namespace sms::server
