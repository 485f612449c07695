#include "server/codec/export_codec.h"

#include <stdlib.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include <algorithm>
#include <array>
#include <fstream>

#include "core/json_writer.h"
#include "server/codec/xml_text.h"

namespace sms::server {
namespace {

// The columns of a row. Columns are only ever appended (issue 12 added the
// last six), so a consumer reading by position keeps working.
constexpr size_t kColumns = 20;
// The one text column among the counters (8 on).
constexpr size_t kScopeColumn = 14;
using Header = std::array<const char*, kColumns>;

constexpr Header kHeaderEn = {"source_name",
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
                              "num_error_files",
                              "scope",
                              "num_corrupt_files",
                              "num_cached_files",
                              "num_bytes_read",
                              "num_target_cached_files",
                              "num_target_bytes_read"};
constexpr Header kHeaderZh = {
    "源端名称",         "源端ID",           "任务ID",
    "任务名称",         "校验ID",           "完成时间",
    "校验结果",         "校验目录",         "文件总数",
    "不一致文件数",     "目的端缺少文件数", "目的端多出文件数",
    "校验中变化文件数", "错误文件数",       "校验范围",
    "静默损坏文件数",   "源端缓存文件数",   "源端读取字节数",
    "目的端缓存文件数", "目的端读取字节数"};

const Header& HeaderOf(std::string_view language) {
  return language == "zh-cn" ? kHeaderZh : kHeaderEn;
}

// Whether column `c` holds a number (when the row has counters).
bool IsCounterColumn(size_t c) { return c >= 8 && c != kScopeColumn; }

// The text cells of a row, in header order (counters as text, empty when
// absent).
std::array<std::string, kColumns> Cells(const ExportRow& r) {
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
          num(r.num_error_files),
          r.scope,
          num(r.num_corrupt_files),
          num(r.num_cached_files),
          num(r.num_bytes_read),
          num(r.num_target_cached_files),
          num(r.num_target_bytes_read)};
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
    ExportTarget t{.task_id = task_id.value_or(""),
                   .source_id = source_id.value_or(""),
                   .source_name = source_name.value_or("")};
    // The same item twice names the same rows twice: keep the first.
    const bool repeated =
        std::any_of(r.targets.begin(), r.targets.end(), [&t](const auto& o) {
          return o.task_id == t.task_id && o.source_id == t.source_id &&
                 o.source_name == t.source_name;
        });
    if (!repeated) r.targets.push_back(std::move(t));
  }
  return r;
}

std::string TruncationMessage(int64_t row_limit) {
  return "truncated: the export stops at " + std::to_string(row_limit) +
         " rows (row_limit); name fewer tasks or leave out all_runs";
}

namespace {

// The last CSV/XLSX row of a truncated export.
ExportRow TruncationRow(int64_t row_limit) {
  ExportRow r;
  r.check_result = TruncationMessage(row_limit);
  return r;
}

class CsvEncoder final : public ExportEncoder {
 public:
  explicit CsvEncoder(std::string_view language)
      : header_(HeaderOf(language)) {}

  ApiStatus Begin(std::string& out) override {
    for (size_t i = 0; i < header_.size(); ++i) {
      if (i > 0) out += ',';
      out += CsvField(header_[i]);
    }
    out += "\r\n";
    return {};
  }
  ApiStatus Add(const ExportRow& r, std::string& out) override {
    auto cells = Cells(r);
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out += ',';
      out += CsvField(cells[i]);
    }
    out += "\r\n";
    return {};
  }
  ApiStatus Finish(const ExportEnd& end, std::string& out) override {
    if (end.truncated) return Add(TruncationRow(end.row_limit), out);
    return {};
  }

 private:
  const Header& header_;
};

// {"rows":[...],"count":N} ("truncated" and "row_limit" after a cut): the
// count follows the rows, which are written before it is known.
class JsonEncoder final : public ExportEncoder {
 public:
  ApiStatus Begin(std::string& out) override {
    out += "{\"rows\":[";
    return {};
  }
  ApiStatus Add(const ExportRow& r, std::string& out) override {
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
    o["scope"] = r.scope;
    if (r.has_counters) {
      o["num_corrupt_files"] = r.num_corrupt_files;
      o["num_cached_files"] = r.num_cached_files;
      o["num_bytes_read"] = r.num_bytes_read;
      o["num_target_cached_files"] = r.num_target_cached_files;
      o["num_target_bytes_read"] = r.num_target_bytes_read;
    }
    if (!first_) out += ',';
    first_ = false;
    out += ToJson(o);
    return {};
  }
  ApiStatus Finish(const ExportEnd& end, std::string& out) override {
    out += "],\"count\":" + std::to_string(end.rows);
    if (end.truncated) {
      out +=
          ",\"truncated\":true,\"row_limit\":" + std::to_string(end.row_limit) +
          ",\"message\":" +
          ToJson(json::value(TruncationMessage(end.row_limit)));
    }
    out += "}";
    return {};
  }

 private:
  bool first_ = true;
};

ApiError XlsxFailure(std::string internal) {
  return ApiError{ApiCode::kInternal, "internal error",
                  "export: " + std::move(internal), 0};
}

