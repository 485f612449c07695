// AuthService: passwords, tokens and AK/SK signatures (spec/API.md §2), and
// the admin operations that create domains, users and credentials.
//
// Tokens are 256 random bits, handed out once and stored only as their
// SHA-256, so lookups are by hash and a database leak yields no usable
// token. Secrets (passwords, tokens, SKs) are never logged or returned in
// errors.
//
// Failed password logins are throttled in the store (so every replica
// agrees, and `sms-server admin unlock-login` can clear them) under two
// budgets: one user of a domain from one client address, and one client
// address for every user. Past a budget, each failure locks that budget for
// a back-off that doubles (AuthOptions); a locked budget refuses logins with
// 429 before the password is checked. The user's budget is per address, so
// a client cannot lock a user out from another address, and another user's
// correct password from the same address still logs in (until that
// address's own, larger budget runs out). The domain counts by id whether
// the login named it by id or by name. Tokens and AK/SK signatures are not
// throttled: a user locked out of password logins keeps working with them.
// Thread-safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/sdk_signer.h"
#include "auth/secret_box.h"
#include "core/clock.h"
#include "server/api_error.h"
#include "server/client_address.h"
#include "server/codec/auth_codec.h"
#include "server/identity.h"
#include "server/json_fields.h"
#include "server/signature_ledger.h"
#include "storage/store.h"

namespace sms::server {

using auth::SignableRequest;

struct AuthOptions {
  // Token lifetime.
  int64_t token_ttl_ms = 24LL * 3600 * 1000;
  // The login throttle: failures one user may make from one address, and
  // one address for every user, before back-off starts.
  int max_login_failures = 5;
  int max_address_failures = 50;
  // The n-th failure past a budget locks it for backoff_base_ms * 2^n
  // (n from 0), at most backoff_max_ms.
  int64_t backoff_base_ms = 30LL * 1000;
  int64_t backoff_max_ms = 15LL * 60 * 1000;
  // A budget with no failure for this long starts again from zero.
  int64_t forget_failures_ms = 24LL * 3600 * 1000;
  // Proxies whose X-Forwarded-For names the client (none by default: the
  // socket's peer is the client).
  TrustedProxies trusted_proxies;
  // Largest accepted distance between X-Sdk-Date and server time.
  int64_t sdk_date_skew_ms = 15LL * 60 * 1000;
  // PBKDF2 iterations for new password hashes.
  int pbkdf2_iterations = 210000;
  // Seals new SKs in the store and opens sealed ones (secret_box.h); null:
  // new SKs are stored in the clear. SKs stored in the clear (by an older
  // version, or without a key) are used as they are either way.
  const auth::SecretBox* secrets = nullptr;
};

struct CreatedUser {
  storage::User user;
  std::string password;  // generated one, empty if the caller chose it
};

struct CreatedCredential {
  std::string access_key;
  std::string secret_key;
};

class AuthService final {
 public:
  AuthService(storage::Store& store, core::Clock& clock, AuthOptions options);
  AuthService(const AuthService&) = delete;
  AuthService& operator=(const AuthService&) = delete;

  // Checks the password and issues a token (403 SMS.9002 on a wrong name or
  // password; 429 SMS.9010 when the key is locked out).
  [[nodiscard]] ApiResult<IssuedToken> Login(const LoginRequest& req);
  // Resolves X-Auth-Token (403 SMS.9002 if unknown, expired or revoked).
  // `domain_header` / `project_header`: the request's X-Domain-Id /
  // X-Project-Id, empty when absent; when present each must be the token's
  // domain id (403 SMS.9002 otherwise), as for AK/SK.
  [[nodiscard]] ApiResult<Identity> AuthenticateToken(
      std::string_view token, std::string_view domain_header = {},
      std::string_view project_header = {});
  // Verifies an SDK-HMAC-SHA256 request (403 SMS.9003 on any mismatch,
  // including a body other than the one signed). `once`: the request changes
  // state in a way a replay could repeat harmfully, so its signature is
  // accepted once within the X-Sdk-Date window (403 SMS.9003 on a replay).
  [[nodiscard]] ApiResult<Identity> AuthenticateSignature(
      const SignableRequest& req, std::string_view authorization,
      bool once = false);
  // The same in two steps, for a caller that must not block while a `once`
  // request's signature is recorded (Api::HandleAsync): VerifySignature
  // checks the request and loads its identity (reads only), and
  // RecordSignatureAsync records the signature, calling `done` from the
  // thread that wrote the ledger's batch (SignatureLedger::UseAsync) once it
  // is durable (an empty status), or with
  // 403 SMS.9003 on a replay, or the store's error. The request may be
  // acted on only after `done` has answered OK.
  struct VerifiedSignature {
    Identity who;
    std::string key;         // the used-signature key: AK:signature
    int64_t expires_at = 0;  // when the key may be forgotten (epoch ms)
  };
  [[nodiscard]] ApiResult<VerifiedSignature> VerifySignature(
      const SignableRequest& req, std::string_view authorization);
  void RecordSignatureAsync(const VerifiedSignature& verified,
                            std::function<void(ApiStatus)> done);
  // Revokes a token at once.
  [[nodiscard]] ApiStatus RevokeToken(std::string_view token);

