-- 0001_init: the first schema of the control plane.
-- Every row that belongs to a tenant carries domain_id, and every query of
-- the store filters on it.

CREATE TABLE domains (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL
);

CREATE TABLE users (
  id             TEXT PRIMARY KEY,
  domain_id      TEXT NOT NULL REFERENCES domains(id),
  name           TEXT NOT NULL,
  role           TEXT NOT NULL,
  password_hash  TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  UNIQUE (domain_id, name)
);

CREATE TABLE credentials (
  access_key  TEXT PRIMARY KEY,
  domain_id   TEXT NOT NULL REFERENCES domains(id),
  user_id     TEXT NOT NULL REFERENCES users(id),
  secret_key  TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
);

CREATE TABLE tokens (
  token_hash  TEXT PRIMARY KEY,
  domain_id   TEXT NOT NULL REFERENCES domains(id),
  user_id     TEXT NOT NULL REFERENCES users(id),
  issued_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  revoked_at  INTEGER
);

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
  created_at     INTEGER NOT NULL,
  last_seen_at   INTEGER NOT NULL DEFAULT 0,
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
  is_need_consistency_check  INTEGER NOT NULL,
  state                      TEXT NOT NULL,
  current_run_id             TEXT NOT NULL DEFAULT '',
  created_at                 INTEGER NOT NULL,
  updated_at                 INTEGER NOT NULL
);
CREATE INDEX tasks_by_domain ON tasks (domain_id, created_at, id);

CREATE TABLE task_configs (
  task_id       TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  config_key    TEXT NOT NULL,
  config_value  TEXT NOT NULL,
  PRIMARY KEY (task_id, config_key)
);

-- Commands queued for a source's agent; delivered in id order.
CREATE TABLE commands (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  domain_id      TEXT NOT NULL,
  source_id      TEXT NOT NULL,
  task_id        TEXT NOT NULL,
  run_id         TEXT NOT NULL,
  name           TEXT NOT NULL,
  param_json     TEXT NOT NULL,
  state          TEXT NOT NULL,  -- pending | delivered | done | cancelled
  result         TEXT NOT NULL DEFAULT '',
  result_detail  TEXT NOT NULL DEFAULT '',
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);
CREATE INDEX commands_by_source ON commands (domain_id, source_id, state, id);

-- A committed run: its row appearing is the commit point of the run and of
-- its staged details.
CREATE TABLE runs (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id          TEXT NOT NULL UNIQUE,
  domain_id       TEXT NOT NULL,
  task_id         TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  started_time    INTEGER NOT NULL,
  finished_time   INTEGER NOT NULL,
  check_result    TEXT NOT NULL,
  mode            TEXT NOT NULL,
  hash_algorithm  TEXT NOT NULL,
  error_msg       TEXT NOT NULL,
  content_hash    TEXT NOT NULL,
  committed_at    INTEGER NOT NULL
);
CREATE INDEX runs_by_task ON runs (domain_id, task_id, seq);

CREATE TABLE run_dirs (
  run_id                        TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  idx                           INTEGER NOT NULL,
  dir_check                     TEXT NOT NULL,
  num_total_files               INTEGER NOT NULL,
  num_different_files           INTEGER NOT NULL,
  num_target_miss_files         INTEGER NOT NULL,
  num_target_more_files         INTEGER NOT NULL,
  num_changed_files             INTEGER NOT NULL,
  num_error_files               INTEGER NOT NULL,
  num_metadata_different_files  INTEGER NOT NULL,
  num_bytes_verified            INTEGER NOT NULL,
  PRIMARY KEY (run_id, idx)
);

-- Detail chunks, staged before their run is committed.
CREATE TABLE detail_chunks (
  run_id        TEXT NOT NULL,
  seq           INTEGER NOT NULL,
  domain_id     TEXT NOT NULL,
  task_id       TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  content_hash  TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE file_details (
  run_id       TEXT NOT NULL,
  seq          INTEGER NOT NULL,
  idx          INTEGER NOT NULL,
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
