-- 0022_task_source_notify (PostgreSQL): a task's source stays in the
-- replicas' read caches (storage/caching_store.h) through the writes of
-- the task's state.
--
-- Every upload checks that the task's source is the agent's own
-- (Store::GetTaskSource). The task's record cannot stay held: every batch
-- of committed runs writes its verdict (UPDATE tasks), whose notification
-- ('tasks', 0014) makes every replica forget the held tasks, so ~0.85 of
-- an upload re-read its task. A task's source never changes after its
-- creation: a replica holds it apart, forgotten only on NOTIFY sms_cache,
-- 'task_sources', sent here by a task's deletion or an UPDATE that gives
-- it another id, tenant or source (by hand: the service does neither), not
-- by the writes of its state, schedule or verdict (an UPDATE OF trigger
-- fires only for statements that name one of its columns). Inserts are
-- not sent: the cache never holds a miss. A replica of an older version
-- reads 'task_sources' as a table it does not know, and forgets every
-- held record (safe).
-- SQLite has the same version (sqlite/0022_task_source_notify.sql).
CREATE FUNCTION sms_cache_notify_task_source() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('sms_cache', 'task_sources');
  RETURN NULL;
END
$$;
CREATE TRIGGER tasks_source_cache_notify
  AFTER UPDATE OF id, domain_id, source_id OR DELETE ON tasks
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify_task_source();
CREATE TRIGGER tasks_source_cache_notify_truncate AFTER TRUNCATE ON tasks
  FOR EACH STATEMENT EXECUTE FUNCTION sms_cache_notify_task_source();
