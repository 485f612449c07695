-- 0020_command_indexes (PostgreSQL): a check's end finds its command by
-- run id (UPDATE commands SET state = 'done' ... WHERE domain_id = $2 AND
-- run_id = $3, postgres/runs.cc) without reading the tenant's other
-- commands: they are kept (one a check), so before this it scanned them
-- all while holding the task's row lock. commands_by_task (0001) serves a
-- task's newest command. SQLite adds both (sqlite/0020_command_indexes.sql).
-- Built in the migration's transaction: writes to commands wait for it
-- (2.4 s for 1,000,000 commands, measured 2026-12-03).
CREATE INDEX commands_by_run ON commands (domain_id, run_id);
