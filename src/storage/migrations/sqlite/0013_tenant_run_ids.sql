-- 0013_tenant_run_ids: run ids are scoped per tenant (issue 11.5).
-- A run id is chosen by the agent or the server; it was the sole key of a
-- run and of everything hanging off it, so a tenant uploading with an id
-- another tenant held got 409 and learnt that the other's run existed.
-- Now a run is known by (domain_id, run_id): every run-keyed table carries
-- domain_id and its key starts with (domain_id, run_id), and every join
-- between them matches both. Two tenants may each have a run "r1".
-- SQLite cannot change a table's key in place: each table is rebuilt
-- (children before their parents are dropped, so no cascade fires; the
-- new tables reference each other and keep their names after the
-- renames) and every row is copied. runs keeps its seq values and its
-- AUTOINCREMENT high-water mark. A row whose tenant cannot be found (a
-- count or purge mark of a task deleted earlier) keeps domain_id ''.
-- The same keys as postgres/0013_tenant_run_ids.sql.

CREATE TABLE runs_new (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id          TEXT NOT NULL,
  domain_id       TEXT NOT NULL,
  task_id         TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  started_time    INTEGER NOT NULL,
  finished_time   INTEGER NOT NULL,
  check_result    TEXT NOT NULL,
  mode            TEXT NOT NULL,
  hash_algorithm  TEXT NOT NULL,
  error_msg       TEXT NOT NULL,
  content_hash    TEXT NOT NULL,
  committed_at    INTEGER NOT NULL,
  scope           TEXT NOT NULL DEFAULT '',
  base_run_id     TEXT NOT NULL DEFAULT '',
  UNIQUE (domain_id, run_id)
);
INSERT INTO runs_new (seq, run_id, domain_id, task_id, started_time,
  finished_time, check_result, mode, hash_algorithm, error_msg,
  content_hash, committed_at, scope, base_run_id)
SELECT seq, run_id, domain_id, task_id, started_time, finished_time,
  check_result, mode, hash_algorithm, error_msg, content_hash,
  committed_at, scope, base_run_id FROM runs;
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence
  WHERE name = 'runs') WHERE name = 'runs_new'
  AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'runs');
INSERT INTO sqlite_sequence (name, seq)
SELECT 'runs_new', seq FROM sqlite_sequence WHERE name = 'runs'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'runs_new');

CREATE TABLE run_dirs_new (
  domain_id                     TEXT NOT NULL,
  run_id                        TEXT NOT NULL,
  idx                           INTEGER NOT NULL,
  dir_check                     TEXT NOT NULL,
  num_total_files               INTEGER NOT NULL,
  num_different_files           INTEGER NOT NULL,
  num_target_miss_files         INTEGER NOT NULL,
  num_target_more_files         INTEGER NOT NULL,
  num_changed_files             INTEGER NOT NULL,
  num_error_files               INTEGER NOT NULL,
  num_metadata_different_files  INTEGER NOT NULL,
  num_bytes_verified            INTEGER NOT NULL,
  num_corrupt_files             INTEGER NOT NULL DEFAULT 0,
  num_cached_files              INTEGER NOT NULL DEFAULT 0,
  num_bytes_read                INTEGER NOT NULL DEFAULT 0,
  num_target_cached_files       INTEGER NOT NULL DEFAULT 0,
  num_target_bytes_read         INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (domain_id, run_id, idx),
  FOREIGN KEY (domain_id, run_id) REFERENCES runs_new(domain_id, run_id)
    ON DELETE CASCADE
);
INSERT INTO run_dirs_new (domain_id, run_id, idx, dir_check,
  num_total_files, num_different_files, num_target_miss_files,
  num_target_more_files, num_changed_files, num_error_files,
  num_metadata_different_files, num_bytes_verified, num_corrupt_files,
  num_cached_files, num_bytes_read, num_target_cached_files,
  num_target_bytes_read)
