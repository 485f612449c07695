-- 0017_write_triggers: nothing on SQLite. On PostgreSQL this version makes
-- a run's commit cheaper (the cache notification of runs and run_dirs once
-- per INSERT statement, the foreign key of run_dirs on runs replaced by a
-- DELETE cascade trigger) and adds the notification of credentials for the
-- replicas' read caches (postgres/0017_write_triggers.sql). A SQLite
-- database has one serving process, and its read cache does not hold
-- credentials, users or domains, which `sms-server admin` writes from
-- another process (storage/caching_store.h). Kept so that both dialects
-- stay at the same versions.
SELECT 1;
