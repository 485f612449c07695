// The migrations of both dialects: one numbering, and a database migrated
// under SQLite's older numbering still opens and migrates. (The two live
// schemas are compared table by table in postgres/postgres_store_test.cc,
// which has a PostgreSQL server.)
#include "storage/migrations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "storage/dirs_in_runs_fixture.h"
#include "storage/sqlite/detail_page_sql.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/tenant_run_ids_fixture.h"
#include "testing/matchers.h"
#include "testing/temp_dir.h"

namespace sms::storage {
namespace {

using core::ErrorCode;
using ::sms::testing::HasCode;
using ::sms::testing::IsOk;

// Every version embedded in the binary, in order (a new migration needs no
// edit here).
std::vector<int> AllVersions() {
  std::vector<int> v;
  for (const Migration& m : SqliteMigrations()) v.push_back(m.version);
  return v;
}

TEST(MigrationsTest, BothDialectsHaveTheSameVersionsAndNames) {
  const auto& lite = SqliteMigrations();
  const auto& pg = PostgresMigrations();
  ASSERT_EQ(lite.size(), pg.size());
  for (size_t i = 0; i < lite.size(); ++i) {
    // Increasing; a number may be held by a branch not merged yet.
    if (i > 0) {
      EXPECT_GT(lite[i].version, lite[i - 1].version);
    }
    EXPECT_EQ(lite[i].version, pg[i].version);
    EXPECT_EQ(lite[i].name, pg[i].name);
  }
}

TEST(MigrationsTest, FreshSqliteDatabaseRecordsEveryVersion) {
  ::sms::testing::TempDir dir;
  const std::string path = dir.Join("fresh.db");
  auto applied = MigrateSqlite(path);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(*applied, AllVersions());
  auto again = MigrateSqlite(path);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->empty());
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  ASSERT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in: " << sql;
}

// A database as the server left it before both dialects shared one
// numbering: 0001_init, then used_signatures recorded as version 2, with a
// committed run of three file details and a used signature.
void MakeOldNumberedDatabase(const std::string& path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  Exec(db,
       "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
       " name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  Exec(db, std::string(SqliteMigrations()[0].sql));
  Exec(db, std::string(SqliteMigrations()[2].sql));  // used_signatures
  Exec(db,
       "INSERT INTO schema_migrations VALUES (1, '0001_init', 1),"
       " (2, '0002_used_signatures', 2)");
  Exec(db,
       "INSERT INTO domains VALUES ('d1', 'acme', 1);"
       "INSERT INTO tasks VALUES ('t1', 'd1', 'task', 'MIGRATE_FILE',"
       " 'LINUX', 's1', '', '', '', 1, 'READY', '', 1, 1);"
       "INSERT INTO detail_chunks VALUES ('r1', 0, 'd1', 't1', 'h', 1);"
       "INSERT INTO file_details VALUES"
       " ('r1', 0, 0, '/a', 'x', '', 'DIFFERENT', '', '', ''),"
       " ('r1', 0, 1, '/a', 'y', '', 'TARGET_MISS', '', '', ''),"
       " ('r1', 0, 2, '/b', 'z', '', 'DIFFERENT', '', '', '');"
       "INSERT INTO runs (run_id, domain_id, task_id, started_time,"
       " finished_time, check_result, mode, hash_algorithm, error_msg,"
       " content_hash, committed_at) VALUES ('r1', 'd1', 't1', 1, 2,"
       " 'failed', 'full', 'xxh3', '', 'c', 3);"
       "INSERT INTO used_signatures VALUES ('AK:sig', 9000000000000);");
  sqlite3_close(db);
}

TEST(MigrationsTest, OldSqliteNumberingIsRenumberedThenMigrated) {
  ::sms::testing::TempDir dir;
  const std::string path = dir.Join("old.db");
  MakeOldNumberedDatabase(path);
  if (HasFatalFailure()) return;

  auto applied = MigrateSqlite(path);
  ASSERT_THAT(applied, IsOk());
  // detail_counts, then the versions after used_signatures (3)
  std::vector<int> want{2};
  for (int v : AllVersions())
    if (v > 3) want.push_back(v);
  EXPECT_EQ(*applied, want);
  auto versions = SqliteSchemaVersions(path);
  ASSERT_THAT(versions, IsOk());
  EXPECT_EQ(*versions, AllVersions());

  auto store = OpenSqliteStore(path);
  ASSERT_THAT(store, IsOk());
  // The used signature is still held.
  EXPECT_THAT((*store)->RememberSignature("AK:sig", 9000000000000, 1),
              HasCode(ErrorCode::kAlreadyExists));
  // The run's details are counted (backfilled by 0002_detail_counts).
  DetailQuery all;
  all.run_id = "r1";
  auto page = (*store)->ListDetails("d1", all);
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->total, 3);
  EXPECT_EQ(page->rows.size(), 3u);
  DetailQuery differ = all;
  differ.status = "DIFFERENT";
  auto filtered = (*store)->ListDetails("d1", differ);
  ASSERT_THAT(filtered, IsOk());
  EXPECT_EQ(filtered->total, 2);
}

// A database at every version before `version`, with `rows`.
void MakeDatabaseBefore(const std::string& path, int version,
                        const char* rows) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  Exec(db,
       "PRAGMA foreign_keys=ON;"
       "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
       " name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  for (const Migration& m : SqliteMigrations()) {
    if (m.version >= version) break;
    Exec(db, std::string(m.sql));
    Exec(db, "INSERT INTO schema_migrations VALUES (" +
                 std::to_string(m.version) + ", '" + std::string(m.name) +
                 "', 1)");
  }
  Exec(db, rows);
  sqlite3_close(db);
}

