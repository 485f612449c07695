-- 0019_run_dirs_in_runs (PostgreSQL): a run's directories move into the
-- run's own row (issue 14.3). An upload of 30 directories wrote 31 rows:
-- 30 run_dirs heap tuples and primary-key entries, about 14 kB of WAL per
-- upload (pg_stat_statements), the largest cost left per upload. Now
-- runs.dirs holds them as one JSON text (storage/dirs_json.h: an array of
-- [dir_check, the 13 counters of rows::kDirColumns] per directory, in
-- order), so an upload writes one row, and a read of runs needs no join.
-- json, not jsonb: stored as written (no conversion on insert); the store
-- decodes it itself, and the view below expands it for the statements that
-- search directories. toast_tuple_target: a row of up to ~8 kB (an upload
-- holds at most 30 directories: with paths of up to ~200 bytes) stays
-- inline and uncompressed, not compressed or moved to the TOAST table
-- (PostgreSQL's default does both past ~2 kB); longer rows are toasted.
-- run_dirs becomes a view with the table's columns, so by-hand queries and
-- the statements that search directories (changes_sql.h, metrics_sql.h,
-- StageDetails) read the same rows. It cannot be written: deleting a run
-- deletes its directories with it (0017's cascade trigger goes).
-- Every run's directories are moved, in idx order; a run_dirs row without
-- its run (none is written since 0001; only by hand) was unreadable and
-- goes with the table. The same columns as sqlite/0019_run_dirs_in_runs.sql.
ALTER TABLE runs ADD COLUMN dirs json NOT NULL DEFAULT '[]';
ALTER TABLE runs SET (toast_tuple_target = 8160);
UPDATE runs r SET dirs = d.dirs
FROM (SELECT domain_id, run_id,
        json_agg(json_build_array(dir_check, num_total_files,
          num_different_files, num_target_miss_files, num_target_more_files,
          num_changed_files, num_error_files, num_metadata_different_files,
          num_bytes_verified, num_corrupt_files, num_cached_files,
          num_bytes_read, num_target_cached_files, num_target_bytes_read)
          ORDER BY idx) AS dirs
      FROM run_dirs GROUP BY domain_id, run_id) d
WHERE d.domain_id = r.domain_id AND d.run_id = r.run_id;

DROP TRIGGER runs_delete_dirs ON runs;
DROP FUNCTION sms_run_dirs_cascade();
DROP TABLE run_dirs;

CREATE VIEW run_dirs AS
SELECT r.domain_id, r.run_id, d.ord - 1 AS idx, d.e ->> 0 AS dir_check,
  (d.e ->> 1)::bigint AS num_total_files,
  (d.e ->> 2)::bigint AS num_different_files,
  (d.e ->> 3)::bigint AS num_target_miss_files,
  (d.e ->> 4)::bigint AS num_target_more_files,
  (d.e ->> 5)::bigint AS num_changed_files,
  (d.e ->> 6)::bigint AS num_error_files,
  (d.e ->> 7)::bigint AS num_metadata_different_files,
  (d.e ->> 8)::bigint AS num_bytes_verified,
  (d.e ->> 9)::bigint AS num_corrupt_files,
  (d.e ->> 10)::bigint AS num_cached_files,
  (d.e ->> 11)::bigint AS num_bytes_read,
  (d.e ->> 12)::bigint AS num_target_cached_files,
  (d.e ->> 13)::bigint AS num_target_bytes_read
FROM runs r CROSS JOIN LATERAL json_array_elements(r.dirs)
  WITH ORDINALITY AS d (e, ord);
