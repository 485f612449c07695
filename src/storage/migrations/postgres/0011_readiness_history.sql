-- 0011_readiness_history: what the cut-over verdict needs to know of the
-- task's runs (schedule::ReadinessHistory, as EncodeHistory writes it), so
-- that committing a run folds in that run alone instead of re-reading the
-- task's newest runs and their directories (issue 13.3: uploads fell from
-- 3,132/s to 494/s). '' (tasks stored before): the next commit or a
-- readiness setting's change folds the newest runs once. The same column
-- as sqlite/0011_readiness_history.sql.
ALTER TABLE tasks ADD COLUMN readiness_history TEXT NOT NULL DEFAULT '';
