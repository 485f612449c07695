// Table tests of the small pure codecs of the API: query strings, detail
// markers, consistency-dir lists, CSV cells, result uploads (their errors
// and content hash).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "auth/crypto.h"
#include "server/api.h"
#include "server/codec/result_codec.h"
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
      {"/var//www/./,/var/www/html", {"/var/www"}},  // as the agent reads it
      {"/./", {"/"}},
  };
  for (const Case& c : cases) {
    auto r = SplitConsistencyDirs(c.in, "CONSISTENCY_DIR");
    ASSERT_TRUE(r) << c.in;
    EXPECT_EQ(*r, c.out) << c.in;
  }
  EXPECT_FALSE(SplitConsistencyDirs("relative/dir", "d"));
  EXPECT_FALSE(SplitConsistencyDirs(" , ", "d"));
  // The agent refuses a '..': the setting is refused, not the task's runs.
  auto up = SplitConsistencyDirs("/srv,/srv/../etc", "CONSISTENCY_DIR");
  ASSERT_FALSE(up);
  EXPECT_EQ(up.error().message,
            "CONSISTENCY_DIR: directory '/srv/../etc' contains a '..' "
            "component");
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

// The 13 counters of a directory, in the order of the canonical form.
constexpr const char* kCounters[] = {"num_total_files",
                                     "num_different_files",
                                     "num_target_miss_files",
                                     "num_target_more_files",
                                     "num_changed_files",
                                     "num_error_files",
                                     "num_metadata_different_files",
                                     "num_bytes_verified",
                                     "num_corrupt_files",
                                     "num_cached_files",
                                     "num_bytes_read",
                                     "num_target_cached_files",
                                     "num_target_bytes_read"};

// A full upload: every top-level field, 30 directories, directory i sending
// the first 4 + i % 10 counters (so both the hashed-when-absent counters
// and issue 12's counters are sometimes absent), odd bytes in some paths.
json::object FullUpload() {
  json::array dirs;
  for (int i = 0; i < 30; ++i) {
    json::object d;
    d["dir_check"] = i == 7   ? "/a\"b\\c\t\n\r\b\f\x01\x1f\x7f/\u00e9\u4e2d"
                     : i == 8 ? "C:\\Users\\x"
                              : "/data/d" + std::to_string(i);
    size_t sent = 4 + i % 10;
    for (size_t k = 0; k < sent; ++k)
      d[kCounters[k]] = static_cast<int64_t>(1000 * i + k);
    dirs.push_back(std::move(d));
  }
  dirs[3].as_object()["num_bytes_verified"] = int64_t{9223372036854775807};
  return json::object{{"run_id", "0f8fad5b-d9cb-469f-a165-70867728950e"},
                      {"check_result", "failed"},
                      {"mode", "hash"},
                      {"hash_algorithm", "xxh3"},
                      {"error_msg", "2 \"differences\"\n"},
                      {"started_time", 1736854315000},
                      {"finished_time", 1736854316000},
                      {"scope", "inconsistent"},
                      {"base_run_id", "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
                      {"consistency_result", std::move(dirs)}};
}

// The canonical form as Boost.JSON writes it: every field but run_id, in
// this order; a directory's counters from issue 12 only when sent.
std::string BoostCanonical(const json::object& body) {
  json::object c;
  for (const char* k :
       {"check_result", "mode", "hash_algorithm", "error_msg", "started_time",
        "finished_time", "scope", "base_run_id"}) {
    if (auto it = body.find(k); it != body.end()) c[k] = it->value();
  }
  json::array dirs;
  for (const json::value& v : body.at("consistency_result").as_array()) {
    const json::object& d = v.as_object();
    json::object cd;
    cd["dir_check"] = d.at("dir_check");
    for (size_t k = 0; k < std::size(kCounters); ++k) {
      auto it = d.find(kCounters[k]);
      if (it != d.end()) {
        cd[kCounters[k]] = it->value();
      } else if (k < 8) {
        cd[kCounters[k]] = 0;
      }
    }
    dirs.push_back(std::move(cd));
  }
  c["consistency_result"] = std::move(dirs);
  return ToJson(c);
}

TEST(CodecTest, ResultUploadContentHashIsPinned) {
  json::object body = FullUpload();
  auto u = DecodeResultUpload(body);
  ASSERT_TRUE(u) << u.error().message;
  ASSERT_EQ(u->dirs.size(), 30u);
  EXPECT_EQ(u->dirs[7].dir_check,
            "/a\"b\\c\t\n\r\b\f\x01\x1f\x7f/\u00e9\u4e2d");
  EXPECT_EQ(u->dirs[3].num_bytes_verified, 9223372036854775807);
  EXPECT_EQ(u->dirs[29].num_target_bytes_read, 29012);
  EXPECT_EQ(u->dirs[0].num_changed_files, 0);
  // Stored hashes make a retry a no-op: the hash of this upload never
  // changes (computed once, by the Boost.JSON form below).
  EXPECT_EQ(u->content_hash,
            "79c8fe1ee682cd80c14a8e8c6d8efd30a484859ff175112304139d6775492ec1");
  EXPECT_EQ(u->content_hash, auth::Sha256Hex(BoostCanonical(body)));

  // The run_id is not hashed; absent fields are not either.
  body.erase("run_id");
  auto same = DecodeResultUpload(body);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->content_hash, u->content_hash);
  json::object minimal{{"consistency_result", json::array{}}};
  auto m = DecodeResultUpload(minimal);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->content_hash, auth::Sha256Hex("{\"consistency_result\":[]}"));
}

