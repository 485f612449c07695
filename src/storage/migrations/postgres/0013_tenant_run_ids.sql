-- 0013_tenant_run_ids (PostgreSQL): run ids are scoped per tenant (issue
-- 11.5); the same keys as sqlite/0013_tenant_run_ids.sql, which explains
-- them. Here the keys change in place: the run-keyed tables get domain_id
-- (filled from the run or the chunk it belongs to; '' for a count or purge
-- mark whose task was deleted earlier), their keys, foreign keys and
-- indexes start with (domain_id, run_id), and runs is unique on
-- (domain_id, run_id) instead of run_id.
ALTER TABLE run_dirs DROP CONSTRAINT run_dirs_run_id_fkey;
ALTER TABLE file_details DROP CONSTRAINT file_details_run_id_seq_fkey;
ALTER TABLE runs DROP CONSTRAINT runs_run_id_key;
ALTER TABLE runs ADD CONSTRAINT runs_domain_id_run_id_key
  UNIQUE (domain_id, run_id);

ALTER TABLE run_dirs ADD COLUMN domain_id TEXT;
UPDATE run_dirs d SET domain_id = r.domain_id FROM runs r
  WHERE r.run_id = d.run_id;
ALTER TABLE run_dirs ALTER COLUMN domain_id SET NOT NULL,
  DROP CONSTRAINT run_dirs_pkey,
  ADD PRIMARY KEY (domain_id, run_id, idx),
  ADD FOREIGN KEY (domain_id, run_id) REFERENCES runs (domain_id, run_id)
    ON DELETE CASCADE;

ALTER TABLE detail_chunks DROP CONSTRAINT detail_chunks_pkey,
  ADD PRIMARY KEY (domain_id, run_id, seq);

ALTER TABLE file_details ADD COLUMN domain_id TEXT;
UPDATE file_details f SET domain_id = c.domain_id FROM detail_chunks c
  WHERE c.run_id = f.run_id AND c.seq = f.seq;
ALTER TABLE file_details ALTER COLUMN domain_id SET NOT NULL,
  DROP CONSTRAINT file_details_pkey,
  ADD PRIMARY KEY (domain_id, run_id, seq, idx),
  ADD FOREIGN KEY (domain_id, run_id, seq)
    REFERENCES detail_chunks (domain_id, run_id, seq) ON DELETE CASCADE;
DROP INDEX file_details_by_dir;
DROP INDEX file_details_by_status;
DROP INDEX file_details_by_path;
CREATE INDEX file_details_by_dir
  ON file_details (domain_id, run_id, dir_check, seq, idx);
CREATE INDEX file_details_by_status
  ON file_details (domain_id, run_id, status, seq, idx);
CREATE INDEX file_details_by_path
  ON file_details (domain_id, run_id, dir_check, path, path_b64);

ALTER TABLE detail_counts ADD COLUMN domain_id TEXT;
UPDATE detail_counts n SET domain_id = coalesce((SELECT c.domain_id
  FROM detail_chunks c WHERE c.run_id = n.run_id LIMIT 1), '');
ALTER TABLE detail_counts ALTER COLUMN domain_id SET NOT NULL,
  DROP CONSTRAINT detail_counts_pkey,
  ADD PRIMARY KEY (domain_id, run_id, dir_check, status);

ALTER TABLE detail_purges ADD COLUMN domain_id TEXT;
UPDATE detail_purges p SET domain_id = coalesce((SELECT r.domain_id
  FROM runs r WHERE r.run_id = p.run_id), '');
ALTER TABLE detail_purges ALTER COLUMN domain_id SET NOT NULL,
  DROP CONSTRAINT detail_purges_pkey,
  ADD PRIMARY KEY (domain_id, run_id);
