-- 0018_poll_notify: nothing on SQLite. On PostgreSQL a source's deletion
-- or new owner notifies the replicas' read caches, which hold each source's
-- owner, and a new command names its source in its notification
-- (postgres/0018_poll_notify.sql). A SQLite database has one serving
-- process, whose read cache hears its own writes, and `sms-server admin`
-- never writes sources or commands (storage/caching_store.h). Kept so that
-- both dialects stay at the same versions.
SELECT 1;