void MakeDatabaseBeforeTenantRunIds(const std::string& path) {
  MakeDatabaseBefore(path, 13, kRowsBeforeTenantRunIds);
}

// Each row of a query's first column, as text.
std::vector<std::string> Column(const std::string& path, const char* sql) {
  std::vector<std::string> out;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &q, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  while (q != nullptr && sqlite3_step(q) == SQLITE_ROW)
    out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)));
  sqlite3_finalize(q);
  sqlite3_close(db);
  return out;
}

// 0013_tenant_run_ids keeps every row and each stays readable by its
// tenant; afterwards the other tenant can use the same run id.
TEST(MigrationsTest, TenantRunIdsKeepEveryRow) {
  ::sms::testing::TempDir dir;
  const std::string path = dir.Join("before13.db");
  MakeDatabaseBeforeTenantRunIds(path);
  if (HasFatalFailure()) return;
  auto applied = MigrateSqlite(path);
  ASSERT_THAT(applied, IsOk());
  ASSERT_FALSE(applied->empty());
  EXPECT_EQ(applied->front(), 13);

  auto opened = OpenSqliteStore(path);
  ASSERT_THAT(opened, IsOk());
  Store& store = **opened;
  auto runs = store.ListRuns("d1", "t1", 10);
  ASSERT_THAT(runs, IsOk());
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].run_id, "r1");  // seq order kept
  ASSERT_EQ((*runs)[0].dirs.size(), 2u);
  EXPECT_EQ((*runs)[0].dirs[1].num_bytes_verified, 40);
  DetailQuery all;
  all.run_id = "r1";
  auto page = store.ListDetails("d1", all);
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->total, 3);
  ASSERT_EQ(page->rows.size(), 3u);
  EXPECT_EQ(page->rows[0].first_seen_time, 5);  // r0's start
  EXPECT_EQ(page->rows[1].first_seen_time, 10);
  EXPECT_TRUE(*store.DetailsPurged("d1", "r0"));
  EXPECT_FALSE(*store.DetailsPurged("d1", "r1"));
  auto events = store.ListRunDeliveries("d1", "r1");
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].event_id, "r1/run.finished");
  EXPECT_THAT(store.GetRun("d2", "r1"), HasCode(ErrorCode::kNotFound));

  // d2 takes the id r1 as its own; d1's run is unchanged.
  DetailChunk c;
  c.run_id = "r1";
  c.domain_id = "d2";
  c.task_id = "t2";
  c.content_hash = "h2";
  c.files.push_back({"/c", "w", "", "DIFFERENT", "", "", ""});
  ASSERT_THAT(store.StageDetails(c), IsOk());
  storage::Run theirs = (*runs)[0];
  theirs.domain_id = "d2";
  theirs.task_id = "t2";
  theirs.content_hash = "c2";
  theirs.dirs.resize(1);
  ASSERT_THAT(store.CommitRun(theirs), IsOk());
  EXPECT_EQ(store.ListDetails("d2", all)->total, 1);
  EXPECT_EQ(store.ListDetails("d1", all)->total, 3);
  EXPECT_EQ(store.GetRun("d1", "r1")->dirs.size(), 2u);
  EXPECT_EQ(store.GetRun("d2", "r1")->dirs.size(), 1u);

  // Nothing lost: the orphan count and purge mark are kept too.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  auto count = [db](const char* sql) {
    sqlite3_stmt* q = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &q, nullptr), SQLITE_OK) << sql;
    int64_t n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    return n;
  };
  EXPECT_EQ(count("SELECT count(*) FROM detail_counts"
                  " WHERE domain_id = '' AND run_id = 'gone'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM detail_purges"
                  " WHERE domain_id = '' AND run_id = 'gone'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM run_dirs"), 4);
  sqlite3_close(db);
}