SELECT r.domain_id, d.run_id, d.idx, d.dir_check, d.num_total_files,
  d.num_different_files, d.num_target_miss_files, d.num_target_more_files,
  d.num_changed_files, d.num_error_files, d.num_metadata_different_files,
  d.num_bytes_verified, d.num_corrupt_files, d.num_cached_files,
  d.num_bytes_read, d.num_target_cached_files, d.num_target_bytes_read
FROM run_dirs d JOIN runs r ON r.run_id = d.run_id;

CREATE TABLE detail_chunks_new (
  domain_id     TEXT NOT NULL,
  run_id        TEXT NOT NULL,
  seq           INTEGER NOT NULL,
  task_id       TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  content_hash  TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (domain_id, run_id, seq)
);
INSERT INTO detail_chunks_new (domain_id, run_id, seq, task_id,
  content_hash, created_at)
SELECT domain_id, run_id, seq, task_id, content_hash, created_at
FROM detail_chunks;

CREATE TABLE file_details_new (
  domain_id       TEXT NOT NULL,
  run_id          TEXT NOT NULL,
  seq             INTEGER NOT NULL,
  idx             INTEGER NOT NULL,
  dir_check       TEXT NOT NULL,
  path            TEXT NOT NULL,
  path_b64        TEXT NOT NULL,
  status          TEXT NOT NULL,
  reason          TEXT NOT NULL,
  source_json     TEXT NOT NULL,
  target_json     TEXT NOT NULL,
  first_seen_run  TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (domain_id, run_id, seq, idx),
  FOREIGN KEY (domain_id, run_id, seq)
    REFERENCES detail_chunks_new(domain_id, run_id, seq) ON DELETE CASCADE
);
INSERT INTO file_details_new (domain_id, run_id, seq, idx, dir_check, path,
  path_b64, status, reason, source_json, target_json, first_seen_run)
SELECT c.domain_id, f.run_id, f.seq, f.idx, f.dir_check, f.path,
  f.path_b64, f.status, f.reason, f.source_json, f.target_json,
  f.first_seen_run
FROM file_details f JOIN detail_chunks c
  ON c.run_id = f.run_id AND c.seq = f.seq;

CREATE TABLE detail_counts_new (
  domain_id  TEXT NOT NULL,
  run_id     TEXT NOT NULL,
  dir_check  TEXT NOT NULL,
  status     TEXT NOT NULL,
  n          INTEGER NOT NULL,
  PRIMARY KEY (domain_id, run_id, dir_check, status)
);
INSERT INTO detail_counts_new (domain_id, run_id, dir_check, status, n)
SELECT coalesce((SELECT c.domain_id FROM detail_chunks c
                 WHERE c.run_id = n.run_id LIMIT 1), ''),
  n.run_id, n.dir_check, n.status, n.n
FROM detail_counts n;

CREATE TABLE detail_purges_new (
  domain_id  TEXT NOT NULL,
  run_id     TEXT NOT NULL,
  purged_at  INTEGER NOT NULL,
  PRIMARY KEY (domain_id, run_id)
);
INSERT INTO detail_purges_new (domain_id, run_id, purged_at)
SELECT coalesce((SELECT r.domain_id FROM runs r
                 WHERE r.run_id = p.run_id), ''),
  p.run_id, p.purged_at
FROM detail_purges p;

DROP TABLE file_details;
DROP TABLE detail_chunks;
DROP TABLE run_dirs;
DROP TABLE runs;
DROP TABLE detail_counts;
DROP TABLE detail_purges;
ALTER TABLE runs_new RENAME TO runs;
ALTER TABLE run_dirs_new RENAME TO run_dirs;
ALTER TABLE detail_chunks_new RENAME TO detail_chunks;
ALTER TABLE file_details_new RENAME TO file_details;
ALTER TABLE detail_counts_new RENAME TO detail_counts;
ALTER TABLE detail_purges_new RENAME TO detail_purges;

CREATE INDEX runs_by_task ON runs (domain_id, task_id, seq);
CREATE INDEX file_details_by_path
  ON file_details (domain_id, run_id, dir_check, path, path_b64);
