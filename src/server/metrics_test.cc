// Metrics: the exposition text, from requests and from a real SQLite store.
// The scale case (1,000 sources and tasks) runs with SMS_SCALE_TESTS=1 and
// prints what a scrape costs and what it does to concurrent uploads
// (docs/operations.md, Monitoring).
#include "server/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/caching_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace sms::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = storage::OpenSqliteStore(dir_.Join("sms.db"));
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    store_ = std::move(*s);
    ASSERT_TRUE(store_->CreateDomain({"d1", "acme", 1}));
    ASSERT_TRUE(store_->CreateDomain({"d2", "other", 1}));
  }

  void AddSource(const std::string& domain, const std::string& id,
                 const std::string& name) {
    storage::Source s;
    s.id = id;
    s.domain_id = domain;
    s.owner_user_id = "agent";
    s.name = name;
    s.hostname = name;
    s.os_type = "LINUX";
    ASSERT_TRUE(store_->UpsertSource(s).has_value());
  }

  void AddTask(const std::string& domain, const std::string& id,
               const std::string& source) {
    storage::Task t;
    t.id = id;
    t.domain_id = domain;
    t.name = "task " + id;
    t.type = "MIGRATE_FILE";
    t.os_type = "LINUX";
    t.source_id = source;
    t.target_name = "target";
    t.created_at = 1;
    t.updated_at = 1;
    ASSERT_TRUE(store_->CreateTask(t).has_value());
  }

  void Commit(const std::string& domain, const std::string& task,
              const std::string& run_id, bool failed, int64_t different) {
    storage::Run r;
    r.run_id = run_id;
    r.domain_id = domain;
    r.task_id = task;
    r.started_time = 1000;
    r.finished_time = 2000;
    r.check_result = failed ? "failed" : "success";
    r.mode = "hash";
    r.hash_algorithm = "xxh128";
    r.content_hash = "h" + run_id;
    r.committed_at = 2000;
    storage::DirResult d;
    d.dir_check = "/data";
    d.num_total_files = 10;
    d.num_different_files = different;
    r.dirs = {d};
    auto c = store_->CommitRun(r);
    ASSERT_TRUE(c.has_value()) << c.error().ToString();
  }

  sms::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  Metrics metrics_;
};

