-- 0016_command_notify: nothing on SQLite. On PostgreSQL this version adds
-- the trigger that NOTIFYs the replicas' read caches of a new command
-- (postgres/0016_command_notify.sql); a SQLite database has one serving
-- process, which forgets an idle source itself when it enqueues a command.
-- Kept so that both dialects stay at the same versions.
SELECT 1;
