// ExportService: POST /v3/tasks/consistency-results/export (spec/API.md
// §3.3). Collects one row per directory of the latest (or every) run of the
// named tasks, and renders CSV (RFC 4180), JSON or XLSX. Text cells that a
// spreadsheet would run as a formula (= + - @ TAB CR first) are neutralised
// with a leading apostrophe.
// Thread-safety: safe for concurrent use.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "server/api_error.h"
#include "server/identity.h"
#include "server/json_fields.h"
#include "server/task_service.h"
#include "storage/store.h"

namespace sms::server {

struct ExportRow {
  std::string source_name, source_id, task_id, task_name, run_id;
  int64_t finished_time = 0;  // 0: no run
  std::string check_result, dir_check;
  int64_t num_total_files = 0, num_different_files = 0,
          num_target_miss_files = 0, num_target_more_files = 0,
          num_changed_files = 0, num_error_files = 0;
  bool has_counters = false;  // false for error rows and tasks with no run
};

enum class ExportFormat { kCsv, kJson, kXlsx };

// Picks the format from an Accept header (default CSV).
ExportFormat ExportFormatFromAccept(std::string_view accept);
std::string_view ExportContentType(ExportFormat f);

// Neutralises a text cell against spreadsheet formula injection.
std::string NeutraliseCell(std::string_view text);

class ExportService final {
 public:
  ExportService(storage::Store& store, TaskService& tasks);

  [[nodiscard]] ApiResult<std::vector<ExportRow>> Collect(
      const Identity& who, const json::object& body, bool all_runs);

 private:
  storage::Store& store_;
  TaskService& tasks_;
};

// `language`: "en-us" (default) or "zh-cn", for the header row.
std::string RenderCsv(const std::vector<ExportRow>& rows,
                      std::string_view language);
std::string RenderJson(const std::vector<ExportRow>& rows);
[[nodiscard]] ApiResult<std::string> RenderXlsx(
    const std::vector<ExportRow>& rows, std::string_view language);

}  // namespace sms::server
