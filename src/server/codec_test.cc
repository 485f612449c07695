// Table tests of the small pure codecs of the API: query strings, detail
// markers, consistency-dir lists, CSV cells.
#include <gtest/gtest.h>

#include "server/api.h"
#include "server/export_service.h"
#include "server/result_service.h"
#include "server/task_service.h"

namespace sms::server {
namespace {

TEST(CodecTest, ParseQueryDecodesAndKeepsTheFirstOfRepeatedKeys) {
  auto q = ParseQuery("limit=2&name=a%20b&name=second&flag&dir=%2Fetc%2Fx&=v");
  EXPECT_EQ(q["limit"], "2");
  EXPECT_EQ(q["name"], "a b");
  EXPECT_EQ(q["flag"], "");
  EXPECT_EQ(q["dir"], "/etc/x");
  EXPECT_TRUE(ParseQuery("").empty());
  // '+' is a space in a query (form encoding); %2B is a plus.
  auto plus = ParseQuery("name=my+task&x=a%2Bb&c+d=1");
  EXPECT_EQ(plus["name"], "my task");
  EXPECT_EQ(plus["x"], "a+b");
  EXPECT_EQ(plus["c d"], "1");
}

TEST(CodecTest, MarkersRoundTripAndRejectForgeries) {
  auto m = DecodeMarker(EncodeMarker(12, 345));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->first, 12);
  EXPECT_EQ(m->second, 345);
  for (const char* bad : {"", "garbage!", "bTE6MTI",  // "m1:12" (no idx)
                          "eDE6MToy"}) {              // "x1:1:2"
    auto r = DecodeMarker(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ApiCode::kMalformed);
    EXPECT_EQ(r.error().message, "marker: not a marker of this listing");
  }
}

TEST(CodecTest, ConsistencyDirsKeepOnlyTopmostDirectories) {
  struct Case {
    const char* in;
    std::vector<std::string> out;
  } cases[] = {
      {"/a", {"/a"}},
      {"/a/b,/a", {"/a"}},
      {"/ab,/a", {"/a", "/ab"}},  // /ab is not under /a
      {" /x/ , /y ,,/x/z", {"/x", "/y"}},
      {"/,/etc", {"/"}},
  };
  for (const Case& c : cases) {
    auto r = SplitConsistencyDirs(c.in, "CONSISTENCY_DIR");
    ASSERT_TRUE(r) << c.in;
    EXPECT_EQ(*r, c.out) << c.in;
  }
  EXPECT_FALSE(SplitConsistencyDirs("relative/dir", "d"));
  EXPECT_FALSE(SplitConsistencyDirs(" , ", "d"));
}

TEST(CodecTest, CsvQuotesAndNeutralises) {
  ExportRow r;
  r.source_name = "=HYPERLINK(\"x\")";
  r.task_name = "a,b";
  r.check_result = "success";
  auto file = EncodeExport({r}, ExportFormat::kCsv, "en-us");
  ASSERT_TRUE(file.has_value());
  const std::string& csv = file->body;
  EXPECT_NE(csv.find("\"'=HYPERLINK(\"\"x\"\")\""), std::string::npos) << csv;
  EXPECT_NE(csv.find(",\"a,b\","), std::string::npos) << csv;
  EXPECT_EQ(ExportFormatFromAccept("application/json"), ExportFormat::kJson);
  EXPECT_EQ(ExportFormatFromAccept("*/*"), ExportFormat::kCsv);
}

}  // namespace
}  // namespace sms::server
