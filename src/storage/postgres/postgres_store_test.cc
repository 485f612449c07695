// PostgreSQL specifics beyond the shared contract (store_contract_test.cc):
// concurrent migration at start, connection loss and recovery, and large
// file-level details paged by keyset.
//
// Needs SMS_TEST_PG_DSN (a database where schemas may be created); the
// restart test also needs SMS_TEST_PG_STATE (a tests/support/pg.sh state
// directory it may stop and start). Without them those tests are skipped.
// SMS_TEST_PG_DETAIL_ROWS sets the size of the large run (default 100,000;
// `SMS_TEST_PG_DETAIL_ROWS=1000000` is the million-row variant of issue 5).
#include "storage/postgres/postgres_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "storage/caching_store.h"
#include "storage/dirs_in_runs_fixture.h"
#include "storage/migrations.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/tenant_run_ids_fixture.h"
#include "testing/temp_dir.h"

namespace sms::storage {
namespace {

using core::ErrorCode;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// A fresh schema per test, dropped at the end.
// Runs `sql` on a connection of its own (as psql would); below.
std::string Psql(const std::string& dsn, const std::string& sql);

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = Env("SMS_TEST_PG_DSN");
    if (dsn_.empty()) GTEST_SKIP() << "SMS_TEST_PG_DSN not set";
    static std::atomic<int> n{0};
    options_.schema =
        "sms_pgtest_" + std::to_string(getpid()) + "_" + std::to_string(n++);
  }
  void TearDown() override {
    if (!options_.schema.empty() && !dsn_.empty())
      (void)DropPostgresSchema(dsn_, options_.schema);
  }

  std::unique_ptr<Store> Open() {
    auto s = OpenPostgresStore(dsn_, options_);
    if (!s) ADD_FAILURE() << s.error().ToString();
    return s ? std::move(*s) : nullptr;
  }

  // The first column of `sql`'s rows on `conn` (a failed statement is a
  // test failure naming it).
  static std::vector<std::string> Column(PGconn* conn, const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    const ExecStatusType st = PQresultStatus(r);
    EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        << PQerrorMessage(conn) << " in: " << sql.substr(0, 200);
    std::vector<std::string> column;
    for (int i = 0; i < PQntuples(r); ++i)
      column.push_back(PQgetvalue(r, i, 0));
    PQclear(r);
    return column;
  }

  // This test's schema on `conn`, migrated by hand up to (not including)
  // `version`, as a release before that migration left it.
  void MigrateBefore(PGconn* conn, int version) {
    Column(conn, "CREATE SCHEMA " + options_.schema + "; SET search_path TO " +
                     options_.schema +
                     "; CREATE TABLE schema_migrations (version INTEGER"
                     " PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT"
                     " NOT NULL)");
    for (const Migration& m : PostgresMigrations()) {
      if (m.version >= version) break;
      Column(conn, std::string(m.sql));
      Column(conn, "INSERT INTO schema_migrations VALUES (" +
                       std::to_string(m.version) + ", '" + std::string(m.name) +
                       "', 1)");
    }
  }

  using Pairs = std::set<std::pair<std::string, std::string>>;

  // The first two columns of `sql`'s rows, $1 bound to this test's schema.
  Pairs PgPairs(const char* sql) {
    Pairs out;
    PGconn* conn = PQconnectdb(dsn_.c_str());
    const char* values[] = {options_.schema.c_str()};
    PGresult* r =
        PQexecParams(conn, sql, 1, nullptr, values, nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
      ADD_FAILURE() << PQerrorMessage(conn) << " in: " << sql;
    for (int i = 0; i < PQntuples(r); ++i)
      out.emplace(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    PQclear(r);
    PQfinish(conn);
    return out;
  }

  // The same on a SQLite database migrated afresh.
  static Pairs SqlitePairs(const char* sql) {
    Pairs out;
    ::sms::testing::TempDir dir;
    const std::string path = dir.Join("schema.db");
    EXPECT_TRUE(MigrateSqlite(path).has_value());
    sqlite3* db = nullptr;
    sqlite3_stmt* q = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sql, -1, &q, nullptr) != SQLITE_OK)
      ADD_FAILURE() << sqlite3_errmsg(db) << " in: " << sql;
    while (q != nullptr && sqlite3_step(q) == SQLITE_ROW) {
      out.emplace(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)),
                  reinterpret_cast<const char*>(sqlite3_column_text(q, 1)));
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return out;
  }

  static void Seed(Store& s) {
    ASSERT_TRUE(s.CreateDomain({"d1", "acme", 1}));
    Task t;
    t.id = "t1";
    t.domain_id = "d1";
    t.name = "task";
    t.type = "MIGRATE_FILE";
    t.os_type = "LINUX";
    t.source_id = "s1";
    t.state = TaskState::kReady;
    ASSERT_TRUE(s.CreateTask(t));
  }

  // A replica as `sms-server serve` has one (main.cc): a shared read cache
  // over its own store, fed by its own listener (fences every 50 ms).
  void StartReplica(int64_t max_lag_ms, std::unique_ptr<CachingStore>* cache,
                    std::unique_ptr<ChangeListener>* listener) {
    auto inner = Open();
    ASSERT_NE(inner, nullptr);
    *cache = NewSharedCachingStore(
        std::move(inner),
        {.clock = &core::SystemClock(), .max_lag_ms = max_lag_ms});
    *listener =
        StartChangeListener(dsn_, options_, **cache, core::SystemClock(),
                            {.fence_interval_ms = 50});
  }

  // Reads through `replica` (`read` checks each answer) until the cache
  // group `hits` counts a hit: its listener listens and keeps up. 60 s at
  // most.
  template <typename Hits, typename Read>
  static void ReadUntilHeld(CachingStore& replica, Hits hits, Read read) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (hits(replica.Stats()) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
      read(replica);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GT(hits(replica.Stats()), 0u);
  }

  // `table`'s seq_tup_read and `counter` (n_tup_ins, n_tup_upd, n_tup_del)
  // from pg_stat_user_tables.
  std::pair<int64_t, int64_t> TableStats(const std::string& table,
                                         const std::string& counter) {
    int64_t seq = 0, n = 0;
    std::istringstream(Psql(dsn_, "SELECT seq_tup_read || ' ' || " + counter +
                                      " FROM pg_stat_user_tables"
                                      " WHERE schemaname = '" +
                                      options_.schema + "' AND relname = '" +
                                      table + "'")) >>
        seq >> n;
    return {seq, n};
  }
  // The same once `counter` has reached `at_least`: a backend reports its
  // counters when idle (at most once a second) and when it exits. 10 s at
  // most.
  std::pair<int64_t, int64_t> TableStatsOnce(const std::string& table,
                                             const std::string& counter,
                                             int64_t at_least) {
    auto stats = TableStats(table, counter);
    for (int i = 0; i < 100 && stats.second < at_least; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      stats = TableStats(table, counter);
    }
    return stats;
  }

  // Registers source s1 of d1, owned by agent user u1; returns it.
  static Source SeedSource(Store& s) {
    Source src;
    src.id = "s1";
    src.domain_id = "d1";
    src.owner_user_id = "u1";
    src.name = "src";
    src.hostname = "h";
    src.os_type = "LINUX";
    auto saved = s.UpsertSource(src);
    EXPECT_TRUE(saved) << saved.error().ToString();
    return src;
  }

  std::string dsn_;
  PostgresOptions options_;
};

