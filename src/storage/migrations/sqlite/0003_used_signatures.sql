-- 0003_used_signatures: a signed request that changes state is accepted once.
-- An AK/SK signature stays valid for the ±15 min X-Sdk-Date window; a
-- captured request replayed in that window could queue or stop a check,
-- delete a task or reset its settings. The key is "AK:signature", kept until
-- the request's date has left the window (expires_at, epoch ms).
CREATE TABLE used_signatures (
  sig_key     TEXT PRIMARY KEY,
  expires_at  INTEGER NOT NULL
);
CREATE INDEX used_signatures_by_expiry ON used_signatures (expires_at);
