-- 0008_schedules (PostgreSQL): schedules and the cut-over readiness verdict
-- (issue 13.1, 13.3); the same columns as sqlite/0008_schedules.sql, which
-- explains them. Replicas claim due tasks with FOR UPDATE SKIP LOCKED.
ALTER TABLE tasks ADD COLUMN next_check_at BIGINT;
ALTER TABLE tasks ADD COLUMN skipped_checks BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN readiness TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN readiness_since BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN readiness_reasons TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN readiness_stale_at BIGINT;
CREATE INDEX tasks_next_check ON tasks (next_check_at)
  WHERE next_check_at IS NOT NULL;
