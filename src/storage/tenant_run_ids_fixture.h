// Test data shared by migrations_test.cc (SQLite) and
// postgres/postgres_store_test.cc: rows as a server before migration
// 0013_tenant_run_ids wrote them, in SQL both dialects accept.
#pragma once

namespace sms::storage {

// Rows of every run-keyed table as a server before 0013_tenant_run_ids
// left them (run ids unique across tenants): d1's run r1 with two
// directories, three file details (one first seen by r0), their counts and
// a webhook event; d1's run r0 whose details were purged; a count and a
// purge mark of a task deleted earlier (no run, no chunk).
constexpr char kRowsBeforeTenantRunIds[] =
    "INSERT INTO domains (id, name, created_at) VALUES ('d1', 'acme', 1),"
    " ('d2', 'other', 1);"
    "INSERT INTO tasks (id, domain_id, name, type, os_type, source_id,"
    " target_name, target_ip, target_verify_uri, is_need_consistency_check,"
    " state, current_run_id, created_at, updated_at) VALUES"
    " ('t1', 'd1', 'task', 'MIGRATE_FILE', 'LINUX', 's1', '', '', '', true,"
    " 'READY', 'r1', 1, 1),"
    " ('t2', 'd2', 'task', 'MIGRATE_FILE', 'LINUX', 's2', '', '', '', true,"
    " 'READY', '', 1, 1);"
    "INSERT INTO runs (run_id, domain_id, task_id, started_time,"
    " finished_time, check_result, mode, hash_algorithm, error_msg,"
    " content_hash, committed_at) VALUES"
    " ('r0', 'd1', 't1', 5, 6, 'success', 'hash', 'xxh3', '', 'c0', 7),"
    " ('r1', 'd1', 't1', 10, 20, 'success', 'hash', 'xxh3', '', 'c1', 30);"
    "INSERT INTO run_dirs (run_id, idx, dir_check, num_total_files,"
    " num_different_files, num_target_miss_files, num_target_more_files,"
    " num_changed_files, num_error_files, num_metadata_different_files,"
    " num_bytes_verified) VALUES ('r0', 0, '/a', 1, 1, 0, 0, 0, 0, 0, 1),"
    " ('r1', 0, '/a', 5, 2, 0, 0, 0, 0, 0, 50),"
    " ('r1', 1, '/b', 4, 0, 1, 0, 0, 0, 0, 40);"
    "INSERT INTO detail_chunks (run_id, seq, domain_id, task_id,"
    " content_hash, created_at) VALUES ('r1', 0, 'd1', 't1', 'h', 11);"
    "INSERT INTO file_details (run_id, seq, idx, dir_check, path, path_b64,"
    " status, reason, source_json, target_json, first_seen_run) VALUES"
    " ('r1', 0, 0, '/a', 'x', '', 'DIFFERENT', '', '', '', 'r0'),"
    " ('r1', 0, 1, '/a', 'y', '', 'DIFFERENT', '', '', '', ''),"
    " ('r1', 0, 2, '/b', 'z', '', 'TARGET_MISS', '', '', '', '');"
    "INSERT INTO detail_counts (run_id, dir_check, status, n) VALUES"
    " ('r1', '/a', 'DIFFERENT', 2), ('r1', '/b', 'TARGET_MISS', 1),"
    " ('gone', '/a', 'DIFFERENT', 4);"
    "INSERT INTO detail_purges (run_id, purged_at) VALUES ('r0', 40),"
    " ('gone', 41);"
    "INSERT INTO webhooks (id, domain_id, url, events, secret, created_at)"
    " VALUES ('w1', 'd1', 'http://127.0.0.1:1/h', 'run.finished', 's', 1);"
    "INSERT INTO webhook_outbox (domain_id, webhook_id, event_id, type,"
    " task_id, run_id, check_result, occurred_at, state, next_attempt_at)"
    " VALUES ('d1', 'w1', 'r1/run.finished', 'run.finished', 't1', 'r1',"
    " 'success', 30, 'pending', 30);";

}  // namespace sms::storage
