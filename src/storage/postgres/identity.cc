// PostgresStore (store_impl.h): domains, users, credentials, tokens, used
// signatures and failed logins.
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/postgres/store_impl.h"
#include "storage/rows.h"

namespace sms::storage::postgres {

Status PostgresStore::CreateDomain(const Domain& d) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(d.id).Add(d.name).Add(d.created_at);
  return c
      ->Exec(
          "INSERT INTO domains (id, name, created_at)"
          " VALUES ($1, $2, $3)",
          p)
      .map([](Rows&&) {});
}

Result<Domain> PostgresStore::GetDomainByName(const std::string& name) {
  return GetDomainBy(
      "SELECT id, name, created_at FROM domains"
      " WHERE name = $1",
      name);
}

Result<Domain> PostgresStore::GetDomain(const std::string& id) {
  return GetDomainBy(
      "SELECT id, name, created_at FROM domains"
      " WHERE id = $1",
      id);
}

Status PostgresStore::CreateUser(const User& u) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(u.id).Add(u.domain_id).Add(u.name).Add(u.role);
  p.Add(u.password_hash).Add(u.created_at);
  return c
      ->Exec(
          "INSERT INTO users (id, domain_id, name, role,"
          " password_hash, created_at)"
          " VALUES ($1, $2, $3, $4, $5, $6)",
          p)
      .map([](Rows&&) {});
}

Result<User> PostgresStore::GetUserByName(const std::string& domain_id,
                                          const std::string& name) {
  return GetUserBy(
      "SELECT id, domain_id, name, role, password_hash,"
      " created_at FROM users WHERE domain_id = $1"
      " AND name = $2",
      domain_id, name);
}

Result<User> PostgresStore::GetUser(const std::string& domain_id,
                                    const std::string& id) {
  return GetUserBy(
      "SELECT id, domain_id, name, role, password_hash,"
      " created_at FROM users WHERE domain_id = $1"
      " AND id = $2",
      domain_id, id);
}

Status PostgresStore::CreateCredential(const Credential& cr) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(cr.access_key).Add(cr.domain_id).Add(cr.user_id);
  p.Add(cr.secret_key).Add(cr.created_at).Add(cr.revoked_at);
  return c
      ->Exec(
          "INSERT INTO credentials (access_key, domain_id, user_id,"
          " secret_key, created_at, revoked_at)"
          " VALUES ($1, $2, $3, $4, $5, $6)",
          p)
      .map([](Rows&&) {});
}

Result<Credential> PostgresStore::GetCredential(const std::string& access_key) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(access_key);
  SMS_ASSIGN_OR_RETURN(
      Rows r, c->Exec("SELECT access_key, domain_id, user_id, secret_key,"
                      " created_at, revoked_at FROM credentials"
                      " WHERE access_key = $1",
                      p));
  if (r.empty()) return Fail(core::NotFound("credential not found"));
  return rows::ReadCredential(r.At(0));
}

Status PostgresStore::RevokeCredential(const std::string& access_key,
                                       int64_t now) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(now).Add(access_key);
  SMS_ASSIGN_OR_RETURN(Rows r,
                       c->Exec("UPDATE credentials SET revoked_at = $1"
                               " WHERE access_key = $2 AND revoked_at IS NULL",
                               p));
  if (r.affected() == 0)
    return Fail(core::NotFound("credential not found or already revoked"));
  return Ok();
}

Status PostgresStore::CreateToken(const Token& t) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(t.token_hash).Add(t.domain_id).Add(t.user_id);
  p.Add(t.issued_at).Add(t.expires_at).Add(t.revoked_at);
  return c
      ->Exec(
          "INSERT INTO tokens (token_hash, domain_id, user_id,"
          " issued_at, expires_at, revoked_at)"
          " VALUES ($1, $2, $3, $4, $5, $6)",
          p)
      .map([](Rows&&) {});
}

Result<Token> PostgresStore::GetToken(const std::string& token_hash) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(token_hash);
  SMS_ASSIGN_OR_RETURN(
      Rows r, c->Exec("SELECT token_hash, domain_id, user_id, issued_at,"
                      " expires_at, revoked_at FROM tokens"
                      " WHERE token_hash = $1",
                      p));
  if (r.empty()) return Fail(core::NotFound("token not found"));
  return rows::ReadToken(r.At(0));
}

// The per-request authentication path: one round trip.
Result<TokenIdentity> PostgresStore::ResolveToken(
    const std::string& token_hash) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(token_hash);
  SMS_ASSIGN_OR_RETURN(
      Rows r,
      c->Exec("SELECT t.token_hash, t.domain_id, t.user_id, t.issued_at,"
              " t.expires_at, t.revoked_at, u.name, u.role,"
              " u.password_hash, u.created_at, d.name, d.created_at"
              " FROM tokens t JOIN users u ON u.id = t.user_id"
              " AND u.domain_id = t.domain_id"
              " JOIN domains d ON d.id = t.domain_id"
              " WHERE t.token_hash = $1",
              p));
  if (r.empty()) return Fail(core::NotFound("token not found"));
  return rows::ReadTokenIdentity(r.At(0));
}

Status PostgresStore::RevokeToken(const std::string& token_hash, int64_t now) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(now).Add(token_hash);
  SMS_ASSIGN_OR_RETURN(Rows r,
                       c->Exec("UPDATE tokens SET revoked_at = $1"
                               " WHERE token_hash = $2 AND revoked_at IS NULL",
                               p));
  if (r.affected() == 0)
    return Fail(core::NotFound("token not found or already revoked"));
  return Ok();
}

