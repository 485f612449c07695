-- 0015_domain_settings: a tenant's own settings (issue 13.5), one row per
-- (domain, key); today CONSISTENCY_RETENTION, the default of the tenant's
-- tasks that set none. A key without a row is not set.
CREATE TABLE domain_settings (
  domain_id  TEXT NOT NULL REFERENCES domains(id),
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  PRIMARY KEY (domain_id, key)
);
