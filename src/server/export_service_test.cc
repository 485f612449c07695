// ExportService without HTTP or JSON: which rows an export collects for
// tasks, sources and names, and the renderers' output, over a real SQLite
// store (service_fixture.h).
#include "server/export_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "server/result_service.h"
#include "server/service_fixture.h"
#include "server/task_service.h"

namespace sms::server {
namespace {

using storage::Role;

class ExportServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    tasks_ = std::make_unique<TaskService>(*store_, clock_);
    results_ = std::make_unique<ResultService>(*store_, clock_, *tasks_);
    exports_ = std::make_unique<ExportService>(*store_, *tasks_);
  }

  std::string NewTask(const std::string& name) {
    CreateTaskRequest r;
    r.name = name;
    r.os_type = "LINUX";
    r.source_id = kSourceId;
    r.target_name = "t";
    auto t = tasks_->CreateTask(As(Role::kOperator), r);
    EXPECT_THAT(t, ApiOk());
    return t->id;
  }

  void UploadRun(const std::string& task_id, int dirs, int64_t finished) {
    ResultUpload u;
    u.finished_time = finished;
    u.content_hash = "h" + std::to_string(finished);
    for (int i = 0; i < dirs; ++i) {
      storage::DirResult d;
      d.dir_check = "/d" + std::to_string(i);
      d.num_total_files = 10 + i;
      u.dirs.push_back(d);
    }
    ASSERT_THAT(results_->Upload(As(Role::kAgent), task_id, u), ApiOk());
  }

  ApiResult<std::vector<ExportRow>> Collect(std::vector<ExportTarget> targets,
                                            bool all_runs = false) {
    return exports_->Collect(As(Role::kViewer),
                             ExportRequest{std::move(targets), all_runs});
  }

  std::unique_ptr<TaskService> tasks_;
  std::unique_ptr<ResultService> results_;
  std::unique_ptr<ExportService> exports_;
};

TEST_F(ExportServiceTest, ATaskGivesOneRowPerDirectoryOfItsLatestRun) {
  const std::string id = NewTask("nightly");
  UploadRun(id, 1, 1000);
  UploadRun(id, 2, 2000);
  auto rows = Collect({{.task_id = id}});
  ASSERT_THAT(rows, ApiOk());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].task_name, "nightly");
  EXPECT_EQ((*rows)[0].source_name, "web01");
  EXPECT_EQ((*rows)[0].finished_time, 2000);
  EXPECT_EQ((*rows)[1].dir_check, "/d1");
  EXPECT_EQ((*rows)[1].num_total_files, 11);
  EXPECT_TRUE((*rows)[1].has_counters);

  auto all = Collect({{.task_id = id}}, /*all_runs=*/true);
  ASSERT_THAT(all, ApiOk());
  EXPECT_EQ(all->size(), 3u);
}

TEST_F(ExportServiceTest, MissingTasksAndSourcesAreRowsNotErrors) {
  const std::string checked = NewTask("checked");
  const std::string fresh = NewTask("fresh");
  UploadRun(checked, 1, 1000);
  auto rows = Collect({{.task_id = "0190a0b0-c0d0-7e0f-8a1b-2c3d4e5f6a7b"},
                       {.source_name = "web01"},
                       {.source_name = "nowhere"}});
  ASSERT_THAT(rows, ApiOk());
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ((*rows)[0].check_result, "error: the task does not exist");
  EXPECT_FALSE((*rows)[0].has_counters);
  // Both tasks of the source, in the store's order; the unchecked one says so.
  int no_result = 0;
  for (int i : {1, 2}) no_result += (*rows)[i].check_result == "no_result";
  EXPECT_EQ(no_result, 1);
  EXPECT_EQ((*rows)[3].check_result, "error: the source does not exist");
  EXPECT_EQ((*rows)[3].source_name, "nowhere");
}

TEST_F(ExportServiceTest, AnAgentMayNotExport) {
  EXPECT_THAT(exports_->Collect(As(Role::kAgent), ExportRequest{}),
              ApiFails(ApiCode::kForbidden, ""));
}