Result<std::vector<bool>> PostgresStore::RememberSignatures(
    const std::vector<UsedSignature>& keys, int64_t now) {
  std::vector<bool> fresh(keys.size(), false);
  // One row per key: a key repeated in `keys` is sent once (its first), the
  // later ones are replays of it.
  std::unordered_map<std::string, size_t> first;
  std::vector<std::string> key_list;
  std::vector<int64_t> expiry_list;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!first.emplace(keys[i].key, i).second) continue;
    key_list.push_back(keys[i].key);
    expiry_list.push_back(keys[i].expires_at);
  }
  if (key_list.empty()) return fresh;
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  // One per batch of signed requests: not worth a WAL flush wait
  // (BeginUnsynced); a crash of the database may forget the newest keys.
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.BeginUnsynced());
  Params p;
  p.Add(TextArray(key_list)).Add(IntArray(expiry_list)).Add(now);
  // One statement: of two replicas inserting the same key, one inserts (the
  // other waits on the key's row and then sees it held). A held key that
  // has expired is taken anew (PurgeSignatures may not have dropped it yet).
  SMS_ASSIGN_OR_RETURN(
      Rows r,
      c->Exec("INSERT INTO used_signatures (sig_key, expires_at)"
              " SELECT * FROM unnest($1::text[], $2::bigint[])"
              " ON CONFLICT (sig_key) DO UPDATE SET expires_at ="
              " EXCLUDED.expires_at WHERE used_signatures.expires_at <= $3"
              " RETURNING sig_key",
              p));
  SMS_RETURN_IF_ERROR(txn.Commit());
  for (int i = 0; i < r.size(); ++i) {
    auto it = first.find(r.Text(i, 0));
    if (it != first.end()) fresh[it->second] = true;
  }
  return fresh;
}

Result<int64_t> PostgresStore::PurgeSignatures(int64_t now, int limit) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  // By key: planned from statistics older than the newest keys (between
  // two of autovacuum's ANALYZEs), the DELETE hash-joined the expired keys
  // to the whole table (1,000,000 keys: ~160 ms instead of ~7 ms).
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.BeginUnsyncedByKey());
  Params p;
  p.Add(now).Add(static_cast<int64_t>(limit));
  SMS_ASSIGN_OR_RETURN(Rows gone,
                       c->Exec("DELETE FROM used_signatures WHERE sig_key IN"
                               " (SELECT sig_key FROM used_signatures"
                               " WHERE expires_at <= $1 LIMIT $2"
                               " FOR UPDATE SKIP LOCKED)",
                               p));
  SMS_RETURN_IF_ERROR(txn.Commit());
  return static_cast<int64_t>(gone.affected());
}

Result<LoginFailures> PostgresStore::GetLoginFailures(
    const LoginFailureKey& key, int64_t since) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(key.domain_id).Add(key.user_name).Add(key.address).Add(since);
  SMS_ASSIGN_OR_RETURN(
      Rows r, c->Exec("SELECT failures, last_failure_at FROM login_failures"
                      " WHERE domain_id = $1 AND user_name = $2 AND"
                      " address = $3 AND last_failure_at >= $4",
                      p));
  if (r.empty()) return LoginFailures{};
  return LoginFailures{r.Int(0, 0), r.Int(0, 1)};
}

Result<LoginFailures> PostgresStore::RecordLoginFailure(
    const LoginFailureKey& key, int64_t now, int64_t since) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.Begin());
  Params purge;
  purge.Add(since);
  SMS_ASSIGN_OR_RETURN(
      Rows gone,
      c->Exec("DELETE FROM login_failures WHERE ctid IN (SELECT ctid FROM"
              " login_failures WHERE last_failure_at < $1 LIMIT 100"
              " FOR UPDATE SKIP LOCKED)",
              purge));
  (void)gone;
  Params p;
  p.Add(key.domain_id).Add(key.user_name).Add(key.address).Add(now).Add(since);
  // One statement: two replicas' failures under one key count two.
  SMS_ASSIGN_OR_RETURN(
      Rows r,
      c->Exec("INSERT INTO login_failures AS f (domain_id, user_name, address,"
              " failures, last_failure_at) VALUES ($1, $2, $3, 1, $4)"
              " ON CONFLICT (domain_id, user_name, address) DO UPDATE SET"
              " failures = CASE WHEN f.last_failure_at < $5 THEN 1"
              " ELSE f.failures + 1 END,"
              " last_failure_at = GREATEST(f.last_failure_at, $4)"
              " RETURNING failures, last_failure_at",
              p));
  if (r.empty()) return Fail(core::Internal("login_failures: no row returned"));
  LoginFailures out{r.Int(0, 0), r.Int(0, 1)};
  SMS_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<int64_t> PostgresStore::ClearLoginFailures(const LoginFailureKey& key) {
  if (key.domain_id.empty() && key.user_name.empty() && key.address.empty())
    return Fail(core::InvalidArgument(
        "clearing login failures: name a domain, a user or an address"));
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(key.domain_id).Add(key.user_name).Add(key.address);
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec("DELETE FROM login_failures WHERE"
                                       " ($1 = '' OR domain_id = $1) AND"
                                       " ($2 = '' OR user_name = $2) AND"
                                       " ($3 = '' OR address = $3)",
                                       p));
  return r.affected();
}

Result<Domain> PostgresStore::GetDomainBy(const char* sql,
                                          const std::string& v) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(v);
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(sql, p));
  if (r.empty()) return Fail(core::NotFound("domain not found"));
  return rows::ReadDomain(r.At(0));
}

Result<User> PostgresStore::GetUserBy(const char* sql,
                                      const std::string& domain_id,
                                      const std::string& v) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(v);
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(sql, p));
  if (r.empty()) return Fail(core::NotFound("user not found"));
  return rows::ReadUser(r.At(0));
}

}  // namespace sms::storage::postgres
