-- 0014_cache_notify (PostgreSQL): every write that can change what a
-- replica's read cache holds (storage/caching_store.h: a token with its user
-- and domain, a task, a task's runs with their directories) sends
-- NOTIFY sms_cache, '<table>' in its own transaction, so the notification is
-- delivered when, and only if, the write commits. Triggers, not the store's
-- code: a write by another replica, by `sms-server admin` or by hand in psql
-- (a user's role changed with UPDATE users) is heard the same way.
-- Inserts of tokens, users, domains and tasks are not sent: the cache never
-- holds a miss, so a new row cannot make a held one stale. Row triggers, not
-- statement triggers: an UPDATE that changes nothing (a schedule claim that
-- found no due task) sends nothing. PostgreSQL sends one notification per
-- transaction for all of its rows (identical payloads are folded).
-- SQLite has the same version with nothing in it (one process writes).
CREATE FUNCTION sms_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('sms_cache', TG_TABLE_NAME);
  RETURN NULL;
END
$$;

CREATE TRIGGER domains_cache_notify AFTER UPDATE OR DELETE ON domains
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER users_cache_notify AFTER UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER tokens_cache_notify AFTER UPDATE OR DELETE ON tokens
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER tasks_cache_notify AFTER UPDATE OR DELETE ON tasks
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER runs_cache_notify AFTER INSERT OR UPDATE OR DELETE ON runs
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER run_dirs_cache_notify AFTER INSERT OR UPDATE OR DELETE
  ON run_dirs FOR EACH ROW EXECUTE FUNCTION sms_cache_notify();

CREATE TRIGGER domains_cache_notify_truncate AFTER TRUNCATE ON domains
  FOR EACH STATEMENT EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER users_cache_notify_truncate AFTER TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER tokens_cache_notify_truncate AFTER TRUNCATE ON tokens
  FOR EACH STATEMENT EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER tasks_cache_notify_truncate AFTER TRUNCATE ON tasks
  FOR EACH STATEMENT EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER runs_cache_notify_truncate AFTER TRUNCATE ON runs
  FOR EACH STATEMENT EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER run_dirs_cache_notify_truncate AFTER TRUNCATE ON run_dirs
  FOR EACH STATEMENT EXECUTE FUNCTION sms_cache_notify();
