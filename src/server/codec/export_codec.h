// Export codec: the body of POST /v3/tasks/consistency-results/export
// (spec/API.md §3.3) decoded into an ExportRequest, and the collected rows
// rendered as CSV (RFC 4180), JSON or XLSX, row by row (ExportEncoder).
// Text cells that a spreadsheet would run as a formula (= + - @ TAB CR
// first) are neutralised with a leading apostrophe.
#pragma once

#include <cstdint>
#include <memory>
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
  std::vector<ExportTarget> targets;  // 1..200, no two alike
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
  // Issue 12, after the columns above so older consumers keep working: the
  // run's scope ("" for the whole directories, "inconsistent" for a
  // re-check) and the hash caches' counters.
  std::string scope;
  int64_t num_corrupt_files = 0, num_cached_files = 0, num_bytes_read = 0,
          num_target_cached_files = 0, num_target_bytes_read = 0;
};

enum class ExportFormat { kCsv, kJson, kXlsx };

// Picks the format from an Accept header (default CSV).
ExportFormat ExportFormatFromAccept(std::string_view accept);
std::string_view ExportContentType(ExportFormat f);

// Neutralises a text cell against spreadsheet formula injection.
std::string NeutraliseCell(std::string_view text);

// How an export ended, for its last lines.
struct ExportEnd {
  int64_t rows = 0;        // rows written (the truncation marker not counted)
  bool truncated = false;  // rows stopped at `row_limit`; more existed
  int64_t row_limit = 0;
};

// The text of the truncation marker (the check_result of the last CSV/XLSX
// row; the JSON body says "truncated": true).
std::string TruncationMessage(int64_t row_limit);

// Encodes an export piece by piece, so a body of any size is written with
// bounded memory: Begin, Add per row, Finish, then ReadFile until false.
// CSV and JSON write into `out` as they go; XLSX builds the workbook in a
// private temp file (libxlsxwriter's constant-memory mode: a row's cells
// are written out as the next row starts) and ReadFile returns its bytes.
// Thread-compatible: one thread at a time.
class ExportEncoder {
 public:
  virtual ~ExportEncoder() = default;
  // The start of the file (the CSV header row, the JSON opening).
  [[nodiscard]] virtual ApiStatus Begin(std::string& out) = 0;
  [[nodiscard]] virtual ApiStatus Add(const ExportRow& row,
                                      std::string& out) = 0;
  // The end of the file: the truncation marker when `end.truncated`.
  [[nodiscard]] virtual ApiStatus Finish(const ExportEnd& end,
                                         std::string& out) = 0;
  // After Finish: appends up to `max` more bytes of the file; false once
  // it has all been read (at once for CSV and JSON).
  [[nodiscard]] virtual ApiResult<bool> ReadFile(std::string& out, size_t max) {
    (void)out;
    (void)max;
    return false;
  }
};

// An encoder for `format`; `language` ("en-us" default, or "zh-cn") picks
// the header row of CSV and XLSX.
[[nodiscard]] ApiResult<std::unique_ptr<ExportEncoder>> MakeExportEncoder(
    ExportFormat format, std::string_view language);

// The rendered export and how to send it.
struct ExportFile {
  std::string body;
  std::string content_type;
  std::string file_name;  // for Content-Disposition; empty: inline (JSON)
};
// The file name of `format` for Content-Disposition; empty for JSON (inline).
std::string ExportFileName(ExportFormat format);
// All of `rows` rendered at once (tests and small callers; the API streams).
[[nodiscard]] ApiResult<ExportFile> EncodeExport(
    const std::vector<ExportRow>& rows, ExportFormat format,
    std::string_view language, const ExportEnd& end = {});

}  // namespace sms::server
