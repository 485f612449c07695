-- 0002_detail_counts (PostgreSQL): large runs page in constant time.
-- A run may carry millions of file details. The paged listing answers with
-- the total for its filters; counting the rows on every page cost seconds
-- at a million, so the totals are kept per (run, directory, status) as
-- chunks are staged. The indexes serve a listing filtered by directory or
-- by status from the marker on, like the unfiltered one on the primary key.

CREATE TABLE detail_counts (
  run_id     TEXT NOT NULL,
  dir_check  TEXT NOT NULL,
  status     TEXT NOT NULL,
  n          BIGINT NOT NULL,
  PRIMARY KEY (run_id, dir_check, status)
);

INSERT INTO detail_counts (run_id, dir_check, status, n)
SELECT run_id, dir_check, status, count(*)
FROM file_details GROUP BY run_id, dir_check, status;

CREATE INDEX file_details_by_dir ON file_details (run_id, dir_check, seq, idx);
CREATE INDEX file_details_by_status ON file_details (run_id, status, seq, idx);
