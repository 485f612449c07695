// SqliteCheckpointer over a store opened as `serve` opens it (no checkpoint
// on commit): the WAL grows with commits until Run() copies it back, and a
// WAL past the size bound is truncated.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <string>

#include "storage/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace sms::storage {
namespace {

int64_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

class SqliteCheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Join("c.db");
    auto s = OpenSqliteStore(path_, {.wal_autocheckpoint_pages = 0,
                                     .mmap_bytes = int64_t{16} << 20});
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    ASSERT_TRUE(store_->CreateDomain({"d1", "acme", 1}));
  }
  // 60 commits of 80 KB each: past SQLite's default of 1,000 pages.
  void Write(int from) {
    for (int i = from; i < from + 60; ++i) {
      User u{"u" + std::to_string(i),    "d1",
             "user" + std::to_string(i), "viewer",
             std::string(80000, 'x'),    1};
      ASSERT_TRUE(store_->CreateUser(u));
    }
  }

  sms::testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteCheckpointerTest, CommitsLeaveTheWalToIt) {
  Write(0);
  // No commit checkpointed: the WAL holds every page written.
  const int64_t wal = FileSize(path_ + "-wal");
  EXPECT_GT(wal, int64_t{1000} * 4096);
  auto cp = SqliteCheckpointer::Open(path_, {});
  ASSERT_TRUE(cp) << cp.error().ToString();
  auto r = (*cp)->Run();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_FALSE(r->truncated);
  EXPECT_EQ(r->wal_bytes, wal);
  EXPECT_GT(r->wal_pages, 1000);
  EXPECT_EQ(r->copied_pages, r->wal_pages);  // no reader held it back
  // Copied: the next commits reuse the WAL from its start (it does not
  // double).
  Write(60);
  EXPECT_LT(FileSize(path_ + "-wal"), wal * 3 / 2);
  // Every user reads back (from the database file and the WAL).
  EXPECT_EQ(store_->GetUserByName("d1", "user119")->id, "u119");
  EXPECT_EQ(store_->GetUserByName("d1", "user0")->id, "u0");
}

TEST_F(SqliteCheckpointerTest, RestartsWhenAReaderKeptPagesBack) {
  Write(0);
  // A reader on an old snapshot: the passive checkpoint stops at it.
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &reader), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM users;", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  Write(60);
  auto cp = SqliteCheckpointer::Open(
      path_, {.restart_above_pages = 100, .busy_timeout_ms = 50});
  ASSERT_TRUE(cp) << cp.error().ToString();
  auto r = (*cp)->Run();
  ASSERT_TRUE(r) << r.error().ToString();  // the RESTART's wait in vain: ok
  EXPECT_TRUE(r->restarted);
  EXPECT_LT(r->copied_pages, r->wal_pages);  // kept back by the reader
  // The reader gone, a passive one copies everything again.
  ASSERT_EQ(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(reader);
  r = (*cp)->Run();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->copied_pages, r->wal_pages);
  // Restarted: the next commit writes the WAL from its start.
  User u{"u-last", "d1", "last", "viewer", "x", 1};
  ASSERT_TRUE(store_->CreateUser(u));
  r = (*cp)->Run();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_LT(r->wal_pages, 100);
  EXPECT_FALSE(r->restarted);
}

TEST_F(SqliteCheckpointerTest, TruncatesAWalPastItsBound) {
  Write(0);
  auto cp = SqliteCheckpointer::Open(path_, {.truncate_above_bytes = 1 << 20});
  ASSERT_TRUE(cp) << cp.error().ToString();
  auto r = (*cp)->Run();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(FileSize(path_ + "-wal"), 0);
  EXPECT_EQ(store_->GetUserByName("d1", "user59")->id, "u59");
}

}  // namespace
}  // namespace sms::storage