TEST(PostgresConnectionStringTest, RecognisesUrisAndKeywordStrings) {
  EXPECT_TRUE(IsPostgresConnectionString("postgresql://u:p@h:5432/db"));
  EXPECT_TRUE(IsPostgresConnectionString("postgres://h/db"));
  EXPECT_TRUE(IsPostgresConnectionString("host=/tmp dbname=sms"));
  EXPECT_FALSE(IsPostgresConnectionString("sqlite:./var/sms.db"));
  EXPECT_FALSE(IsPostgresConnectionString("sqlite:/tmp/a=b.db"));
  EXPECT_FALSE(IsPostgresConnectionString("./var/sms.db"));
}

TEST(PostgresConnectionStringTest, RedactsPasswords) {
  EXPECT_EQ(RedactConnectionString("postgresql://u:secret@h:5432/db"),
            "postgresql://u:***@h:5432/db");
  EXPECT_EQ(RedactConnectionString("postgresql://u@h/db"),
            "postgresql://u@h/db");
  EXPECT_EQ(RedactConnectionString("postgres://h/db?user=u&password=s&x=1"),
            "postgres://h/db?user=u&password=***&x=1");
  EXPECT_EQ(RedactConnectionString("host=h password=secret dbname=d"),
            "host=h password=*** dbname=d");
  EXPECT_EQ(RedactConnectionString("password = 'se cr\\'et' host=h"),
            "password = *** host=h");
  EXPECT_EQ(RedactConnectionString("sqlite:./var/sms.db"),
            "sqlite:./var/sms.db");
}

TEST(PostgresUnreachableTest, OpenFailsAsUnavailable) {
  PostgresOptions o;
  o.connect_timeout_s = 1;
  auto s = OpenPostgresStore("host=/nonexistent-sms-dir port=1 dbname=x", o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  // The message names the failure, not the password of the string.
  auto u = OpenPostgresStore("postgresql://u:secret@127.0.0.1:1/db", o);
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().message.find("secret"), std::string::npos);
}

// The two dialects' migrations make the same tables and views with the same
// columns (names; the types are each dialect's own). information_schema
// lists a view's columns beside the tables' (run_dirs is a view since
// 0019_run_dirs_in_runs).
TEST_F(PostgresStoreTest, SchemaHasTheTablesAndColumnsOfSqlite) {
  ASSERT_NE(Open(), nullptr);
  const Pairs pg = PgPairs(
      "SELECT table_name, column_name FROM information_schema.columns"
      " WHERE table_schema = $1");
  EXPECT_FALSE(pg.empty());
  EXPECT_EQ(pg, SqlitePairs("SELECT m.name, p.name FROM sqlite_master m,"
                            " pragma_table_info(m.name) p"
                            " WHERE m.type IN ('table', 'view')"
                            " AND m.name NOT LIKE 'sqlite_%'"));
}

// The indexes each dialect's migrations create (not those behind a
// primary key or a UNIQUE constraint), by table, are the same, but for
// those only PostgreSQL has, each for a reason: tokens_by_expiry (only
// PostgreSQL purges expired tokens by statement); tasks_by_source and
// detail_chunks_by_task (on SQLite a source's task list and a task's
// delete read the tenant's rows: rare operations, and the second index
// would cost every upload of details a write).
TEST_F(PostgresStoreTest, SchemaHasTheIndexesOfSqlite) {
  ASSERT_NE(Open(), nullptr);
  Pairs pg = PgPairs(
      "SELECT i.tablename, i.indexname FROM pg_indexes i"
      " WHERE i.schemaname = $1 AND NOT EXISTS (SELECT 1 FROM"
      " pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
      " WHERE n.nspname = $1 AND c.conname = i.indexname)");
  const Pairs only_pg = {{"tokens", "tokens_by_expiry"},
                         {"tasks", "tasks_by_source"},
                         {"detail_chunks", "detail_chunks_by_task"}};
  for (const auto& index : only_pg)
    EXPECT_EQ(pg.erase(index), 1u) << index.second;
  EXPECT_FALSE(pg.empty());
  EXPECT_EQ(pg, SqlitePairs("SELECT tbl_name, name FROM sqlite_master"
                            " WHERE type = 'index'"
                            " AND name NOT LIKE 'sqlite_%'"));
}

TEST_F(PostgresStoreTest, ConcurrentStartsMigrateOnce) {
  std::vector<std::thread> replicas;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    replicas.emplace_back([&] {
      auto s = OpenPostgresStore(dsn_, options_);
      if (s)
        ++ok;
      else
        ADD_FAILURE() << s.error().ToString();
    });
  }
  for (auto& r : replicas) r.join();
  EXPECT_EQ(ok.load(), 4);
  auto versions = PostgresSchemaVersions(dsn_, options_);
  ASSERT_TRUE(versions) << versions.error().ToString();
  // Every embedded version, each once.
  ASSERT_EQ(versions->size(), PostgresMigrations().size());
  for (size_t i = 0; i < versions->size(); ++i)
    EXPECT_EQ((*versions)[i], PostgresMigrations()[i].version);
  auto again = MigratePostgres(dsn_, options_);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
}

TEST_F(PostgresStoreTest, SmallPoolServesManyThreads) {
  options_.connections = 2;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Seed(*store);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i)
        if (!store->GetTask("d1", "t1")) ++failures;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// Backends of this cluster whose application_name is `app`.
