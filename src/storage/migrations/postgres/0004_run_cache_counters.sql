-- 0004_run_cache_counters (PostgreSQL): what a run checked and what the hash
-- caches saved (issue 12). A run's scope: '' for whole directories,
-- 'inconsistent' for a re-check of the previous run's differences. Per
-- directory: files whose content changed while their metadata did not
-- (corrupt), files whose digest came from the source's hash cache, and the
-- source bytes read to digest the others (BIGINT, like num_bytes_verified).
-- Runs stored before keep 0 and ''. The same columns as
-- sqlite/0004_run_cache_counters.sql.
ALTER TABLE runs ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE run_dirs ADD COLUMN num_corrupt_files BIGINT NOT NULL DEFAULT 0;
ALTER TABLE run_dirs ADD COLUMN num_cached_files BIGINT NOT NULL DEFAULT 0;
ALTER TABLE run_dirs ADD COLUMN num_bytes_read BIGINT NOT NULL DEFAULT 0;