TEST_F(MetricsTest, RequestsAreCountedByMethodRouteAndStatus) {
  metrics_.ObserveRequest("POST", "/v3/tasks/{task_id}/consistency-result", 500,
                          0.002);
  metrics_.ObserveRequest("POST", "/v3/tasks/{task_id}/consistency-result", 500,
                          0.003);
  metrics_.ObserveRequest("GET", "/v3/tasks/{task_id}/consistency-result", 200,
                          0.001);
  // A method no standard names is "other": clients cannot add series.
  metrics_.ObserveRequest("BREW", "", 405, 0.001);
  const std::string text = metrics_.Render(0, DatabaseGauges{});
  EXPECT_THAT(text, HasSubstr("sms_http_requests_total{method=\"POST\","
                              "route=\"/v3/tasks/{task_id}/consistency-"
                              "result\",status=\"500\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("sms_http_requests_total{method=\"GET\","
                              "route=\"/v3/tasks/{task_id}/consistency-"
                              "result\",status=\"200\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("sms_http_requests_total{method=\"other\","
                              "route=\"\",status=\"405\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("BREW")));
}

TEST_F(MetricsTest, ADatabaseThatFailsIsDownWithoutItsSeries) {
  DatabaseGauges down;  // what ReadDatabaseGauges returns on a failure
  const std::string text = metrics_.Render(3, down);
  EXPECT_THAT(text, HasSubstr("sms_database_up 0\n"));
  EXPECT_THAT(text, HasSubstr("sms_runs_committed_total 3\n"));
  EXPECT_THAT(text, Not(HasSubstr("sms_source_last_poll_timestamp_seconds{")));
  EXPECT_THAT(text, Not(HasSubstr("sms_sources ")));
}

TEST_F(MetricsTest, SourcesAndTasksFromTheDatabase) {
  // A name with every character the exposition format escapes.
  AddSource("d1", "s1", "web \"01\"\\a\nb");
  AddSource("d2", "s2", "db01");
  ASSERT_TRUE(store_->RecordHeartbeats({{"d1", "s1", 1733150000123}}));
  AddTask("d1", "t1", "s1");
  AddTask("d1", "t2", "s1");
  AddTask("d2", "t3", "s2");
  Commit("d1", "t1", "r1", false, 0);
  Commit("d1", "t1", "r2", false, 2);
  Commit("d1", "t1", "r3", false, 1);
  Commit("d1", "t2", "r4", true, 0);
  Commit("d2", "t3", "r5", false, 0);

  const DatabaseGauges db = ReadDatabaseGauges(*store_);
  ASSERT_TRUE(db.up);
  const std::string text = metrics_.Render(0, db);
  EXPECT_THAT(text, HasSubstr("sms_database_up 1\n"));
  EXPECT_THAT(text, HasSubstr("sms_sources 2\n"));
  EXPECT_THAT(text, HasSubstr("sms_tasks_with_runs 3\n"));
  EXPECT_THAT(text, HasSubstr("sms_source_last_poll_timestamp_seconds{"
                              "domain_id=\"d1\",source_id=\"s1\",source="
                              "\"web \\\"01\\\"\\\\a\\nb\"} 1733150000.123\n"));
  EXPECT_THAT(text, HasSubstr("sms_source_last_poll_timestamp_seconds{"
                              "domain_id=\"d2\",source_id=\"s2\",source="
                              "\"db01\"} 0.000\n"));
  EXPECT_THAT(text,
              HasSubstr("sms_source_tasks{domain_id=\"d1\",source_id="
                        "\"s1\",source=\"web \\\"01\\\"\\\\a\\nb\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("sms_task_consecutive_runs{domain_id=\"d1\","
                              "task_id=\"t1\",task=\"task t1\",verdict="
                              "\"inconsistent\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("sms_task_consecutive_runs{domain_id=\"d1\","
                              "task_id=\"t2\",task=\"task t2\",verdict="
                              "\"failed\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("sms_task_consecutive_runs{domain_id=\"d2\","
                              "task_id=\"t3\",task=\"task t3\",verdict="
                              "\"consistent\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("sms_metrics_series_dropped{family=\"source\"} 0\n"));
  // Every sample line is `name{labels} value` or `name value`: no raw
  // newline from a name broke one.
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind('#', 0) == 0) continue;
    EXPECT_THAT(line, ::testing::MatchesRegex("[a-z_]+(\\{.*\\})? [0-9.]+"))
        << line;
  }
}

TEST_F(MetricsTest, SeriesBeyondTheCapAreCountedAsDropped) {
  DatabaseGauges db;
  db.up = true;
  db.sources.count = 12;
  db.sources.items = {{"d1", "s1", "a", 1000, 1}};
  db.tasks.count = 1;
  db.tasks.items = {{"d1", "t1", "t", "consistent", 4}};
  const std::string text = metrics_.Render(0, db);
  EXPECT_THAT(text,
              HasSubstr("sms_metrics_series_dropped{family=\"source\"} 11\n"));
  EXPECT_THAT(text,
              HasSubstr("sms_metrics_series_dropped{family=\"task\"} 0\n"));
}

// Scale (SMS_SCALE_TESTS=1): 1,000 sources and 1,000 tasks (environment
// SMS_SCALE_N), each task with 20 runs (SMS_SCALE_RUNS), behind the read
// cache as sms-server serves SQLite. Prints the scrape time, and the commit
// latency of uploads with and without a scrape running all along.
TEST_F(MetricsTest, ScrapeCostAtScale) {
  if (std::getenv("SMS_SCALE_TESTS") == nullptr)
    GTEST_SKIP() << "set SMS_SCALE_TESTS=1";
  auto env_int = [](const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v ? std::atoi(v) : fallback;
  };
  const int n = env_int("SMS_SCALE_N", 1000);
  const int runs = env_int("SMS_SCALE_RUNS", 20);
  auto cached = storage::NewCachingStore(std::move(store_));
  storage::Store& store = *cached;
  std::atomic<int> run_seq{0};
  auto commit = [&](int task, bool inconsistent) {
    storage::Run r;
    r.run_id = "r" + std::to_string(run_seq.fetch_add(1));
    r.domain_id = "d1";
    r.task_id = "t" + std::to_string(task);
    r.started_time = 1000;
    r.finished_time = 2000;
    r.check_result = "success";
    r.mode = "hash";
    r.hash_algorithm = "xxh128";
    r.content_hash = "h" + r.run_id;
    r.committed_at = 2000;
    r.dirs = {{"/data", 10, inconsistent ? 1 : 0, 0, 0, 0, 0, 0, 100},
              {"/etc", 5, 0, 0, 0, 0, 0, 0, 50}};
    return store.CommitRun(r);
  };
  for (int i = 0; i < n; ++i) {
    storage::Source s;
    s.id = "s" + std::to_string(i);
    s.domain_id = "d1";
    s.owner_user_id = "agent";
    s.name = "host-" + std::to_string(i);
    s.hostname = s.name;
    ASSERT_TRUE(store.UpsertSource(s).has_value());
    ASSERT_TRUE(store.RecordHeartbeats({{"d1", s.id, 1733150000000 + i}}));
    storage::Task t;
    t.id = "t" + std::to_string(i);
    t.domain_id = "d1";
    t.name = "task " + std::to_string(i);
    t.type = "MIGRATE_FILE";
    t.source_id = s.id;
    ASSERT_TRUE(store.CreateTask(t).has_value());
  }
  // 8 writers: their commits share fsyncs (SqliteStore's group commit).
  {
    std::atomic<int> next{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 8; ++w) {
      writers.emplace_back([&] {
        for (int j = next.fetch_add(1); j < n * runs; j = next.fetch_add(1))
          if (!commit(j % n, (j / n) % 3 == 0)) failures.fetch_add(1);
      });
    }
    for (std::thread& t : writers) t.join();
    ASSERT_EQ(failures.load(), 0);
  }

  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  std::vector<double> scrapes;
  size_t bytes = 0;
  for (int i = 0; i < 20; ++i) {
    const auto start = Clock::now();
    const DatabaseGauges db = ReadDatabaseGauges(store);
    const std::string text = metrics_.Render(0, db);
    scrapes.push_back(ms(Clock::now() - start));
    ASSERT_TRUE(db.up);
    ASSERT_EQ(db.sources.items.size(), static_cast<size_t>(n));
    ASSERT_EQ(db.tasks.items.size(), static_cast<size_t>(n));
    bytes = text.size();
  }
  std::sort(scrapes.begin(), scrapes.end());

  // Uploads, alone and beside a scrape loop.
  auto upload_latencies = [&](int count) {
    std::vector<double> out;
    for (int i = 0; i < count; ++i) {
      const auto start = Clock::now();
      EXPECT_TRUE(commit(i % n, false));
      out.push_back(ms(Clock::now() - start));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  const std::vector<double> alone = upload_latencies(200);
  std::atomic<bool> stop{false};
  std::atomic<int> scraped{0};
  std::thread scraper([&] {
    while (!stop.load()) {
      (void)metrics_.Render(0, ReadDatabaseGauges(store));
      scraped.fetch_add(1);
    }
  });
  const std::vector<double> beside = upload_latencies(200);
  stop.store(true);
  scraper.join();
  std::printf(
      "scrape of %d sources, %d tasks x %d runs (SQLite, read cache): "
      "median %.1f ms, max %.1f ms, %zu bytes\n"
      "upload commit alone: median %.2f ms, p99 %.2f ms; beside %d "
      "scrapes: median %.2f ms, p99 %.2f ms\n",
      n, n, runs, scrapes[scrapes.size() / 2], scrapes.back(), bytes,
      alone[alone.size() / 2], alone[alone.size() * 99 / 100], scraped.load(),
      beside[beside.size() / 2], beside[beside.size() * 99 / 100]);
}

}  // namespace
}  // namespace sms::server
