// Export codec: the body of POST /v3/tasks/consistency-results/export
// (spec/API.md §3.3) decoded into an ExportRequest, and the collected rows
// rendered as CSV (RFC 4180), JSON or XLSX. Text cells that a spreadsheet
// would run as a formula (= + - @ TAB CR first) are neutralised with a
// leading apostrophe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/api_error.h"
#include "server/codec/query.h"
#include "server/json_fields.h"

namespace sms::server {

// One item of task_info: a task, or every task of a source (by id or name).
struct ExportTarget {
  std::string task_id, source_id, source_name;
};

struct ExportRequest {
  std::vector<ExportTarget> targets;  // 1..200
  bool all_runs = false;              // ?all_runs=true: every run, not the
                                      // latest only
};
[[nodiscard]] ApiResult<ExportRequest> DecodeExportRequest(
    const json::object& body, const QueryParams& q);

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

// `language`: "en-us" (default) or "zh-cn", for the header row.
std::string RenderCsv(const std::vector<ExportRow>& rows,
                      std::string_view language);
std::string RenderJson(const std::vector<ExportRow>& rows);
[[nodiscard]] ApiResult<std::string> RenderXlsx(
    const std::vector<ExportRow>& rows, std::string_view language);

// The rendered export and how to send it.
struct ExportFile {
  std::string body;
  std::string content_type;
  std::string file_name;  // for Content-Disposition; empty: inline (JSON)
};
[[nodiscard]] ApiResult<ExportFile> EncodeExport(
    const std::vector<ExportRow>& rows, ExportFormat format,
    std::string_view language);

}  // namespace sms::server
