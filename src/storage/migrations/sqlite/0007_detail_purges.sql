-- 0007_detail_purges: retention (issue 13.5). A run whose file-level
-- details were deleted by CONSISTENCY_RETENTION is listed here, so a
-- listing of its details or changes says so instead of answering empty.
-- Its runs and run_dirs rows (the per-directory counters) stay.
CREATE TABLE detail_purges (
  run_id     TEXT PRIMARY KEY,
  purged_at  INTEGER NOT NULL
);