int Backends(const std::string& dsn, const std::string& app) {
  PGconn* probe = PQconnectdb(dsn.c_str());
  int n = -1;
  if (PQstatus(probe) == CONNECTION_OK) {
    const std::string sql =
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" +
        app + "'";
    PGresult* r = PQexec(probe, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
      n = std::atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
  }
  PQfinish(probe);
  return n;
}

// `dsn` (a URI or a keyword string) with application_name `app`, which
// overrides the driver's "sms-server".
std::string WithApplicationName(const std::string& dsn,
                                const std::string& app) {
  if (dsn.rfind("postgres", 0) == 0 && dsn.find("://") != std::string::npos)
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") +
           "application_name=" + app;
  return dsn + " application_name=" + app;
}

// Each store is opened under an application_name of its own, so the count
// is of its connections alone: a previous store's backends may still be
// exiting (PQfinish does not wait for them) and were counted by the shared
// name "sms-server" (a flake under load).
TEST_F(PostgresStoreTest, OpensTheRequestedConnectionsAtStart) {
  const std::string lazy = options_.schema + "_lazy";
  const std::string eager = options_.schema + "_eager";
  options_.connections = 4;
  {
    // Default: the first connection only.
    auto store = OpenPostgresStore(WithApplicationName(dsn_, lazy), options_);
    ASSERT_TRUE(store) << store.error().ToString();
    EXPECT_EQ(Backends(dsn_, lazy), 1);
  }
  options_.open_at_start = 4;  // what `serve` asks for: the whole pool
  auto store = OpenPostgresStore(WithApplicationName(dsn_, eager), options_);
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ(Backends(dsn_, eager), 4);
  Seed(**store);
  EXPECT_TRUE((*store)->GetTask("d1", "t1"));
}

TEST_F(PostgresStoreTest, DetailTextIsCarriedExactly) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Seed(*store);
  DetailChunk c;
  c.run_id = "r1";
  c.domain_id = "d1";
  c.task_id = "t1";
  c.content_hash = "h";
  // Rows travel as array elements (StageDetails): tab, newline, CR,
  // backslash, quotes, and text that looks like NULL must round-trip.
  const std::string odd = "a\tb\nc\rd\\e\\N'\";--{,}";
  c.files.push_back({"/dir", odd, "YQli", "error", odd, "{\"x\":1}", ""});
  c.files.push_back({"/dir", "NULL", "", "different", "", "", "NULL"});
  ASSERT_TRUE(store->StageDetails(c));
  storage::Run r;
  r.run_id = "r1";
  r.domain_id = "d1";
  r.task_id = "t1";
  r.check_result = "success";
  // Directory names travel as array elements: quotes, backslashes, commas,
  // braces and NULL-looking text must stay data.
  const std::vector<std::string> dirs = {"/a,b", "/{c}", "/\"q\"", "/b\\s",
                                         "NULL", "/ü €", ""};
  for (size_t i = 0; i < dirs.size(); ++i)
    r.dirs.push_back(
        {dirs[i], static_cast<int64_t>(i), 1, 2, 3, 4, 5, 6, int64_t{1} << 40});
  ASSERT_TRUE(store->CommitRun(r));
  auto runs = store->ListRuns("d1", "t1", 10);
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 1u);
  ASSERT_EQ((*runs)[0].dirs.size(), dirs.size());
  for (size_t i = 0; i < dirs.size(); ++i) {
    EXPECT_EQ((*runs)[0].dirs[i].dir_check, dirs[i]);
    EXPECT_EQ((*runs)[0].dirs[i].num_total_files, static_cast<int64_t>(i));
    EXPECT_EQ((*runs)[0].dirs[i].num_bytes_verified, int64_t{1} << 40);
  }
  EXPECT_EQ(store->GetRun("d1", "r1")->dirs.size(), dirs.size());
  EXPECT_EQ(*store->CommitRun(r), CommitOutcome::kAlreadyCommitted);
  DetailQuery q;
  q.run_id = "r1";
  auto page = store->ListDetails("d1", q);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->rows.size(), 2u);
  EXPECT_EQ(page->rows[0].file.path, odd);
  EXPECT_EQ(page->rows[0].file.reason, odd);
  EXPECT_EQ(page->rows[0].file.path_b64, "YQli");
  EXPECT_EQ(page->rows[0].file.target_json, "");
  EXPECT_EQ(page->rows[1].file.path, "NULL");
  EXPECT_EQ(page->rows[1].file.path_b64, "");
  EXPECT_EQ(page->rows[1].file.target_json, "NULL");
}

// 0013_tenant_run_ids on a schema at every earlier version: every row is
// kept and readable by its tenant, and the other tenant can then use the
// same run id (the SQLite side: migrations_test.cc).
TEST_F(PostgresStoreTest, TenantRunIdsKeepEveryRow) {
  PGconn* conn = PQconnectdb(dsn_.c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  auto exec = [conn](const std::string& sql) {
    std::vector<std::string> column = Column(conn, sql);
    return column.empty() ? std::string() : column.front();
  };
  MigrateBefore(conn, 13);
  exec(kRowsBeforeTenantRunIds);
  if (HasFailure()) {
    PQfinish(conn);
    return;
  }

  auto store = Open();  // applies 0013
  ASSERT_NE(store, nullptr);
  auto runs = store->ListRuns("d1", "t1", 10);
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].run_id, "r1");
  EXPECT_EQ((*runs)[0].dirs.size(), 2u);
  DetailQuery all;
  all.run_id = "r1";
  auto page = store->ListDetails("d1", all);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 3);
  ASSERT_EQ(page->rows.size(), 3u);
  EXPECT_EQ(page->rows[0].first_seen_time, 5);  // r0's start
  EXPECT_TRUE(*store->DetailsPurged("d1", "r0"));
  auto events = store->ListRunDeliveries("d1", "r1");
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].event_id, "r1/run.finished");
  EXPECT_FALSE(store->GetRun("d2", "r1"));

  DetailChunk c;
  c.run_id = "r1";
  c.domain_id = "d2";
  c.task_id = "t2";
  c.content_hash = "h2";
  c.files.push_back({"/c", "w", "", "DIFFERENT", "", "", ""});
  ASSERT_TRUE(store->StageDetails(c));
  storage::Run theirs = (*runs)[0];
  theirs.domain_id = "d2";
  theirs.task_id = "t2";
  theirs.content_hash = "c2";
  theirs.dirs.resize(1);
  ASSERT_TRUE(store->CommitRun(theirs));
  EXPECT_EQ(store->ListDetails("d2", all)->total, 1);
  EXPECT_EQ(store->ListDetails("d1", all)->total, 3);
  EXPECT_EQ(store->GetRun("d1", "r1")->dirs.size(), 2u);
  EXPECT_EQ(store->GetRun("d2", "r1")->dirs.size(), 1u);
  // Nothing lost: the orphan count and purge mark are kept too.
  EXPECT_EQ(exec("SELECT count(*) FROM detail_counts"
                 " WHERE domain_id = '' AND run_id = 'gone'"),
            "1");
  EXPECT_EQ(exec("SELECT count(*) FROM detail_purges"
                 " WHERE domain_id = '' AND run_id = 'gone'"),
            "1");
  EXPECT_EQ(exec("SELECT count(*) FROM run_dirs"), "4");
  PQfinish(conn);
}