// 0019_run_dirs_in_runs moves every directory into its run's row, in
// order, and the view run_dirs gives back exactly the rows the table held
// (the PostgreSQL side: postgres/postgres_store_test.cc).
TEST(MigrationsTest, DirsInRunsKeepEveryDirectory) {
  ::sms::testing::TempDir dir;
  const std::string path = dir.Join("before19.db");
  MakeDatabaseBefore(path, 19, kRowsBeforeDirsInRuns);
  if (HasFatalFailure()) return;
  const std::vector<std::string> want(std::begin(kRunDirsDumped),
                                      std::end(kRunDirsDumped));
  ASSERT_EQ(Column(path, kRunDirsDump), want);  // the table
  auto applied = MigrateSqlite(path);
  ASSERT_THAT(applied, IsOk());
  ASSERT_FALSE(applied->empty());
  EXPECT_EQ(applied->front(), 19);
  EXPECT_EQ(Column(path, kRunDirsDump), want);  // the view

  auto opened = OpenSqliteStore(path);
  ASSERT_THAT(opened, IsOk());
  Store& store = **opened;
  storage::Run next;
  ExpectRunsAfterDirsInRuns(store, &next);
  if (HasFatalFailure()) return;

  // A run committed after it is one more row of the view.
  next.run_id = "r3";
  next.content_hash = "c4";
  next.dirs.resize(1);
  ASSERT_THAT(store.CommitRun(next), IsOk());
  auto after = Column(path, kRunDirsDump);
  ASSERT_EQ(after.size(), want.size() + 1);
  EXPECT_EQ(after[3], "d1|r3|0|/a \"q\"|1|2|3|4|5|6|7|8|9|10|11|12|13");
}

// SQLite's plan of `sql` (EXPLAIN QUERY PLAN), its steps joined by "; ".
std::string PlanOf(const std::string& path, const std::string& sql) {
  std::string plan;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  const std::string explain = "EXPLAIN QUERY PLAN " + sql;
  EXPECT_EQ(sqlite3_prepare_v2(db, explain.c_str(), -1, &q, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  while (q != nullptr && sqlite3_step(q) == SQLITE_ROW) {
    if (!plan.empty()) plan += "; ";
    plan += reinterpret_cast<const char*>(sqlite3_column_text(q, 3));
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return plan;
}

// 0020_command_indexes: commands are kept (one a check), so a check's end
// (sqlite/runs.cc) and a task's newest command (stop, skip) are found by
// index, not among every command of the tenant.
TEST(MigrationsTest, ACommandIsFoundByItsRunOrTaskThroughAnIndex) {
  ::sms::testing::TempDir dir;
  const std::string path = dir.Join("commands.db");
  ASSERT_THAT(MigrateSqlite(path), IsOk());
  EXPECT_THAT(PlanOf(path,
                     "UPDATE commands SET state = 'done', updated_at = ?"
                     " WHERE domain_id = ? AND run_id = ? AND state IN"
                     " ('pending', 'delivered')"),
              ::testing::HasSubstr("INDEX commands_by_run"));
  EXPECT_THAT(PlanOf(path,
                     "SELECT id FROM commands WHERE domain_id = ? AND"
                     " task_id = ? ORDER BY id DESC LIMIT 1"),
              ::testing::HasSubstr("INDEX commands_by_task"));
}

// 0021_detail_filter_indexes: a filtered page of a run's details starts
// at its marker in the index of its filter (the keyset bound seq > ?5 is
// part of the index search) and reads only matching rows, where the primary
// key made it read every row of the run after the marker.
TEST(MigrationsTest, AFilteredDetailPageSearchesTheIndexOfItsFilter) {
  using sqlite::DetailPageShape;
  using sqlite::DetailPageSql;
  ::sms::testing::TempDir dir;
  const std::string path = dir.Join("details.db");
  ASSERT_THAT(MigrateSqlite(path), IsOk());
  EXPECT_THAT(PlanOf(path, DetailPageSql(DetailPageShape::kAll)),
              ::testing::HasSubstr("sqlite_autoindex_file_details_1"
                                   " (domain_id=? AND run_id=? AND seq>?)"));
  const std::string by_dir =
      "file_details_by_dir (domain_id=? AND run_id=? AND dir_check=? AND"
      " seq>?)";
  const std::string by_status =
      "file_details_by_status (domain_id=? AND run_id=? AND status=? AND"
      " seq>?)";
  EXPECT_THAT(PlanOf(path, DetailPageSql(DetailPageShape::kDir)),
              ::testing::HasSubstr(by_dir));
  EXPECT_THAT(PlanOf(path, DetailPageSql(DetailPageShape::kStatus)),
              ::testing::HasSubstr(by_status));
  EXPECT_THAT(PlanOf(path, DetailPageSql(DetailPageShape::kDirAndStatusByDir)),
              ::testing::HasSubstr(by_dir));
  EXPECT_THAT(
      PlanOf(path, DetailPageSql(DetailPageShape::kDirAndStatusByStatus)),
      ::testing::HasSubstr(by_status));
  for (const char* sql : {DetailPageSql(DetailPageShape::kAll),
                          DetailPageSql(DetailPageShape::kDir),
                          DetailPageSql(DetailPageShape::kStatus)})
    EXPECT_THAT(PlanOf(path, sql),
                ::testing::Not(::testing::HasSubstr("TEMP B-TREE")))
        << sql;
}

}  // namespace
}  // namespace sms::storage