// Issue 11.2: a task named again (by id, or through its source) is exported
// once; before, each repeat added all its rows again.
TEST_F(ExportServiceTest, ATaskNamedManyTimesIsExportedOnce) {
  const std::string id = NewTask("nightly");
  UploadRun(id, 3, 1000);
  UploadRun(id, 3, 2000);
  std::vector<ExportTarget> targets(50, ExportTarget{.task_id = id});
  targets.push_back({.source_id = kSourceId});
  auto rows = Collect(targets, /*all_runs=*/true);
  ASSERT_THAT(rows, ApiOk());
  EXPECT_EQ(rows->size(), 6u);

  json::object body{
      {"task_info", json::array(3, json::object{{"task_id", id}})}};
  auto req = DecodeExportRequest(body, {});
  ASSERT_THAT(req, ApiOk());
  EXPECT_EQ(req->targets.size(), 1u);  // repeats dropped at decoding
}

// Every run of a task, across many keyset pages of the store.
TEST_F(ExportServiceTest, AllRunsArePagedNewestFirst) {
  const std::string id = NewTask("nightly");
  for (int i = 1; i <= 5; ++i) UploadRun(id, 2, 1000 * i);
  ExportService small(*store_, *tasks_, {.runs_per_page = 2});
  auto rows =
      small.Collect(As(Role::kViewer), ExportRequest{{{.task_id = id}}, true});
  ASSERT_THAT(rows, ApiOk());
  ASSERT_EQ(rows->size(), 10u);
  for (size_t i = 0; i < rows->size(); ++i)
    EXPECT_EQ((*rows)[i].finished_time, 1000 * (5 - static_cast<int>(i) / 2));
}

// Issue 11.2: at most max_rows rows, then the documented marker.
TEST_F(ExportServiceTest, AnExportStopsAtTheRowLimitWithAMarker) {
  const std::string id = NewTask("nightly");
  for (int i = 1; i <= 3; ++i) UploadRun(id, 2, 1000 * i);
  ExportService capped(*store_, *tasks_, {.max_rows = 4});
  const ExportRequest req{{{.task_id = id}}, true};
  auto csv_cursor = capped.Open(As(Role::kViewer), req);
  ASSERT_THAT(csv_cursor, ApiOk());
  auto csv_encoder = MakeExportEncoder(ExportFormat::kCsv, "en-us");
  ASSERT_THAT(csv_encoder, ApiOk());
  BodyStream csv =
      StreamExport(std::move(*csv_cursor), std::move(*csv_encoder));
  std::string out;
  for (;;) {
    auto more = csv(out);
    ASSERT_TRUE(more.has_value());
    if (!*more) break;
  }
  // Header, 4 rows, the marker.
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 6) << out;
  EXPECT_NE(out.find(TruncationMessage(4)), std::string::npos) << out;

  auto json_cursor = capped.Open(As(Role::kViewer), req);
  ASSERT_THAT(json_cursor, ApiOk());
  BodyStream json_body =
      StreamExport(std::move(*json_cursor),
                   std::move(*MakeExportEncoder(ExportFormat::kJson, "")));
  std::string text;
  while (*json_body(text)) {
  }
  auto doc = json::parse(text).as_object();
  EXPECT_EQ(doc["rows"].as_array().size(), 4u);
  EXPECT_EQ(doc["count"].as_int64(), 4);
  EXPECT_EQ(doc["truncated"].as_bool(), true);
  EXPECT_EQ(doc["row_limit"].as_int64(), 4);

  // Exactly at the limit: no marker.
  ExportService exact(*store_, *tasks_, {.max_rows = 6});
  auto all = exact.Open(As(Role::kViewer), req);
  ASSERT_THAT(all, ApiOk());
  std::vector<ExportRow> rows;
  while (*(*all)->Next(100, rows)) {
  }
  EXPECT_EQ(rows.size(), 6u);
  EXPECT_FALSE((*all)->truncated());
}

// A streamed XLSX body is a whole workbook, read back in pieces.
TEST_F(ExportServiceTest, AStreamedWorkbookIsComplete) {
  const std::string id = NewTask("nightly");
  for (int i = 1; i <= 3; ++i) UploadRun(id, 400, 1000 * i);
  auto cursor =
      exports_->Open(As(Role::kViewer), ExportRequest{{{.task_id = id}}, true});
  ASSERT_THAT(cursor, ApiOk());
  BodyStream xlsx =
      StreamExport(std::move(*cursor),
                   std::move(*MakeExportEncoder(ExportFormat::kXlsx, "")));
  // Piece by piece, as the transport sends them (it empties the buffer
  // between calls: a stream only adds to a buffer under a piece's size, so
  // a body over 64 KiB kept in one buffer never ended).
  std::string out, piece;
  int calls = 0;
  for (;;) {
    piece.clear();
    ++calls;
    auto more = xlsx(piece);
    ASSERT_TRUE(more.has_value());
    out += piece;
    if (!*more) break;
  }
  EXPECT_GT(calls, 1);  // more than one piece
  EXPECT_EQ(out.substr(0, 2), "PK");
  // The zip's end-of-central-directory record closes the file.
  EXPECT_NE(out.rfind(std::string("PK\x05\x06", 4)), std::string::npos);
}

