-- 0016_command_notify (PostgreSQL): a new command is heard by every
-- replica's read cache (storage/caching_store.h "idle sources": a poll that
-- found no pending command is answered from memory until then). The
-- notification of 0014 (NOTIFY sms_cache, 'commands'), on INSERT only: an
-- UPDATE or DELETE of a command never makes one pending, and a hand-out or
-- a result (several a second under load) would otherwise empty the replicas'
-- idle sources each time.
CREATE TRIGGER commands_cache_notify AFTER INSERT ON commands
  FOR EACH ROW EXECUTE FUNCTION sms_cache_notify();
