-- 0021_detail_filter_indexes: a page of a run's details filtered by
-- directory or status (GET .../consistency-result/details?dir_check=&
-- status=, sqlite/detail_page_sql.cc) walks the filter's rows in (seq, idx)
-- order instead of every row of the run after the marker along the primary
-- key: before this, a filter matching few rows of a 1,000,000-row run cost
-- 0.3-1 s a page, every page. PostgreSQL has had both indexes since 0002
-- (postgres/0021_detail_filter_indexes.sql). Each is one more write per
-- detail row staged, and building them reads file_details once at the
-- upgrade (docs/server.md, "Paging a run's details").
CREATE INDEX file_details_by_dir
  ON file_details (domain_id, run_id, dir_check, seq, idx);
CREATE INDEX file_details_by_status
  ON file_details (domain_id, run_id, status, seq, idx);
