-- 0007_detail_purges (PostgreSQL): retention (issue 13.5); the same table
-- as sqlite/0007_detail_purges.sql, which explains it.
CREATE TABLE detail_purges (
  run_id     TEXT PRIMARY KEY,
  purged_at  BIGINT NOT NULL
);
