-- 0019_run_dirs_in_runs (SQLite): a run's directories move into the run's
-- own row, runs.dirs (the JSON text of storage/dirs_json.h), and run_dirs
-- becomes a view that expands it; postgres/0019_run_dirs_in_runs.sql
-- explains why. Here too an upload writes one row instead of one per
-- directory, and a read of runs needs no second query.
-- Every run's directories are moved, in idx order (a window function
-- orders json_group_array's input; an aggregate over an ordered subquery
-- is not guaranteed to keep the order). run_dirs had a foreign key on
-- runs, so it holds no row without its run.
ALTER TABLE runs ADD COLUMN dirs TEXT NOT NULL DEFAULT '[]';
UPDATE runs SET dirs = w.dirs
FROM (SELECT domain_id, run_id, idx,
        max(idx) OVER (PARTITION BY domain_id, run_id) AS last,
        json_group_array(json_array(dir_check, num_total_files,
          num_different_files, num_target_miss_files, num_target_more_files,
          num_changed_files, num_error_files, num_metadata_different_files,
          num_bytes_verified, num_corrupt_files, num_cached_files,
          num_bytes_read, num_target_cached_files, num_target_bytes_read))
          OVER (PARTITION BY domain_id, run_id ORDER BY idx
                ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
          AS dirs
      FROM run_dirs) w
WHERE w.idx = w.last AND w.domain_id = runs.domain_id
  AND w.run_id = runs.run_id;

DROP TABLE run_dirs;

CREATE VIEW run_dirs AS
SELECT r.domain_id, r.run_id, d.key AS idx,
  json_extract(d.value, '$[0]') AS dir_check,
  json_extract(d.value, '$[1]') AS num_total_files,
  json_extract(d.value, '$[2]') AS num_different_files,
  json_extract(d.value, '$[3]') AS num_target_miss_files,
  json_extract(d.value, '$[4]') AS num_target_more_files,
  json_extract(d.value, '$[5]') AS num_changed_files,
  json_extract(d.value, '$[6]') AS num_error_files,
  json_extract(d.value, '$[7]') AS num_metadata_different_files,
  json_extract(d.value, '$[8]') AS num_bytes_verified,
  json_extract(d.value, '$[9]') AS num_corrupt_files,
  json_extract(d.value, '$[10]') AS num_cached_files,
  json_extract(d.value, '$[11]') AS num_bytes_read,
  json_extract(d.value, '$[12]') AS num_target_cached_files,
  json_extract(d.value, '$[13]') AS num_target_bytes_read
FROM runs r, json_each(r.dirs) d;
