-- 0017_write_triggers (PostgreSQL): cheaper run commits, and credentials
-- heard by the replicas' read caches (issue 14.3).
--
-- A committed run inserts one runs row and one run_dirs row per directory
-- (30 in a typical upload) in one statement (postgres/runs.cc). Two row
-- triggers fired for each of those rows: the foreign key of run_dirs on
-- runs (an SPI lookup of the run per directory) and 0014's cache
-- notification (a PL/pgSQL call per directory, folded into one
-- notification anyway). Together they were about a third of PostgreSQL's
-- CPU time per upload. Now:
-- * an INSERT into runs or run_dirs notifies once per statement (the
--   payload is the same; PostgreSQL folds identical notifications of a
--   transaction into one). UPDATE and DELETE keep their row triggers, so an
--   UPDATE that changes no row still sends nothing.
-- * run_dirs has no foreign key on runs: the store writes a run's
--   directories in the statement that writes the run, from the same
--   arrays, and deletes them before the run (DeleteTask). ON DELETE
--   CASCADE is kept as a statement trigger on runs (a DELETE by hand, or
--   the cascade from tasks, still takes the directories with the run): one
--   DELETE per statement from its transition table.
-- * credentials notify like users and tokens (0014): sms_cache,
--   'credentials' when a key is revoked (UPDATE) or removed, so a replica
--   that holds a credential (storage/caching_store.h) forgets it. Inserts
--   are not sent: the cache never holds a miss.
-- SQLite has the same version (sqlite/0017_write_triggers.sql).
DROP TRIGGER runs_cache_notify ON runs;
CREATE TRIGGER runs_cache_notify AFTER UPDATE OR DELETE ON runs
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER runs_cache_notify_insert AFTER INSERT ON runs
  FOR EACH STATEMENT EXECUTE FUNCTION sms_cache_notify();

DROP TRIGGER run_dirs_cache_notify ON run_dirs;
CREATE TRIGGER run_dirs_cache_notify AFTER UPDATE OR DELETE ON run_dirs
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER run_dirs_cache_notify_insert AFTER INSERT ON run_dirs
  FOR EACH STATEMENT EXECUTE FUNCTION sms_cache_notify();

ALTER TABLE run_dirs DROP CONSTRAINT run_dirs_domain_id_run_id_fkey;
CREATE FUNCTION sms_run_dirs_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM run_dirs d USING gone g
    WHERE d.domain_id = g.domain_id AND d.run_id = g.run_id;
  RETURN NULL;
END
$$;
CREATE TRIGGER runs_delete_dirs AFTER DELETE ON runs
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION sms_run_dirs_cascade();

CREATE TRIGGER credentials_cache_notify AFTER UPDATE OR DELETE ON credentials
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER credentials_cache_notify_truncate AFTER TRUNCATE ON credentials
  FOR EACH STATEMENT EXECUTE FUNCTION sms_cache_notify();
