-- 0010_target_cache_counters: the target side's hash-cache figures (issue
-- 12), beside the source's num_cached_files / num_bytes_read of 0004: files
-- whose digest came from the target's hash cache, and the target bytes read
-- to digest the others. Runs stored before keep 0. The same columns as
-- postgres/0010_target_cache_counters.sql.
ALTER TABLE run_dirs ADD COLUMN num_target_cached_files INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_dirs ADD COLUMN num_target_bytes_read INTEGER NOT NULL DEFAULT 0;
