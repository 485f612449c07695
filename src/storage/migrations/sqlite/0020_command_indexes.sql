-- 0020_command_indexes: a check's end finds its command by run id
-- (UPDATE commands SET state = 'done' ... WHERE domain_id = ? AND
-- run_id = ?, sqlite/runs.cc), and stop/skip a task's newest command
-- (LatestTaskCommand), without reading the tenant's other commands.
-- Commands are kept (one a check), so before this a check's end read every
-- command of its tenant under the writer's lock: ~80 ms at 500,000.
-- commands_by_task is the index PostgreSQL has had since 0001.
CREATE INDEX commands_by_run ON commands (domain_id, run_id);
CREATE INDEX commands_by_task ON commands (domain_id, task_id, id);