// 0019_run_dirs_in_runs on a schema at every earlier version: every
// directory moves into its run's row, in order, and the view run_dirs gives
// back exactly the rows the table held (the SQLite side: migrations_test.cc).
TEST_F(PostgresStoreTest, DirsInRunsKeepEveryDirectory) {
  PGconn* conn = PQconnectdb(dsn_.c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  auto exec = [conn](const std::string& sql) { return Column(conn, sql); };
  MigrateBefore(conn, 19);
  exec(kRowsBeforeDirsInRuns);
  const std::vector<std::string> want(std::begin(kRunDirsDumped),
                                      std::end(kRunDirsDumped));
  EXPECT_EQ(exec(kRunDirsDump), want);  // the table
  if (HasFailure()) {
    PQfinish(conn);
    return;
  }

  auto store = Open();  // applies 0019
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(exec(kRunDirsDump), want);  // the view
  storage::Run next;
  ExpectRunsAfterDirsInRuns(*store, &next);
  if (HasFatalFailure()) {
    PQfinish(conn);
    return;
  }
  // The run_dirs table, its cascade trigger and function are gone.
  EXPECT_EQ(exec("SELECT count(*) FROM pg_proc"
                 " WHERE proname = 'sms_run_dirs_cascade'"),
            std::vector<std::string>{"0"});

  // A run committed after it is one more row of the view.
  next.run_id = "r3";
  next.content_hash = "c4";
  next.dirs.resize(1);
  ASSERT_TRUE(store->CommitRun(next));
  auto after = exec(kRunDirsDump);
  ASSERT_EQ(after.size(), want.size() + 1);
  EXPECT_EQ(after[3], "d1|r3|0|/a \"q\"|1|2|3|4|5|6|7|8|9|10|11|12|13");
  PQfinish(conn);
}

// The database stops under the store and comes back: calls fail with
// kUnavailable meanwhile, and the pool recovers without a restart.
TEST_F(PostgresStoreTest, RecoversWhenTheDatabaseComesBack) {
  std::string state = Env("SMS_TEST_PG_STATE");
  std::string source = Env("SMS_SOURCE_DIR");
  if (state.empty() || source.empty())
    GTEST_SKIP() << "SMS_TEST_PG_STATE / SMS_SOURCE_DIR not set";
  const std::string pg = "bash " + source + "/tests/support/pg.sh ";
  options_.connect_timeout_s = 2;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Seed(*store);
  // Warm several pooled connections, so stale ones are in the pool.
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] { ASSERT_TRUE(store->GetTask("d1", "t1")); });
    for (auto& th : threads) th.join();
  }
  // The cluster is the ctest fixture's (shared with the tests after this
  // one): started again on every way out of this test, a failed ASSERT too.
  const std::string start = pg + "start " + state + " >/dev/null";
  struct Restart {
    const std::string& cmd;
    bool down = false;
    ~Restart() {
      if (down && std::system(cmd.c_str()) != 0)
        ADD_FAILURE() << "could not start the cluster again: " << cmd;
    }
  } restart{start};
  restart.down = true;
  ASSERT_EQ(std::system((pg + "stop " + state).c_str()), 0);
  auto down = store->GetTask("d1", "t1");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(store->Ping().error().code, ErrorCode::kUnavailable);
  restart.down = false;
  ASSERT_EQ(std::system(start.c_str()), 0);
  // Every pooled connection died with the server; none of that shows.
  for (int i = 0; i < 10; ++i) {
    auto t = store->GetTask("d1", "t1");
    ASSERT_TRUE(t) << t.error().ToString();
  }
  EXPECT_TRUE(store->Ping());
}

// What a ChangeListener reports, counted.
class RecordingFeed final : public CacheFeed {
 public:
  struct Counts {
    int listening = 0;
    int changed = 0;
    int heard = 0;
    int lost = 0;
  };
  void Listening() override { Bump(&Counts::listening); }
  void Changed() override { Bump(&Counts::changed); }
  void ChangedTable(std::string_view table) override {
    {
      std::lock_guard lock(mu_);
      tables_.emplace_back(table);
    }
    Bump(&Counts::changed);
  }
  void Heard(core::Clock::TimePoint) override { Bump(&Counts::heard); }
  void Lost() override { Bump(&Counts::lost); }

  Counts Now() {
    std::lock_guard lock(mu_);
    return counts_;
  }
  // The payloads of the reports so far (the tables named), in order.
  std::vector<std::string> Tables() {
    std::lock_guard lock(mu_);
    return tables_;
  }
  // Waits up to 60 s for `done` (a generous deadline: fences come every
  // 20 ms, but a loaded machine may stall for seconds); false on timeout.
  bool WaitFor(const std::function<bool(const Counts&)>& done) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60),
                        [&] { return done(counts_); });
  }
  // Waits for two more fences: every write committed before this call has
  // been reported by then.
  bool Settle() {
    const int heard = Now().heard;
    return WaitFor([&](const Counts& c) { return c.heard >= heard + 2; });
  }

 private:
  void Bump(int Counts::*field) {
    {
      std::lock_guard lock(mu_);
      ++(counts_.*field);
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  Counts counts_;
  std::vector<std::string> tables_;
};

// Runs `sql` on a connection of its own (as psql would).
std::string Psql(const std::string& dsn, const std::string& sql) {
  PGconn* c = PQconnectdb(dsn.c_str());
  std::string out;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
      out = PQgetvalue(r, 0, 0);
    else if (PQresultStatus(r) != PGRES_COMMAND_OK &&
             PQresultStatus(r) != PGRES_TUPLES_OK)
      ADD_FAILURE() << sql << ": " << PQerrorMessage(c);
    PQclear(r);
  } else {
    ADD_FAILURE() << PQerrorMessage(c);
  }
  PQfinish(c);
  return out;
}

// A pool that cannot fit beside the listener in what PostgreSQL gives a
// role that is not a superuser is refused at open, naming the setting and
// the server's figures; one that fits opens.
TEST_F(PostgresStoreTest, APoolLargerThanTheServerAllowsIsRefused) {
  const int max = std::atoi(Psql(dsn_, "SHOW max_connections").c_str());
  const int reserved =
      std::atoi(Psql(dsn_, "SHOW superuser_reserved_connections").c_str());
  ASSERT_GT(max - reserved, 1);
  options_.connections = max - reserved;  // one more than fits
  options_.connections_name = "db_pool_size";
  auto refused = OpenPostgresStore(dsn_, options_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::kInvalidArgument);
  const std::string message = refused.error().message;
  EXPECT_NE(message.find("db_pool_size " + std::to_string(max - reserved)),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("max_connections " + std::to_string(max)),
            std::string::npos)
      << message;
  options_.connections = max - reserved - 1;
  EXPECT_NE(Open(), nullptr);
}

