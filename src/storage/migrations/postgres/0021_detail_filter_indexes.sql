-- 0021_detail_filter_indexes: nothing on PostgreSQL. SQLite adds the
-- indexes a page of a run's details filtered by directory or status walks
-- (sqlite/0021_detail_filter_indexes.sql); PostgreSQL has had them since
-- 0002 (file_details_by_dir, file_details_by_status, rebuilt on (domain_id,
-- run_id, ...) by 0013). Kept so that both dialects stay at the same
-- versions.
SELECT 1;