  // --- admin ---
  [[nodiscard]] ApiResult<storage::Domain> CreateDomain(
      const std::string& name);
  // An empty password generates one (returned once in CreatedUser).
  [[nodiscard]] ApiResult<CreatedUser> CreateUser(
      const std::string& domain_name, const std::string& user_name,
      const std::string& role, const std::string& password);
  [[nodiscard]] ApiResult<CreatedCredential> CreateCredential(
      const std::string& domain_name, const std::string& user_name);
  [[nodiscard]] ApiStatus RevokeCredential(const std::string& access_key);
  // Clears the login throttle's failures: of `user_name` in `domain_name`
  // (from `address`, or from every address when empty), or, with no domain
  // and user, of every budget of `address`. Returns how many budgets were
  // cleared. 400 naming the field when the combination or the address is
  // not valid, 404 for an unknown domain.
  [[nodiscard]] ApiResult<int64_t> UnlockLogin(const std::string& domain_name,
                                               const std::string& user_name,
                                               const std::string& address);
  // The same through the API (DELETE /v3/auth/login-failures): an admin
  // clears the failures of a user of its own domain, from `address` (a
  // literal) or from every address when empty. An address's own budget
  // counts every tenant's logins from it, so it is not one tenant's to
  // clear (the operator's `sms-server admin unlock-login --address`).
  // 403 for another role, 400 naming the field, 404 for a user the
  // domain does not have.
  [[nodiscard]] ApiResult<int64_t> ClearLoginLock(const Identity& who,
                                                  const std::string& user_name,
                                                  const std::string& address);

 private:
  // 429 with Retry-After while `key` is locked (its failures past `budget`
  // and the back-off since the last one not yet over).
  ApiStatus CheckThrottle(const storage::LoginFailureKey& key, int budget,
                          int64_t now);
  // How long `failures` past-or-within `budget` lock their budget (0: not
  // locked).
  int64_t BackoffMs(int64_t failures, int budget) const;
  // The credential's SK, opened when stored sealed (AuthOptions::secrets);
  // a 500 when it cannot be opened.
  // Opened SKs are remembered by their sealed form (opening one is an
  // AES-GCM decryption with OpenSSL's cipher look-up, 3 % of a signed
  // poll's CPU): a changed SK is a new sealed form, revocation is checked
  // on the credential as before. Bounded: cleared at kOpenedSecretKeys.
  ApiResult<std::string> OpenSecretKey(const storage::Credential& cred) const;
  static constexpr size_t kOpenedSecretKeys = 10000;
  ApiResult<Identity> LoadIdentity(const std::string& domain_id,
                                   const std::string& user_id,
                                   std::string method, ApiCode fail_code);

  storage::Store& store_;
  core::Clock& clock_;
  const AuthOptions options_;
  // A hash checked when the user does not exist, so a missing user costs
  // the same time as a wrong password.
  const std::string dummy_hash_;
  // OpenSecretKey's opened SKs: AK + '\n' + sealed SK -> SK.
  mutable std::mutex opened_mu_;
  mutable std::unordered_map<std::string, std::string> opened_;
  // The used signatures of `once` requests, written in batches.
  SignatureLedger used_signatures_;
};

}  // namespace sms::server