// A run deleted by hand, or with its task by the cascade from tasks, takes
// its directories (since 0019 they are in its row; the view run_dirs shows
// them), and another run's stay.
TEST_F(PostgresStoreTest, ADeletedRunTakesItsDirectories) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Seed(*store);
  Task t2;
  t2.id = "t2";
  t2.domain_id = "d1";
  t2.name = "other";
  t2.type = "MIGRATE_FILE";
  t2.os_type = "LINUX";
  t2.source_id = "s1";
  t2.state = TaskState::kReady;
  ASSERT_TRUE(store->CreateTask(t2));
  for (const auto& [run_id, task_id] :
       {std::pair{"r1", "t1"}, {"r2", "t1"}, {"r3", "t2"}}) {
    storage::Run r;
    r.run_id = run_id;
    r.domain_id = "d1";
    r.task_id = task_id;
    r.check_result = "success";
    r.content_hash = std::string("h") + run_id;
    r.dirs.push_back({"/a", 1, 0, 0, 0, 0, 0, 0, 0});
    r.dirs.push_back({"/b", 2, 0, 0, 0, 0, 0, 0, 0});
    ASSERT_TRUE(store->CommitRun(r));
  }
  const std::string in_schema = "SET search_path = " + options_.schema + "; ";
  auto count = [&](const std::string& run_id) {
    return Psql(dsn_, in_schema +
                          "SELECT count(*) FROM run_dirs WHERE"
                          " run_id = '" +
                          run_id + "'");
  };
  Psql(dsn_, in_schema + "DELETE FROM runs WHERE run_id = 'r1'");
  EXPECT_EQ(count("r1"), "0");
  EXPECT_EQ(count("r2"), "2");
  Psql(dsn_, in_schema + "DELETE FROM tasks WHERE id = 't1'");
  EXPECT_EQ(count("r2"), "0");
  EXPECT_EQ(count("r3"), "2");
  ASSERT_TRUE(store->GetRun("d1", "r3"));
  EXPECT_EQ(store->GetRun("d1", "r3")->dirs.size(), 2u);
}

// The listener of a replica's read cache (0014_cache_notify.sql's triggers,
// ChangeListener): a committed write that can change a held record is
// heard, a rolled-back one and a write that changes nothing held are not,
// and a terminated connection is reported lost and listened on again.
TEST_F(PostgresStoreTest, ListenerHearsCommittedWritesAndItsLoss) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Seed(*store);
  ASSERT_TRUE(store->CreateUser({"u1", "d1", "op", "operator", "x", 1}));
  ASSERT_TRUE(store->CreateToken({"th", "d1", "u1", 1, 1000000, {}}));
  ASSERT_TRUE(store->CreateCredential({"AK1", "d1", "u1", "SK1", 1, {}}));
  RecordingFeed feed;
  auto listener = StartChangeListener(
      dsn_, options_, feed, core::SystemClock(),
      // A fence late on a loaded machine is not the loss this test makes
      // (pg_terminate_backend below): only a minute counts as one.
      {.fence_interval_ms = 20, .fence_timeout_ms = 60000, .retry_ms = 50});
  ASSERT_TRUE(feed.WaitFor([](const RecordingFeed::Counts& c) {
    return c.listening == 1 && c.heard >= 1;
  }));
  ASSERT_TRUE(feed.Settle());
  const int quiet = feed.Now().changed;

  // Not heard: a rolled-back write, new rows that nothing held can miss
  // (a token, a credential), a claim that found nothing due.
  const std::string in_schema = "SET search_path = " + options_.schema + "; ";
  Psql(dsn_, in_schema + "BEGIN; UPDATE users SET role = 'viewer'; ROLLBACK");
  ASSERT_TRUE(store->CreateToken({"th2", "d1", "u1", 1, 1000000, {}}));
  ASSERT_TRUE(store->CreateCredential({"AK2", "d1", "u1", "SK2", 1, {}}));
  ASSERT_TRUE(store->ClaimDueChecks(1, 2, 10));
  // Nor the writes of every poll and registration (0018): a heartbeat
  // flush, and a known agent registering again (ip, os, agent version).
  Source src = SeedSource(*store);
  ASSERT_TRUE(store->RecordHeartbeats({{"d1", "s1", 9000}}));
  src.ip = "10.0.0.9";
  ASSERT_TRUE(store->UpsertSource(src));
  ASSERT_TRUE(feed.Settle());
  EXPECT_EQ(feed.Now().changed, quiet);

  // Heard, each before the next fence: a token's and a key's revocation
  // (0017), a role changed by hand, a task's state, a run.
  const std::vector<std::pair<const char*, std::function<bool()>>> writes = {
      {"UPDATE sources SET owner_user_id",
       [&] {
         Psql(dsn_, in_schema + "UPDATE sources SET owner_user_id = 'u2'");
         return true;
       }},
      {"DELETE FROM sources",
       [&] {
         Psql(dsn_, in_schema + "DELETE FROM sources");
         return true;
       }},
      {"EnqueueCommand",
       [&] {
         Command c{.domain_id = "d1",
                   .source_id = "s1",
                   .task_id = "t1",
                   .run_id = "r0",
                   .param_json = "{}",
                   .created_at = 5,
                   .updated_at = 5};
         return !!store->EnqueueCommand(c, TaskState::kReady,
                                        TaskState::kReady);
       }},
      {"RevokeToken", [&] { return !!store->RevokeToken("th", 5); }},
      {"RevokeCredential", [&] { return !!store->RevokeCredential("AK1", 5); }},
      {"UPDATE users",
       [&] {
         Psql(dsn_, in_schema + "UPDATE users SET role = 'viewer'");
         return true;
       }},
      {"UpdateTaskState",
       [&] {
         return !!store->UpdateTaskState("d1", "t1", TaskState::kReady,
                                         TaskState::kRunning, "", 6);
       }},
      {"CommitRun",
       [&] {
         storage::Run r;
         r.run_id = "r1";
         r.domain_id = "d1";
         r.task_id = "t1";
         r.check_result = "success";
         r.content_hash = "h";
         r.dirs.push_back({"/d", 1, 0, 0, 0, 0, 0, 0, 0});
         return !!store->CommitRun(r);
       }},
  };
  for (const auto& [name, write] : writes) {
    SCOPED_TRACE(name);
    const int before = feed.Now().changed;
    ASSERT_TRUE(write());
    // The fence out now may have left before the write committed (a
    // CommitRun under load outlasts a fence interval: counting from before
    // the write was the flake); the one after it left after the commit,
    // and comes back after its report.
    const int heard = feed.Now().heard;
    ASSERT_TRUE(feed.WaitFor(
        [&](const RecordingFeed::Counts& c) { return c.heard >= heard + 2; }));
    EXPECT_GT(feed.Now().changed, before);
  }
  // What the tables named: a new command names its source (0018), so a
  // replica forgets that source's idle poll alone.
  const std::vector<std::string> tables = feed.Tables();
  for (const char* named : {"sources", "commands d1 s1", "tokens",
                            "credentials", "users", "tasks", "runs"})
    EXPECT_NE(std::find(tables.begin(), tables.end(), named), tables.end())
        << named;

  // The listener's connection terminated: reported lost, then listening
  // again on a new one, with fences coming back.
  const std::string app =
      "sms-server cache listener " + std::to_string(getpid());
  EXPECT_EQ(Psql(dsn_,
                 "SELECT count(pg_terminate_backend(pid)) FROM "
                 "pg_stat_activity WHERE application_name = '" +
                     app + "'"),
            "1");
  ASSERT_TRUE(feed.WaitFor([](const RecordingFeed::Counts& c) {
    return c.lost == 1 && c.listening == 2;
  }));
  const int heard = feed.Now().heard;
  EXPECT_TRUE(feed.WaitFor(
      [&](const RecordingFeed::Counts& c) { return c.heard > heard; }));
  listener.reset();
  EXPECT_EQ(feed.Now().lost, 2);  // stopping reports the end too
}

