-- 0022_task_source_notify: nothing on SQLite. On PostgreSQL a task's
-- deletion (or a new source by hand) notifies the replicas' read caches,
-- which hold each task's source through the writes of its state
-- (postgres/0022_task_source_notify.sql). A SQLite database has one serving
-- process, whose read cache hears its own writes, and `sms-server admin`
-- never writes tasks (storage/caching_store.h). Kept so that both dialects
-- stay at the same versions.
SELECT 1;
