-- 0005_first_seen (PostgreSQL): how long each difference has persisted, and
-- what changed between two runs (issue 13.2). The same column and index as
-- sqlite/0005_first_seen.sql, which explains them.
ALTER TABLE file_details ADD COLUMN first_seen_run TEXT NOT NULL DEFAULT '';
CREATE INDEX file_details_by_path ON file_details (run_id, dir_check, path, path_b64);