// Two replicas, each with its read cache and listener as `sms-server
// serve` has them (main.cc): a key revoked through replica A, which B
// holds, is refused by B once max_lag has passed since the revocation was
// acknowledged (docs/security.md: the bound), and by A at once. Not
// timing-dependent: B serves a held record only while its last fence is
// younger than max_lag, and a fence sent after the revocation's commit
// comes back after its notification.
TEST_F(PostgresStoreTest, ARevokedKeyIsRefusedOnEveryReplicaWithinMaxLag) {
  constexpr int64_t kMaxLagMs = 500;
  std::unique_ptr<CachingStore> replica[2];
  std::unique_ptr<ChangeListener> listener[2];
  for (int i = 0; i < 2; ++i)
    ASSERT_NO_FATAL_FAILURE(StartReplica(kMaxLagMs, &replica[i], &listener[i]));
  CachingStore& a = *replica[0];
  CachingStore& b = *replica[1];
  Seed(a);
  ASSERT_TRUE(a.CreateUser({"u1", "d1", "agent", "agent", "x", 1}));
  ASSERT_TRUE(a.CreateCredential({"AK1", "d1", "u1", "SK1", 1, {}}));
  // B holds the key (a hit), once its listener listens and keeps up.
  ASSERT_NO_FATAL_FAILURE(ReadUntilHeld(
      b, [](const auto& st) { return st.identity.hits; },
      [](CachingStore& r) {
        auto c = r.GetCredential("AK1");
        ASSERT_TRUE(c) << c.error().ToString();
        ASSERT_FALSE(c->revoked_at);
      }));
  ASSERT_TRUE(a.GetCredential("AK1"));

  ASSERT_TRUE(a.RevokeCredential("AK1", 5));
  EXPECT_TRUE(a.GetCredential("AK1")->revoked_at);  // the writer: at once
  std::this_thread::sleep_for(std::chrono::milliseconds(kMaxLagMs + 1));
  auto seen = b.GetCredential("AK1");
  ASSERT_TRUE(seen);
  EXPECT_TRUE(seen->revoked_at);
  for (auto& l : listener) l.reset();  // before their caches
}

// Two replicas hold source s1's owner (the agent loop's check on every
// poll); a heartbeat flush through either keeps it held; its owner changed
// by hand (the service never re-owns or deletes a source) is read by both
// once max_lag has passed, as a revoked key is (above).
TEST_F(PostgresStoreTest,
       ASourceGivenAnotherOwnerIsSeenOnEveryReplicaWithinMaxLag) {
  constexpr int64_t kMaxLagMs = 500;
  std::unique_ptr<CachingStore> replica[2];
  std::unique_ptr<ChangeListener> listener[2];
  for (int i = 0; i < 2; ++i)
    ASSERT_NO_FATAL_FAILURE(StartReplica(kMaxLagMs, &replica[i], &listener[i]));
  Seed(*replica[0]);
  SeedSource(*replica[0]);
  for (auto& r : replica) {
    ASSERT_NO_FATAL_FAILURE(ReadUntilHeld(
        *r, [](const auto& st) { return st.sources.hits; },
        [](CachingStore& c) {
          auto owner = c.GetSourceOwner("d1", "s1");
          ASSERT_TRUE(owner) << owner.error().ToString();
          ASSERT_EQ(*owner, "u1");
        }));
  }
  ASSERT_TRUE(replica[0]->RecordHeartbeats({{"d1", "s1", 9000}}));
  ASSERT_TRUE(replica[1]->RecordHeartbeats({{"d1", "s1", 9500}}));
  Psql(dsn_, "SET search_path = " + options_.schema +
                 "; UPDATE sources SET owner_user_id = 'u2'");
  std::this_thread::sleep_for(std::chrono::milliseconds(kMaxLagMs + 1));
  for (auto& r : replica) {
    auto owner = r->GetSourceOwner("d1", "s1");
    ASSERT_TRUE(owner);
    EXPECT_EQ(*owner, "u2");
  }
  for (auto& l : listener) l.reset();  // before their caches
}

// Two replicas hold task t1's source (every upload's ownership check): a
// run committed through either (its verdict written: 'tasks' heard by
// both) keeps it held; the task deleted through A is refused at once on
// both (B's commit and staging lock the task's row and do not find it) and
// B forgets the source once max_lag has passed ('task_sources', 0022).
TEST_F(PostgresStoreTest, ATaskSourceIsHeldThroughRunsAndItsDeletionSeen) {
  constexpr int64_t kMaxLagMs = 500;
  std::unique_ptr<CachingStore> replica[2];
  std::unique_ptr<ChangeListener> listener[2];
  for (int i = 0; i < 2; ++i)
    ASSERT_NO_FATAL_FAILURE(StartReplica(kMaxLagMs, &replica[i], &listener[i]));
  CachingStore& a = *replica[0];
  CachingStore& b = *replica[1];
  Seed(a);
  SeedSource(a);
  for (auto& r : replica) {
    ASSERT_NO_FATAL_FAILURE(ReadUntilHeld(
        *r, [](const auto& st) { return st.task_sources.hits; },
        [](CachingStore& c) {
          auto source = c.GetTaskSource("d1", "t1");
          ASSERT_TRUE(source) << source.error().ToString();
          ASSERT_EQ(*source, "s1");
        }));
  }
  auto run = [](const std::string& id) {
    storage::Run r;
    r.run_id = id;
    r.domain_id = "d1";
    r.task_id = "t1";
    r.finished_time = 1;
    r.check_result = "success";
    r.content_hash = "c-" + id;
    r.dirs.push_back({"/a", 1, 0, 0, 0, 0, 0, 0, 1});
    return r;
  };
  ASSERT_TRUE(a.CommitRun(run("r1")));
  ASSERT_TRUE(b.CommitRun(run("r2")));
  std::this_thread::sleep_for(std::chrono::milliseconds(kMaxLagMs + 1));
  for (auto& r : replica) {
    const uint64_t misses = r->Stats().task_sources.misses;
    ASSERT_EQ(*r->GetTaskSource("d1", "t1"), "s1");
    EXPECT_EQ(r->Stats().task_sources.misses, misses) << "read again";
  }

  auto not_found = [](const auto& r) {
    return !r && r.error().code == ErrorCode::kNotFound;
  };
  ASSERT_TRUE(a.DeleteTask("d1", "t1"));
  EXPECT_TRUE(not_found(a.GetTaskSource("d1", "t1")));
  EXPECT_TRUE(not_found(b.CommitRun(run("r3"))));
  DetailChunk chunk{.run_id = "r4",
                    .domain_id = "d1",
                    .task_id = "t1",
                    .seq = 0,
                    .content_hash = "x",
                    .created_at = 1,
                    .files = {}};
  EXPECT_TRUE(not_found(b.StageDetails(chunk)));
  std::this_thread::sleep_for(std::chrono::milliseconds(kMaxLagMs + 1));
  EXPECT_TRUE(not_found(b.GetTaskSource("d1", "t1")));
  for (auto& l : listener) l.reset();  // before their caches
}