// libxlsxwriter 1.1.4 writes only to files: a private temp file, unlinked
// when the encoder goes. constant_memory: each row is flushed to the
// sheet's temp file when the next starts, strings are written inline (no
// shared-string table), so memory stays flat whatever the row count.
class XlsxEncoder final : public ExportEncoder {
 public:
  explicit XlsxEncoder(std::string_view language)
      : header_(HeaderOf(language)) {}
  ~XlsxEncoder() override {
    if (wb_ != nullptr) workbook_close(wb_);
    if (in_.is_open()) in_.close();
    if (!path_.empty()) unlink(path_.c_str());
  }

  ApiStatus Begin(std::string&) override {
    const char* tmp = getenv("TMPDIR");
    tmpdir_ = tmp && *tmp ? tmp : "/tmp";
    path_ = tmpdir_ + "/sms-export-XXXXXX";
    int fd = mkstemp(path_.data());
    if (fd < 0) {
      path_.clear();
      return tl::unexpected(XlsxFailure("cannot create a temp file"));
    }
    close(fd);
    lxw_workbook_options options{};
    options.constant_memory = LXW_TRUE;
    options.tmpdir = tmpdir_.data();
    wb_ = workbook_new_opt(path_.c_str(), &options);
    if (wb_ == nullptr)
      return tl::unexpected(XlsxFailure("workbook_new failed"));
    ws_ = workbook_add_worksheet(wb_, "consistency");
    for (size_t c = 0; c < header_.size(); ++c)
      worksheet_write_string(ws_, 0, static_cast<lxw_col_t>(c), header_[c],
                             nullptr);
    return {};
  }
  ApiStatus Add(const ExportRow& r, std::string&) override {
    auto cells = Cells(r);
    for (size_t c = 0; c < cells.size(); ++c) {
      if (IsCounterColumn(c) && r.has_counters) {
        worksheet_write_number(ws_, row_, static_cast<lxw_col_t>(c),
                               static_cast<double>(std::stoll(cells[c])),
                               nullptr);
      } else if (!cells[c].empty()) {
        // XML-forbidden characters become U+FFFD (codec/xml_text.h).
        const std::string text = XmlSafeText(NeutraliseCell(cells[c]));
        worksheet_write_string(ws_, row_, static_cast<lxw_col_t>(c),
                               text.c_str(), nullptr);
      }
    }
    ++row_;
    return {};
  }
  ApiStatus Finish(const ExportEnd& end, std::string& out) override {
    if (end.truncated)
      SMS_RETURN_IF_ERROR(Add(TruncationRow(end.row_limit), out));
    lxw_error err = workbook_close(wb_);
    wb_ = nullptr;
    if (err != LXW_NO_ERROR)
      return tl::unexpected(XlsxFailure(std::string("writing the workbook: ") +
                                        lxw_strerror(err)));
    in_.open(path_, std::ios::binary);
    if (!in_) return tl::unexpected(XlsxFailure("cannot read the workbook"));
    return {};
  }
  ApiResult<bool> ReadFile(std::string& out, size_t max) override {
    const size_t old = out.size();
    out.resize(old + max);
    in_.read(out.data() + old, static_cast<std::streamsize>(max));
    out.resize(old + static_cast<size_t>(in_.gcount()));
    if (in_.bad()) return tl::unexpected(XlsxFailure("reading the workbook"));
    return !in_.eof();
  }

 private:
  const Header& header_;
  std::string tmpdir_;
  std::string path_;
  lxw_workbook* wb_ = nullptr;
  lxw_worksheet* ws_ = nullptr;
  lxw_row_t row_ = 1;
  std::ifstream in_;
};

}  // namespace

ApiResult<std::unique_ptr<ExportEncoder>> MakeExportEncoder(
    ExportFormat format, std::string_view language) {
  switch (format) {
    case ExportFormat::kCsv:
      return std::make_unique<CsvEncoder>(language);
    case ExportFormat::kJson:
      return std::make_unique<JsonEncoder>();
    case ExportFormat::kXlsx:
      return std::make_unique<XlsxEncoder>(language);
  }
  return std::make_unique<CsvEncoder>(language);
}

std::string ExportFileName(ExportFormat format) {
  switch (format) {
    case ExportFormat::kCsv:
      return "consistency-results.csv";
    case ExportFormat::kJson:
      return "";
    case ExportFormat::kXlsx:
      return "consistency-results.xlsx";
  }
  return "";
}

ApiResult<ExportFile> EncodeExport(const std::vector<ExportRow>& rows,
                                   ExportFormat format,
                                   std::string_view language,
                                   const ExportEnd& end) {
  ExportFile f;
  f.content_type = std::string(ExportContentType(format));
  f.file_name = ExportFileName(format);
  SMS_ASSIGN_OR_RETURN(std::unique_ptr<ExportEncoder> enc,
                       MakeExportEncoder(format, language));
  SMS_RETURN_IF_ERROR(enc->Begin(f.body));
  for (const ExportRow& r : rows) SMS_RETURN_IF_ERROR(enc->Add(r, f.body));
  ExportEnd e = end;
  if (!e.truncated) e.rows = static_cast<int64_t>(rows.size());
  SMS_RETURN_IF_ERROR(enc->Finish(e, f.body));
  for (;;) {
    SMS_ASSIGN_OR_RETURN(bool more, enc->ReadFile(f.body, 1 << 20));
    if (!more) break;
  }
  return f;
}

}  // namespace sms::server