// The cells of the first sheet of an XLSX body, one "A1=text" line each,
// read back with Python's zipfile and expat (empty on failure, with why).
std::string SheetCells(const std::string& xlsx) {
  char dir[] = "/tmp/sms-xlsx-test-XXXXXX";
  if (mkdtemp(dir) == nullptr) return "mkdtemp failed";
  const std::string path = std::string(dir) + "/export.xlsx";
  std::ofstream(path, std::ios::binary) << xlsx;
  const std::string out_path = std::string(dir) + "/out.txt";
  const std::string cmd =
      "python3 -c \"import sys, zipfile, xml.etree.ElementTree as ET\n"
      "z = zipfile.ZipFile(sys.argv[1])\n"
      "for c in ET.fromstring(z.read('xl/worksheets/sheet1.xml')).iter():\n"
      "    if c.tag.endswith('}c'):\n"
      "        t = ''.join(e.text or '' for e in c.iter() if e.tag.endswith("
      "('}t', '}v')))\n"
      "        print(c.get('r') + '=' + t)\" " +
      path + " > " + out_path + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(out_path);
  std::string out((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  std::filesystem::remove_all(dir);
  return rc == 0 ? out : "python failed: " + out;
}

// Issue 12: the run's scope and the hash caches' counters are exported in
// every format, after the older columns (whose positions do not move).
TEST_F(ExportServiceTest, TheScopeAndCacheCountersAreExportedInEveryFormat) {
  const std::string id = NewTask("nightly");
  ResultUpload u;
  u.finished_time = 1000;
  u.content_hash = "h";
  u.scope = "inconsistent";
  u.dirs.push_back({.dir_check = "/d",
                    .num_total_files = 9,
                    .num_error_files = 8,
                    .num_corrupt_files = 1,
                    .num_cached_files = 2,
                    .num_bytes_read = 3,
                    .num_target_cached_files = 4,
                    .num_target_bytes_read = 5000000000});
  ASSERT_THAT(results_->Upload(As(Role::kAgent), id, u), ApiOk());
  auto rows = Collect({{.task_id = id}});
  ASSERT_THAT(rows, ApiOk());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].scope, "inconsistent");
  EXPECT_EQ((*rows)[0].num_target_bytes_read, 5000000000);

  auto csv = EncodeExport(*rows, ExportFormat::kCsv, "en-us");
  ASSERT_THAT(csv, ApiOk());
  EXPECT_NE(csv->body.find("num_changed_files,num_error_files,scope,"
                           "num_corrupt_files,num_cached_files,num_bytes_read,"
                           "num_target_cached_files,num_target_bytes_read\r\n"),
            std::string::npos)
      << csv->body;
  EXPECT_NE(csv->body.find(",9,0,0,0,0,8,inconsistent,1,2,3,4,5000000000\r\n"),
            std::string::npos)
      << csv->body;
  auto zh = EncodeExport(*rows, ExportFormat::kCsv, "zh-cn");
  ASSERT_THAT(zh, ApiOk());
  EXPECT_NE(zh->body.find("错误文件数,校验范围,静默损坏文件数"),
            std::string::npos);

  auto json_file = EncodeExport(*rows, ExportFormat::kJson, "");
  ASSERT_THAT(json_file, ApiOk());
  auto row = json::parse(json_file->body).as_object()["rows"].as_array()[0];
  EXPECT_EQ(row.at("scope").as_string(), "inconsistent");
  EXPECT_EQ(row.at("num_corrupt_files").as_int64(), 1);
  EXPECT_EQ(row.at("num_cached_files").as_int64(), 2);
  EXPECT_EQ(row.at("num_bytes_read").as_int64(), 3);
  EXPECT_EQ(row.at("num_target_cached_files").as_int64(), 4);
  EXPECT_EQ(row.at("num_target_bytes_read").as_int64(), 5000000000);

  auto xlsx = EncodeExport(*rows, ExportFormat::kXlsx, "en-us");
  ASSERT_THAT(xlsx, ApiOk());
  const std::string cells = SheetCells(xlsx->body);
  for (const char* want :
       {"N1=num_error_files\n", "O1=scope\n", "T1=num_target_bytes_read\n",
        "N2=8\n", "O2=inconsistent\n", "P2=1\n", "Q2=2\n", "R2=3\n", "S2=4\n",
        "T2=5000000000\n"})
    EXPECT_NE(cells.find(want), std::string::npos) << want << cells;

  // A full check's scope is empty; a task with no run has no counters.
  ExportRow none;
  none.check_result = "no_result";
  auto empty = EncodeExport({none}, ExportFormat::kCsv, "en-us");
  ASSERT_THAT(empty, ApiOk());
  EXPECT_NE(empty->body.find(",no_result,,,,,,,,,,,,,\r\n"), std::string::npos)
      << empty->body;
}