// A run with many differing files: staged in chunks of 10,000, committed,
// paged with a keyset marker; a late page costs about what the first does.
// Two replicas commit the same run id for two tasks at once, each among
// good runs of its task: the batch whose INSERT meets the other's row on
// the unique key is rolled back and written run by run (savepoints), so
// its good runs still commit, and the run id lands once.
TEST_F(PostgresStoreTest, ARunIdRacedByTwoReplicasLandsOnceAndSparesItsBatch) {
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  Seed(*a);
  Task t2 = *a->GetTask("d1", "t1");
  t2.id = "t2";
  ASSERT_TRUE(a->CreateTask(t2));
  auto run = [](const std::string& task, const std::string& id) {
    storage::Run r;
    r.run_id = id;
    r.domain_id = "d1";
    r.task_id = task;
    r.finished_time = 1;
    r.check_result = "success";
    r.content_hash = "c-" + id;
    r.dirs.push_back({"/a", 1, 0, 0, 0, 0, 0, 0, 1});
    return r;
  };
  constexpr int kRounds = 10;
  int raced_won = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string raced = "raced" + std::to_string(round);
    std::vector<std::pair<Store*, storage::Run>> work;
    for (int i = 0; i < 4; ++i) {
      work.emplace_back(a.get(), run("t1", "a" + std::to_string(round) + "_" +
                                               std::to_string(i)));
      work.emplace_back(b.get(), run("t2", "b" + std::to_string(round) + "_" +
                                               std::to_string(i)));
    }
    work.emplace_back(a.get(), run("t1", raced));
    work.emplace_back(b.get(), run("t2", raced));
    std::vector<Result<CommitOutcome>> results(
        work.size(), Result<CommitOutcome>(core::Fail(core::Internal(""))));
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < work.size(); ++i) {
      threads.emplace_back([&, i] {
        while (!go.load()) std::this_thread::yield();
        results[i] = work[i].first->CommitRun(work[i].second);
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < work.size(); ++i) {
      if (work[i].second.run_id == raced) {
        if (results[i]) {
          EXPECT_EQ(*results[i], CommitOutcome::kCommitted);
          ++raced_won;
        } else {
          EXPECT_EQ(results[i].error().code, core::ErrorCode::kAlreadyExists);
        }
      } else {
        ASSERT_TRUE(results[i])
            << work[i].second.run_id << ": " << results[i].error().ToString();
        EXPECT_EQ(*results[i], CommitOutcome::kCommitted);
      }
    }
  }
  EXPECT_EQ(raced_won, kRounds) << "each raced run id commits once";
  const size_t t1 = a->ListRuns("d1", "t1", 1000)->size();
  const size_t t2_runs = a->ListRuns("d1", "t2", 1000)->size();
  EXPECT_EQ(t1 + t2_runs, size_t{kRounds * 9});
  for (const auto* task : {"t1", "t2"}) {
    auto runs = a->ListRuns("d1", task, 1000);
    ASSERT_TRUE(runs);
    for (const storage::Run& r : *runs)
      EXPECT_EQ(r.dirs.size(), 1u) << r.run_id;
  }
}

// A batch's statements are planned once per connection (generic plans,
// Txn::BeginGenericPlans). Planned on an empty `runs`, they must still look
// each run up by key once it holds 20,000 rows that no ANALYZE has seen:
// no statement of the later commits reads the table whole.
TEST_F(PostgresStoreTest, ABatchLooksRunsUpByKeyWhateverSizeItsPlanSaw) {
  options_.connections = 1;  // the commits below reuse the first's plans
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Seed(*store);
  auto run = [](const std::string& id) {
    storage::Run r;
    r.run_id = id;
    r.domain_id = "d1";
    r.task_id = "t1";
    r.finished_time = 1;
    r.check_result = "success";
    r.content_hash = "c-" + id;
    r.dirs.push_back({"/a", 1, 0, 0, 0, 0, 0, 0, 1});
    return r;
  };
  ASSERT_TRUE(store->CommitRun(run("first")));
  constexpr int kRows = 20000;
  const std::string in_schema = "SET search_path = " + options_.schema + "; ";
  Psql(dsn_, in_schema +
                 "INSERT INTO runs (run_id, domain_id, task_id, started_time,"
                 " finished_time, check_result, mode, hash_algorithm,"
                 " error_msg, content_hash, committed_at)"
                 " SELECT 'bulk' || g, 'd1', 't1', 0, 1, 'success', '', '',"
                 " '', 'h' || g, 1 FROM generate_series(1, " +
                 std::to_string(kRows) + ") g");
  const auto [seq_before, ins_before] =
      TableStatsOnce("runs", "n_tup_ins", kRows);
  ASSERT_GE(ins_before, kRows);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(store->CommitRun(run("later" + std::to_string(i))));
  store.reset();  // its connection exits and reports what it read
  const auto [seq_after, ins_after] =
      TableStatsOnce("runs", "n_tup_ins", kRows + 6);
  ASSERT_EQ(ins_after, kRows + 6);
  EXPECT_LT(seq_after - seq_before, kRows)
      << "a statement of the batch read `runs` whole";
}

