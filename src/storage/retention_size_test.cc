// Scale test (issue 13.5), behind SMS_SCALE_TESTS=1 (make test skips it):
// 500 runs of a task with 10,000 differing files each and retention
// runs=10; the SQLite file must stop growing once the window is full,
// because deleted details' pages are reused. Prints the size as it goes.
//   SMS_SCALE_TESTS=1 build/tests/storage_retention_size_test
// Runs and files per run: SMS_RETENTION_RUNS, SMS_RETENTION_FILES.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "storage/sqlite/sqlite_store.h"
#include "testing/matchers.h"
#include "testing/temp_dir.h"

namespace sms::storage {
namespace {

using ::sms::testing::IsOk;

int64_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

TEST(RetentionSizeTest, SqliteFileStaysFlatUnderASteadyRhythm) {
  if (std::getenv("SMS_SCALE_TESTS") == nullptr)
    GTEST_SKIP() << "set SMS_SCALE_TESTS=1";
  const int runs = EnvInt("SMS_RETENTION_RUNS", 500);
  const int files = EnvInt("SMS_RETENTION_FILES", 10000);
  sms::testing::TempDir dir;
  const std::string path = dir.Join("retention.db");
  auto opened = OpenSqliteStore(path);
  ASSERT_THAT(opened, IsOk());
  Store& store = **opened;
  ASSERT_THAT(store.CreateDomain({"d1", "acme", 1}), IsOk());
  Source src;
  src.id = "s1";
  src.domain_id = "d1";
  src.name = "s";
  src.hostname = "h";
  ASSERT_THAT(store.UpsertSource(src), IsOk());
  Task t;
  t.id = "t1";
  t.domain_id = "d1";
  t.name = "t";
  t.source_id = "s1";
  ASSERT_THAT(store.CreateTask(t), IsOk());
  const RetentionPolicy keep10{.keep_runs = 10};
  int64_t size_at_window = 0, size_max_after = 0;
  for (int r = 0; r < runs; ++r) {
    const std::string run_id = "run-" + std::to_string(r);
    for (int seq = 0; seq * 5000 < files; ++seq) {
      DetailChunk c;
      c.run_id = run_id;
      c.domain_id = "d1";
      c.task_id = "t1";
      c.seq = seq;
      c.content_hash = "h";
      for (int i = seq * 5000; i < files && i < (seq + 1) * 5000; ++i) {
        // Most differences persist; a tenth move each run.
        const int name = i % 10 == 0 ? i + r * files : i;
        c.files.push_back({"/srv/data",
                           "dir" + std::to_string(name % 97) + "/file-" +
                               std::to_string(name),
                           "", "different", "content",
                           R"({"type":"file","size":4096,"mtime_ns":1})",
                           R"({"type":"file","size":4100,"mtime_ns":2})"});
      }
      ASSERT_THAT(store.StageDetails(c), IsOk());
    }
    storage::Run run;
    run.run_id = run_id;
    run.domain_id = "d1";
    run.task_id = "t1";
    run.started_time = 1000 + r;
    run.check_result = "success";
    run.content_hash = run_id;
    run.committed_at = 1000 + r;
    run.dirs = {{"/srv/data", files, files, 0, 0, 0, 0, 0, 1}};
    ASSERT_THAT(store.CommitRun(run), IsOk());
    while (true) {  // what the retention worker does between runs
      auto n = store.PurgeDetails("d1", "t1", keep10, 1000 + r, 5000);
      ASSERT_THAT(n, IsOk());
      if (*n == 0) break;
    }
    const int64_t size = FileSize(path);
    if (r + 1 == 20) size_at_window = size;
    if (r + 1 > 20 && size > size_max_after) size_max_after = size;
    if ((r + 1) % 10 == 0 || r < 12)
      std::printf("run %4d  db %8.1f MiB  wal %6.1f MiB\n", r + 1,
                  size / 1048576.0, FileSize(path + "-wal") / 1048576.0);
  }
  if (runs > 20) {
    std::printf("after run 20: %.1f MiB; largest after: %.1f MiB\n",
                size_at_window / 1048576.0, size_max_after / 1048576.0);
    EXPECT_LE(size_max_after, size_at_window + size_at_window / 10);
  }
}

}  // namespace
}  // namespace sms::storage
