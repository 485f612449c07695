#include "server/codec/export_codec.h"

#include <stdlib.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include <algorithm>
#include <fstream>

#include "core/json_writer.h"
#include "server/codec/xml_text.h"

namespace sms::server {
namespace {

// One column of an export: its header in each language and the field of
// ExportRow it shows (exactly one of text, time, counter). Columns are only
// ever appended (issue 12 added the last six), so a consumer reading by
// position keeps working; a JSON row's keys are the English headers.
struct Column {
  const char* en;
  const char* zh;
  std::string ExportRow::*text = nullptr;
  int64_t ExportRow::*time = nullptr;     // epoch ms; 0: none
  int64_t ExportRow::*counter = nullptr;  // only when row.has_counters
};

constexpr Column Text(const char* en, const char* zh,
                      std::string ExportRow::*field) {
  return {en, zh, field, nullptr, nullptr};
}
constexpr Column Time(const char* en, const char* zh,
                      int64_t ExportRow::*field) {
  return {en, zh, nullptr, field, nullptr};
}
constexpr Column Counter(const char* en, const char* zh,
                         int64_t ExportRow::*field) {
  return {en, zh, nullptr, nullptr, field};
}

constexpr Column kColumns[] = {
    Text("source_name", "源端名称", &ExportRow::source_name),
    Text("source_id", "源端ID", &ExportRow::source_id),
    Text("task_id", "任务ID", &ExportRow::task_id),
    Text("task_name", "任务名称", &ExportRow::task_name),
    Text("run_id", "校验ID", &ExportRow::run_id),
    Time("finished_time", "完成时间", &ExportRow::finished_time),
    Text("check_result", "校验结果", &ExportRow::check_result),
    Text("dir_check", "校验目录", &ExportRow::dir_check),
    Counter("num_total_files", "文件总数", &ExportRow::num_total_files),
    Counter("num_different_files", "不一致文件数",
            &ExportRow::num_different_files),
    Counter("num_target_miss_files", "目的端缺少文件数",
            &ExportRow::num_target_miss_files),
    Counter("num_target_more_files", "目的端多出文件数",
            &ExportRow::num_target_more_files),
    Counter("num_changed_files", "校验中变化文件数",
            &ExportRow::num_changed_files),
    Counter("num_error_files", "错误文件数", &ExportRow::num_error_files),
    Text("scope", "校验范围", &ExportRow::scope),
    Counter("num_corrupt_files", "静默损坏文件数",
            &ExportRow::num_corrupt_files),
    Counter("num_cached_files", "源端缓存文件数", &ExportRow::num_cached_files),
    Counter("num_bytes_read", "源端读取字节数", &ExportRow::num_bytes_read),
    Counter("num_target_cached_files", "目的端缓存文件数",
            &ExportRow::num_target_cached_files),
    Counter("num_target_bytes_read", "目的端读取字节数",
            &ExportRow::num_target_bytes_read),
};

using Header = const char* Column::*;

Header HeaderOf(std::string_view language) {
  return language == "zh-cn" ? &Column::zh : &Column::en;
}

// A cell as text: counters in decimal, empty when the row has none; the
// time in ISO 8601, empty when there is none.
std::string CellText(const Column& c, const ExportRow& r) {
  if (c.text != nullptr) return r.*c.text;
  if (c.time != nullptr) {
    return r.*c.time > 0 ? core::IsoTimeMillis(r.*c.time) : std::string();
  }
  return r.has_counters ? std::to_string(r.*c.counter) : std::string();
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
    for (const Column& c : kColumns) {
      if (&c != kColumns) out += ',';
      out += CsvField(c.*header_);
    }
    out += "\r\n";
    return {};
  }
  ApiStatus Add(const ExportRow& r, std::string& out) override {
    for (const Column& c : kColumns) {
      if (&c != kColumns) out += ',';
      out += CsvField(CellText(c, r));
    }
    out += "\r\n";
    return {};
  }
  ApiStatus Finish(const ExportEnd& end, std::string& out) override {
    if (end.truncated) return Add(TruncationRow(end.row_limit), out);
    return {};
  }

 private:
  const Header header_;
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
    // Counters are left out of a row that has none; a missing time is null.
    json::object o;
    for (const Column& c : kColumns) {
      if (c.text != nullptr) {
        o[c.en] = r.*c.text;
      } else if (c.time != nullptr) {
        if (r.*c.time > 0)
          o[c.en] = core::IsoTimeMillis(r.*c.time);
        else
          o[c.en] = nullptr;
      } else if (r.has_counters) {
        o[c.en] = r.*c.counter;
      }
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
    lxw_col_t col = 0;
    for (const Column& c : kColumns)
      worksheet_write_string(ws_, 0, col++, c.*header_, nullptr);
    return {};
  }
  ApiStatus Add(const ExportRow& r, std::string&) override {
    lxw_col_t col = 0;
    for (const Column& c : kColumns) {
      if (c.counter != nullptr && r.has_counters) {
        worksheet_write_number(ws_, row_, col,
                               static_cast<double>(r.*c.counter), nullptr);
      } else if (const std::string cell = CellText(c, r); !cell.empty()) {
        // XML-forbidden characters become U+FFFD (codec/xml_text.h).
        const std::string text = XmlSafeText(NeutraliseCell(cell));
        worksheet_write_string(ws_, row_, col, text.c_str(), nullptr);
      }
      ++col;
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
  const Header header_;
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
