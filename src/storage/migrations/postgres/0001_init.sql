-- 0001_init (PostgreSQL): the first schema of the control plane, the same
-- tables and keys as migrations/0001_init.sql in the PostgreSQL dialect.
-- Every row that belongs to a tenant carries domain_id, and every query of
-- the store filters on it. Times are epoch milliseconds (BIGINT).

CREATE TABLE domains (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  created_at  BIGINT NOT NULL
);

CREATE TABLE users (
  id             TEXT PRIMARY KEY,
  domain_id      TEXT NOT NULL REFERENCES domains(id),
  name           TEXT NOT NULL,
  role           TEXT NOT NULL,
  password_hash  TEXT NOT NULL,
  created_at     BIGINT NOT NULL,
  UNIQUE (domain_id, name)
);

CREATE TABLE credentials (
  access_key  TEXT PRIMARY KEY,
  domain_id   TEXT NOT NULL REFERENCES domains(id),
  user_id     TEXT NOT NULL REFERENCES users(id),
  secret_key  TEXT NOT NULL,
  created_at  BIGINT NOT NULL,
  revoked_at  BIGINT
);

CREATE TABLE tokens (
  token_hash  TEXT PRIMARY KEY,
  domain_id   TEXT NOT NULL REFERENCES domains(id),
  user_id     TEXT NOT NULL REFERENCES users(id),
  issued_at   BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL,
  revoked_at  BIGINT
);
CREATE INDEX tokens_by_expiry ON tokens (expires_at);

CREATE TABLE sources (
  id             TEXT PRIMARY KEY,
  domain_id      TEXT NOT NULL REFERENCES domains(id),
  owner_user_id  TEXT NOT NULL,
  name           TEXT NOT NULL,
  hostname       TEXT NOT NULL,
  ip             TEXT NOT NULL,
  os_type        TEXT NOT NULL,
  os_version     TEXT NOT NULL,
  agent_version  TEXT NOT NULL,
  created_at     BIGINT NOT NULL,
  last_seen_at   BIGINT NOT NULL DEFAULT 0,
  UNIQUE (domain_id, name, hostname)
);

CREATE TABLE tasks (
  id                         TEXT PRIMARY KEY,
  domain_id                  TEXT NOT NULL REFERENCES domains(id),
  name                       TEXT NOT NULL,
  type                       TEXT NOT NULL,
  os_type                    TEXT NOT NULL,
  source_id                  TEXT NOT NULL,
  target_name                TEXT NOT NULL,
  target_ip                  TEXT NOT NULL,
  target_verify_uri          TEXT NOT NULL,
  is_need_consistency_check  BOOLEAN NOT NULL,
  state                      TEXT NOT NULL,
  current_run_id             TEXT NOT NULL DEFAULT '',
  created_at                 BIGINT NOT NULL,
  updated_at                 BIGINT NOT NULL
);
CREATE INDEX tasks_by_domain ON tasks (domain_id, created_at, id);
CREATE INDEX tasks_by_source ON tasks (source_id);

CREATE TABLE task_configs (
  task_id       TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  config_key    TEXT NOT NULL,
  config_value  TEXT NOT NULL,
  PRIMARY KEY (task_id, config_key)
);

-- Commands queued for a source's agent; delivered in id order.
CREATE TABLE commands (
  id             BIGSERIAL PRIMARY KEY,
  domain_id      TEXT NOT NULL,
  source_id      TEXT NOT NULL,
  task_id        TEXT NOT NULL,
  run_id         TEXT NOT NULL,
  name           TEXT NOT NULL,
  param_json     TEXT NOT NULL,
  state          TEXT NOT NULL,  -- pending | delivered | done | cancelled
  result         TEXT NOT NULL DEFAULT '',
  result_detail  TEXT NOT NULL DEFAULT '',
  created_at     BIGINT NOT NULL,
  updated_at     BIGINT NOT NULL
);
CREATE INDEX commands_by_source ON commands (domain_id, source_id, state, id);
CREATE INDEX commands_by_task ON commands (domain_id, task_id, id);

-- A committed run: its row appearing is the commit point of the run and of
-- its staged details.
CREATE TABLE runs (
  seq             BIGSERIAL PRIMARY KEY,
  run_id          TEXT NOT NULL UNIQUE,
  domain_id       TEXT NOT NULL,
  task_id         TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  started_time    BIGINT NOT NULL,
  finished_time   BIGINT NOT NULL,
  check_result    TEXT NOT NULL,
  mode            TEXT NOT NULL,
  hash_algorithm  TEXT NOT NULL,
  error_msg       TEXT NOT NULL,
  content_hash    TEXT NOT NULL,
  committed_at    BIGINT NOT NULL
);
CREATE INDEX runs_by_task ON runs (domain_id, task_id, seq);

CREATE TABLE run_dirs (
  run_id                        TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  idx                           BIGINT NOT NULL,
  dir_check                     TEXT NOT NULL,
  num_total_files               BIGINT NOT NULL,
  num_different_files           BIGINT NOT NULL,
  num_target_miss_files         BIGINT NOT NULL,
  num_target_more_files         BIGINT NOT NULL,
  num_changed_files             BIGINT NOT NULL,
  num_error_files               BIGINT NOT NULL,
  num_metadata_different_files  BIGINT NOT NULL,
  num_bytes_verified            BIGINT NOT NULL,
  PRIMARY KEY (run_id, idx)
);

-- Detail chunks, staged before their run is committed.
CREATE TABLE detail_chunks (
  run_id        TEXT NOT NULL,
  seq           BIGINT NOT NULL,
  domain_id     TEXT NOT NULL,
  task_id       TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  content_hash  TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX detail_chunks_by_task ON detail_chunks (domain_id, task_id);

-- One row per file verdict; (run_id, seq, idx) is the keyset of the paged
-- listing, so a late page is an index range scan like the first.
CREATE TABLE file_details (
  run_id       TEXT NOT NULL,
  seq          BIGINT NOT NULL,
  idx          BIGINT NOT NULL,
  dir_check    TEXT NOT NULL,
  path         TEXT NOT NULL,
  path_b64     TEXT NOT NULL,
  status       TEXT NOT NULL,
  reason       TEXT NOT NULL,
  source_json  TEXT NOT NULL,
  target_json  TEXT NOT NULL,
  PRIMARY KEY (run_id, seq, idx),
  FOREIGN KEY (run_id, seq) REFERENCES detail_chunks(run_id, seq) ON DELETE CASCADE
);