TEST(CodecTest, ResultUploadHashesEveryByteOfAPathAsBoostJsonWrites) {
  // Every byte a dir_check may hold (NUL is refused), ASCII and UTF-8.
  std::string all = "/";
  for (int ch = 1; ch < 128; ++ch) all += static_cast<char>(ch);
  all += "\u00e9\u4e2d\U0001f600";
  for (const std::string& dir : {all, std::string("/"), std::string("C:/")}) {
    json::object body{
        {"error_msg", all.substr(1)},
        {"consistency_result",
         json::array{json::object{{"dir_check", dir},
                                  {"num_total_files", 2147483647},
                                  {"num_different_files", 0},
                                  {"num_target_miss_files", 1},
                                  {"num_target_more_files", 2},
                                  {"num_target_bytes_read", 0}}}}};
    auto u = DecodeResultUpload(body);
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->content_hash, auth::Sha256Hex(BoostCanonical(body))) << dir;
  }
}

TEST(CodecTest, ResultUploadErrorsNameTheField) {
  struct Case {
    const char* what;
    std::function<void(json::object&)> edit;
    ApiCode code;
    const char* message;
  } cases[] = {
      {"not an object",
       [](json::object& b) { b["consistency_result"].as_array()[4] = 1; },
       ApiCode::kMalformed, "consistency_result[4]: expected an object"},
      {"no dir_check",
       [](json::object& b) {
         b["consistency_result"].as_array()[12].as_object().erase("dir_check");
       },
       ApiCode::kMissing, "consistency_result[12].dir_check: is required"},
      {"dir_check not a string",
       [](json::object& b) {
         b["consistency_result"].as_array()[0].as_object()["dir_check"] = 5;
       },
       ApiCode::kMalformed,
       "consistency_result[0].dir_check: expected a string"},
      {"dir_check empty",
       [](json::object& b) {
         b["consistency_result"].as_array()[1].as_object()["dir_check"] = "";
       },
       ApiCode::kMalformed,
       "consistency_result[1].dir_check: must not be empty"},
      {"dir_check relative",
       [](json::object& b) {
         b["consistency_result"].as_array()[29].as_object()["dir_check"] =
             "rel/x";
       },
       ApiCode::kMalformed,
       "consistency_result[29].dir_check: must be an absolute path"},
      {"dir_check with NUL",
       [](json::object& b) {
         b["consistency_result"].as_array()[2].as_object()["dir_check"] =
             std::string("/a\0b", 4);
       },
       ApiCode::kMalformed, "consistency_result[2].dir_check: contains NUL"},
      {"required counter absent",
       [](json::object& b) {
         b["consistency_result"].as_array()[5].as_object().erase(
             "num_target_more_files");
       },
       ApiCode::kMissing,
       "consistency_result[5].num_target_more_files: is required"},
      {"counter not an integer",
       [](json::object& b) {
         b["consistency_result"]
             .as_array()[6]
             .as_object()["num_different_files"] = "3";
       },
       ApiCode::kMalformed,
       "consistency_result[6].num_different_files: expected an integer"},
      {"counter negative",
       [](json::object& b) {
         b["consistency_result"].as_array()[10].as_object()["num_error_files"] =
             -1;
       },
       ApiCode::kMalformed,
       "consistency_result[10].num_error_files: less than 0"},
      {"counter too large",
       [](json::object& b) {
         b["consistency_result"]
             .as_array()[19]
             .as_object()["num_target_cached_files"] = 2147483648LL;
       },
       ApiCode::kMalformed,
       "consistency_result[19].num_target_cached_files: greater than "
       "2147483647"},
      {"byte counter too large",
       [](json::object& b) {
         b["consistency_result"]
             .as_array()[9]
             .as_object()["num_target_bytes_read"] =
             uint64_t{9223372036854775808ULL};
       },
       ApiCode::kMalformed,
       "consistency_result[9].num_target_bytes_read: greater than "
       "9223372036854775807"},
      {"counter fractional",
       [](json::object& b) {
         b["consistency_result"].as_array()[0].as_object()["num_total_files"] =
             1.5;
       },
       ApiCode::kMalformed,
       "consistency_result[0].num_total_files: expected an integer"},
      {"run_id", [](json::object& b) { b["run_id"] = std::string(36, 'x'); },
       ApiCode::kMalformed, "run_id: expected a lower-case UUID"},
      {"mode", [](json::object& b) { b["mode"] = "fast"; }, ApiCode::kMalformed,
       "mode: must be one of hash, quick"},
  };
  for (const Case& c : cases) {
    json::object body = FullUpload();
    c.edit(body);
    auto u = DecodeResultUpload(body);
    ASSERT_FALSE(u) << c.what;
    EXPECT_EQ(u.error().code, c.code) << c.what;
    EXPECT_EQ(u.error().message, c.message) << c.what;
  }
}

