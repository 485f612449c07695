-- 0014_cache_notify: nothing on SQLite. On PostgreSQL this version adds the
-- triggers that NOTIFY the replicas' read caches of writes
-- (postgres/0014_cache_notify.sql); a SQLite database has one writing
-- process, whose cache sees its own writes. Kept so that both dialects stay
-- at the same versions.
SELECT 1;
