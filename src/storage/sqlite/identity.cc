// SqliteStore (store_impl.h): domains, users, credentials, tokens, used
// signatures and failed logins.
#include <string>
#include <utility>
#include <vector>

#include "storage/rows.h"
#include "storage/sqlite/store_impl.h"

namespace sms::storage::sqlite {

Status SqliteStore::CreateDomain(const Domain& d) {
  Conn c(this);
  SMS_PREPARE_(q, c.db,
               "INSERT INTO domains (id, name, created_at) VALUES (?,?,?)");
  q.Bind(d.id).Bind(d.name).Bind(d.created_at);
  return q.Exec();
}

Result<Domain> SqliteStore::GetDomainByName(const std::string& name) {
  return GetDomainWhere("name", name);
}

Result<Domain> SqliteStore::GetDomain(const std::string& id) {
  return GetDomainWhere("id", id);
}

Status SqliteStore::CreateUser(const User& u) {
  Conn c(this);
  static const std::string kSql = std::string("INSERT INTO users (") +
                                  rows::kUserColumns + ") VALUES (?,?,?,?,?,?)";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(u.id).Bind(u.domain_id).Bind(u.name).Bind(u.role);
  q.Bind(u.password_hash).Bind(u.created_at);
  return q.Exec();
}

Result<User> SqliteStore::GetUserByName(const std::string& domain_id,
                                        const std::string& name) {
  return GetUserWhere(domain_id, "name", name);
}

Result<User> SqliteStore::GetUser(const std::string& domain_id,
                                  const std::string& id) {
  return GetUserWhere(domain_id, "id", id);
}

Status SqliteStore::CreateCredential(const Credential& cr) {
  Conn c(this);
  static const std::string kSql = std::string("INSERT INTO credentials (") +
                                  rows::kCredentialColumns +
                                  ") VALUES (?,?,?,?,?,?)";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(cr.access_key).Bind(cr.domain_id).Bind(cr.user_id);
  q.Bind(cr.secret_key).Bind(cr.created_at).Bind(cr.revoked_at);
  return q.Exec();
}

Result<Credential> SqliteStore::GetCredential(const std::string& access_key) {
  Conn c(this);
  static const std::string kSql = std::string("SELECT ") +
                                  rows::kCredentialColumns +
                                  " FROM credentials WHERE access_key = ?";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(access_key);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("credential not found"));
  return rows::ReadCredential(q);
}

Status SqliteStore::RevokeCredential(const std::string& access_key,
                                     int64_t now) {
  Conn c(this);
  SMS_PREPARE_(q, c.db,
               "UPDATE credentials SET revoked_at = ? WHERE access_key = ?"
               " AND revoked_at IS NULL");
  q.Bind(now).Bind(access_key);
  SMS_RETURN_IF_ERROR(q.Exec());
  if (sqlite3_changes(c.db) == 0)
    return Fail(core::NotFound("credential not found or already revoked"));
  return Ok();
}

Status SqliteStore::CreateToken(const Token& t) {
  Conn c(this);
  static const std::string kSql = std::string("INSERT INTO tokens (") +
                                  rows::kTokenColumns +
                                  ") VALUES (?,?,?,?,?,?)";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(t.token_hash).Bind(t.domain_id).Bind(t.user_id);
  q.Bind(t.issued_at).Bind(t.expires_at).Bind(t.revoked_at);
  return q.Exec();
}

Result<Token> SqliteStore::GetToken(const std::string& token_hash) {
  Conn c(this);
  static const std::string kSql = std::string("SELECT ") + rows::kTokenColumns +
                                  " FROM tokens WHERE token_hash = ?";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(token_hash);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("token not found"));
  return rows::ReadToken(q);
}

Result<TokenIdentity> SqliteStore::ResolveToken(const std::string& token_hash) {
  Conn c(this);
  static const std::string kSql =
      std::string("SELECT ") + rows::kTokenIdentityColumns +
      " FROM tokens t JOIN users u ON u.id = t.user_id AND"
      " u.domain_id = t.domain_id JOIN domains d ON"
      " d.id = t.domain_id WHERE t.token_hash = ?";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(token_hash);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("token not found"));
  return rows::ReadTokenIdentity(q);
}

Status SqliteStore::RevokeToken(const std::string& token_hash, int64_t now) {
  Conn c(this);
  SMS_PREPARE_(q, c.db,
               "UPDATE tokens SET revoked_at = ? WHERE token_hash = ?"
               " AND revoked_at IS NULL");
  q.Bind(now).Bind(token_hash);
  SMS_RETURN_IF_ERROR(q.Exec());
  if (sqlite3_changes(c.db) == 0)
    return Fail(core::NotFound("token not found or already revoked"));
  return Ok();
}