TEST(ExportCodecTest, EncodeExportPicksTheRendererAndFileName) {
  ExportRow r;
  r.task_id = "t1";
  r.dir_check = "=cmd|' /C calc'!A0";
  r.has_counters = true;
  r.num_total_files = 7;
  auto csv = EncodeExport({r}, ExportFormat::kCsv, "en-us");
  ASSERT_THAT(csv, ApiOk());
  EXPECT_EQ(csv->file_name, "consistency-results.csv");
  EXPECT_NE(csv->body.find("'=cmd"), std::string::npos) << csv->body;
  auto json = EncodeExport({r}, ExportFormat::kJson, "en-us");
  ASSERT_THAT(json, ApiOk());
  EXPECT_TRUE(json->file_name.empty());
  EXPECT_EQ(json->content_type, "application/json");
  auto xlsx = EncodeExport({r}, ExportFormat::kXlsx, "zh-cn");
  ASSERT_THAT(xlsx, ApiOk());
  EXPECT_EQ(xlsx->body.substr(0, 2), "PK");  // a zip container
}

// Issue 11.5: a file name with characters XML forbids made a workbook Excel
// refused. Read back with a strict XML parser (Python's expat), the sheet
// parses and holds U+FFFD where they were.
TEST(ExportCodecTest, AWorkbookHoldsNoXmlForbiddenCharacter) {
  ExportRow r;
  r.task_id = "t1";
  r.check_result = "success";
  r.dir_check = std::string(
      "/data/a\x01"
      "b\xEF\xBF\xBE"
      "c\xEF\xBF\xBF"
      "d\xED\xA0\x80"
      "e");
  r.task_name = std::string("nul\0name", 8);
  auto xlsx = EncodeExport({r}, ExportFormat::kXlsx, "en-us");
  ASSERT_THAT(xlsx, ApiOk());
  char dir[] = "/tmp/sms-xlsx-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/export.xlsx";
  std::ofstream(path, std::ios::binary) << xlsx->body;
  const std::string out_path = std::string(dir) + "/out.txt";
  const std::string cmd =
      "python3 -c \"import sys, zipfile, xml.etree.ElementTree as ET\n"
      "z = zipfile.ZipFile(sys.argv[1])\n"
      "for n in z.namelist():\n"
      "    if n.endswith('.xml'): ET.fromstring(z.read(n))\n"
      "t = ''.join(e.text or '' for e in ET.fromstring(z.read("
      "'xl/worksheets/sheet1.xml')).iter() if e.tag.endswith('}t'))\n"
      "print(ascii(t))\" " +
      path + " > " + out_path + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(out_path);
  const std::string out((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
  std::filesystem::remove_all(dir);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("/data/a\\ufffdb\\ufffdc\\ufffdd\\ufffde"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("nul\\ufffdname"), std::string::npos) << out;
}

TEST(ExportCodecTest, DecodeExportRequestNeedsOneWayToNameATask) {
  QueryParams q{{"all_runs", "true"}};
  auto ok = DecodeExportRequest(
      json::parse(R"({"task_info":[{"source_name":"web01"}]})").as_object(), q);
  ASSERT_THAT(ok, ApiOk());
  EXPECT_TRUE(ok->all_runs);
  ASSERT_EQ(ok->targets.size(), 1u);
  EXPECT_EQ(ok->targets[0].source_name, "web01");
  EXPECT_THAT(
      DecodeExportRequest(json::parse(R"({"task_info":[{}]})").as_object(), {}),
      ApiFails(ApiCode::kMissing, "task_info[0].task_id"));
  EXPECT_THAT(
      DecodeExportRequest(json::parse(R"({"task_info":[]})").as_object(), {}),
      ApiFails(ApiCode::kMalformed, "task_info"));
}

}  // namespace
}  // namespace sms::server
