-- 0012_run_base: the run a re-check of scope 'inconsistent' checked again
-- (issue 12.5): its base_run_id, as uploaded by the agent. '' for a check
-- of the whole directories and for runs stored before. Not a foreign key:
-- retention may delete the base run's details, never its row, and a run
-- names its base as the agent knew it. The same column as
-- postgres/0012_run_base.sql.
ALTER TABLE runs ADD COLUMN base_run_id TEXT NOT NULL DEFAULT '';
