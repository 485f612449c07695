-- 0015_domain_settings (PostgreSQL): a tenant's own settings (issue 13.5);
-- the same table as sqlite/0015_domain_settings.sql, which explains it.
CREATE TABLE domain_settings (
  domain_id  TEXT NOT NULL REFERENCES domains(id),
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  PRIMARY KEY (domain_id, key)
);
