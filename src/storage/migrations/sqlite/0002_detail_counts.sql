-- 0002_detail_counts: large runs page in constant time.
-- A run may carry millions of file details. The paged listing answers with
-- the total for its filters; counting the rows on every page costs seconds
-- at a million, so the totals are kept per (run, directory, status) as
-- chunks are staged. The same table as postgres/0002_detail_counts.sql.
-- Databases migrated before both dialects shared one numbering recorded
-- used_signatures as version 2 (0002_used_signatures); the migration runner
-- renumbers that record to 3 first, then applies this one (sqlite/migrate.cc).

CREATE TABLE detail_counts (
  run_id     TEXT NOT NULL,
  dir_check  TEXT NOT NULL,
  status     TEXT NOT NULL,
  n          INTEGER NOT NULL,
  PRIMARY KEY (run_id, dir_check, status)
);

INSERT INTO detail_counts (run_id, dir_check, status, n)
SELECT run_id, dir_check, status, count(*)
FROM file_details WHERE true GROUP BY run_id, dir_check, status;