Result<std::vector<bool>> SqliteStore::RememberSignatures(
    const std::vector<UsedSignature>& keys, int64_t now) {
  Conn c(this);
  // One per batch of signed requests: not worth an fsync (see
  // UnsyncedCommits). A power cut may forget the newest keys, which reopens
  // their replay window.
  UnsyncedCommits unsynced(c.db);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  std::vector<bool> fresh;
  fresh.reserve(keys.size());
  // A held key that has expired is taken anew (PurgeSignatures may not have
  // dropped it yet).
  SMS_PREPARE_(q, c.db,
               "INSERT INTO used_signatures (sig_key, expires_at) VALUES (?,?)"
               " ON CONFLICT (sig_key) DO UPDATE SET expires_at ="
               " excluded.expires_at WHERE used_signatures.expires_at <= ?");
  for (const UsedSignature& k : keys) {
    q.Reset();
    q.Bind(k.key).Bind(k.expires_at).Bind(now);
    SMS_RETURN_IF_ERROR(q.Exec());
    // A key repeated in `keys` meets its own earlier row: not fresh.
    fresh.push_back(sqlite3_changes(c.db) > 0);
  }
  SMS_RETURN_IF_ERROR(txn.Commit());
  return fresh;
}

Result<int64_t> SqliteStore::PurgeSignatures(int64_t now, int limit) {
  Conn c(this);
  UnsyncedCommits unsynced(c.db);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  SMS_PREPARE_(q, c.db,
               "DELETE FROM used_signatures WHERE sig_key IN (SELECT"
               " sig_key FROM used_signatures WHERE expires_at <= ?"
               " LIMIT ?)");
  q.Bind(now).Bind(static_cast<int64_t>(limit));
  SMS_RETURN_IF_ERROR(q.Exec());
  const int64_t gone = sqlite3_changes(c.db);
  SMS_RETURN_IF_ERROR(txn.Commit());
  return gone;
}

Result<LoginFailures> SqliteStore::GetLoginFailures(const LoginFailureKey& key,
                                                    int64_t since) {
  Conn c(this);
  SMS_PREPARE_(q, c.db,
               "SELECT failures, last_failure_at FROM login_failures WHERE"
               " domain_id = ? AND user_name = ? AND address = ? AND"
               " last_failure_at >= ?");
  q.Bind(key.domain_id).Bind(key.user_name).Bind(key.address).Bind(since);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return LoginFailures{};
  return LoginFailures{q.Int(0), q.Int(1)};
}

Result<LoginFailures> SqliteStore::RecordLoginFailure(
    const LoginFailureKey& key, int64_t now, int64_t since) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  LoginFailures out;
  {
    SMS_PREPARE_(purge, c.db,
                 "DELETE FROM login_failures WHERE rowid IN (SELECT rowid"
                 " FROM login_failures WHERE last_failure_at < ? LIMIT 100)");
    purge.Bind(since);
    SMS_RETURN_IF_ERROR(purge.Exec());
    SMS_PREPARE_(q, c.db,
                 "INSERT INTO login_failures (domain_id, user_name, address,"
                 " failures, last_failure_at) VALUES (?1, ?2, ?3, 1, ?4)"
                 " ON CONFLICT (domain_id, user_name, address) DO UPDATE SET"
                 " failures = CASE WHEN last_failure_at < ?5 THEN 1"
                 " ELSE failures + 1 END,"
                 " last_failure_at = max(last_failure_at, ?4)"
                 " RETURNING failures, last_failure_at");
    q.Bind(key.domain_id).Bind(key.user_name).Bind(key.address);
    q.Bind(now).Bind(since);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::Internal("login_failures: no row returned"));
    out = LoginFailures{q.Int(0), q.Int(1)};
    SMS_ASSIGN_OR_RETURN(bool more, q.Step());
    (void)more;
  }
  SMS_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<int64_t> SqliteStore::ClearLoginFailures(const LoginFailureKey& key) {
  if (key.domain_id.empty() && key.user_name.empty() && key.address.empty())
    return Fail(core::InvalidArgument(
        "clearing login failures: name a domain, a user or an address"));
  Conn c(this);
  SMS_PREPARE_(
      q, c.db,
      "DELETE FROM login_failures WHERE (?1 = '' OR domain_id = ?1)"
      " AND (?2 = '' OR user_name = ?2) AND (?3 = '' OR address = ?3)");
  q.Bind(key.domain_id).Bind(key.user_name).Bind(key.address);
  SMS_RETURN_IF_ERROR(q.Exec());
  return static_cast<int64_t>(sqlite3_changes(c.db));
}

Result<Domain> SqliteStore::GetDomainWhere(const char* column,
                                           const std::string& v) {
  Conn c(this);
  std::string sql = std::string("SELECT ") + rows::kDomainColumns +
                    " FROM domains WHERE " + column + " = ?";
  SMS_PREPARE_(q, c.db, sql.c_str());
  q.Bind(v);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("domain not found"));
  return rows::ReadDomain(q);
}

Result<User> SqliteStore::GetUserWhere(const std::string& domain_id,
                                       const char* column,
                                       const std::string& v) {
  Conn c(this);
  std::string sql = std::string("SELECT ") + rows::kUserColumns +
                    " FROM users WHERE domain_id = ? AND " + column + " = ?";
  SMS_PREPARE_(q, c.db, sql.c_str());
  q.Bind(domain_id).Bind(v);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("user not found"));
  return rows::ReadUser(q);
}

}  // namespace sms::storage::sqlite