// CPU per decode of a 30-directory upload with every counter, the upload
// of the benchmarks (issue 14.3). Only with SMS_CODEC_BENCH=N (N decodes):
// prints the figures, checks nothing but that decoding succeeds.
TEST(CodecTest, ResultUploadDecodeBench) {
  const char* env = std::getenv("SMS_CODEC_BENCH");
  if (env == nullptr) GTEST_SKIP() << "set SMS_CODEC_BENCH=N to run";
  const int n = std::max(1, std::atoi(env));
  json::array dirs;
  for (int i = 0; i < 30; ++i) {
    json::object d{{"dir_check", "/data/sync/d" + std::to_string(i)}};
    for (size_t k = 0; k < std::size(kCounters); ++k)
      d[kCounters[k]] = static_cast<int64_t>(1000 * i + k);
    dirs.push_back(std::move(d));
  }
  const std::string text =
      ToJson(json::object{{"run_id", "0f8fad5b-d9cb-469f-a165-70867728950e"},
                          {"check_result", "success"},
                          {"mode", "hash"},
                          {"started_time", 1736854315000},
                          {"finished_time", 1736854316000},
                          {"consistency_result", std::move(dirs)}});
  auto cpu_us = [] {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  };
  auto body = ParseJsonObject(text);
  ASSERT_TRUE(body);
  double t0 = cpu_us();
  for (int i = 0; i < n; ++i) {
    auto parsed = ParseJsonObject(text);
    ASSERT_TRUE(parsed);
  }
  double t1 = cpu_us();
  std::string hash;
  for (int i = 0; i < n; ++i) {
    auto u = DecodeResultUpload(*body);
    ASSERT_TRUE(u);
    hash = u->content_hash;
  }
  double t2 = cpu_us();
  std::printf(
      "upload of %zu bytes, %d times: parse %.1f us CPU, decode %.1f us CPU "
      "each (hash %s)\n",
      text.size(), n, (t1 - t0) / n, (t2 - t1) / n, hash.c_str());
}

}  // namespace
}  // namespace sms::server
