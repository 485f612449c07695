-- 0009_login_failures (PostgreSQL): the password-login throttle (issue 11.4), shared by
-- every replica and cleared by `sms-server admin unlock-login`.
-- One row per budget: (domain_id, user_name, address) for one user from one
-- client address, ('', '', address) for every login from that address.
-- domain_id is the domain's id however the login named it (an unknown
-- domain: "?name:" or "?id:" and what was given). failures counts the
-- failures since the row was last forgotten (AuthService: a success clears
-- the user's row; a row quiet for a day is forgotten); the back-off is
-- computed from failures and last_failure_at (epoch ms).
CREATE TABLE login_failures (
  domain_id        TEXT NOT NULL,
  user_name        TEXT NOT NULL,
  address          TEXT NOT NULL,
  failures         BIGINT NOT NULL,
  last_failure_at  BIGINT NOT NULL,
  PRIMARY KEY (domain_id, user_name, address)
);
CREATE INDEX login_failures_by_age ON login_failures (last_failure_at);
