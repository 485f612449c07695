// The migrations of both dialects: one numbering, and a database migrated
// under SQLite's older numbering still opens and migrates. (The two live
// schemas are compared table by table in postgres/postgres_store_test.cc,
// which has a PostgreSQL server.)
#include "storage/migrations.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "storage/sqlite/sqlite_store.h"
#include "testing/matchers.h"
#include "testing/temp_dir.h"

namespace sms::storage {
namespace {

using core::ErrorCode;
using ::sms::testing::HasCode;
using ::sms::testing::IsOk;

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
  EXPECT_EQ(*applied, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
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
  // detail_counts, then the versions after it
  EXPECT_EQ(*applied, (std::vector<int>{2, 4, 5, 6, 7, 8}));
  auto versions = SqliteSchemaVersions(path);
  ASSERT_THAT(versions, IsOk());
  EXPECT_EQ(*versions, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));

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

}  // namespace
}  // namespace sms::storage