// The heartbeat flush joins a batch of beats (tens to thousands) to the
// sources: each source is looked up by key (Txn::BeginUnsyncedByKey), not
// the table read whole and hashed, which the planner prefers from a few
// dozen beats on once it knows the table's size.
TEST_F(PostgresStoreTest, AHeartbeatFlushLooksSourcesUpByKey) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Seed(*store);
  constexpr int kSources = 5000, kBeats = 200;
  const std::string in_schema = "SET search_path = " + options_.schema + "; ";
  Psql(dsn_, in_schema +
                 "INSERT INTO sources (id, domain_id, owner_user_id, name,"
                 " hostname, ip, os_type, os_version, agent_version,"
                 " created_at, last_seen_at) SELECT 's' || g, 'd1', 'u1',"
                 " 'n' || g, 'h', '', 'LINUX', '', '', 1, 1"
                 " FROM generate_series(1, " +
                 std::to_string(kSources) + ") g; ANALYZE sources");
  const auto [seq_before, upd_before] = TableStats("sources", "n_tup_upd");
  std::vector<Heartbeat> beats;
  for (int i = 1; i <= kBeats; ++i)
    beats.push_back({"d1", "s" + std::to_string(i * 7 % kSources + 1), 9000});
  ASSERT_TRUE(store->RecordHeartbeats(beats));
  store.reset();  // its connections exit and report what they read
  const auto after =
      TableStatsOnce("sources", "n_tup_upd", upd_before + kBeats);
  ASSERT_EQ(after.second, upd_before + kBeats);
  EXPECT_EQ(Psql(dsn_, in_schema + "SELECT count(*) FROM sources WHERE"
                                   " last_seen_at = 9000"),
            std::to_string(kBeats));
  EXPECT_LT(after.first - seq_before, kSources)
      << "the flush read `sources` whole";
}

// The purge of used signatures (once a second per replica) deletes the
// expired keys by key, also when the table's statistics are older than its
// newest keys (autovacuum analyzes every 10 % of change): planned from
// them, the DELETE read the whole table to hash-join a few expired keys
// (1,000,000 keys: 159-174 ms instead of 7 ms).
TEST_F(PostgresStoreTest, APurgeOfSignaturesLooksThemUpByKey) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  constexpr int kKeys = 20000;
  const std::string in_schema = "SET search_path = " + options_.schema + "; ";
  Psql(dsn_, in_schema +
                 "INSERT INTO used_signatures SELECT 'k' || g, 1000000 + g"
                 " FROM generate_series(1, " +
                 std::to_string(kKeys) +
                 ") g; ANALYZE used_signatures;"
                 " INSERT INTO used_signatures SELECT 'n' || g, 2000000 + g"
                 " FROM generate_series(1, 2000) g;"
                 " DELETE FROM used_signatures WHERE expires_at <= 1001800");
  const auto before = TableStatsOnce("used_signatures", "n_tup_del", 1800);
  ASSERT_EQ(before.second, 1800);
  auto purged = store->PurgeSignatures(1002000, 10000);
  ASSERT_TRUE(purged) << purged.error().ToString();
  EXPECT_EQ(*purged, 200);
  store.reset();  // its connections exit and report what they read
  const auto after =
      TableStatsOnce("used_signatures", "n_tup_del", before.second + 200);
  ASSERT_EQ(after.second, before.second + 200);
  EXPECT_LT(after.first - before.first, kKeys)
      << "the purge read `used_signatures` whole";
}

TEST_F(PostgresStoreTest, LargeRunPagesByKeyset) {
  int64_t rows = 100000;
  if (std::string v = Env("SMS_TEST_PG_DETAIL_ROWS"); !v.empty())
    rows = std::atoll(v.c_str());
  constexpr int64_t kChunk = 10000;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Seed(*store);
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t seq = 0; seq * kChunk < rows; ++seq) {
    DetailChunk c;
    c.run_id = "big";
    c.domain_id = "d1";
    c.task_id = "t1";
    c.seq = seq;
    c.content_hash = "h" + std::to_string(seq);
    int64_t n = std::min(kChunk, rows - seq * kChunk);
    c.files.reserve(n);
    for (int64_t i = 0; i < n; ++i) {
      c.files.push_back({"/data/d" + std::to_string(i % 30),
                         "file_" + std::to_string(seq * kChunk + i), "",
                         i % 5 ? "different" : "target_miss", "content",
                         R"({"type":"file","size":4096,"hash":"00ff"})",
                         R"({"type":"file","size":4097})"});
    }
    auto s = store->StageDetails(c);
    ASSERT_TRUE(s) << s.error().ToString();
  }
  storage::Run r;
  r.run_id = "big";
  r.domain_id = "d1";
  r.task_id = "t1";
  r.check_result = "success";
  ASSERT_TRUE(store->CommitRun(r));
  auto staged_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count();

  auto timed_page = [&](const DetailQuery& q, DetailPage* out) {
    auto start = std::chrono::steady_clock::now();
    auto p = store->ListDetails("d1", q);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    EXPECT_TRUE(p);
    if (p) *out = std::move(*p);
    return us;
  };
  DetailQuery q;
  q.run_id = "big";
  q.limit = 1000;
  DetailPage first;
  // Best of three, to keep a noisy shared machine out of the comparison.
  int64_t first_us = INT64_MAX;
  for (int i = 0; i < 3; ++i)
    first_us = std::min(first_us, timed_page(q, &first));
  ASSERT_EQ(first.total, rows);
  ASSERT_EQ(first.rows.size(), 1000u);
  EXPECT_EQ(first.rows[0].file.path, "file_0");

  // A page near the end, from its marker.
  DetailQuery late = q;
  late.after_seq = (rows - 1) / kChunk;
  late.after_idx = (rows - 1) % kChunk - 500;
  DetailPage last;
  int64_t late_us = INT64_MAX;
  for (int i = 0; i < 3; ++i)
    late_us = std::min(late_us, timed_page(late, &last));
  ASSERT_EQ(last.rows.size(), 500u);
  EXPECT_EQ(last.rows.back().file.path, "file_" + std::to_string(rows - 1));
  std::printf(
      "%lld rows staged+committed in %lld ms; first page %lld us, "
      "late page %lld us\n",
      static_cast<long long>(rows), static_cast<long long>(staged_ms),
      static_cast<long long>(first_us), static_cast<long long>(late_us));
  // Same order of cost (both count the run's rows; the page itself is an
  // index range scan from the marker, never an OFFSET).
  EXPECT_LT(late_us, first_us * 3 + 20000);

  // A filtered walk over every page of one directory sees each row once.
  if (rows <= 200000) {
    DetailQuery f;
    f.run_id = "big";
    f.dir_check = "/data/d7";
    f.limit = 1000;
    std::set<std::string> seen;
    int64_t total = -1;
    while (true) {
      auto p = store->ListDetails("d1", f);
      ASSERT_TRUE(p);
      total = p->total;
      for (const auto& row : p->rows) {
        EXPECT_EQ(row.file.dir_check, "/data/d7");
        EXPECT_TRUE(seen.insert(row.file.path).second) << row.file.path;
      }
      if (p->rows.size() < 1000u) break;
      f.after_seq = p->rows.back().seq;
      f.after_idx = p->rows.back().idx;
    }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), total);
  }
}

}  // namespace
}  // namespace sms::storage
