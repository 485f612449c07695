-- 0005_first_seen: how long each difference has persisted, and what changed
-- between two runs (issue 13.2).
-- first_seen_run names the first run of the current streak that found this
-- file not equal: the run itself when the task's previous successful run of
-- the same directory did not list it, else that run's first_seen_run. It is
-- set when a chunk is staged; '' (rows staged before this migration) reads
-- as the row's own run. The index joins two runs of a task on the file and
-- pages a listing of changes in (dir_check, path) order.
ALTER TABLE file_details ADD COLUMN first_seen_run TEXT NOT NULL DEFAULT '';
CREATE INDEX file_details_by_path ON file_details (run_id, dir_check, path, path_b64);
