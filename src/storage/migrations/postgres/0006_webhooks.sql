-- 0006_webhooks (PostgreSQL): tell people about runs (issue 13.4). The same
-- tables as sqlite/0006_webhooks.sql, which explains them; replicas claim
-- due outbox rows with FOR UPDATE SKIP LOCKED and a lease.
CREATE TABLE webhooks (
  id          TEXT PRIMARY KEY,
  domain_id   TEXT NOT NULL REFERENCES domains(id),
  url         TEXT NOT NULL,
  events      TEXT NOT NULL,
  secret      TEXT NOT NULL,
  created_at  BIGINT NOT NULL
);
CREATE INDEX webhooks_by_domain ON webhooks (domain_id, created_at, id);

CREATE TABLE webhook_outbox (
  id               BIGSERIAL PRIMARY KEY,
  domain_id        TEXT NOT NULL,
  webhook_id       TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event_id         TEXT NOT NULL,
  type             TEXT NOT NULL,
  task_id          TEXT NOT NULL,
  run_id           TEXT NOT NULL,
  check_result     TEXT NOT NULL,
  occurred_at      BIGINT NOT NULL,
  state            TEXT NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  BIGINT NOT NULL,
  lease_owner      TEXT NOT NULL DEFAULT '',
  lease_until      BIGINT NOT NULL DEFAULT 0,
  UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_attempt_at);

CREATE TABLE webhook_attempts (
  delivery_id  BIGINT NOT NULL REFERENCES webhook_outbox(id) ON DELETE CASCADE,
  attempt      INTEGER NOT NULL,
  webhook_id   TEXT NOT NULL,
  at           BIGINT NOT NULL,
  status       INTEGER NOT NULL,
  latency_ms   BIGINT NOT NULL,
  error        TEXT NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX webhook_attempts_by_hook ON webhook_attempts (webhook_id, at);
