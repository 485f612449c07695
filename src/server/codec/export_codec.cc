#include "server/codec/export_codec.h"

#include <stdlib.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include <array>
#include <fstream>
#include <sstream>

#include "core/json_writer.h"

namespace sms::server {
namespace {

constexpr std::array<const char*, 14> kHeaderEn = {"source_name",
                                                   "source_id",
                                                   "task_id",
                                                   "task_name",
                                                   "run_id",
                                                   "finished_time",
                                                   "check_result",
                                                   "dir_check",
                                                   "num_total_files",
                                                   "num_different_files",
                                                   "num_target_miss_files",
                                                   "num_target_more_files",
                                                   "num_changed_files",
                                                   "num_error_files"};
constexpr std::array<const char*, 14> kHeaderZh = {
    "源端名称",         "源端ID",       "任务ID",           "任务名称",
    "校验ID",           "完成时间",     "校验结果",         "校验目录",
    "文件总数",         "不一致文件数", "目的端缺少文件数", "目的端多出文件数",
    "校验中变化文件数", "错误文件数"};

const std::array<const char*, 14>& Header(std::string_view language) {
  return language == "zh-cn" ? kHeaderZh : kHeaderEn;
}

// The text cells of a row, in header order (counters as text, empty when
// absent).
std::array<std::string, 14> Cells(const ExportRow& r) {
  auto num = [&r](int64_t v) {
    return r.has_counters ? std::to_string(v) : std::string();
  };
  return {r.source_name,
          r.source_id,
          r.task_id,
          r.task_name,
          r.run_id,
          r.finished_time > 0 ? core::IsoTimeMillis(r.finished_time)
                              : std::string(),
          r.check_result,
          r.dir_check,
          num(r.num_total_files),
          num(r.num_different_files),
          num(r.num_target_miss_files),
          num(r.num_target_more_files),
          num(r.num_changed_files),
          num(r.num_error_files)};
}

std::string CsvField(std::string_view text) {
  std::string s = NeutraliseCell(text);
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::string NeutraliseCell(std::string_view text) {
  if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' ||
                        text[0] == '@' || text[0] == '\t' || text[0] == '\r'))
    return "'" + std::string(text);
  return std::string(text);
}

ExportFormat ExportFormatFromAccept(std::string_view accept) {
  if (accept.find("spreadsheetml") != std::string_view::npos)
    return ExportFormat::kXlsx;
  if (accept.find("application/json") != std::string_view::npos)
    return ExportFormat::kJson;
  return ExportFormat::kCsv;
}

std::string_view ExportContentType(ExportFormat f) {
  switch (f) {
    case ExportFormat::kCsv:
      return "text/csv; charset=utf-8";
    case ExportFormat::kJson:
      return "application/json";
    case ExportFormat::kXlsx:
      return "application/"
             "vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  }
  return "text/csv; charset=utf-8";
}

ApiResult<ExportRequest> DecodeExportRequest(const json::object& body,
                                             const QueryParams& q) {
  ExportRequest r;
  auto all = q.find("all_runs");
  r.all_runs = all != q.end() && all->second == "true";
  SMS_ASSIGN_OR_RETURN(const json::array* items,
                       ReqArray(body, "task_info", "task_info", 1, 200));
  for (size_t i = 0; i < items->size(); ++i) {
    const std::string path = "task_info[" + std::to_string(i) + "]";
    SMS_ASSIGN_OR_RETURN(const json::object* item, AsObject((*items)[i], path));
    SMS_ASSIGN_OR_RETURN(std::optional<std::string> task_id,
                         OptString(*item, "task_id", path + ".task_id", 1, 36));
    SMS_ASSIGN_OR_RETURN(
        std::optional<std::string> source_id,
        OptString(*item, "source_id", path + ".source_id", 1, 36));
    SMS_ASSIGN_OR_RETURN(
        std::optional<std::string> source_name,
        OptString(*item, "source_name", path + ".source_name", 1, 255));
    if (!task_id && !source_id && !source_name)
      return Missing(path + ".task_id");
    r.targets.push_back({.task_id = task_id.value_or(""),
                         .source_id = source_id.value_or(""),
                         .source_name = source_name.value_or("")});
  }
  return r;
}

std::string RenderCsv(const std::vector<ExportRow>& rows,
                      std::string_view language) {
  std::string out;
  const auto& header = Header(language);
  for (size_t i = 0; i < header.size(); ++i) {
    if (i > 0) out += ',';
    out += CsvField(header[i]);
  }
  out += "\r\n";
  for (const ExportRow& r : rows) {
    auto cells = Cells(r);
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out += ',';
      out += CsvField(cells[i]);
    }
    out += "\r\n";
  }
  return out;
}

std::string RenderJson(const std::vector<ExportRow>& rows) {
  json::array out;
  for (const ExportRow& r : rows) {
    json::object o;
    o["source_name"] = r.source_name;
    o["source_id"] = r.source_id;
    o["task_id"] = r.task_id;
    o["task_name"] = r.task_name;
    o["run_id"] = r.run_id;
    if (r.finished_time > 0)
      o["finished_time"] = core::IsoTimeMillis(r.finished_time);
    else
      o["finished_time"] = nullptr;
    o["check_result"] = r.check_result;
    o["dir_check"] = r.dir_check;
    if (r.has_counters) {
      o["num_total_files"] = r.num_total_files;
      o["num_different_files"] = r.num_different_files;
      o["num_target_miss_files"] = r.num_target_miss_files;
      o["num_target_more_files"] = r.num_target_more_files;
      o["num_changed_files"] = r.num_changed_files;
      o["num_error_files"] = r.num_error_files;
    }
    out.push_back(std::move(o));
  }
  return ToJson(json::object{{"count", static_cast<int64_t>(rows.size())},
                             {"rows", std::move(out)}});
}

ApiResult<std::string> RenderXlsx(const std::vector<ExportRow>& rows,
                                  std::string_view language) {
  // libxlsxwriter 1.1.4 writes only to files: use a private temp file.
  const char* tmp = getenv("TMPDIR");
  std::string path =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/sms-export-XXXXXX";
  int fd = mkstemp(path.data());
  if (fd < 0) {
    return tl::unexpected(ApiError{ApiCode::kInternal, "internal error",
                                   "export: cannot create a temp file", 0});
  }
  close(fd);
  lxw_workbook* wb = workbook_new(path.c_str());
  if (wb == nullptr) {
    unlink(path.c_str());
    return tl::unexpected(ApiError{ApiCode::kInternal, "internal error",
                                   "export: workbook_new failed", 0});
  }
  lxw_worksheet* ws = workbook_add_worksheet(wb, "consistency");
  const auto& header = Header(language);
  for (size_t c = 0; c < header.size(); ++c)
    worksheet_write_string(ws, 0, static_cast<lxw_col_t>(c), header[c],
                           nullptr);
  lxw_row_t row = 1;
  for (const ExportRow& r : rows) {
    auto cells = Cells(r);
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c >= 8 && r.has_counters) {
        worksheet_write_number(ws, row, static_cast<lxw_col_t>(c),
                               static_cast<double>(std::stoll(cells[c])),
                               nullptr);
      } else if (!cells[c].empty()) {
        worksheet_write_string(ws, row, static_cast<lxw_col_t>(c),
                               NeutraliseCell(cells[c]).c_str(), nullptr);
      }
    }
    ++row;
  }
  lxw_error err = workbook_close(wb);
  std::string data;
  if (err == LXW_NO_ERROR) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    data = ss.str();
  }
  unlink(path.c_str());
  if (err != LXW_NO_ERROR || data.empty()) {
    return tl::unexpected(ApiError{ApiCode::kInternal, "internal error",
                                   "export: writing the workbook failed", 0});
  }
  return data;
}

ApiResult<ExportFile> EncodeExport(const std::vector<ExportRow>& rows,
                                   ExportFormat format,
                                   std::string_view language) {
  ExportFile f;
  f.content_type = std::string(ExportContentType(format));
  switch (format) {
    case ExportFormat::kCsv:
      f.body = RenderCsv(rows, language);
      f.file_name = "consistency-results.csv";
      break;
    case ExportFormat::kJson:
      f.body = RenderJson(rows);
      break;
    case ExportFormat::kXlsx:
      SMS_ASSIGN_OR_RETURN(f.body, RenderXlsx(rows, language));
      f.file_name = "consistency-results.xlsx";
      break;
  }
  return f;
}

}  // namespace sms::server
