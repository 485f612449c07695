-- 0008_schedules: schedules and the cut-over readiness verdict (issue 13.1,
-- 13.3), on the task's own row.
--   next_check_at       when the task's CONSISTENCY_SCHEDULE is next due
--                       (epoch ms); NULL: no schedule. A replica claims a
--                       due task by moving it forward (a lease) before it
--                       triggers the check, so one tick fires once.
--   skipped_checks      scheduled checks skipped because a check of the
--                       task was still queued or running.
--   readiness*          the verdict as of the last committed run (or the
--                       last change of a readiness setting): 'ready' or
--                       'not_ready' ('' never evaluated), since when, the
--                       reasons (one per line), and when a ready task turns
--                       stale (CONSISTENCY_READY_MAX_AGE; NULL: never).
ALTER TABLE tasks ADD COLUMN next_check_at INTEGER;
ALTER TABLE tasks ADD COLUMN skipped_checks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN readiness TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN readiness_since INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN readiness_reasons TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN readiness_stale_at INTEGER;
CREATE INDEX tasks_next_check ON tasks (next_check_at)
  WHERE next_check_at IS NOT NULL;
