-- 0018_source_notify (PostgreSQL): a replica's read cache holds each
-- source's owner (storage/caching_store.h: the agent loop's ownership check
-- on every poll, Store::GetSourceOwner), so a source's deletion, or an
-- UPDATE that gives it another owner, id or tenant (by hand: the service
-- does neither), sends NOTIFY sms_cache, 'sources' (0014), which makes the
-- replicas forget the held owners.
-- Only those columns: the heartbeat flush (UPDATE sources SET last_seen_at,
-- a few times a second under a fleet) and a registration of a known agent
-- (its ip, os and agent_version) must not fire it, or the owners would be
-- forgotten as fast as they are read. An UPDATE OF trigger fires only for
-- statements that name one of its columns. Inserts are not sent: the cache
-- never holds a miss.
-- SQLite has the same version (sqlite/0018_source_notify.sql).
CREATE TRIGGER sources_cache_notify
  AFTER UPDATE OF id, domain_id, owner_user_id OR DELETE ON sources
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify();
CREATE TRIGGER sources_cache_notify_truncate AFTER TRUNCATE ON sources
  FOR EACH STATEMENT EXECUTE FUNCTION sms_cache_notify();
