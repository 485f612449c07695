// Test data shared by migrations_test.cc (SQLite) and
// postgres/postgres_store_test.cc: runs and their run_dirs rows as a server
// before migration 0019_run_dirs_in_runs wrote them, in SQL both dialects
// accept, and what the view run_dirs must give back after it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "storage/store.h"

namespace sms::storage {

// d1's run r1 with three directories (inserted out of idx order; paths with
// a quote, a backslash and non-ASCII text), d1's r2 with none, and d2's r1
// (the same id in another tenant) with one whose counters pass 2^53.
constexpr char kRowsBeforeDirsInRuns[] =
    "INSERT INTO domains (id, name, created_at) VALUES ('d1', 'acme', 1),"
    " ('d2', 'other', 1);"
    "INSERT INTO tasks (id, domain_id, name, type, os_type, source_id,"
    " target_name, target_ip, target_verify_uri, is_need_consistency_check,"
    " state, current_run_id, created_at, updated_at) VALUES"
    " ('t1', 'd1', 'task', 'MIGRATE_FILE', 'LINUX', 's1', '', '', '', true,"
    " 'READY', '', 1, 1),"
    " ('t2', 'd2', 'task', 'MIGRATE_FILE', 'LINUX', 's2', '', '', '', true,"
    " 'READY', '', 1, 1);"
    "INSERT INTO runs (run_id, domain_id, task_id, started_time,"
    " finished_time, check_result, mode, hash_algorithm, error_msg,"
    " content_hash, committed_at) VALUES"
    " ('r1', 'd1', 't1', 10, 20, 'success', 'hash', 'xxh3', '', 'c1', 30),"
    " ('r2', 'd1', 't1', 40, 50, 'failed', 'hash', 'xxh3', 'boom', 'c2', 60),"
    " ('r1', 'd2', 't2', 70, 80, 'success', 'hash', 'xxh3', '', 'c3', 90);"
    "INSERT INTO run_dirs (domain_id, run_id, idx, dir_check,"
    " num_total_files, num_different_files, num_target_miss_files,"
    " num_target_more_files, num_changed_files, num_error_files,"
    " num_metadata_different_files, num_bytes_verified, num_corrupt_files,"
    " num_cached_files, num_bytes_read, num_target_cached_files,"
    " num_target_bytes_read) VALUES"
    " ('d1', 'r1', 2, '/c\\d', 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,"
    " 42, 43),"
    " ('d1', 'r1', 0, '/a \"q\"', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13),"
    " ('d1', 'r1', 1, '/é/日本', 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),"
    " ('d2', 'r1', 0, '/x', 9007199254740993, 0, 0, 0, 0, 0, 0,"
    " 9223372036854775807, 0, 0, 0, 0, 1);";

// Each row of run_dirs as one text, in key order: the same before 0019 (a
// table) and after (a view over runs.dirs).
constexpr char kRunDirsDump[] =
    "SELECT domain_id || '|' || run_id || '|' || idx || '|' || dir_check"
    " || '|' || num_total_files || '|' || num_different_files || '|' ||"
    " num_target_miss_files || '|' || num_target_more_files || '|' ||"
    " num_changed_files || '|' || num_error_files || '|' ||"
    " num_metadata_different_files || '|' || num_bytes_verified || '|' ||"
    " num_corrupt_files || '|' || num_cached_files || '|' || num_bytes_read"
    " || '|' || num_target_cached_files || '|' || num_target_bytes_read"
    " FROM run_dirs ORDER BY domain_id, run_id, idx";

// What kRunDirsDump gives for kRowsBeforeDirsInRuns.
constexpr const char* kRunDirsDumped[] = {
    "d1|r1|0|/a \"q\"|1|2|3|4|5|6|7|8|9|10|11|12|13",
    "d1|r1|1|/é/日本|21|0|0|0|0|0|0|0|0|0|0|0|0",
    "d1|r1|2|/c\\d|31|32|33|34|35|36|37|38|39|40|41|42|43",
    "d2|r1|0|/x|9007199254740993|0|0|0|0|0|0|9223372036854775807|0|0|0|0|1",
};

// What `store` reads of kRowsBeforeDirsInRuns once 0019 has run: d1's runs
// newest first, r1's three directories in idx order with every field, and
// d2's r1 with its counters past 2^53 exact. `*r1` gets d1's r1 (for a
// commit after the migration).
inline void ExpectRunsAfterDirsInRuns(Store& store, Run* r1) {
  auto runs = store.ListRuns("d1", "t1", 10);
  ASSERT_TRUE(runs) << runs.error().ToString();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].run_id, "r2");
  EXPECT_TRUE((*runs)[0].dirs.empty());
  const auto& dirs = (*runs)[1].dirs;
  ASSERT_EQ(dirs.size(), 3u);
  EXPECT_EQ(dirs[0].dir_check, "/a \"q\"");
  EXPECT_EQ(dirs[0].num_total_files, 1);
  EXPECT_EQ(dirs[0].num_target_bytes_read, 13);
  EXPECT_EQ(dirs[1].dir_check, "/é/日本");
  EXPECT_EQ(dirs[2].dir_check, "/c\\d");
  EXPECT_EQ(dirs[2].num_corrupt_files, 39);
  auto theirs = store.GetRun("d2", "r1");
  ASSERT_TRUE(theirs) << theirs.error().ToString();
  ASSERT_EQ(theirs->dirs.size(), 1u);
  EXPECT_EQ(theirs->dirs[0].num_total_files, 9007199254740993);
  EXPECT_EQ(theirs->dirs[0].num_bytes_verified, INT64_MAX);
  *r1 = (*runs)[1];
}

}  // namespace sms::storage
