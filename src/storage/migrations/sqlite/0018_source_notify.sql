-- 0018_source_notify: nothing on SQLite. On PostgreSQL a source's deletion
-- or new owner notifies the replicas' read caches, which hold each source's
-- owner (postgres/0018_source_notify.sql). A SQLite database has one
-- serving process, whose read cache forgets nothing it did not write, and
-- `sms-server admin` never writes sources (storage/caching_store.h). Kept
-- so that both dialects stay at the same versions.
SELECT 1;
