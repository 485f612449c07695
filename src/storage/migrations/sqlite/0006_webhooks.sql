-- 0006_webhooks: tell people about runs (issue 13.4).
-- webhooks: a tenant's subscriptions; events is a comma-separated list.
-- webhook_outbox: one row per (webhook, event), written in the transaction
-- that commits the run, so an event is never lost and never doubled; a
-- replica claims due rows with a lease (lease_owner, lease_until) and
-- delivers them. state: pending | delivered | failed (given up).
-- webhook_attempts: every try, for GET /v3/webhooks/{id}/deliveries.
CREATE TABLE webhooks (
  id          TEXT PRIMARY KEY,
  domain_id   TEXT NOT NULL REFERENCES domains(id),
  url         TEXT NOT NULL,
  events      TEXT NOT NULL,
  secret      TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE INDEX webhooks_by_domain ON webhooks (domain_id, created_at, id);

CREATE TABLE webhook_outbox (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  domain_id        TEXT NOT NULL,
  webhook_id       TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event_id         TEXT NOT NULL,
  type             TEXT NOT NULL,
  task_id          TEXT NOT NULL,
  run_id           TEXT NOT NULL,
  check_result     TEXT NOT NULL,
  occurred_at      INTEGER NOT NULL,
  state            TEXT NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL,
  lease_owner      TEXT NOT NULL DEFAULT '',
  lease_until      INTEGER NOT NULL DEFAULT 0,
  UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_attempt_at);

CREATE TABLE webhook_attempts (
  delivery_id  INTEGER NOT NULL REFERENCES webhook_outbox(id) ON DELETE CASCADE,
  attempt      INTEGER NOT NULL,
  webhook_id   TEXT NOT NULL,
  at           INTEGER NOT NULL,
  status       INTEGER NOT NULL,
  latency_ms   INTEGER NOT NULL,
  error        TEXT NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX webhook_attempts_by_hook ON webhook_attempts (webhook_id, at);
