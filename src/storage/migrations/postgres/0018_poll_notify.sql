-- 0018_poll_notify (PostgreSQL): what an agent's poll reads stays in the
-- replicas' read caches (storage/caching_store.h) through the writes of a
-- fleet.
--
-- Sources' owners: a replica holds each source's owner (the agent loop's
-- ownership check on every poll, Store::GetSourceOwner), so a source's
-- deletion, or an UPDATE that gives it another owner, id or tenant (by
-- hand: the service does neither), sends NOTIFY sms_cache, 'sources'
-- (0014), which makes the replicas forget the held owners. Only those
-- columns: the heartbeat flush (UPDATE sources SET last_seen_at, a few
-- times a second under a fleet) and a registration of a known agent (its
-- ip, os and agent_version) must not fire it, or the owners would be
-- forgotten as fast as they are read. An UPDATE OF trigger fires only for
-- statements that name one of its columns. Inserts are not sent: the cache
-- never holds a miss.
--
-- Idle sources: a new command (0016) now names its source,
-- 'commands <domain_id> <source_id>', so a replica forgets that source's
-- "no command" alone. With the bare 'commands' every check triggered
-- anywhere (several a second) made every replica forget every idle
-- source, and 81 % of a 10,000-agent fleet's polls read the database. A
-- replica that cannot split the payload (an id with a space) forgets every
-- idle source, as before.
-- SQLite has the same version (sqlite/0018_poll_notify.sql).
CREATE TRIGGER sources_cache_notify
  AFTER UPDATE OF id, domain_id, owner_user_id OR DELETE ON sources
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER sources_cache_notify_truncate AFTER TRUNCATE ON sources
  FOR EACH STATEMENT EXECUTE FUNCTION sms_cache_notify();

CREATE FUNCTION sms_cache_notify_command() RETURNS trigger LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM pg_notify('sms_cache',
                    'commands ' || NEW.domain_id || ' ' || NEW.source_id);
  RETURN NULL;
END
$$;
DROP TRIGGER commands_cache_notify ON commands;
CREATE TRIGGER commands_cache_notify AFTER INSERT ON commands
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify_command();
